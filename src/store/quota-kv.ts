/**
 * Per-owner quotas of a hosting hub, enforced where every write of a tenant
 * passes: its store's batches. Two things are counted, in the owner's
 * tenant partition (`t!<owner>!`, layout.ts):
 *   objects — object metas (`o!`), Permissions objects included;
 *   bytes   — stored commit envelopes (`c!`): the signed data, what the owner
 *             pays for; derived indexes, caches and the audit log are not.
 * A batch that would pass a limit is refused whole before it is written:
 * `too_large`, reason `quota_exceeded`, `details.quota` naming which, and
 * the store is unchanged. Deletes always pass. Usage is counted once at
 * open (one scan of the partition's metas and commits) and kept in memory;
 * batches run one at a time so two cannot both squeeze under a limit.
 */
import { TooLargeError } from '../errors.js'
import { SerialQueue } from '../serial.js'
import type { KvOp, KvRange, KvStore } from './kv.js'
import { prefixEnd } from './kv.js'
import { Layout } from './layout.js'

export interface Quotas {
  /** Most objects (metas) the owner may hold. */
  objects?: number
  /** Most bytes of commit envelopes the owner may hold. */
  bytes?: number
  /** Most requests per second (enforced by the hosting request router, not here). */
  requestsPerSecond?: number
}

export interface Usage { objects: number, bytes: number }

export class QuotaExceededError extends TooLargeError {
  constructor (quota: 'objects' | 'bytes', limit: number, wouldBe: number) {
    super(`the owner's ${quota} quota is ${limit}; this write would make it ${wouldBe}`, { reason: 'quota_exceeded', quota, limit, wouldBe })
  }
}

export class QuotaKv implements KvStore {
  readonly #inner: KvStore
  readonly #objects: string
  readonly #commits: string
  readonly #queue = new SerialQueue()
  #limits: Quotas
  #usage: Usage = { objects: 0, bytes: 0 }

  private constructor (inner: KvStore, tenant: string, limits: Quotas) {
    this.#inner = inner
    const layout = new Layout(tenant)
    this.#objects = layout.objectsPrefix()
    this.#commits = `${layout.p}c!`
    this.#limits = limits
  }

  /** Wrap `inner` (the owner's whole store) and count what its tenant partition already holds. */
  static async open (inner: KvStore, tenant: string, limits: Quotas): Promise<QuotaKv> {
    const q = new QuotaKv(inner, tenant, limits)
    await q.recount()
    return q
  }

  /**
   * Count the usage again from what the store holds: after another process
   * wrote this owner's partition (a hosting hub of several processes; the
   * process that takes the owner's lease recounts before its first write).
   */
  async recount (): Promise<Usage> {
    await this.#queue.run(async () => {
      const usage: Usage = { objects: 0, bytes: 0 }
      for await (const _ of this.#inner.keys({ gte: this.#objects, lt: prefixEnd(this.#objects) })) usage.objects++
      for await (const [, v] of this.#inner.entries({ gte: this.#commits, lt: prefixEnd(this.#commits) })) usage.bytes += v.byteLength
      this.#usage = usage
    })
    return this.usage
  }

  get usage (): Usage { return { ...this.#usage } }
  get limits (): Quotas { return { ...this.#limits } }
  setLimits (limits: Quotas): void { this.#limits = { ...limits } }

  async get (key: string): Promise<Uint8Array | undefined> { return await this.#inner.get(key) }
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> { return await this.#inner.getMany(keys) }
  entries (range: KvRange): AsyncIterable<[string, Uint8Array]> { return this.#inner.entries(range) }
  keys (range: KvRange): AsyncIterable<string> { return this.#inner.keys(range) }
  async close (): Promise<void> { await this.#inner.close() }

  async batch (ops: KvOp[]): Promise<void> {
    await this.#queue.run(async () => {
      // The batch's net effect on each counted key (the last op on a key wins).
      const last = new Map<string, KvOp>()
      for (const op of ops) if (op.key.startsWith(this.#objects) || op.key.startsWith(this.#commits)) last.set(op.key, op)
      if (last.size === 0) { await this.#inner.batch(ops); return }
      const keys = [...last.keys()]
      const before = await this.#inner.getMany(keys)
      let objects = 0
      let bytes = 0
      keys.forEach((k, i) => {
        const op = last.get(k) as KvOp
        const old = before[i]
        const isObject = k.startsWith(this.#objects)
        if (op.type === 'put') {
          if (isObject) objects += old === undefined ? 1 : 0
          else bytes += op.value.byteLength - (old?.byteLength ?? 0)
        } else if (old !== undefined) {
          if (isObject) objects -= 1
          else bytes -= old.byteLength
        }
      })
      const next = { objects: this.#usage.objects + objects, bytes: this.#usage.bytes + bytes }
      const { objects: maxObjects, bytes: maxBytes } = this.#limits
      if (objects > 0 && maxObjects !== undefined && next.objects > maxObjects) throw new QuotaExceededError('objects', maxObjects, next.objects)
      if (bytes > 0 && maxBytes !== undefined && next.bytes > maxBytes) throw new QuotaExceededError('bytes', maxBytes, next.bytes)
      await this.#inner.batch(ops)
      this.#usage = next
    })
  }
}
