/**
 * Quarantine: commits a hub keeps but that are not part of the owner's data
 * (a revocation did not name them, they build on one that is quarantined, or
 * they lost a rival Automerge slot). Holds the durable marks, applies a
 * revocation to what this hub holds, and recomputes an object from the
 * commits that stay valid — so every hub ends with the same valid set, in
 * any arrival order (protocols/commit.md, "Quarantine").
 */
import { HubError } from '../errors.js'
import type { CommitId, Did, ObjectId } from '../ids.js'
import { parseCommit, type Commit } from '../commits/commit.js'
import type { Keyring } from '../encryption/keyring.js'
import { utf8, utf8d } from '../identity/encoding.js'
import { changeSlot } from '../objects/automerge.js'
import { verifyAcceptance, type Acceptance } from '../permissions/acceptance.js'
import type { GrantRegistry } from '../permissions/registry.js'
import type { Validity } from '../permissions/validity.js'
import type { DocCache } from './doc-cache.js'
import { foldObject, reindex, type FoldInit } from './fold.js'
import { prefixEnd, type KvStore } from './kv.js'
import type { Layout } from './layout.js'
import type { CollectionPairs } from './collection-pairs.js'
import type { MetaCache } from './meta-cache.js'
import type { ObjectDocs } from './object-docs.js'
import type { ObjectMeta } from './object-meta.js'
import type { Tx } from './write-queue.js'

export interface QuarantineComponents {
  kv: KvStore
  layout: Layout
  tenant: Did
  registry: GrantRegistry
  keyring: Keyring
  docs: ObjectDocs
  cache: DocCache
  metas: MetaCache
  /** The (context, type) pairs list a recomputed meta may add to (collection-pairs.ts). */
  pairs: CollectionPairs
  fold: FoldInit
  getMeta: (id: ObjectId, tx: Tx) => Promise<ObjectMeta | undefined>
  plaintext: (c: Commit) => Commit | undefined
  judge: (c: Commit, objectId: ObjectId | undefined, acceptance: Acceptance | undefined) => Validity
}

const EMPTY = new Uint8Array(0)
const enc = (v: unknown): Uint8Array => utf8.encode(JSON.stringify(v))

export class Quarantine {
  readonly #c: QuarantineComponents
  /**
   * Ids of quarantined commits (few: only what revocations cancelled), loaded
   * at open. Durable marks only: a write item sees its group's staged marks
   * through {@link isIn}, and a reader outside the queue never sees a mark
   * whose batch is not on disk (or that a failed batch takes back).
   */
  readonly #marks = new Set<string>()

  constructor (components: QuarantineComponents) {
    this.#c = components
  }

  async load (): Promise<void> {
    const q = this.#c.layout.quarantinedPrefix()
    for await (const k of this.#c.kv.keys({ gte: q, lt: prefixEnd(q) })) this.#marks.add(k.slice(q.length))
  }

  /** Quarantined on disk. */
  has (id: string): boolean { return this.#marks.has(id) }

  /** Quarantined on disk, or marked earlier in `tx`'s group. */
  isIn (id: string, tx: Tx | undefined): boolean {
    return this.#marks.has(id) || (tx !== undefined && tx.staged(this.#c.layout.quarantined(id as CommitId)) != null)
  }

  /** Stage the mark of one commit; it becomes visible once the batch is durable. */
  mark (tx: Tx, id: string): void {
    tx.put(this.#c.layout.quarantined(id as CommitId), EMPTY)
    tx.after.push(() => this.#marks.add(id))
  }

  /** Ids of commits relying on `did` (signed or accepted by it): on disk and staged in this group. */
  async reliantOn (tx: Tx, did: string): Promise<CommitId[]> {
    const prefix = this.#c.layout.reliesPrefix(did)
    const out = new Set<CommitId>()
    for await (const k of this.#c.kv.keys({ gte: prefix, lt: prefixEnd(prefix) })) out.add(k.slice(prefix.length) as CommitId)
    for (const k of tx.stagedUnder(prefix).keys()) out.add(k.slice(prefix.length) as CommitId)
    return [...out]
  }

  /** A valid commit of the object whose change takes the same Automerge (actor, seq) slot as `change`, with other content. */
  async rivalChange (tx: Tx, objectId: ObjectId, change: Uint8Array): Promise<Commit | undefined> {
    const slot = changeSlot(change)
    if (slot === undefined) return undefined
    const ids = (await this.#c.docs.log(objectId, tx)).map(e => e[1]).filter(id => !this.isIn(id, tx))
    const envs = await tx.getMany(ids.map(id => this.#c.layout.commit(id)))
    for (const env of envs) {
      if (env === undefined) continue
      const c = this.#c.plaintext(parseCommit(utf8d.decode(env), Infinity))
      if (c === undefined || c.header.operation === 'delete' || c.header.commit_strategy !== 'automerge') continue
      const s = changeSlot(c.payload)
      if (s !== undefined && s.actor === slot.actor && s.seq === slot.seq && s.hash !== slot.hash) return c
    }
    return undefined
  }

  /**
   * Which of two rival commits every hub keeps: the object's creation (an
   * update claiming its slot is never honest), then the owner's or a
   * device's over a grantee's, then the lower id.
   */
  outranks (a: Commit, b: Commit): boolean {
    const rank = (c: Commit): number => c.header.operation === 'create' ? 0 : c.signer === this.#c.tenant || this.#c.registry.devices().some(d => d.device === c.signer) ? 1 : 2
    const ra = rank(a)
    const rb = rank(b)
    return ra !== rb ? ra < rb : a.id < b.id
  }

  /**
   * A revocation of `party` was just staged: every commit this hub holds that
   * relied on it and is no longer valid (the revocation did not name it) is
   * quarantined, with everything built on it, and its objects are recomputed
   * from what stays valid — so this hub ends with the valid set every other
   * hub computes from the same revocation.
   */
  async enforceRevocation (tx: Tx, party: string): Promise<void> {
    const ids = (await this.reliantOn(tx, party)).filter(id => !this.isIn(id, tx))
    if (ids.length === 0) return
    const envs = await tx.getMany(ids.map(id => this.#c.layout.commit(id)))
    const invalid = new Map<ObjectId, Set<string>>()
    envs.forEach(env => {
      if (env === undefined) return
      const c = parseCommit(utf8d.decode(env), Infinity)
      let acc: Acceptance | undefined
      try { acc = c.envelope.header === undefined ? undefined : verifyAcceptance(c.envelope.header.acc, c.id) } catch { acc = undefined }
      if (this.#c.judge(c, c.header.operation === 'create' ? undefined : c.objectId, acc).valid) return
      const set = invalid.get(c.objectId) ?? new Set<string>()
      set.add(c.id)
      invalid.set(c.objectId, set)
    })
    for (const [objectId, bad] of invalid) await this.rebuildObject(tx, objectId, bad)
  }

  /** Quarantine `bad` commits of one object and their descendants; recompute the object from the rest. */
  async rebuildObject (tx: Tx, objectId: ObjectId, bad: Set<string>): Promise<void> {
    const L = this.#c.layout
    const prev = await this.#c.getMeta(objectId, tx)
    const log = await this.#c.docs.log(objectId, tx)
    const ids = log.map(e => e[1])
    const envs = await tx.getMany(ids.map(id => L.commit(id)))
    const valid: Commit[] = []
    ids.forEach((id, i) => {
      const env = envs[i]
      if (env === undefined) throw new HubError('internal', `object ${objectId} is missing a commit`)
      const c = parseCommit(utf8d.decode(env), Infinity)
      if (bad.has(id) || this.isIn(id, tx) || c.header.deps.some(d => bad.has(d))) bad.add(id)
      else valid.push(c)
    })
    for (const id of bad) if (!this.isIn(id, tx)) this.mark(tx, id)
    // Evicted now (later items of the group must reload it) and again once
    // durable: a reader outside the queue may have cached the old document
    // from disk in between.
    this.#c.cache.evict(objectId)
    tx.undo.push(() => this.#c.cache.evict(objectId))
    tx.after.push(() => this.#c.cache.evict(objectId))
    tx.del(L.snapshot(objectId))
    // The log keeps the valid commits only, renumbered: exactly what a hub that
    // quarantined them on arrival holds, so history and commit counts agree.
    for (const [k] of log) tx.del(k)
    valid.forEach((c, i) => { tx.put(L.objectCommit(objectId, i + 1), utf8.encode(c.id)) })
    const first = valid[0]
    const next = first !== undefined && first.header.operation === 'create' ? foldObject(objectId, valid, valid.length, this.#c.fold) : undefined
    reindex(tx, this.#c.layout, this.#c.pairs, prev, next)
    if (next === undefined) {
      tx.del(L.object(objectId))
      tx.after.push(() => this.#c.metas.forget(objectId))
      // A key envelope whose create is quarantined seals nothing more (keyring.ts forget).
      if (prev?.interface === 'Keys') tx.undo.push(this.#c.keyring.forget(objectId))
      return
    }
    tx.put(L.object(objectId), enc(next))
    tx.after.push(() => this.#c.metas.publish(objectId, next))
    if (next.interface === 'Keys') tx.undo.push(this.#c.keyring.apply(next))
  }
}
