/**
 * One-time rewrites of a tenant's stored data, each guarded by its marker
 * under `m!` so it runs once per store, at open, before anything else.
 */
import type { CommitId, Did } from '../ids.js'
import { committedAtMs, parseCommit, serializeCommit, withAcceptance, type Commit } from '../commits/commit.js'
import { utf8, utf8d } from '../identity/encoding.js'
import type { Signer } from '../identity/keys.js'
import { signAcceptance } from '../permissions/acceptance.js'
import type { GrantRegistry } from '../permissions/registry.js'
import { prefixEnd, type KvOp, type KvStore } from './kv.js'
import { unesc, type Layout } from './layout.js'

export interface MigrationComponents {
  kv: KvStore
  layout: Layout
  tenant: Did
  registry: GrantRegistry
  /** This hub's key, if it accepts grantees' commits. */
  acceptor: Signer | undefined
}

const EMPTY = new Uint8Array(0)

/**
 * Stores written before revocation sets existed have no `r!` index (which
 * a revocation reads to name what it keeps valid): build it once. Grantee
 * commits of that era carry no acceptance; an owner device that holds them
 * accepted them back then, so it signs their acceptance now — at their own
 * `committed_at`, the only time recorded for them (capped at now).
 */
export async function migrateRelies (m: MigrationComponents): Promise<void> {
  const marker = m.layout.migration('relies-v1')
  if (await m.kv.get(marker) !== undefined) return
  const prefix = `${m.layout.p}c!`
  let ops: KvOp[] = []
  for await (const [k, v] of m.kv.entries({ gte: prefix, lt: prefixEnd(prefix) })) {
    let c: Commit
    try { c = parseCommit(utf8d.decode(v), Infinity) } catch { continue }
    if (c.signer === m.tenant) continue
    const id = k.slice(prefix.length) as CommitId
    ops.push({ type: 'put', key: m.layout.relies(c.signer, id), value: EMPTY })
    const isDevice = m.registry.devices().some(d => d.device === c.signer)
    const acceptor = m.acceptor
    if (!isDevice && c.envelope.header === undefined && acceptor !== undefined && m.registry.device(acceptor.did)?.role === 'owner-device') {
      const acc = signAcceptance({ commit: id, by: acceptor.did, at: Math.min(committedAtMs(c.header), Date.now()) }, acceptor)
      ops.push({ type: 'put', key: k, value: utf8.encode(serializeCommit(withAcceptance(c, acc))) })
      ops.push({ type: 'put', key: m.layout.relies(acceptor.did, id), value: EMPTY })
    }
    if (ops.length >= 1000) { await m.kv.batch(ops); ops = [] }
  }
  ops.push({ type: 'put', key: marker, value: EMPTY })
  await m.kv.batch(ops)
}

/** How many ops a migration writes per batch: bounded memory, and progress kept across a crash. */
const MIGRATION_BATCH = 1000

/**
 * Index layout v2 (issue 18): sort entries only under `*` and
 * `B<context>!<type>` (plus `G<tag>`), and the `n!` list of pairs a query
 * by context or by type merges. Older stores also hold `C<context>` and
 * `T<type>` entries: delete them, and write the pair of every `B` range.
 *
 * Crash-safe without a journal: the `B` entries it reads are never touched,
 * each batch writes the pairs it saw before (or with) the deletes, and the
 * marker is written last. A run that dies halfway leaves some `C`/`T`
 * entries (nothing reads them any more) and some pairs; the next open runs
 * it again from the start and finishes: every step is idempotent.
 */
export async function migrateIndexLayout (m: Pick<MigrationComponents, 'kv' | 'layout'>): Promise<void> {
  const marker = m.layout.migration('index-layout-v2')
  if (await m.kv.get(marker) !== undefined) return
  const prefix = m.layout.indexPrefix()
  const written = new Set<string>()
  let ops: KvOp[] = []
  for await (const k of m.kv.keys({ gte: prefix, lt: prefixEnd(prefix) })) {
    const entry = parseSortKey(k.slice(prefix.length))
    if (entry === undefined) continue
    if (entry.scope === 'C' || entry.scope === 'T') {
      ops.push({ type: 'del', key: k })
    } else if (entry.pair !== undefined) {
      const key = m.layout.pair(entry.iface, entry.pair.context, entry.pair.type)
      if (!written.has(key)) {
        written.add(key)
        ops.push({ type: 'put', key, value: EMPTY })
      }
    }
    if (ops.length >= MIGRATION_BATCH) { await m.kv.batch(ops); ops = [] }
  }
  ops.push({ type: 'put', key: marker, value: EMPTY })
  await m.kv.batch(ops)
}

/**
 * The parts of a sort key after `i!`: `<iface>!<scope>!<c|u>!<timestamp>!<objectId>`,
 * where a `B` scope is `B<context>!<type>`. Undefined for anything else.
 */
function parseSortKey (rest: string): { iface: string, scope: string, pair?: { context: string, type: string } } | undefined {
  const parts = rest.split('!')
  const iface = parts[0]
  const scope = parts[1]
  if (iface === undefined || scope === undefined || scope === '') return undefined
  const kind = scope[0] as string
  if (kind !== 'B') return { iface, scope: kind }
  if (parts.length !== 6) return undefined
  try {
    return { iface, scope: kind, pair: { context: unesc(scope.slice(1)), type: unesc(parts[2] as string) } }
  } catch {
    return undefined
  }
}
