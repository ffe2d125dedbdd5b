/**
 * Bounded LRU of live Automerge documents. Documents live in wasm memory,
 * so an evicted one is freed explicitly; the store reloads it on demand
 * from its snapshot plus later commits.
 */
import type { LiveDoc } from '../objects/live-doc.js'

/** A load in progress outside the write queue; `stale` once the cache's entry for its id changed. */
export interface DocWatch {
  readonly stale: boolean
  done: () => void
}

export class DocCache {
  readonly #max: number
  readonly #docs = new Map<string, LiveDoc>()
  /** Loads in progress per id (few: only readers outside the write queue). */
  readonly #watches = new Map<string, Set<{ stale: boolean }>>()

  constructor (max: number) {
    this.#max = Math.max(1, max)
  }

  get (id: string): LiveDoc | undefined {
    const doc = this.#docs.get(id)
    if (doc !== undefined) {
      this.#docs.delete(id)
      this.#docs.set(id, doc)
    }
    return doc
  }

  /**
   * Start watching `id` while loading it from disk: if a writer sets or
   * evicts the entry meanwhile, what was loaded may predate that write and
   * must not be cached (it would later be extended as if current).
   */
  watch (id: string): DocWatch {
    const w = { stale: false }
    let set = this.#watches.get(id)
    if (set === undefined) this.#watches.set(id, set = new Set())
    set.add(w)
    return {
      get stale () { return w.stale },
      done: () => {
        set.delete(w)
        if (set.size === 0 && this.#watches.get(id) === set) this.#watches.delete(id)
      }
    }
  }

  #touch (id: string): void {
    for (const w of this.#watches.get(id) ?? []) w.stale = true
  }

  /**
   * Store `doc` as the current document of `id` (also after it changed in
   * place: readers loading `id` from disk meanwhile become stale). A
   * different document it replaces is freed.
   */
  set (id: string, doc: LiveDoc): void {
    this.#touch(id)
    const old = this.#docs.get(id)
    if (old !== undefined && old !== doc) old.free()
    this.#docs.delete(id)
    this.#docs.set(id, doc)
    while (this.#docs.size > this.#max) {
      const oldest = this.#docs.keys().next().value as string
      const d = this.#docs.get(oldest)
      this.#docs.delete(oldest)
      if (d !== undefined) d.free()
    }
  }

  evict (id: string): void {
    this.#touch(id)
    const d = this.#docs.get(id)
    this.#docs.delete(id)
    if (d !== undefined) {
      try { d.free() } catch { /* already freed */ }
    }
  }

  get size (): number { return this.#docs.size }

  clear (): void {
    for (const id of this.#watches.keys()) this.#touch(id)
    for (const d of this.#docs.values()) {
      try { d.free() } catch { /* already freed */ }
    }
    this.#docs.clear()
  }
}
