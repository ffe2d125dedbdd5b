/**
 * Bounded LRU of live Automerge documents. Documents live in wasm memory,
 * so an evicted one is freed explicitly; the store reloads it on demand
 * from its snapshot plus later commits.
 */
import { freeDoc, type AmDoc } from '../objects/automerge.js'

export class DocCache {
  readonly #max: number
  readonly #docs = new Map<string, AmDoc>()

  constructor (max: number) {
    this.#max = Math.max(1, max)
  }

  get (id: string): AmDoc | undefined {
    const doc = this.#docs.get(id)
    if (doc !== undefined) {
      this.#docs.delete(id)
      this.#docs.set(id, doc)
    }
    return doc
  }

  /** Store `doc` as the current document of `id`. The replaced one is stale and is not freed by us (Automerge invalidates it). */
  set (id: string, doc: AmDoc): void {
    this.#docs.delete(id)
    this.#docs.set(id, doc)
    while (this.#docs.size > this.#max) {
      const oldest = this.#docs.keys().next().value as string
      const d = this.#docs.get(oldest)
      this.#docs.delete(oldest)
      if (d !== undefined) freeDoc(d)
    }
  }

  evict (id: string): void {
    const d = this.#docs.get(id)
    this.#docs.delete(id)
    if (d !== undefined) {
      try { freeDoc(d) } catch { /* already invalidated by a failed change */ }
    }
  }

  get size (): number { return this.#docs.size }

  clear (): void {
    for (const d of this.#docs.values()) {
      try { freeDoc(d) } catch { /* stale */ }
    }
    this.#docs.clear()
  }
}
