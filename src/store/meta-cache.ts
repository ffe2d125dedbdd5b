/**
 * Bounded LRU of parsed object metas (heads + materialized value), so hot
 * objects are served without a LevelDB read and a JSON parse.
 *
 * Coherence: the write path publishes new metas only after their batch is
 * written (`publish`), and every publish bumps a generation. A reader that
 * went to disk may fill the cache only if no publish happened since it
 * started (`fill(…, generation)`), so a slow read can never put back a value
 * older than one already published. Cached metas are frozen: callers get
 * read-only objects and cannot corrupt the cache by mutating a result.
 */
import type { ObjectMeta } from './object-meta.js'

function deepFreeze<T> (v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const x of Object.values(v as Record<string, unknown>)) deepFreeze(x)
  }
  return v
}

export class MetaCache {
  readonly #max: number
  readonly #map = new Map<string, ObjectMeta>()
  #generation = 0

  constructor (max: number) {
    this.#max = Math.max(0, max)
  }

  get generation (): number { return this.#generation }

  get (id: string): ObjectMeta | undefined {
    const m = this.#map.get(id)
    if (m !== undefined) {
      this.#map.delete(id)
      this.#map.set(id, m)
    }
    return m
  }

  /** Cache a meta read from disk, unless a write was published since `generation`. */
  fill (id: string, meta: ObjectMeta, generation: number): ObjectMeta {
    if (generation !== this.#generation || this.#max === 0) return meta
    this.#set(id, deepFreeze(meta))
    return meta
  }

  /** A meta whose batch is now on disk. */
  publish (id: string, meta: ObjectMeta): void {
    this.#generation++
    if (this.#max > 0) this.#set(id, deepFreeze(meta))
  }

  /** An object whose meta was removed in a batch now on disk (a quarantined create). */
  forget (id: string): void {
    this.#generation++
    this.#map.delete(id)
  }

  clear (): void {
    this.#generation++
    this.#map.clear()
  }

  get size (): number { return this.#map.size }

  #set (id: string, meta: ObjectMeta): void {
    this.#map.delete(id)
    this.#map.set(id, meta)
    while (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as string)
  }
}
