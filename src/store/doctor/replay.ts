/**
 * Step 2 of a check: the feed (`f!`) replayed, in order, into a fresh
 * TenantStore over a scratch store, commit by commit through `ingest` (the
 * production ingest path), so the rebuilt derived data is by definition what
 * it should be. Feed entries are checked on the way (each points at a stored
 * commit, each commit appears once), quarantined commits are replayed too,
 * and stored commits outside the feed are reported.
 */
import { HubError } from '../../errors.js'
import { parseCommit, verifyCommit, type Commit, type VerifiedCommit } from '../../commits/commit.js'
import { Keyring } from '../../encryption/keyring.js'
import { utf8d } from '../../identity/encoding.js'
import { openerOf } from '../../encryption/parties.js'
import { prefixEnd, type KvStore } from '../kv.js'
import { TenantStore, actorFor } from '../tenant-store.js'
import { objectOf, type SignedScan } from './signed.js'
import type { AddProblem, DoctorHub } from './types.js'

/** Commits fetched and replayed per round trip to the store. */
const REPLAY_CHUNK = 512

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

/** The rebuilt store and what the replay learnt about the signed data. */
export interface Replay {
  /** The fresh store the feed was replayed into (open; the caller closes it). */
  rebuilt: TenantStore
  /** Feed entries (`f!`). */
  feed: number
  /** Objects affected by signed-data problems: reported, never repaired. */
  tainted: Set<string>
  /** Stored commits that could not be replayed (an object log naming one taints its object). */
  bad: Set<string>
}

/**
 * Replay the feed of `store`'s tenant into a fresh store over `scratch`.
 * Counts feed references into `signed.refs`.
 */
export async function replayFeed (hub: DoctorHub, store: TenantStore, scratch: KvStore, signed: SignedScan, add: AddProblem): Promise<Replay> {
  const L = store.layout
  const kv = hub.kv
  const { refs, untrusted, signatureOnly } = signed
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
  return { rebuilt, feed, tainted, bad }
}
