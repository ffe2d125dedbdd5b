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
 */
import * as A from '@automerge/automerge'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { HubError } from '../errors.js'
import { asObjectId, type Did, type ObjectId } from '../ids.js'
import { parseCommit, verifyCommit, type Commit, type KeyLookup, type VerifiedCommit } from '../commits/commit.js'
import { commitHeaderAad, decryptPayload } from '../encryption/jwe.js'
import { Keyring } from '../encryption/keyring.js'
import { utf8d } from '../identity/encoding.js'
import type { Ed25519KeyPair } from '../identity/keys.js'
import { openerOf } from '../interfaces/collection-keys.js'
import { deepEqual, type JsonValue } from '../objects/json.js'
import { docHeads, freeDoc, loadDoc } from '../objects/automerge.js'
import { prefixEnd, type KvOp, type KvStore } from './kv.js'
import { Layout } from './layout.js'
import { LevelKv } from './level-kv.js'
import { TenantStore, actorFor, indexKeys, type ObjectMeta } from './tenant-store.js'

/** What the doctor needs of a Hub (structural, so store/ does not import hub.ts). */
export interface DoctorHub {
  /** The hub directory: the scratch store of a rebuild lives in it while the check runs. */
  readonly dir: string
  readonly did: Did
  readonly hubDid: Did
  readonly kv: KvStore
  readonly store: TenantStore
  readonly keys: { resolveKey: KeyLookup }
  /** The keys the hub opens key envelopes with (see `keyringFor`); a blind hub opens none. */
  readonly config: { readonly role: string }
  readonly hubKey: Ed25519KeyPair
  readonly ownerKey: Ed25519KeyPair | undefined
  tenant: (did: string) => Promise<TenantStore>
}

/**
 * A fresh keyring that opens exactly the key envelopes the hub's own store
 * of `tenant` opens, mirroring how src/hub.ts builds them: the owner's
 * partition with the hub's key-agreement key and the owner's (when this hub
 * holds the owner key), none on a blind hub; other owners' partitions
 * (`Hub.tenant`) with none. The check also compares the result with the live
 * keyring (`stale_keyring`), so the two cannot drift apart unnoticed.
 */
export function keyringFor (hub: Pick<DoctorHub, 'did' | 'config' | 'hubKey' | 'ownerKey'>, tenant: string): Keyring {
  if (tenant !== hub.did || hub.config.role === 'blind') return new Keyring([])
  return new Keyring([openerOf(hub.hubKey), ...(hub.ownerKey !== undefined ? [openerOf(hub.ownerKey)] : [])])
}

export interface DoctorOptions {
  /** Rewrite derived data that differs from the rebuilt store. Default false. */
  repair?: boolean
  /** Attempts when the hub keeps writing during a check. Default 3. */
  attempts?: number
}

export type ProblemCode =
  // signed data (reported, never repaired)
  | 'unparseable_commit' | 'id_mismatch' | 'bad_signature' | 'unverifiable_signature'
  | 'missing_commit' | 'orphan_commit' | 'duplicate_feed_entry' | 'replay_failed'
  // derived data (repaired)
  | 'missing_meta' | 'extra_meta' | 'meta_mismatch'
  | 'missing_object_log_entry' | 'extra_object_log_entry' | 'object_log_mismatch'
  | 'missing_index' | 'extra_index'
  | 'missing_permission_entry' | 'extra_permission_entry'
  | 'bad_snapshot' | 'orphan_snapshot'
  // in-memory state of the running hub
  | 'stale_registry' | 'stale_keyring'

export interface DoctorProblem {
  code: ProblemCode
  /** `signed`: commits and feed; `derived`: rewritable keys; `memory`: the live hub's state. */
  kind: 'signed' | 'derived' | 'memory'
  key?: string
  objectId?: string
  commitId?: string
  seq?: number
  detail: string
}

export interface TenantReport {
  tenant: string
  /** Stored commits (`c!`). */
  commits: number
  /** Feed entries (`f!`). */
  feed: number
  /** Objects in the rebuilt store. */
  objects: number
  /** What the (first) check found. */
  problems: DoctorProblem[]
  /** Derived keys written or deleted by the repair (0 without --repair). */
  repaired: number
  /** With --repair: what the check after the repair still finds. */
  remaining?: DoctorProblem[]
  clean: boolean
  notes: string[]
}

export interface DoctorReport {
  clean: boolean
  repair: boolean
  tenants: TenantReport[]
}

const SIGNED_CODES = new Set<ProblemCode>(['unparseable_commit', 'id_mismatch', 'bad_signature', 'unverifiable_signature', 'missing_commit', 'orphan_commit', 'duplicate_feed_entry', 'replay_failed'])
const MEMORY_CODES = new Set<ProblemCode>(['stale_registry', 'stale_keyring'])
const REPLAY_CHUNK = 512
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

interface CheckResult {
  commits: number
  feed: number
  objects: number
  problems: DoctorProblem[]
  /** Derived-data fixes for untainted objects. */
  ops: KvOp[]
  repaired: number
  tainted: Set<string>
  /** Objects whose stored value the rebuild could not decrypt (kept as stored). */
  unreadable: number
  registryStale: boolean
  keyringStale: boolean
  permissionsTouched: boolean
  /** Every Permissions object's rebuilt meta (for reloading the live registry). */
  permissionMetas: ObjectMeta[]
}

/** One full check of a tenant, with a scratch store for the rebuild (removed afterwards). */
async function check (hub: DoctorHub, store: TenantStore): Promise<CheckResult> {
  const dir = await mkdtemp(join(hub.dir, '.doctor-'))
  try {
    const scratch = await LevelKv.open(dir)
    try {
      return await checkWith(hub, store, scratch)
    } finally {
      await scratch.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Signed data, replay into `scratch`, comparison of derived data. */
async function checkWith (hub: DoctorHub, store: TenantStore, scratch: KvStore): Promise<CheckResult> {
  const L = store.layout
  const kv = hub.kv
  const problems: DoctorProblem[] = []
  const add = (p: Omit<DoctorProblem, 'kind'>): void => {
    problems.push({ ...p, kind: SIGNED_CODES.has(p.code) ? 'signed' : MEMORY_CODES.has(p.code) ? 'memory' : 'derived' })
  }

  // ---- 1. commits: parse, id, signature
  /** Feed references per stored commit. */
  const refs = new Map<string, number>()
  /** Stored commits whose content cannot be trusted (not replayed); value: their object, if known. */
  const untrusted = new Map<string, string | undefined>()
  /** Stored commits whose content is intact (id = hash) but whose signature does not verify now (replayed all the same). */
  const signatureOnly = new Set<string>()
  const cPrefix = `${L.p}c!`
  let commits = 0
  for await (const [k, v] of kv.entries({ gte: cPrefix, lt: prefixEnd(cPrefix) })) {
    commits++
    const id = k.slice(cPrefix.length)
    refs.set(id, 0)
    let c: Commit
    try {
      c = parseCommit(utf8d.decode(v), Infinity)
    } catch (err) {
      untrusted.set(id, undefined)
      add({ code: 'unparseable_commit', key: k, commitId: id, detail: (err as Error).message })
      continue
    }
    if (c.id !== id) {
      untrusted.set(id, c.objectId)
      add({ code: 'id_mismatch', key: k, commitId: id, objectId: c.objectId, detail: `stored under ${id} but its content hashes to ${c.id}` })
      continue
    }
    try {
      await verifyCommit(c, hub.keys.resolveKey)
    } catch (err) {
      // The id proves header and payload are what was ingested, so the commit
      // is still replayed; only its signature bytes are damaged (or its key
      // cannot be resolved now).
      const bad = err instanceof HubError && err.code === 'authentication_failed'
      signatureOnly.add(id)
      add({ code: bad ? 'bad_signature' : 'unverifiable_signature', key: k, commitId: id, objectId: c.objectId, detail: (err as Error).message })
    }
  }

  // ---- 2. feed, replayed in order into a fresh store
  const rebuilt = new TenantStore({
    kv: scratch,
    tenant: store.tenant,
    // Decrypts what the hub's own store decrypts, no more and no less.
    keyring: keyringFor(hub, store.tenant),
    actor: actorFor(hub.hubDid),
    // Every stored commit passed the size checks when it was ingested (under
    // whatever limit was configured then); a limit never changes derived data.
    maxValueBytes: Number.MAX_SAFE_INTEGER
  })
  await rebuilt.open()
  const missing = new Set<string>()
  const failed = new Set<string>()
  const tainted = new Set<string>()
  let feed = 0
  let chunk: Array<{ seq: number, id: string }> = []
  const replay = async (): Promise<void> => {
    const batch = chunk
    chunk = []
    if (batch.length === 0) return
    const envs = await kv.getMany(batch.map(e => L.commit(e.id as Commit['id'])))
    for (let i = 0; i < batch.length; i++) {
      const env = envs[i]
      const { seq } = batch[i] as { seq: number }
      if (env === undefined) continue // deleted since the scan: the caller notices the seq change and retries
      const c = parseCommit(utf8d.decode(env), Infinity)
      // One commit per write group, awaited: ingestMany would put several
      // into one group, where an Automerge update of an object created
      // earlier in the same group is rejected (see the report on issue 7).
      try {
        // A commit whose signature alone is damaged (reported above) was
        // verified when it was ingested, and its id proves its header and
        // payload are those bytes: it derives what it derived then.
        const verified = signatureOnly.has(c.id) && c.id === batch[i]?.id ? c as VerifiedCommit : await verifyCommit(c, hub.keys.resolveKey)
        await rebuilt.ingest(verified)
      } catch (err) {
        failed.add(c.id)
        tainted.add(c.objectId)
        const e = err as Error
        add({ code: 'replay_failed', commitId: c.id, objectId: c.objectId, seq, detail: `${e instanceof HubError ? e.code + ': ' : ''}${e.message}` })
      }
    }
  }
  const fPrefix = L.feedPrefix()
  for await (const [k, v] of kv.entries({ gte: fPrefix, lt: prefixEnd(fPrefix) })) {
    feed++
    const seq = Number(k.slice(fPrefix.length))
    const id = utf8d.decode(v)
    const n = refs.get(id)
    if (n === undefined) {
      missing.add(id)
      add({ code: 'missing_commit', key: k, seq, commitId: id, detail: `feed entry ${seq} points at commit ${id}, which is not stored` })
      continue
    }
    refs.set(id, n + 1)
    if (n > 0) {
      add({ code: 'duplicate_feed_entry', key: k, seq, commitId: id, detail: `commit ${id} appears in the feed more than once` })
      continue
    }
    if (untrusted.has(id)) continue
    chunk.push({ seq, id })
    if (chunk.length >= REPLAY_CHUNK) await replay()
  }
  await replay()
  await rebuilt.idle()
  // A commit quarantined on arrival (a revocation did not name it) is kept
  // without a feed entry by design: replay those too, and they are expected
  // only if the rebuilt store quarantines them as well. Dependencies among
  // them are resolved by retrying until a pass makes no progress.
  let pending = [...refs].filter(([id, n]) => n === 0 && !untrusted.has(id)).map(([id]) => id)
  const quarantinedMarks = await kv.getMany(pending.map(id => L.quarantined(id as Commit['id'])))
  pending = pending.filter((_, i) => quarantinedMarks[i] !== undefined)
  const expected = new Set<string>()
  for (let progress = true; progress && pending.length > 0;) {
    progress = false
    const next: string[] = []
    for (const id of pending) {
      const env = await kv.get(L.commit(id as Commit['id']))
      if (env === undefined) continue
      try {
        const r = await rebuilt.ingest(await verifyCommit(parseCommit(utf8d.decode(env), Infinity), hub.keys.resolveKey))
        if (r.quarantined === true) expected.add(id)
        progress = true
      } catch (err) {
        if (err instanceof HubError && err.code === 'missing_deps') next.push(id)
      }
    }
    pending = next
  }
  await rebuilt.idle()
  const orphans = new Set<string>()
  for (const [id, n] of refs) {
    if (n > 0 || expected.has(id)) continue
    orphans.add(id)
    const objectId = untrusted.has(id) ? untrusted.get(id) : await objectOf(kv, L, id)
    if (objectId !== undefined) tainted.add(objectId)
    add({ code: 'orphan_commit', key: L.commit(id as Commit['id']), commitId: id, ...(objectId !== undefined ? { objectId } : {}), detail: `commit ${id} is stored but not in the feed (so it is not replayed or synced)` })
  }
  for (const objectId of untrusted.values()) if (objectId !== undefined) tainted.add(objectId)
  // Objects whose stored log holds a commit that could not be replayed.
  const bad = new Set<string>([...untrusted.keys(), ...missing, ...orphans, ...failed])

  // ---- 3. derived data, real vs rebuilt
  const fixes: Array<{ objectId: string, op: KvOp }> = []
  const pair = new Set<string>() // objects whose meta + snapshot are rewritten together
  const put = (objectId: string, key: string, value: Uint8Array | undefined): void => {
    fixes.push({ objectId, op: value === undefined ? { type: 'del', key } : { type: 'put', key, value } })
  }
  const snapshotCommits = new Map<string, number>()
  /**
   * Objects whose stored value the rebuild could not decrypt (see
   * `unreadableByRebuild`): their stored value stands, and the index keys it
   * implies are what their indexes are checked against.
   */
  const unreadable = new Map<string, Set<string>>()
  /** Objects whose derived data is reported but not repaired (beyond the tainted ones). */
  const kept = new Set<string>()
  let objects = 0

  // Object metas (ignoring snapshotCommits, which depends on where snapshots were taken).
  for await (const [key, real, want] of merge(kv, scratch, `${L.p}o!`)) {
    const objectId = key.slice(`${L.p}o!`.length)
    if (want !== undefined) objects++
    let realMeta: ObjectMeta | undefined
    if (real !== undefined) {
      try {
        realMeta = JSON.parse(utf8d.decode(real)) as ObjectMeta
        if (typeof realMeta.snapshotCommits === 'number') snapshotCommits.set(objectId, realMeta.snapshotCommits)
      } catch { /* reported below as a mismatch */ }
    }
    if (want === undefined) {
      add({ code: 'extra_meta', key, objectId, detail: 'an object meta with no commits behind it in the feed' })
      pair.add(objectId)
    } else if (real === undefined) {
      add({ code: 'missing_meta', key, objectId, detail: 'the object has commits but no meta' })
      pair.add(objectId)
    } else {
      const wantMeta = JSON.parse(utf8d.decode(want)) as ObjectMeta
      if (realMeta !== undefined && await unreadableByRebuild(realMeta, wantMeta, rebuilt, scratch, L)) {
        // Never repaired into the rebuild's blind view: only what needs no key is compared.
        unreadable.set(objectId, new Set(indexKeys(L, withReadable(wantMeta, realMeta))))
        const diff = metaDiff(realMeta, wantMeta, DECRYPTED_FIELDS)
        if (diff.length > 0) {
          add({ code: 'meta_mismatch', key, objectId, detail: `differs from the rebuilt meta in: ${diff.join(', ')} (not repaired: the rebuild cannot decrypt its value)` })
          kept.add(objectId)
        }
        continue
      }
      const diff = realMeta === undefined ? ['(not JSON)'] : metaDiff(realMeta, wantMeta)
      if (diff.length > 0) {
        add({ code: 'meta_mismatch', key, objectId, detail: `differs from the rebuilt meta in: ${diff.join(', ')}` })
        pair.add(objectId)
      }
    }
  }

  // Per-object logs: `oc!<object>!<n>` numbers an object's commits 1, 2, …
  // in feed order, so the rebuilt keys match exactly (feed gaps do not matter).
  for await (const [key, real, want] of merge(kv, scratch, `${L.p}oc!`)) {
    const rest = key.slice(`${L.p}oc!`.length)
    const objectId = rest.slice(0, rest.indexOf('!'))
    if (real !== undefined && bad.has(utf8d.decode(real))) tainted.add(objectId)
    if (real !== undefined && want !== undefined && Buffer.compare(real, want) === 0) continue
    if (want === undefined) add({ code: 'extra_object_log_entry', key, objectId, detail: `the log lists commit ${utf8d.decode(real as Uint8Array)}, which the replay did not put there` })
    else if (real === undefined) add({ code: 'missing_object_log_entry', key, objectId, commitId: utf8d.decode(want), detail: `the log lacks commit ${utf8d.decode(want)}` })
    else add({ code: 'object_log_mismatch', key, objectId, commitId: utf8d.decode(want), detail: `the log lists ${utf8d.decode(real)} where the replay puts ${utf8d.decode(want)}` })
    put(objectId, key, want)
  }

  // Indexes and the Permissions list: key sets (values are empty).
  const sets: Array<{ prefix: string, missing: ProblemCode, extra: ProblemCode, id: (rest: string) => string }> = [
    { prefix: `${L.p}i!`, missing: 'missing_index', extra: 'extra_index', id: rest => rest.slice(rest.lastIndexOf('!') + 1) },
    { prefix: `${L.p}x!`, missing: 'missing_index', extra: 'extra_index', id: rest => rest.slice(rest.lastIndexOf('!') + 1) },
    { prefix: L.permissionsPrefix(), missing: 'missing_permission_entry', extra: 'extra_permission_entry', id: rest => rest }
  ]
  let permissionsTouched = false
  /** Index keys of `unreadable` objects that the real store holds. */
  const present = new Set<string>()
  for (const s of sets) {
    for await (const [key, real, want] of merge(kv, scratch, s.prefix)) {
      const objectId = s.id(key.slice(s.prefix.length))
      const expected = s.prefix === L.permissionsPrefix() ? undefined : unreadable.get(objectId)
      if (expected !== undefined) {
        // Checked against the stored value, not the rebuild's blind view (missing ones: below).
        if (real === undefined) continue
        if (expected.has(key)) {
          present.add(key)
          continue
        }
        add({ code: 'extra_index', key, objectId, detail: 'not derived from the object\'s stored value' })
        put(objectId, key, undefined)
        continue
      }
      if (real !== undefined && want !== undefined && Buffer.compare(real, want) === 0) continue
      if (want === undefined) add({ code: s.extra, key, objectId, detail: 'not derived from any commit' })
      else if (real === undefined) add({ code: s.missing, key, objectId, detail: 'derived from the commits but absent' })
      else add({ code: s.extra, key, objectId, detail: 'unexpected value' })
      if (s.prefix === L.permissionsPrefix()) permissionsTouched = true
      put(objectId, key, want)
    }
  }
  for (const [objectId, expected] of unreadable) {
    for (const key of expected) {
      if (present.has(key)) continue
      add({ code: 'missing_index', key, objectId, detail: 'derived from the object\'s stored value but absent' })
      put(objectId, key, new Uint8Array(0))
    }
  }

  // Snapshots: caches, validated rather than compared.
  const sPrefix = L.snapshotsPrefix()
  for await (const [key, snap] of kv.entries({ gte: sPrefix, lt: prefixEnd(sPrefix) })) {
    const objectId = key.slice(sPrefix.length)
    // Validating it takes the content key, which the rebuild lacks: the cache stays as it is.
    if (unreadable.has(objectId)) continue
    const n = snapshotCommits.get(objectId)
    if (n === undefined) {
      add({ code: 'orphan_snapshot', key, objectId, detail: 'no object meta refers to this snapshot' })
      pair.add(objectId)
      continue
    }
    const why = await snapshotProblem(rebuilt, scratch, L, asObjectId(objectId), snap, n)
    if (why !== undefined) {
      add({ code: 'bad_snapshot', key, objectId, detail: why })
      pair.add(objectId)
    }
  }
  for (const objectId of pair) {
    const oKey = L.object(asObjectId(objectId))
    const sKey = L.snapshot(asObjectId(objectId))
    const [m, s] = await scratch.getMany([oKey, sKey])
    const [rm, rs] = await kv.getMany([oKey, sKey])
    // The same rule as for metas above: never a blind rebuilt meta over a readable stored one.
    const realMeta = rm === undefined ? undefined : parseMeta(rm)
    if (realMeta !== undefined && m !== undefined && await unreadableByRebuild(realMeta, parseMeta(m) as ObjectMeta, rebuilt, scratch, L)) {
      kept.add(objectId)
      continue
    }
    if (!sameBytes(rm, m)) put(objectId, oKey, m)
    if (!sameBytes(rs, s)) put(objectId, sKey, s)
  }

  // The live registry (built at open, then kept current by ingests) against the replayed one.
  const permissionMetas: ObjectMeta[] = []
  const pp = L.permissionsPrefix()
  const ids: string[] = []
  for await (const k of scratch.keys({ gte: pp, lt: prefixEnd(pp) })) ids.push(k.slice(pp.length))
  for (const m of await rebuilt.getMetas(ids)) if (m !== undefined) permissionMetas.push(m)
  if (ids.some(id => pair.has(id))) permissionsTouched = true
  const registryStale = !sameRegistry(store, rebuilt)
  if (registryStale) add({ code: 'stale_registry', detail: 'the running hub\'s grants and device authorizations differ from those the commits define' })
  const keyringStale = !sameKeyring(store, rebuilt, tainted)
  if (keyringStale) add({ code: 'stale_keyring', detail: 'the running hub\'s content keys differ from those its key envelopes give' })

  const ops = fixes.filter(f => !tainted.has(f.objectId) && !kept.has(f.objectId)).map(f => f.op)
  rebuilt.close()
  return { commits, feed, objects, problems, ops, repaired: 0, tainted, unreadable: unreadable.size, registryStale, keyringStale, permissionsTouched, permissionMetas }
}

/** Meta fields that only a hub holding the collection's content key can compute. */
const DECRYPTED_FIELDS = ['context', 'type', 'value']

/**
 * The rule that keeps a repair from destroying data: repair may add or fix
 * derived data, but never drop a value the hub can read. When the stored
 * meta holds a value and the rebuilt one has none because a commit of the
 * object is sealed under a content key the rebuild does not hold (its key
 * envelope failed to replay, say), the rebuild is blind where the hub is
 * not: that is not a problem to repair, and the stored value stands.
 */
async function unreadableByRebuild (real: ObjectMeta, want: ObjectMeta, rebuilt: TenantStore, scratch: KvStore, L: Layout): Promise<boolean> {
  if (real.value === undefined || want.value !== undefined || want.deleted) return false
  const ids = await rebuilt.objectCommitIds(want.objectId)
  for (const env of await scratch.getMany(ids.map(id => L.commit(id)))) {
    if (env === undefined) continue
    const h = parseCommit(utf8d.decode(env), Infinity).header
    if (h.enc !== undefined && h.operation !== 'delete' && rebuilt.keyring.get(h.enc) === undefined) return true
  }
  return false
}

function parseMeta (raw: Uint8Array): ObjectMeta | undefined {
  try {
    return JSON.parse(utf8d.decode(raw)) as ObjectMeta
  } catch {
    return undefined
  }
}

/** The rebuilt meta with the names and value only the stored one could read. */
function withReadable (want: ObjectMeta, real: ObjectMeta): ObjectMeta {
  const out: ObjectMeta = { ...want }
  for (const f of DECRYPTED_FIELDS as Array<'context' | 'type' | 'value'>) {
    if (real[f] === undefined) delete out[f]
    else (out as unknown as Record<string, unknown>)[f] = real[f]
  }
  return out
}

/** The object a stored commit belongs to, if it parses. */
async function objectOf (kv: KvStore, L: Layout, id: string): Promise<string | undefined> {
  const raw = await kv.get(L.commit(id as Commit['id']))
  if (raw === undefined) return undefined
  try {
    return parseCommit(utf8d.decode(raw), Infinity).objectId
  } catch {
    return undefined
  }
}

/** Top-level fields in which two metas differ (snapshotCommits and `ignore` ignored; JSON key order ignored). */
function metaDiff (real: ObjectMeta, want: ObjectMeta, ignore: string[] = []): string[] {
  const a = real as unknown as Record<string, JsonValue>
  const b = want as unknown as Record<string, JsonValue>
  const fields = new Set([...Object.keys(a), ...Object.keys(b)])
  fields.delete('snapshotCommits')
  for (const f of ignore) fields.delete(f)
  const out: string[] = []
  for (const f of fields) {
    const x = a[f]
    const y = b[f]
    if (x === undefined && y === undefined) continue
    if (x === undefined || y === undefined || !deepEqual(x, y)) out.push(f)
  }
  return out.sort()
}

/**
 * Why a snapshot cannot stand in for the first `n` commits of its object, or
 * undefined if it can: it must load, and its Automerge heads must be the
 * heads of exactly those commits' changes (heads determine the whole set).
 */
async function snapshotProblem (rebuilt: TenantStore, scratch: KvStore, L: Layout, objectId: ObjectId, snap: Uint8Array, n: number): Promise<string | undefined> {
  const ids = await rebuilt.objectCommitIds(objectId)
  if (ids.length === 0) return 'the object has no commits in the replay'
  if (!Number.isInteger(n) || n < 1 || n > ids.length) return `the meta says it covers ${n} commits; the object has ${ids.length}`
  const envs = await scratch.getMany(ids.slice(0, n).map(id => L.commit(id)))
  const hashes = new Set<string>()
  const deps = new Set<string>()
  for (const env of envs) {
    if (env === undefined) return 'a covered commit is missing from the replay'
    const c = parseCommit(utf8d.decode(env), Infinity)
    if (c.header.operation === 'delete') continue
    let payload = c.payload
    if (c.header.enc !== undefined) {
      // Sealed: its Automerge change is the decrypted payload (the rebuild holds the hub's keys).
      const key = rebuilt.keyring.get(c.header.enc)
      if (key === undefined) return 'a covered commit is sealed under a content key this hub does not hold'
      try {
        payload = decryptPayload(key.key, utf8d.decode(c.payload), commitHeaderAad(c.header))
      } catch (err) {
        return `a covered commit does not decrypt: ${(err as Error).message}`
      }
    }
    const ch = A.decodeChange(payload)
    hashes.add(ch.hash)
    for (const d of ch.deps) deps.add(d)
  }
  const expected = [...hashes].filter(h => !deps.has(h)).sort()
  let heads: string[]
  try {
    const doc = loadDoc(snap, '00'.repeat(16))
    heads = [...docHeads(doc)].sort()
    freeDoc(doc)
  } catch (err) {
    return `does not load: ${(err as Error).message}`
  }
  if (heads.length !== expected.length || heads.some((h, i) => h !== expected[i])) {
    return `its Automerge heads are not those of the first ${n} commits`
  }
  return undefined
}

/**
 * Whether the live keyring holds the content keys the rebuilt one does (key
 * id → its Keys object), leaving aside key envelopes touched by signed-data
 * problems (reported as such).
 */
function sameKeyring (live: TenantStore, rebuilt: TenantStore, tainted: ReadonlySet<string>): boolean {
  const norm = (s: TenantStore): string[] => s.keyring.all().filter(k => !tainted.has(k.objectId)).map(k => `${k.key.kid} ${k.objectId}`).sort()
  const a = norm(live)
  const b = norm(rebuilt)
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function sameRegistry (a: TenantStore, b: TenantStore): boolean {
  const norm = (s: TenantStore): JsonValue => JSON.parse(JSON.stringify({
    grants: s.registry.grants().sort((x, y) => x.id < y.id ? -1 : x.id > y.id ? 1 : 0),
    devices: s.registry.devices().sort((x, y) => x.objectId < y.objectId ? -1 : x.objectId > y.objectId ? 1 : 0)
  })) as JsonValue
  return deepEqual(norm(a), norm(b))
}

/**
 * The keys under `prefix` in either store, in key order, with each store's
 * value (undefined where it has none): a streaming merge, so memory stays
 * constant whatever the number of keys.
 */
async function * merge (real: KvStore, want: KvStore, prefix: string): AsyncGenerator<[string, Uint8Array | undefined, Uint8Array | undefined]> {
  const range = { gte: prefix, lt: prefixEnd(prefix) }
  const ia = real.entries(range)[Symbol.asyncIterator]()
  const ib = want.entries(range)[Symbol.asyncIterator]()
  let a = await ia.next()
  let b = await ib.next()
  while (a.done !== true || b.done !== true) {
    if (b.done === true || (a.done !== true && cmp(a.value[0], b.value[0]) < 0)) {
      const [k, v] = a.value as [string, Uint8Array]
      yield [k, v, undefined]
      a = await ia.next()
    } else if (a.done === true || cmp(a.value[0], b.value[0]) > 0) {
      const [k, v] = b.value
      yield [k, undefined, v]
      b = await ib.next()
    } else {
      yield [a.value[0], a.value[1], b.value[1]]
      a = await ia.next()
      b = await ib.next()
    }
  }
}

function sameBytes (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : Buffer.compare(a, b) === 0
}

/** Key order of the store: UTF-8 bytes. */
function cmp (a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b))
}
