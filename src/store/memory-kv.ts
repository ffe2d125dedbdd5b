/**
 * In-memory KvStore for unit tests only (never used by the product path).
 * Keeps keys sorted by UTF-8 bytes to match LevelDB.
 */
import { StoreClosedError, type KvOp, type KvRange, type KvStore } from './kv.js'

function cmp (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

export class MemoryKv implements KvStore {
  readonly #map = new Map<string, Uint8Array>()
  #sorted: string[] | undefined
  closed = false

  #open (): void {
    if (this.closed) throw new StoreClosedError('in-memory')
  }

  async get (key: string): Promise<Uint8Array | undefined> { this.#open(); return this.#map.get(key) }
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> { this.#open(); return keys.map(k => this.#map.get(k)) }

  async batch (ops: KvOp[]): Promise<void> {
    this.#open()
    for (const op of ops) {
      if (op.type === 'put') this.#map.set(op.key, op.value)
      else this.#map.delete(op.key)
    }
    this.#sorted = undefined
  }

  #inRange (k: string, r: KvRange): boolean {
    if (r.gt !== undefined && cmp(k, r.gt) <= 0) return false
    if (r.gte !== undefined && cmp(k, r.gte) < 0) return false
    if (r.lt !== undefined && cmp(k, r.lt) >= 0) return false
    if (r.lte !== undefined && cmp(k, r.lte) > 0) return false
    return true
  }

  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    this.#open()
    this.#sorted ??= [...this.#map.keys()].sort(cmp)
    const keys = this.#sorted.filter(k => this.#inRange(k, range))
    if (range.reverse === true) keys.reverse()
    const limit = range.limit ?? Infinity
    let n = 0
    for (const k of keys) {
      if (n++ >= limit) return
      const v = this.#map.get(k)
      if (v !== undefined) yield [k, v]
    }
  }

  async * keys (range: KvRange): AsyncIterable<string> {
    for await (const [k] of this.entries(range)) yield k
  }

  async close (): Promise<void> { this.closed = true }
}
