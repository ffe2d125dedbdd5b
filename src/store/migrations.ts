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
import { prefixEnd, type KvStore } from './kv.js'
import type { Layout } from './layout.js'

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
  let ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
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
