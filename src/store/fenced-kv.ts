/**
 * A store whose every batch is fenced by a write lease (issue 17, several
 * hosting processes on one PostgreSQL): `batch(ops)` becomes
 * `batchFenced(ops, lease)` with the lease this process holds now, and
 * with none it writes nothing and throws LeaseLostError. The store above
 * (a tenant's Hub, its TenantStore, its audit log) does not know: it sees
 * a KvStore whose batches may fail, as any store's may. Reads pass through.
 * close() leaves the shared store open (its opener closes it).
 */
import type { KvOp, KvRange, KvStore } from './kv.js'
import { LeaseLostError, type Fence } from './pg-kv.js'

/** A store that can check a fence in the transaction of a batch (PgKv). */
export interface FenceableStore extends KvStore {
  batchFenced: (ops: KvOp[], fence: Fence) => Promise<void>
}

export class FencedKv implements KvStore {
  readonly #inner: FenceableStore
  readonly #fence: () => Fence | undefined
  readonly #what: string

  /** `fence`: the lease to write under now, or undefined while this process holds none (then nothing is written). `what` names the lease in errors. */
  constructor (inner: FenceableStore, fence: () => Fence | undefined, what: string) {
    this.#inner = inner
    this.#fence = fence
    this.#what = what
  }

  async batch (ops: KvOp[]): Promise<void> {
    const fence = this.#fence()
    if (fence === undefined) throw new LeaseLostError(`this process does not hold the write lease of ${this.#what}`, { owner: this.#what, token: 'none' })
    await this.#inner.batchFenced(ops, fence)
  }

  async get (key: string): Promise<Uint8Array | undefined> { return await this.#inner.get(key) }
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> { return await this.#inner.getMany(keys) }
  entries (range: KvRange): AsyncIterable<[string, Uint8Array]> { return this.#inner.entries(range) }
  keys (range: KvRange): AsyncIterable<string> { return this.#inner.keys(range) }
  async close (): Promise<void> {}
}
