/**
 * The Automerge documents of one tenant's objects: loaded from the latest
 * snapshot plus the later commits of the object's log, kept in a bounded
 * cache, and handed to the write queue (which extends them) or to readers
 * (who get bytes). Quarantined commits are never part of a document.
 */
import { HubError } from '../errors.js'
import type { CommitId, ObjectId } from '../ids.js'
import { parseCommit, type Commit } from '../commits/commit.js'
import { utf8d } from '../identity/encoding.js'
import { LiveDoc } from '../objects/live-doc.js'
import type { DocCache } from './doc-cache.js'
import { prefixEnd, type KvStore } from './kv.js'
import type { Layout } from './layout.js'
import type { ObjectMeta } from './object-meta.js'
import type { Tx } from './write-queue.js'

export interface ObjectDocsComponents {
  kv: KvStore
  layout: Layout
  cache: DocCache
  /** Automerge actor id (hex) for changes this hub makes. */
  actor: string
  /** The commit as this hub can read it (decrypted), or undefined. */
  plaintext: (c: Commit) => Commit | undefined
  /** Quarantined on disk, or staged so in `tx`'s group. */
  quarantined: (id: string, tx: Tx | undefined) => boolean
}

export class ObjectDocs {
  readonly #c: ObjectDocsComponents

  constructor (components: ObjectDocsComponents) {
    this.#c = components
  }

  /** The Automerge document of an object, for a write item (from cache, snapshot + commits). */
  async forWrite (meta: ObjectMeta, tx: Tx): Promise<LiveDoc> {
    const cached = this.#c.cache.get(meta.objectId)
    if (cached !== undefined) return cached
    const doc = await this.#load(meta, tx)
    this.#c.cache.set(meta.objectId, doc)
    return doc
  }

  /**
   * An object's Automerge document as a standard binary, for readers outside
   * the write queue. A write may land while this loads; then what was loaded
   * is returned (it is what was on disk) but not cached, so no later write
   * builds on a document that misses a change.
   */
  async bytes (meta: ObjectMeta): Promise<Uint8Array> {
    const cached = this.#c.cache.get(meta.objectId)
    if (cached !== undefined) return cached.save()
    const watch = this.#c.cache.watch(meta.objectId)
    let doc: LiveDoc
    try {
      doc = await this.#load(meta)
    } finally {
      watch.done()
    }
    const bytes = doc.save()
    if (watch.stale) doc.free()
    else this.#c.cache.set(meta.objectId, doc)
    return bytes
  }

  async #load (meta: ObjectMeta, tx?: Tx): Promise<LiveDoc> {
    const reader = tx ?? this.#c.kv
    const snap = meta.snapshotCommits === undefined ? undefined : await reader.get(this.#c.layout.snapshot(meta.objectId))
    const ids = (await this.log(meta.objectId, tx)).map(e => e[1])
    const skip = snap === undefined ? 0 : meta.snapshotCommits ?? 0
    const envs = await reader.getMany(ids.slice(skip).map(id => this.#c.layout.commit(id)))
    const changes: Uint8Array[] = []
    for (const e of envs) {
      if (e === undefined) throw new HubError('internal', `object ${meta.objectId} is missing a commit`)
      const c = this.#c.plaintext(parseCommit(utf8d.decode(e), Infinity))
      if (c !== undefined && c.header.operation !== 'delete' && !this.#c.quarantined(c.id, tx)) changes.push(c.payload)
    }
    const doc = LiveDoc.load(snap, this.#c.actor)
    try {
      if (changes.length > 0) doc.applyChanges(changes)
    } catch (err) {
      doc.free()
      throw err
    }
    return doc
  }

  /** The object's log as `[key, commit id]` in order, as it stands in `tx`: entries staged (or deleted) earlier in the group count. */
  async log (id: ObjectId, tx?: Tx): Promise<Array<[string, CommitId]>> {
    const prefix = this.#c.layout.objectCommitsPrefix(id)
    const log = new Map<string, CommitId>()
    for await (const [k, v] of this.#c.kv.entries({ gte: prefix, lt: prefixEnd(prefix) })) {
      if (tx?.staged(k) !== null) log.set(k, utf8d.decode(v) as CommitId)
    }
    // Commits of this object staged earlier in the same group (by this or an earlier item) are not on disk yet.
    if (tx !== undefined) for (const [k, v] of tx.stagedUnder(prefix)) log.set(k, utf8d.decode(v) as CommitId)
    return [...log].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  }
}
