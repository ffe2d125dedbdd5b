/**
 * `hub audit search` and `hub audit summary`: the audit log filtered by
 * caller, collection and decision, and counted per caller (issue 16; the
 * dashboard's Audit page runs these very commands).
 *
 * An entry names an object by id or a collection by "context type"; the
 * collection of an object entry is looked up in the store (once per object
 * per call), so a filter by collection finds reads of single objects too.
 */
import { BadRequestError } from '../../errors.js'
import type { AuditEntry } from '../../store/audit.js'
import type { Hub } from '../../hub.js'
import { defined, integer, oneOf, optional, text } from '../params.js'
import { intOption, opt } from '../input.js'
import { page, pageTable, table } from '../format.js'
import { hubCommand } from '../spec.js'

const DEFAULT_LIMIT = 100
/** Entries looked at per call at most: a search over a huge log answers with a cursor rather than scanning it all. */
export const MAX_SCANNED = 100_000
const OBJECT_ID = /^b[a-z2-7]{58}$/

export interface AuditRow extends AuditEntry { context: string | null, type: string | null }

/** Adds each entry's collection (from its target, or the object's metadata). */
function collectionResolver (hub: Hub): (e: AuditEntry) => Promise<AuditRow> {
  const cache = new Map<string, { context: string | null, type: string | null }>()
  return async e => {
    let c = cache.get(e.target)
    if (c === undefined) {
      if (OBJECT_ID.test(e.target)) {
        const meta = await hub.store.getMeta(e.target as Parameters<Hub['store']['getMeta']>[0]).catch(() => undefined)
        c = { context: meta?.context ?? null, type: meta?.type ?? null }
      } else {
        const m = /^(\S+) (\S+)$/.exec(e.target.replace(/^keys of /, ''))
        c = m !== null && m[1] !== '*' ? { context: m[1] as string, type: m[2] === '*' ? null : m[2] as string } : { context: null, type: null }
      }
      cache.set(e.target, c)
    }
    return { ...e, ...c }
  }
}

export interface AuditFilter { caller?: string, context?: string, type?: string, decision?: 'allowed' | 'denied', since?: string }

function matches (r: AuditRow, f: AuditFilter, sinceMs: number | undefined): boolean {
  return (f.caller === undefined || r.caller === f.caller) &&
    (f.context === undefined || r.context === f.context) &&
    (f.type === undefined || r.type === f.type) &&
    (f.decision === undefined || r.decision === f.decision) &&
    (sinceMs === undefined || Date.parse(r.time) >= sinceMs)
}

function sinceOf (since: string | undefined): number | undefined {
  if (since === undefined) return undefined
  const t = Date.parse(since)
  if (Number.isNaN(t)) throw new BadRequestError('since must be an RFC 3339 time', { reason: 'bad_since' })
  return t
}

/** Matching entries after `after`, oldest first, at most `limit`; the cursor continues the scan. */
export async function searchAudit (hub: Hub, f: AuditFilter & { limit?: number, after?: number }): Promise<{ items: AuditRow[], cursor: string | null }> {
  const limit = f.limit ?? DEFAULT_LIMIT
  const sinceMs = sinceOf(f.since)
  const resolve = collectionResolver(hub)
  const items: AuditRow[] = []
  let after = f.after ?? 0
  let scanned = 0
  for (;;) {
    const batch = await hub.audit.list({ after, limit: 1000 })
    for (const e of batch) {
      after = e.seq
      scanned++
      const r = await resolve(e)
      if (matches(r, f, sinceMs)) items.push(r)
      if (items.length >= limit) return { items, cursor: String(after) }
    }
    if (batch.length < 1000) return { items, cursor: null }
    if (scanned >= MAX_SCANNED) return { items, cursor: String(after) }
  }
}

export interface AuditSummaryRow { caller: string, method: string, context: string | null, type: string | null, allowed: number, denied: number, first: string, last: string }

/** Per caller, request method and collection: how many were allowed and denied since `since` (default: 7 days ago). */
export async function summarizeAudit (hub: Hub, f: { since?: string, caller?: string }, now = Date.now()): Promise<{ since: string, items: AuditSummaryRow[] }> {
  const since = f.since ?? new Date(now - 7 * 24 * 3600_000).toISOString()
  const sinceMs = sinceOf(since) as number
  const resolve = collectionResolver(hub)
  const rows = new Map<string, AuditSummaryRow>()
  let after = 0
  for (;;) {
    const batch = await hub.audit.list({ after, limit: 1000 })
    for (const e of batch) {
      after = e.seq
      if (Date.parse(e.time) < sinceMs || (f.caller !== undefined && e.caller !== f.caller)) continue
      const r = await resolve(e)
      const key = JSON.stringify([r.caller, r.method, r.context, r.type])
      let s = rows.get(key)
      if (s === undefined) rows.set(key, s = { caller: r.caller, method: r.method, context: r.context, type: r.type, allowed: 0, denied: 0, first: r.time, last: r.time })
      s[r.decision]++
      s.last = r.time
    }
    if (batch.length < 1000) break
  }
  return { since: new Date(sinceMs).toISOString(), items: [...rows.values()].sort((a, b) => (b.allowed + b.denied) - (a.allowed + a.denied)) }
}

export const auditSearch = hubCommand({
  name: 'audit search',
  group: 'Permissions and sharing',
  summary: 'audit entries filtered by caller, collection, decision and time (oldest first, paged)',
  options: [
    { flags: '--caller <did>', description: 'only this caller\'s requests' },
    { flags: '--context <context>', description: 'only requests on this collection\'s @context' },
    { flags: '--type <type>', description: 'only requests on this collection\'s @type' },
    { flags: '--decision <decision>', description: 'allowed or denied', choices: ['allowed', 'denied'] },
    { flags: '--since <rfc3339>', description: 'only entries at or after this time' },
    { flags: '--limit <n>', description: `at most this many (default ${DEFAULT_LIMIT})` },
    { flags: '--cursor <seq>', description: 'continue after the previous page' }
  ],
  examples: ['hub audit search --caller did:key:z6Mk… --decision denied', 'hub audit search --type MusicPlaylist --since 2026-01-01T00:00:00Z'],
  params: {
    caller: optional(text()), context: optional(text()), type: optional(text()), decision: optional(oneOf('allowed', 'denied')),
    since: optional(text()), limit: optional(integer({ min: 1, max: 10_000 })), after: optional(integer({ min: 0 }))
  },
  input: cli => defined({
    caller: opt(cli.opts.caller), context: opt(cli.opts.context), type: opt(cli.opts.type),
    decision: opt(cli.opts.decision) as 'allowed' | 'denied' | undefined, since: opt(cli.opts.since),
    limit: intOption(cli.opts.limit, '--limit'), after: intOption(cli.opts.cursor, '--cursor')
  }),
  async run ({ hub }, p) {
    const r = await searchAudit(hub, p)
    return page(r.items, r.cursor)
  },
  human: r => pageTable(r, 'audit entr(ies)', [
    ['SEQ', e => e.seq], ['TIME', e => e.time], ['CALLER', e => e.caller], ['REQUEST', e => `${e.interface}.${e.method}`],
    ['COLLECTION', e => e.type ?? '-'], ['DECISION', e => e.decision + (e.code !== undefined ? ` (${e.code})` : '')], ['TARGET', e => e.target]
  ])
})

export const auditSummary = hubCommand({
  name: 'audit summary',
  group: 'Permissions and sharing',
  summary: 'per app (caller): how many requests of each kind on each collection were allowed and denied (default: the last 7 days)',
  options: [
    { flags: '--since <rfc3339>', description: 'count from this time (default: 7 days ago)' },
    { flags: '--caller <did>', description: 'only this caller' }
  ],
  examples: ['hub audit summary', 'hub audit summary --since 2026-01-01T00:00:00Z --json'],
  params: { since: optional(text()), caller: optional(text()) },
  input: cli => defined({ since: opt(cli.opts.since), caller: opt(cli.opts.caller) }),
  run: async ({ hub }, p) => await summarizeAudit(hub, p),
  human: r => r.items.length === 0
    ? `no requests by others since ${r.since}\n`
    : table(r.items, [['CALLER', s => s.caller], ['REQUEST', s => s.method], ['COLLECTION', s => s.type ?? '-'], ['ALLOWED', s => s.allowed], ['DENIED', s => s.denied], ['LAST', s => s.last]]) +
      `since ${r.since}\n`
})
