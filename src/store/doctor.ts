/**
 * `hub doctor`: checks a hub's store and repairs what is derived.
 *
 * Per tenant, the signed truth is the commits (`c!`) and the order they were
 * ingested in (the feed, `f!`). Everything else the tenant store writes is
 * derived from them: object metas (`o!`), per-object logs (`oc!`), sort and
 * field indexes (`i!`, `x!`), the Permissions list (`p!`) and Automerge
 * snapshots (`s!`, a cache). Watermarks (`w!`), the audit log (`a!`) and
 * per-instance state (`n!`) are local records, neither signed nor derived:
 * the doctor never reads or writes them.
 *
 * 1. Signed data: every commit parses, is stored under its own id (the id
 *    is a hash of header + payload, so this proves the content is intact),
 *    and its signature verifies; every feed entry points at a stored commit
 *    and every stored commit is in the feed exactly once.
 * 2. Derived data: the feed is replayed, in order, into a fresh TenantStore
 *    over a scratch LevelDB, commit by commit through `ingest` — the
 *    production ingest path — so the rebuilt derived data is by definition
 *    what it should be. The scratch store opens key envelopes with the same
 *    key-agreement keys as the hub's own store of that tenant (`keyringFor`),
 *    so it decrypts exactly what the hub can: an owner device rebuilds the
 *    values and indexes of its encrypted collections, a blind hub (no keys)
 *    rebuilds ciphertext-only metas, as its own store holds. Then every
 *    derived key of the real store is compared with the rebuilt one (a
 *    streaming merge of two ordered scans). Snapshots are caches and are
 *    validated instead: they must load and hold exactly the Automerge
 *    changes (decrypted, for encrypted objects) of the first
 *    `snapshotCommits` commits of their object. The live keyring and grant
 *    registry are compared with the rebuilt ones.
 * 3. Repair (optional): one atomic batch per tenant rewrites the derived keys
 *    that differ from the rebuilt store. Signed data (`c!`, `f!`) is never
 *    written; objects touched by a signed-data problem are reported and left
 *    as they are (rewriting them from incomplete signed data would destroy
 *    information). Repair adds and fixes derived data but never drops a
 *    value the hub can read (see `unreadableByRebuild`): a stored value the
 *    rebuild could not decrypt (its key envelope did not replay, say) is not
 *    a problem to repair. Then the check runs again.
 *
 * Space: the rebuilt store is a full copy of the tenant's commits and
 * derived data, kept in a scratch LevelDB inside the hub directory (same
 * disk as the data it mirrors) and deleted afterwards; memory holds one id
 * per commit for the feed checks, plus the fixes to apply. (MemoryKv would
 * hold it all in RAM and re-sorts every key on the first scan after each
 * write, which makes a commit-by-commit replay quadratic.) Time: O(N log N)
 * LevelDB work in the number of keys; a repair runs the check twice.
 *
 * The steps live in doctor/: signed.ts (1), replay.ts (2), derived.ts,
 * snapshot.ts and merge.ts (the comparison), live-state.ts (the running
 * hub's registry and keyring), check.ts (one check over a scratch store);
 * this module runs them per tenant, applies a repair and writes the report.
 */
import { prefixEnd } from './kv.js'
import type { TenantStore } from './tenant-store.js'
import { check, type CheckResult } from './doctor/check.js'
import type { DoctorHub, DoctorOptions, DoctorReport, TenantReport } from './doctor/types.js'

export { keyringFor } from './doctor/replay.js'
export type { DoctorHub, DoctorOptions, DoctorProblem, DoctorReport, ProblemCode, TenantReport } from './doctor/types.js'

/** Problems listed per tenant (the counts stay exact in `notes`). */
const MAX_LISTED = 1000

/** Check every tenant partition of the hub's store; with `repair`, fix derived data. */
export async function doctor (hub: DoctorHub, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const tenants: TenantReport[] = []
  for (const did of await tenantsOf(hub)) {
    const store = did === hub.did ? hub.store : await hub.tenant(did)
    tenants.push(await doctorTenant(hub, store, opts))
  }
  return { clean: tenants.every(t => t.clean), repair: opts.repair === true, tenants }
}

/**
 * Every tenant with keys in the store, the owner's first. A skip scan: one
 * seek per tenant, whatever the number of keys.
 */
export async function tenantsOf (hub: Pick<DoctorHub, 'did' | 'kv'>): Promise<string[]> {
  const out = [hub.did as string]
  const end = prefixEnd('t!')
  let from = 't!'
  for (;;) {
    let next: string | undefined
    for await (const k of hub.kv.keys({ gte: from, lt: end, limit: 1 })) next = k
    if (next === undefined) break
    const bang = next.indexOf('!', 2)
    if (bang < 0) break
    const seg = next.slice(2, bang)
    const did = decodeURIComponent(seg)
    if (!out.includes(did)) out.push(did)
    from = prefixEnd(`t!${seg}!`)
  }
  return out
}

async function doctorTenant (hub: DoctorHub, store: TenantStore, opts: DoctorOptions): Promise<TenantReport> {
  const attempts = Math.max(1, opts.attempts ?? 3)
  const notes: string[] = []
  let first: CheckResult | undefined
  for (let i = 0; i < attempts; i++) {
    await store.idle()
    const seq = store.seq
    const r = await check(hub, store)
    if (opts.repair === true && store.seq === seq && r.ops.length > 0) {
      // Nothing was written since the check began (seq is checked right
      // before the batch, with no await in between); see the limits below.
      await hub.kv.batch(r.ops)
      // A repaired `n!` pair must reach the live store's list, or queries by
      // context or type keep missing it; the cache drop after it also voids
      // every query memo (query.ts) made before the repair.
      await store.pairs.load(hub.kv)
      store.dropDocCache()
      first = r
      first.repaired = r.ops.length
      break
    }
    if (store.seq === seq) {
      first = r
      break
    }
    first = r
    if (i === attempts - 1) notes.push('the hub kept writing during the check: some problems may be writes that raced it; run the doctor again' + (opts.repair === true ? ' (nothing was repaired)' : ''))
  }
  const r = first as CheckResult
  // The live registry and keyring are rebuilt only at open; re-apply what
  // the rebuild says (apply() replaces an object's entry), then see if they
  // now agree.
  if (opts.repair === true && (r.registryStale || r.keyringStale || r.permissionsTouched)) {
    for (const meta of r.permissionMetas) {
      if (r.tainted.has(meta.objectId)) continue
      if (meta.interface === 'Keys') store.keyring.apply(meta)
      else store.registry.apply(meta)
    }
    store.nudge()
  }
  const report: TenantReport = {
    tenant: store.tenant,
    commits: r.commits,
    feed: r.feed,
    objects: r.objects,
    problems: r.problems.slice(0, MAX_LISTED),
    repaired: r.repaired,
    clean: r.problems.length === 0,
    notes
  }
  if (r.problems.length > MAX_LISTED) notes.push(`${r.problems.length} problems, the first ${MAX_LISTED} listed`)
  if (r.tainted.size > 0) notes.push(`${r.tainted.size} object(s) are affected by signed-data problems: their derived data is reported but not repaired`)
  if (r.unreadable > 0) notes.push(`${r.unreadable} object(s) hold a value the rebuild could not decrypt (a key envelope did not replay): their stored value is kept, not checked, and their indexes are checked against it`)
  if (opts.repair === true) {
    await store.idle()
    const again = await check(hub, store)
    report.remaining = again.problems.slice(0, MAX_LISTED)
    report.clean = again.problems.length === 0
    if (again.problems.some(p => p.code === 'stale_registry')) {
      notes.push('the running hub still holds grants or devices that no longer exist: restart it to reload them (TenantStore has no registry reset)')
    }
    if (again.problems.some(p => p.code === 'stale_keyring')) {
      notes.push('the running hub\'s content keys still differ from those its key envelopes give: restart it to reload them')
    }
  }
  return report
}
