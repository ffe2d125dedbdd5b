/** Audit: who read or tried to read what (filters: caller, collection, decision), and a per-app summary. */
import { get, query, type Page } from '../api.js'
import { badge, did, field, h, render, table, time } from '../dom.js'

export interface AuditRow { seq: number, time: string, caller: string, interface: string, method: string, target: string, decision: 'allowed' | 'denied', code?: string, context: string | null, type: string | null }
interface SummaryRow { caller: string, method: string, context: string | null, type: string | null, allowed: number, denied: number, last: string }

const PAGE = 100

export async function auditPage (main: HTMLElement, params: URLSearchParams): Promise<void> {
  const caller = h('input', { name: 'caller', value: params.get('caller') ?? '', placeholder: 'did:key:…', autocomplete: 'off' })
  const type = h('input', { name: 'type', value: params.get('type') ?? '', placeholder: 'MusicPlaylist' })
  const decision = h('select', { name: 'decision' }, [['', 'any'], ['allowed', 'allowed'], ['denied', 'denied']].map(([v, l]) => h('option', { value: v as string, selected: params.get('decision') === v }, l as string)))
  const summaryOut = h('div', { id: 'summary' })
  const list = h('div', { id: 'audit-list' })
  const more = h('div', { class: 'pager' })
  let rows: AuditRow[] = []

  const draw = (): void => {
    render(list, table('Requests by others (newest first)', [
      ['Time', e => time(e.time)],
      ['Caller', e => did(e.caller)],
      ['Request', e => `${e.interface}.${e.method}`],
      ['Collection', e => e.type ?? '–'],
      ['Target', e => h('code', {}, e.target.length > 24 ? e.target.slice(0, 22) + '…' : e.target)],
      ['Decision', e => e.decision === 'allowed' ? badge('allowed', 'ok') : badge(`denied${e.code !== undefined ? ` (${e.code})` : ''}`, 'bad')]
    ], [...rows].reverse(), 'No requests by others match.'))
  }
  const filters = (): Record<string, string | undefined> => ({ caller: caller.value.trim() || undefined, type: type.value.trim() || undefined, decision: decision.value || undefined })
  const load = async (cursor?: string): Promise<void> => {
    const r = await get<Page<AuditRow>>(`/audit${query({ ...filters(), limit: PAGE, cursor })}`)
    rows = cursor === undefined ? r.items : [...rows, ...r.items]
    draw()
    render(more, r.cursor !== null ? h('button', { type: 'button', onclick: () => { void load(r.cursor ?? undefined) } }, 'Older… (continue)') : null)
    const s = await get<{ since: string, items: SummaryRow[] }>(`/audit/summary${query({ caller: filters().caller })}`)
    render(summaryOut, s.items.length === 0
      ? h('p', { class: 'empty' }, 'No requests by others this week.')
      : h('ul', { class: 'summary' }, s.items.map(x => h('li', {}, did(x.caller), ` ${x.method === 'read' || x.method === 'query' ? 'read' : x.method} ${x.type ?? 'other things'}: `,
        h('strong', {}, `${x.allowed} allowed`), x.denied > 0 ? [', ', h('strong', { class: 'bad-text' }, `${x.denied} denied`)] : null, ' this week'))))
  }
  render(main,
    h('h1', {}, 'Audit'),
    h('h2', {}, 'This week, per app'),
    summaryOut,
    h('h2', {}, 'Requests'),
    h('form', { class: 'filters', role: 'search', onsubmit: (e: Event) => { e.preventDefault(); void load() } },
      field('Caller', caller), field('Collection type', type), field('Decision', decision), h('button', { type: 'submit' }, 'Filter')),
    list, more)
  await load()
  // New entries arrive on the event stream (main.ts): the ones matching the filters join the top.
  main.addEventListener('audit-entry', (ev: Event) => {
    const e = (ev as CustomEvent<AuditRow>).detail
    const f = filters()
    if ((f.caller !== undefined && e.caller !== f.caller) || (f.decision !== undefined && e.decision !== f.decision)) return
    rows.push({ ...e, context: e.context ?? null, type: e.type ?? null })
    draw()
  })
}
