/**
 * Bounded LRU of parsed object metas (heads + materialized value), so hot
 * objects are served without a LevelDB read and a JSON parse.
 *
 * Bounded twice: by entries and by an estimate of their size (about their
 * JSON length: strings' lengths plus a few bytes per key, number and
 * container). A count alone does not bound memory: values may be up to
 * 1 MiB each (DEFAULT_MAX_VALUE_BYTES), so 20,000 of them could hold
 * gigabytes; with the byte bound a few large objects push out small ones
 * instead. The estimate is taken in the walk that freezes the meta anyway.
 *
 * Coherence: the write path publishes new metas only after their batch is
 * written (`publish`), and every publish bumps a generation. A reader that
 * went to disk may fill the cache only if no publish happened since it
 * started (`fill(…, generation)`), so a slow read can never put back a value
 * older than one already published. Cached metas are frozen: callers get
 * read-only objects and cannot corrupt the cache by mutating a result.
 */
import type { ObjectMeta } from './object-meta.js'

/** Default byte bound: ~20,000 metas of a typical few-hundred-byte object, far fewer large ones. */
export const DEFAULT_META_CACHE_BYTES = 16 * 1024 * 1024

/** Per key, number, boolean, null or container: what its JSON spends around the data (quotes, separators). */
const NODE_BYTES = 8

/**
 * Freeze `v` deeply and return about its JSON length. Parts frozen before
 * (shared with an earlier meta) are counted but not walked for freezing
 * again — they are frozen all the way down already.
 */
function freezeAndMeasure (v: unknown): number {
  if (typeof v === 'string') return v.length + 2
  if (v === null || typeof v !== 'object') return NODE_BYTES
  if (!Object.isFrozen(v)) Object.freeze(v)
  let n = NODE_BYTES
  if (Array.isArray(v)) {
    for (const x of v) n += freezeAndMeasure(x)
  } else {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) n += k.length + freezeAndMeasure(x)
  }
  return n
}

interface Entry { meta: ObjectMeta, bytes: number }

export class MetaCache {
  readonly #max: number
  readonly #maxBytes: number
  readonly #map = new Map<string, Entry>()
  #bytes = 0
  #generation = 0

  /** At most `max` metas and about `maxBytes` of them (one meta larger than that is not cached). */
  constructor (max: number, maxBytes = DEFAULT_META_CACHE_BYTES) {
    this.#max = Math.max(0, max)
    this.#maxBytes = Math.max(0, maxBytes)
  }

  get generation (): number { return this.#generation }

  get (id: string): ObjectMeta | undefined {
    const e = this.#map.get(id)
    if (e !== undefined) {
      this.#map.delete(id)
      this.#map.set(id, e)
    }
    return e?.meta
  }

  /** Cache a meta read from disk, unless a write was published since `generation`. */
  fill (id: string, meta: ObjectMeta, generation: number): ObjectMeta {
    if (generation !== this.#generation || this.#max === 0) return meta
    this.#set(id, meta)
    return meta
  }

  /** A meta whose batch is now on disk. */
  publish (id: string, meta: ObjectMeta): void {
    this.#generation++
    if (this.#max > 0) this.#set(id, meta)
    else this.#map.delete(id)
  }

  /** An object whose meta was removed in a batch now on disk (a quarantined create). */
  forget (id: string): void {
    this.#generation++
    this.#delete(id)
  }

  clear (): void {
    this.#generation++
    this.#map.clear()
    this.#bytes = 0
  }

  get size (): number { return this.#map.size }

  /** The size estimate of the cached metas (see the top of this file). */
  get bytes (): number { return this.#bytes }

  #delete (id: string): void {
    const old = this.#map.get(id)
    if (old === undefined) return
    this.#map.delete(id)
    this.#bytes -= old.bytes
  }

  #set (id: string, meta: ObjectMeta): void {
    // Frozen even when not kept: callers get read-only metas either way.
    const bytes = freezeAndMeasure(meta)
    this.#delete(id)
    if (bytes > this.#maxBytes) return
    this.#map.set(id, { meta, bytes })
    this.#bytes += bytes
    while (this.#map.size > this.#max || this.#bytes > this.#maxBytes) this.#delete(this.#map.keys().next().value as string)
  }
}
