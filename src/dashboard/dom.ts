/**
 * A very small DOM builder for the dashboard page: elements from tag,
 * attributes and children, text always as text nodes (never HTML), so
 * nothing a hub holds can become markup or script.
 */
export type Child = Node | string | number | null | undefined | false | Child[]
export type Attrs = Record<string, string | number | boolean | undefined | null | EventListener>

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v)
    else if (v === true) el.setAttribute(k, '')
    else el.setAttribute(k, String(v))
  }
  append(el, children)
  return el
}

export function append (el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
}

/** Replace an element's content. */
export function render (el: Element, ...children: Child[]): void {
  el.replaceChildren()
  append(el, children)
}

/** A table with a caption and header cells (scope=col) for screen readers. */
export function table<T> (caption: string, columns: ReadonlyArray<readonly [string, (row: T) => Child]>, rows: readonly T[], empty = 'Nothing here yet.'): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty)
  return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map(([title]) => h('th', { scope: 'col' }, title)))),
      h('tbody', {}, rows.map(r => h('tr', {}, columns.map(([title, cell]) => h('td', { 'data-label': title }, cell(r))))))))
}

/** A labelled form field. */
export function field (label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id !== '' ? input.id : `f-${Math.random().toString(36).slice(2, 9)}`
  input.id = id
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint !== undefined ? h('small', {}, hint) : null)
}

export function badge (text: string, kind: 'ok' | 'warn' | 'bad' | 'info'): HTMLElement {
  return h('span', { class: `badge ${kind}` }, text)
}

/** A DID shortened for a table cell, the whole one in its title. */
export function did (d: string | null | undefined): HTMLElement | string {
  if (d === null || d === undefined) return '–'
  return h('code', { title: d, class: 'did' }, d.length > 28 ? `${d.slice(0, 16)}…${d.slice(-8)}` : d)
}

export function time (iso: string | null | undefined): HTMLElement | string {
  if (iso === null || iso === undefined) return '–'
  const d = new Date(iso)
  return h('time', { datetime: iso, title: iso }, Number.isNaN(d.getTime()) ? iso : d.toLocaleString())
}

/** Say something to screen readers (and show it) in the page's status line. */
export function announce (text: string, kind: 'ok' | 'bad' = 'ok'): void {
  const s = document.getElementById('status')
  if (s === null) return
  s.className = `status ${kind}`
  s.textContent = text
}
