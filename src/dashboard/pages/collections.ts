/** Collections: every collection with counts, its objects (search, sort, paging), an object's value, history, diff and export. */
import { get, query, type Page } from '../api.js'
import { badge, did, field, h, render, table, time, type Child } from '../dom.js'

interface CollectionRow { context: string | null, type: string | null, tag: string | null, objects: number, encrypted: boolean, plaintextObjects: number }
interface ObjectView { objectId: string, context: string | null, type: string | null, tag: string | null, value: Record<string, unknown> | null, heads: string[], createdAt: string, updatedAt: string, createdBy: string, commits: number, deleted: boolean, strategy: string }
interface Commit { commitId: string, operation: string, committedAt: string, signer: string, header: { deps?: string[] } }
interface Diff { from: { commitId: string }, to: { commitId: string }, changes: Array<{ path: string, kind: string, before?: unknown, after?: unknown }> }

const PAGE_SIZE = 50

export async function collectionsPage (main: HTMLElement): Promise<void> {
  const r = await get<Page<CollectionRow>>('/collections')
  const total = r.items.reduce((n, c) => n + c.objects, 0)
  render(main,
    h('h1', {}, 'Collections'),
    h('p', { class: 'lead' }, `${r.items.length} collection(s), ${total} object(s) in all.`),
    table('Collections on this hub', [
      ['Collection', c => h('span', {}, c.type ?? `tag ${c.tag ?? ''}`, h('br'), h('small', {}, c.context ?? '(names encrypted)'))],
      ['Objects', c => String(c.objects)],
      ['Encryption', c => c.encrypted ? badge(c.plaintextObjects > 0 ? `encrypted (${c.plaintextObjects} older in plaintext)` : 'encrypted', 'info') : badge('plaintext', 'warn')],
      ['', c => c.context !== null && c.type !== null
        ? h('a', { class: 'button', href: `#/objects${query({ context: c.context, type: c.type })}` }, 'Browse')
        : c.tag !== null ? h('a', { class: 'button', href: `#/objects${query({ tag: c.tag })}` }, 'Browse') : '']
    ], r.items, 'No collections yet: write an object with "hub write".'))
}

/** The objects of one collection, with a field filter, a sort and cursor paging (previous pages kept on a stack). */
export async function objectsPage (main: HTMLElement, params: URLSearchParams): Promise<void> {
  const context = params.get('context') ?? undefined
  const type = params.get('type') ?? undefined
  const tag = params.get('tag') ?? undefined
  const where = h('input', { name: 'where', placeholder: 'name=Road trip  or  numTracks>=2', value: params.get('where') ?? '' })
  const sort = h('select', { name: 'sort' }, ['-updated', 'updated', '-created', 'created'].map(s => h('option', { value: s, selected: (params.get('sort') ?? '-updated') === s }, s.startsWith('-') ? `${s.slice(1)}, newest first` : `${s}, oldest first`)))
  const list = h('div', { id: 'objects' })
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' })
  const stack: Array<string | undefined> = []
  let cursor: string | undefined
  let shown = 0

  const load = async (at: string | undefined): Promise<void> => {
    const r = await get<Page<ObjectView>>(`/objects${query({ context, type, tag, where: where.value.trim() === '' ? undefined : [where.value.trim()], sort: sort.value, limit: PAGE_SIZE, cursor: at })}`)
    cursor = at
    render(list, table(`Objects${type !== undefined ? ` of ${type}` : ''}, page ${stack.length + 1}`, [
      ['Object', o => h('a', { href: `#/object/${o.objectId}` }, summary(o))],
      ['Updated', o => time(o.updatedAt)],
      ['Commits', o => String(o.commits)],
      ['Created by', o => did(o.createdBy)]
    ], r.items, 'No objects match.'))
    shown = r.items.length
    render(pager,
      h('button', { type: 'button', disabled: stack.length === 0, onclick: () => { void load(stack.pop()) } }, '← Previous'),
      h('span', { class: 'page-no', 'aria-live': 'polite' }, `Page ${stack.length + 1} · ${shown} shown`),
      h('button', { type: 'button', disabled: r.cursor === null, 'data-next': r.cursor ?? '', onclick: () => { stack.push(cursor); void load(r.cursor ?? undefined) } }, 'Next →'))
  }
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (e: Event) => { e.preventDefault(); stack.length = 0; void load(undefined) } },
    field('Field filter', where, 'FIELD=VALUE, FIELD>VALUE, >=, <, <='), field('Sort', sort), h('button', { type: 'submit' }, 'Search'))
  render(main, h('p', {}, h('a', { href: '#/collections' }, '← Collections')), h('h1', {}, type ?? (tag !== undefined ? `tag ${tag}` : 'Objects')), h('p', { class: 'lead' }, context ?? ''), form, list, pager)
  await load(undefined)
}

function summary (o: ObjectView): string {
  const v = o.value
  const name = v !== null ? (v.name ?? v.title ?? v.headline) : undefined
  return typeof name === 'string' ? `${name} (${o.objectId.slice(0, 10)}…)` : `${o.objectId.slice(0, 18)}…`
}

/** One object: value, history as a timeline of verified signed commits, a diff between two versions, export. */
export async function objectPage (main: HTMLElement, objectId: string): Promise<void> {
  const [o, hist] = await Promise.all([get<ObjectView>(`/objects/${encodeURIComponent(objectId)}`), get<{ commits: Commit[] }>(`/objects/${encodeURIComponent(objectId)}/history`)])
  const commits = hist.commits
  const depsKey = (c: Commit): string => JSON.stringify([...(c.header.deps ?? [])].sort())
  const siblings = new Map<string, number>()
  for (const c of commits) siblings.set(depsKey(c), (siblings.get(depsKey(c)) ?? 0) + 1)
  const merged = o.heads.length > 1 || commits.some(c => (c.header.deps?.length ?? 0) > 1) || [...siblings.values()].some(n => n > 1)
  const opt = (c: Commit, i: number): HTMLOptionElement => h('option', { value: c.commitId }, `#${i + 1} ${c.operation} · ${new Date(c.committedAt).toLocaleString()}`)
  const from = h('select', { name: 'from' }, commits.map(opt))
  const to = h('select', { name: 'to' }, h('option', { value: 'current' }, 'current value'), commits.map(opt))
  if (commits.length > 1) from.selectedIndex = commits.length - 2
  const diffOut = h('div', { id: 'diff', 'aria-live': 'polite' })
  const showDiff = async (): Promise<void> => {
    const d = await get<Diff>(`/objects/${encodeURIComponent(objectId)}/diff${query({ from: from.value, to: to.value })}`)
    render(diffOut, d.changes.length === 0
      ? h('p', { class: 'empty' }, 'No changes between these versions.')
      : table('Changes', [
        ['Field', c => h('code', {}, c.path === '' ? '(value)' : c.path)],
        ['Change', c => badge(c.kind, c.kind === 'removed' ? 'bad' : c.kind === 'added' ? 'ok' : 'info')],
        ['Before', c => c.before === undefined ? '' : h('code', {}, JSON.stringify(c.before))],
        ['After', c => c.after === undefined ? '' : h('code', {}, JSON.stringify(c.after))]
      ], d.changes))
  }
  render(main,
    h('p', {}, h('a', { href: `#/objects${query({ context: o.context ?? undefined, type: o.type ?? undefined })}` }, `← ${o.type ?? 'Objects'}`)),
    h('h1', {}, summary(o)),
    h('dl', { class: 'facts' },
      fact('Object id', h('code', {}, o.objectId)), fact('Collection', `${o.context ?? ''} ${o.type ?? ''}`), fact('Strategy', o.strategy),
      fact('Created', time(o.createdAt)), fact('Updated', time(o.updatedAt)), fact('Heads', `${o.heads.length}${o.heads.length > 1 ? ' (concurrent edits, merged)' : ''}`)),
    h('p', {}, h('a', { class: 'button', href: `/dashboard/api/objects/${encodeURIComponent(objectId)}/export`, download: `${objectId}.automerge` }, 'Export as Automerge')),
    h('h2', {}, 'Current value'),
    h('pre', { class: 'value', tabindex: 0 }, JSON.stringify(o.value, null, 2)),
    h('h2', {}, 'History'),
    merged ? h('p', { class: 'merge-note' }, badge('merged', 'info'), ' Edits made concurrently (e.g. on two devices while offline) were merged into the current value.') : null,
    h('ol', { class: 'timeline' }, commits.map((c, i) => h('li', { class: siblings.get(depsKey(c))! > 1 ? 'concurrent' : '' },
      h('strong', {}, `#${i + 1} ${c.operation}`), ' ',
      badge('✔ signature verified', 'ok'), ' ',
      (c.header.deps?.length ?? 0) > 1 ? badge('merge', 'info') : siblings.get(depsKey(c))! > 1 ? badge('concurrent edit', 'info') : null,
      h('div', {}, 'signed by ', did(c.signer), ' · ', time(c.committedAt)),
      h('small', {}, h('code', {}, c.commitId))))),
    h('h2', {}, 'Compare versions'),
    h('form', { class: 'filters', onsubmit: (e: Event) => { e.preventDefault(); void showDiff() } }, field('From', from), field('To', to), h('button', { type: 'submit' }, 'Show changes')),
    diffOut)
}

function fact (term: string, value: Child): Child[] {
  return [h('dt', {}, term), h('dd', {}, value)]
}

