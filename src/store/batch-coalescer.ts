/**
 * Small writes of many concurrent callers, coalesced into few KvStore
 * batches: the request path writes a replay record and an audit entry per
 * request (store/replay-cache.ts, store/audit.ts), and with 20 app clients
 * each of those was its own LevelDB batch — a native call, a thread-pool
 * hand-off and a log write each, the largest item in the hub's profile
 * under request load (docs/benchmarks.md, workloads).
 *
 * `write(ops)` resolves once its ops are written, exactly as a batch of its
 * own would: callers lose no durability. Writes made while a batch is being
 * written (and in the same turn as the first) go out together in the next
 * batch, in call order, so a later put of a key still wins. One batch
 * failing fails every write in it (and changes nothing: a batch is atomic).
 * This is not the tenant store's WriteQueue (store/write-queue.ts: commits,
 * with its own ordering rules); it serves writes that need no more than
 * "written before I answer".
 */
import type { KvOp, KvStore } from './kv.js'

interface Waiter { resolve: () => void, reject: (err: unknown) => void }

export class BatchCoalescer {
  readonly #kv: KvStore
  #ops: KvOp[] = []
  #waiters: Waiter[] = []
  #running = false

  constructor (kv: KvStore) {
    this.#kv = kv
  }

  /** Write `ops` (with whatever else is pending); resolves once they are written. */
  async write (ops: KvOp[]): Promise<void> {
    if (ops.length === 0) return
    await new Promise<void>((resolve, reject) => {
      this.#ops.push(...ops)
      this.#waiters.push({ resolve, reject })
      if (!this.#running) {
        this.#running = true
        // After the current microtasks: writes made in this same turn join the first batch.
        queueMicrotask(() => { void this.#drain() })
      }
    })
  }

  async #drain (): Promise<void> {
    while (this.#ops.length > 0) {
      const ops = this.#ops
      const waiters = this.#waiters
      this.#ops = []
      this.#waiters = []
      try {
        await this.#kv.batch(ops)
        for (const w of waiters) w.resolve()
      } catch (err) {
        for (const w of waiters) w.reject(err)
      }
    }
    this.#running = false
  }
}

const coalescers = new WeakMap<KvStore, BatchCoalescer>()

/** The one coalescer of `kv`: every writer of small records on one store shares it, so their writes share batches too. */
export function coalescerOf (kv: KvStore): BatchCoalescer {
  let c = coalescers.get(kv)
  if (c === undefined) {
    c = new BatchCoalescer(kv)
    coalescers.set(kv, c)
  }
  return c
}
