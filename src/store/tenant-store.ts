/**
 * One tenant's objects: ingest commits, keep heads, indexes, the change feed
 * and the materialized values, answer reads and queries. Every mutation is
 * one item in the tenant's {@link WriteQueue}, so it lands in one atomic
 * batch: commit + object meta + per-object log + feed entry + indexes.
 * This is the facade (reads, the write operations, ingest); staging a checked
 * commit's writes, on every path, is commit-apply.ts.
 *
 * Values are *derived* from signed commits: the meta's `value`, the indexes
 * and the Automerge snapshots are caches that `rebuild()` recreates.
 */
import { ConflictError, NotFoundError, BadRequestError, TooLargeError } from '../errors.js'
import { asObjectId, type CommitId, type Did, type ObjectId } from '../ids.js'
import { DEFAULT_MAX_COMMIT_BYTES, serializeCommit, type CommitStrategy, type InterfaceName, type UnsignedHeader, type VerifiedCommit } from '../commits/commit.js'
import { collectionFields } from '../encryption/commit-seal.js'
import { Keyring, type CollectionKey } from '../encryption/keyring.js'
import type { Signer } from '../identity/keys.js'
import { utf8, utf8d } from '../identity/encoding.js'
import { createChange } from '../objects/automerge.js'
import { checkJsonObject, type JsonObject } from '../objects/json.js'
import { encodeAccepted, MAX_REVOCATION_COMMITS } from '../permissions/revocation.js'
import { GrantRegistry } from '../permissions/registry.js'
import { prefixEnd, type KvStore } from './kv.js'
import { Layout } from './layout.js'
import { WriteQueue, type Tx } from './write-queue.js'
import { DocCache } from './doc-cache.js'
import { MetaCache } from './meta-cache.js'
import { revokedParty, type CommitEvent, type IngestOptions, type IngestResult, type ObjectMeta } from './object-meta.js'
import type { FoldInit } from './fold.js'
import { ObjectDocs } from './object-docs.js'
import { migrateIndexLayout, migrateRelies } from './migrations.js'
import { CollectionPairs } from './collection-pairs.js'
import { Quarantine } from './quarantine.js'
import { judge, type CheckComponents } from './commit-check.js'
import { CommitMaker } from './commit-maker.js'
import { FeedClock, type RecentEntry } from './feed-clock.js'
import { FeedOrigins, type OriginRun } from './feed-origins.js'
import { CommitApply } from './commit-apply.js'

export { actorFor, indexKeys, revokedParty, type CommitEvent, type IngestOptions, type IngestResult, type ObjectMeta } from './object-meta.js'

export interface TenantStoreOptions {
  kv: KvStore
  tenant: Did
  /** Automerge actor id (hex) for changes this hub makes. */
  actor: string
  maxValueBytes: number
  /** Save an Automerge snapshot at least this many commits apart (more for long histories: snapshotInterval). Default 32. */
  snapshotEvery?: number
  /** How many Automerge documents to keep in memory. Default 256. */
  docCacheSize?: number
  /** How many parsed object metas to keep in memory. Default 20,000. */
  metaCacheSize?: number
  onCommit?: (e: CommitEvent) => void
  /** Content keys this hub can open; absent = none (a blind hub). */
  keyring?: Keyring
  /** Where failures of post-write hooks go (they cannot fail the write: it is durable). */
  onHookError?: (err: unknown) => void
  /** This hub's own key: it signs the acceptances of grantees' commits that enter here. Absent = this store accepts none. */
  acceptor?: Signer
}

/** A sync watermark and what sync keeps beside it (see getWatermarkMark). */
export interface WatermarkMark { seq: number, tag?: string, echo?: boolean }

/**
 * `w!<peer>` values: the bare position (every store before sync 1.1, and a
 * mark with nothing beside it), or JSON `{"seq","tag"?,"echo"?}`.
 */
function encodeWatermark (m: WatermarkMark): Uint8Array {
  if (m.tag === undefined && m.echo !== true) return utf8.encode(String(m.seq))
  return utf8.encode(JSON.stringify({ seq: m.seq, ...(m.tag !== undefined ? { tag: m.tag } : {}), ...(m.echo === true ? { echo: true } : {}) }))
}

function decodeWatermark (raw: Uint8Array): WatermarkMark {
  const s = utf8d.decode(raw)
  if (!s.startsWith('{')) return { seq: Number(s) }
  const v = JSON.parse(s) as { seq?: unknown, tag?: unknown, echo?: unknown }
  return { seq: typeof v.seq === 'number' ? v.seq : 0, ...(typeof v.tag === 'string' ? { tag: v.tag } : {}), ...(v.echo === true ? { echo: true } : {}) }
}

const enc = (v: unknown): Uint8Array => utf8.encode(JSON.stringify(v))
const dec = <T>(b: Uint8Array): T => JSON.parse(utf8d.decode(b)) as T

export class TenantStore {
  readonly tenant: Did
  readonly layout: Layout
  readonly #kv: KvStore
  readonly #queue: WriteQueue
  readonly #opts: TenantStoreOptions
  readonly #docs: DocCache
  readonly #metas: MetaCache
  /** Grants and device authorizations, kept current as Permissions commits apply. */
  readonly registry: GrantRegistry
  /** Content keys of encrypted collections this hub can read. */
  readonly keyring: Keyring
  /** The (interface, context, type) pairs objects occupy: what a query by context or by type merges (collection-pairs.ts). */
  readonly pairs: CollectionPairs
  readonly #feed = new FeedClock()
  readonly #origins: FeedOrigins
  #opened = false
  readonly #quarantine: Quarantine
  readonly #maker: CommitMaker
  readonly #checks: CheckComponents
  readonly #objectDocs: ObjectDocs
  readonly #foldInit: FoldInit
  readonly #apply: CommitApply
  #wmEpoch = 0
  /** Peers whose watermark was written since open (a reset also covers those not yet durable). */
  readonly #wmPeers = new Set<string>()
  readonly #wmResetListeners = new Set<() => void>()

  constructor (opts: TenantStoreOptions) {
    this.tenant = opts.tenant
    this.#kv = opts.kv
    this.#opts = opts
    this.layout = new Layout(opts.tenant)
    this.#origins = new FeedOrigins(opts.kv, this.layout)
    this.#queue = new WriteQueue(opts.kv, 1024, opts.onHookError)
    this.#docs = new DocCache(opts.docCacheSize ?? 256)
    this.#metas = new MetaCache(opts.metaCacheSize ?? 20_000)
    this.registry = new GrantRegistry(opts.tenant)
    this.keyring = opts.keyring ?? new Keyring([])
    this.pairs = new CollectionPairs(this.layout)
    this.#foldInit = { names: enc => this.keyring.get(enc), plaintext: c => this.#maker.plaintext(c), actor: opts.actor }
    this.#maker = new CommitMaker({ tenant: this.tenant, keyring: this.keyring })
    this.#checks = {
      tenant: this.tenant,
      registry: this.registry,
      keyring: this.keyring,
      getMeta: async (id, tx) => await this.getMeta(id, tx),
      hasCommit: async (id, tx) => await this.hasCommit(id, tx),
      known: (id, tx, existing) => this.#apply.has(id, tx, existing),
      quarantined: (id, tx) => this.#quarantine.isIn(id, tx)
    }
    this.#objectDocs = new ObjectDocs({
      kv: opts.kv,
      layout: this.layout,
      cache: this.#docs,
      actor: opts.actor,
      plaintext: c => this.#maker.plaintext(c),
      quarantined: (id, tx) => this.#quarantine.isIn(id, tx)
    })
    this.#quarantine = new Quarantine({
      kv: opts.kv,
      layout: this.layout,
      tenant: this.tenant,
      registry: this.registry,
      keyring: this.keyring,
      docs: this.#objectDocs,
      cache: this.#docs,
      metas: this.#metas,
      pairs: this.pairs,
      fold: this.#foldInit,
      getMeta: async (id, tx) => await this.getMeta(id, tx),
      plaintext: c => this.#maker.plaintext(c),
      judge: (c, objectId, acceptance) => judge(this.#checks, c, objectId, acceptance)
    })
    this.#apply = new CommitApply({
      tenant: this.tenant,
      layout: this.layout,
      registry: this.registry,
      keyring: this.keyring,
      feed: this.#feed,
      docs: this.#docs,
      metas: this.#metas,
      pairs: this.pairs,
      objectDocs: this.#objectDocs,
      quarantine: () => this.#quarantine,
      checks: () => this.#checks,
      maker: this.#maker,
      fold: this.#foldInit,
      maxValueBytes: opts.maxValueBytes,
      snapshotEvery: opts.snapshotEvery ?? 32,
      hasCommit: async (id, tx) => await this.hasCommit(id, tx),
      onCommit: e => {
        // Right after the feed reached e.seq: a live sync read finds it in memory (feed-clock.ts).
        this.#feed.remember({ seq: e.seq, commitId: e.commit.id, envelope: serializeCommit(e.commit) })
        opts.onCommit?.(e)
      },
      ...(opts.acceptor !== undefined ? { acceptor: opts.acceptor } : {})
    })
  }

  /**
   * An object's Automerge document as a standard binary, for readers outside
   * the write queue (see ObjectDocs.bytes).
   */
  async docBytes (meta: ObjectMeta): Promise<Uint8Array> {
    return await this.#objectDocs.bytes(meta)
  }

  async open (): Promise<void> {
    if (this.#opened) return
    const prefix = this.layout.feedPrefix()
    for await (const k of this.#kv.keys({ gte: prefix, lt: prefixEnd(prefix), reverse: true, limit: 1 })) {
      this.#feed.start(Number(k.slice(prefix.length)))
    }
    this.#origins.start(this.#feed.durable)
    await this.#loadPermissions()
    await this.#quarantine.load()
    await migrateRelies({ kv: this.#kv, layout: this.layout, tenant: this.tenant, registry: this.registry, acceptor: this.#opts.acceptor })
    await migrateIndexLayout({ kv: this.#kv, layout: this.layout })
    await this.pairs.load(this.#kv)
    this.#opened = true
  }

  async #loadPermissions (): Promise<void> {
    const perms = this.layout.permissionsPrefix()
    const ids: string[] = []
    for await (const k of this.#kv.keys({ gte: perms, lt: prefixEnd(perms) })) ids.push(k.slice(perms.length))
    for (const meta of await this.getMetas(ids)) {
      if (meta === undefined) continue
      if (meta.interface === 'Keys') this.keyring.apply(meta)
      else this.registry.apply(meta)
    }
  }

  /**
   * Catch up with writes another process made to this store (a hosting hub
   * of several processes on one database, docs/hosting.md): cached metas
   * and documents are dropped, grants, devices, keys and quarantine marks
   * re-read, and the feed moves to `head` (default: the last entry on
   * disk), waking long-polling readers. Call it only while nothing writes
   * through this store (a process that does not hold the owner's lease, or
   * one that has just taken it, before its first write). Returns the head.
   */
  async follow (head?: number): Promise<number> {
    let h = head
    if (h === undefined) {
      h = 0
      const prefix = this.layout.feedPrefix()
      for await (const k of this.#kv.keys({ gte: prefix, lt: prefixEnd(prefix), reverse: true, limit: 1 })) h = Number(k.slice(prefix.length))
    }
    // Pairs first: the cache drop after them invalidates any query that read the old list.
    await this.pairs.load(this.#kv)
    this.dropDocCache()
    await this.#loadPermissions()
    await this.#quarantine.load()
    this.#feed.start(h)
    this.#origins.start(h)
    this.#feed.nudge()
    return h
  }

  /** Whether a commit is quarantined (kept, but invalid since a revocation): sync never serves it. */
  isQuarantined (id: string): boolean { return this.#quarantine.has(id) }

  /**
   * Bumped after every batch that changes an object (and so its index
   * entries) is durable, and by every cache drop: a reader's memo of an
   * index scan made at one generation is valid while it stands (query.ts).
   */
  get readGeneration (): number { return this.#metas.generation }

  /** Highest feed sequence number assigned so far. */
  get seq (): number { return this.#feed.seq }

  /** Highest feed sequence number on disk (what `feed()` readers see). */
  get durableSeq (): number { return this.#feed.durable }

  /**
   * Resolves once the durable feed moves past `after`, or the timeout or
   * signal fires. Long-polling sync streams wait here for live commits.
   */
  async waitForFeed (after: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.#feed.waitFor(after, timeoutMs, signal)
  }

  /** Wake every waiter (e.g. a permission changed and streams must re-check). */
  nudge (): void { this.#feed.nudge() }

  /** The feed position of `peer` this hub has ingested up to (0 if never synced). */
  async getWatermark (peer: string): Promise<number> {
    return (await this.getWatermarkMark(peer)).seq
  }

  /**
   * The watermark on `peer` with what sync keeps beside it: the peer's tag
   * of the feed entry at that position (absent in a store written before
   * sync 1.1, or after a reset) and whether a pass with `echo` is due.
   */
  async getWatermarkMark (peer: string): Promise<WatermarkMark> {
    const raw = await this.#kv.get(this.layout.watermark(peer))
    return raw === undefined ? { seq: 0 } : decodeWatermark(raw)
  }

  /**
   * Record that everything in `peer`'s feed up to `seq` is ingested. Queued
   * behind the ingests it follows, so it lands in the same or a later batch,
   * never before them. With `epoch` (watermarkEpoch when the pull began),
   * nothing is written if resetWatermarks ran since.
   */
  async setWatermark (peer: string, seq: number | WatermarkMark, epoch?: number): Promise<void> {
    const mark = typeof seq === 'number' ? { seq } : seq
    await this.#queue.enqueue(async tx => { this.#putWatermark(tx, peer, mark, epoch) })
  }

  #putWatermark (tx: Tx, peer: string, mark: WatermarkMark, epoch: number | undefined): void {
    if (epoch !== undefined && epoch !== this.#wmEpoch) return
    this.#wmPeers.add(peer)
    tx.put(this.layout.watermark(peer), encodeWatermark(mark))
  }

  /** Bumped by every resetWatermarks: a pull that began before one writes no watermark. */
  get watermarkEpoch (): number { return this.#wmEpoch }

  /** Called after each resetWatermarks (a live pull restarts from the new mark). */
  onWatermarksReset (fn: () => void): () => void {
    this.#wmResetListeners.add(fn)
    return () => { this.#wmResetListeners.delete(fn) }
  }

  /**
   * Set every peer's watermark to 0 with `echo`: this hub learnt that its
   * feed lost entries a peer had seen (it was restored from an older copy
   * of its directory), so it pulls everything again, including what it once
   * sent (see protocols/sync.md, Restored hubs). Queued: watermarks of
   * pages queued before it land first and are then overwritten; pages of
   * pulls that began before it write none (watermarkEpoch).
   */
  async resetWatermarks (): Promise<void> {
    const peers = new Set([...(await this.watermarks()).keys(), ...this.#wmPeers])
    await this.#queue.enqueue(async tx => {
      this.#wmEpoch++
      for (const peer of peers) this.#putWatermark(tx, peer, { seq: 0, echo: true }, undefined)
    })
    for (const fn of this.#wmResetListeners) fn()
  }

  /** Durable feed entries after `after` with their envelopes, from memory, if it holds them all (feed-clock.ts); else undefined. */
  recentFeed (after: number, limit: number): RecentEntry[] | undefined {
    return this.#feed.recent(after, limit)
  }

  /** Which peer the feed entries `from`..`to` came from (runs; a position in none is a local write). See feed-origins.ts. */
  async feedOrigins (from: number, to: number): Promise<OriginRun[]> {
    return await this.#origins.runs(from, to)
  }

  /** Every peer this tenant has synced from, with its watermark. */
  async watermarks (): Promise<Map<string, number>> {
    const prefix = this.layout.watermarksPrefix()
    const out = new Map<string, number>()
    for await (const [k, v] of this.#kv.entries({ gte: prefix, lt: prefixEnd(prefix) })) out.set(decodeURIComponent(k.slice(prefix.length)), decodeWatermark(v).seq)
    return out
  }

  async idle (): Promise<void> { await this.#queue.idle() }

  close (): void {
    this.#docs.clear()
    this.#metas.clear()
  }

  // ---------------------------------------------------------------- reads

  /**
   * An object's meta (read-only). Inside a write item, pass its `tx` to see
   * writes staged earlier in the same group.
   */
  async getMeta (id: ObjectId | string, tx?: Tx): Promise<ObjectMeta | undefined> {
    const key = this.layout.object(asObjectId(id))
    if (tx !== undefined) {
      const staged = tx.staged(key)
      if (staged !== undefined) return staged === null ? undefined : dec<ObjectMeta>(staged)
    }
    return (await this.getMetas([id]))[0]
  }

  async getMetas (ids: string[]): Promise<Array<ObjectMeta | undefined>> {
    const out: Array<ObjectMeta | undefined> = new Array(ids.length)
    const missing: number[] = []
    ids.forEach((id, i) => {
      const hit = this.#metas.get(id)
      if (hit === undefined) missing.push(i)
      else out[i] = hit
    })
    if (missing.length > 0) {
      const generation = this.#metas.generation
      const raws = await this.#kv.getMany(missing.map(i => this.layout.object(asObjectId(ids[i] as string))))
      missing.forEach((i, j) => {
        const r = raws[j]
        out[i] = r === undefined ? undefined : this.#metas.fill(ids[i] as string, dec<ObjectMeta>(r), generation)
      })
    }
    return out
  }

  async getEnvelope (id: CommitId | string): Promise<string | undefined> {
    const raw = await this.#kv.get(this.layout.commit(id as CommitId))
    return raw === undefined ? undefined : utf8d.decode(raw)
  }

  /** Several envelopes with one read (a sync batch): one IndexedDB transaction in a tab instead of one per commit. */
  async getEnvelopes (ids: Array<CommitId | string>): Promise<Array<string | undefined>> {
    const raws = await this.#kv.getMany(ids.map(id => this.layout.commit(id as CommitId)))
    return raws.map(raw => raw === undefined ? undefined : utf8d.decode(raw))
  }

  async hasCommit (id: CommitId, tx?: Tx): Promise<boolean> {
    return (await (tx ?? this.#kv).get(this.layout.commit(id))) !== undefined
  }

  /** Commit ids of one object in local ingest order. */
  async objectCommitIds (id: ObjectId): Promise<CommitId[]> {
    const prefix = this.layout.objectCommitsPrefix(id)
    const out: CommitId[] = []
    for await (const [, v] of this.#kv.entries({ gte: prefix, lt: prefixEnd(prefix) })) out.push(utf8d.decode(v) as CommitId)
    return out
  }

  /** Feed entries after `afterSeq`, in order: what sync pulls. */
  async * feed (afterSeq: number, limit = Infinity): AsyncIterable<{ seq: number, commitId: CommitId }> {
    const prefix = this.layout.feedPrefix()
    let n = 0
    for await (const [k, v] of this.#kv.entries({ gt: this.layout.feed(afterSeq), lt: prefixEnd(prefix) })) {
      if (n++ >= limit) return
      yield { seq: Number(k.slice(prefix.length)), commitId: utf8d.decode(v) as CommitId }
    }
  }

  // ---------------------------------------------------------------- writes

  /**
   * Create an object from a value, signed by `signer`. With `key`, the
   * object belongs to an encrypted collection: the header names only the
   * collection tag and key id, and the payload is sealed to the header.
   */
  async create (args: { iface: InterfaceName, value: JsonObject, context: string, type: string, strategy: CommitStrategy, signer: Signer, key?: CollectionKey }): Promise<IngestResult> {
    checkJsonObject(args.value, this.#opts.maxValueBytes)
    const fields: UnsignedHeader = {
      interface: args.iface,
      ...collectionFields(args.context, args.type, args.key?.key),
      operation: 'create',
      committed_at: this.#maker.now(),
      commit_strategy: args.strategy,
      sub: this.tenant,
      deps: []
    }
    const plain = args.strategy === 'automerge' ? createChange(args.value, this.#opts.actor) : enc(args.value)
    const commit = this.#maker.signSealed(fields, plain, args.signer, args.key)
    // A new create needs no Automerge replay (its value is the input) and no
    // cached document: most objects are written once and read from the meta.
    return await this.#queue.enqueue(async tx => await this.#apply.applyChecked(tx, commit, { value: args.value }))
  }

  /** Replace an object's value; records the minimal change. */
  async update (id: ObjectId, next: JsonObject | ((draft: Record<string, unknown>) => void), signer: Signer): Promise<IngestResult & { changed: boolean }> {
    if (typeof next !== 'function') checkJsonObject(next, this.#opts.maxValueBytes)
    return await this.#queue.enqueue(async tx => {
      const meta = await this.#requireLive(id, tx)
      if (meta.value === undefined) throw new ConflictError('this hub cannot read the object, so it cannot update it')
      if (meta.strategy === 'automerge') {
        const doc = await this.#objectDocs.forWrite(meta, tx)
        // A full value goes straight to the backend (the diff is against the
        // meta's value, and the result is `next` itself); only a draft
        // function needs Automerge's proxies (live-doc.ts).
        const out = typeof next === 'function' ? doc.change(next) : doc.update(meta.value, next)
        if (out === undefined) return { commitId: meta.heads[0] as CommitId, objectId: meta.objectId, stored: false, changed: false }
        // The doc now holds the change; if this item fails, drop it from memory.
        this.#docs.set(meta.objectId, doc)
        tx.undo.push(() => this.#docs.evict(meta.objectId))
        // `next` itself was checked above; what a draft function made was not.
        if (typeof next === 'function') checkJsonObject(out.value, this.#opts.maxValueBytes)
        const commit = this.#maker.sign(meta, 'update', out.change, signer)
        return { ...await this.#apply.applyChecked(tx, commit, { value: out.value, docApplied: true }), changed: true }
      }
      let value: JsonObject
      if (typeof next === 'function') {
        const draft = structuredClone(meta.value)
        next(draft)
        checkJsonObject(draft, this.#opts.maxValueBytes)
        value = draft
      } else {
        value = next
      }
      const commit = this.#maker.sign(meta, 'update', enc(value), signer)
      return { ...await this.#apply.applyChecked(tx, commit, undefined), changed: true }
    })
  }

  async delete (id: ObjectId, signer: Signer): Promise<IngestResult> {
    return await this.#queue.enqueue(async tx => {
      const meta = await this.#requireLive(id, tx)
      if (meta.interface === 'Permissions') throw new BadRequestError('a grant or device authorization is deleted with revoke()')
      const commit = this.#maker.sign(meta, 'delete', new Uint8Array(0), signer)
      return await this.#apply.applyChecked(tx, commit, undefined)
    })
  }

  /**
   * Revoke a grant or device authorization (a Permissions object): its delete
   * names every commit this hub holds that relied on the revoked party
   * (signed by it, or accepted by it), read in the same write item as the
   * delete, so nothing can slip in between. From then on, on every hub, only
   * those stay valid (see permissions/validity.ts).
   */
  async revoke (id: ObjectId, signer: Signer): Promise<IngestResult & { kept: number }> {
    return await this.#queue.enqueue(async tx => {
      const meta = await this.#requireLive(id, tx)
      const party = revokedParty(meta)
      if (party === undefined) throw new BadRequestError('only a grant or a device authorization can be revoked')
      const kept = (await this.#quarantine.reliantOn(tx, party)).filter(c => !this.#quarantine.isIn(c, tx))
      if (kept.length > MAX_REVOCATION_COMMITS) {
        throw new TooLargeError(`${party} has ${kept.length} commits on this hub; one revocation can name at most ${MAX_REVOCATION_COMMITS}`, { limit: MAX_REVOCATION_COMMITS })
      }
      const commit = this.#maker.sign(meta, 'delete', enc({ accepted: encodeAccepted(kept), n: kept.length }), signer)
      // A revocation no other hub would take (over the commit size limit) would never replicate.
      if (commit.size > DEFAULT_MAX_COMMIT_BYTES) throw new TooLargeError(`the revocation naming ${kept.length} commits exceeds ${DEFAULT_MAX_COMMIT_BYTES} bytes`, { limit: DEFAULT_MAX_COMMIT_BYTES })
      return { ...await this.#apply.applyChecked(tx, commit, undefined), kept: kept.length }
    })
  }

  async #requireLive (id: ObjectId, tx: Tx): Promise<ObjectMeta> {
    const meta = await this.getMeta(id, tx)
    if (meta === undefined) throw new NotFoundError(`object ${id} not found`, { objectId: id })
    if (meta.deleted) throw new ConflictError(`object ${id} is deleted`, { objectId: id })
    return meta
  }

  /**
   * Ingest a commit from elsewhere (sync, an app through the request
   * protocol, pairing). Only a verified commit can be passed (see
   * commits/commit.ts): this checks owner, object, header, deps, content and
   * validity, then writes it. Duplicates are reported, not rewritten. A
   * commit that is invalid only because a revocation did not name it is kept
   * quarantined (an honest peer may still have it), never materialized.
   */
  async ingest (commit: VerifiedCommit, opts: IngestOptions = {}): Promise<IngestResult> {
    return await this.#queue.enqueue(async tx => await this.#apply.ingestOne(tx, commit, undefined, opts))
  }

  /**
   * Ingest many commits in order (a sync batch): existence of the commits
   * and their deps is read with one getMany instead of one read each, which
   * for new commits would each search every LevelDB level. Results settle
   * per commit, like separate `ingest` calls.
   *
   * With `watermark`, the peer's watermark is written behind the commits —
   * in the same batch when they share one (a sync page is then one write,
   * not two) — and only if every one of them was stored: an item that
   * fails, or a batch that fails, marks the page failed (through its undo
   * hook, which runs in both cases before any later item runs), and the
   * watermark item then writes nothing and rejects.
   *
   * `known`: the result of `existing()` for these commits and their deps,
   * when the caller already read it (a puller does, to skip what it has
   * before verifying): not read a second time. `origin`: the peer these
   * came from (its hub DID), recorded for the stored ones (feed-origins.ts)
   * so they are not served back to it.
   */
  async ingestMany (commits: VerifiedCommit[], opts: { watermark?: { peer: string, seq: number, mark?: Omit<WatermarkMark, 'seq'>, epoch?: number }, known?: Set<string>, origin?: string } = {}): Promise<Array<PromiseSettledResult<IngestResult>>> {
    const existing = opts.known ?? await this.existing([...new Set(commits.flatMap(c => [c.id, ...c.header.deps]))])
    let failed = false
    const markFailed = (): void => { failed = true }
    /** Feed positions of the commits stored so far (in feed order: items run in order). */
    const seqs: number[] = []
    const items = commits.map(c => async (tx: Tx): Promise<IngestResult> => {
      tx.undo.push(markFailed)
      const r = await this.#apply.ingestOne(tx, c, existing, {})
      if (r.seq !== undefined) seqs.push(r.seq)
      return r
    })
    const wm = opts.watermark
    const origin = opts.origin
    const tail = wm === undefined && origin === undefined
      ? []
      : [async (tx: Tx): Promise<IngestResult | undefined> => {
          if (origin !== undefined && seqs.length > 0) this.#origins.stage(tx, seqs, origin)
          if (wm === undefined) return undefined
          if (failed) throw new ConflictError('the watermark stays: a commit before it was not stored', { reason: 'batch_not_stored' })
          this.#putWatermark(tx, wm.peer, { ...wm.mark, seq: wm.seq }, wm.epoch)
          return undefined
        }]
    // One enqueue for the page and its tail: they start in the same group, so one write.
    const queued = this.#queue.enqueueAll<IngestResult | undefined>([...items, ...tail])
    const marked = tail.length > 0 ? queued[queued.length - 1] : undefined
    marked?.catch(() => {})
    const out = await Promise.allSettled(queued.slice(0, items.length)) as Array<PromiseSettledResult<IngestResult>>
    if (marked !== undefined && out.every(r => r.status === 'fulfilled')) await marked
    return out
  }

  /**
   * Which of `ids` this tenant already has (one read for all). Lets a puller
   * skip commits echoed back to it before spending a signature check on them.
   */
  async existing (ids: string[]): Promise<Set<string>> {
    const found = await this.#kv.getMany(ids.map(id => this.layout.commit(id as CommitId)))
    return new Set(ids.filter((id, i) => found[i] !== undefined || this.#apply.recent(id)))
  }


  /** Forget every cached document and meta (they reload from disk). */
  dropDocCache (): void {
    this.#docs.clear()
    this.#metas.clear()
  }
}

