/**
 * One partition of a shared KvStore seen as a whole store: every key is
 * stored under `prefix`, ranges are clipped to it, and nothing outside it
 * can be read or written. A hosting hub gives each owner one
 * (`h!<owner>!`), so an owner's hub — its tenant partition, but also its
 * local state (`n!`), replay caches and audit log — runs unchanged over a
 * store shared with other owners, and removing an owner is deleting one
 * prefix. close() leaves the shared store open (its owner closes it).
 */
import { BadRequestError } from '../errors.js'
import type { KvOp, KvRange, KvStore } from './kv.js'

/** The least string above every key starting with `prefix` (its last character plus one: exact in bytewise order). */
export function prefixUpper (prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1)
  if (prefix === '' || last >= 0x7f) throw new BadRequestError('a partition prefix must end in an ASCII character below DEL', { reason: 'bad_prefix' })
  return prefix.slice(0, -1) + String.fromCharCode(last + 1)
}

export class PrefixKv implements KvStore {
  readonly prefix: string
  readonly #inner: KvStore
  readonly #upper: string

  constructor (inner: KvStore, prefix: string) {
    this.#inner = inner
    this.prefix = prefix
    this.#upper = prefixUpper(prefix)
  }

  async get (key: string): Promise<Uint8Array | undefined> { return await this.#inner.get(this.prefix + key) }
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> { return await this.#inner.getMany(keys.map(k => this.prefix + k)) }
  async batch (ops: KvOp[]): Promise<void> {
    await this.#inner.batch(ops.map(op => op.type === 'put' ? { type: 'put', key: this.prefix + op.key, value: op.value } : { type: 'del', key: this.prefix + op.key }))
  }

  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    const n = this.prefix.length
    for await (const [k, v] of this.#inner.entries(this.#range(range))) yield [k.slice(n), v]
  }

  async * keys (range: KvRange): AsyncIterable<string> {
    const n = this.prefix.length
    for await (const k of this.#inner.keys(this.#range(range))) yield k.slice(n)
  }

  /** Owned by whoever opened the shared store. */
  async close (): Promise<void> {}

  /** The range inside the partition: bounds prefixed, missing ones the partition's own. */
  #range (r: KvRange): KvRange {
    const out: KvRange = {}
    if (r.gt !== undefined) out.gt = this.prefix + r.gt
    else out.gte = this.prefix + (r.gte ?? '')
    if (r.lt !== undefined) out.lt = this.prefix + r.lt
    else if (r.lte !== undefined) out.lte = this.prefix + r.lte
    else out.lt = this.#upper
    if (r.reverse === true) out.reverse = true
    if (r.limit !== undefined) out.limit = r.limit
    return out
  }
}
