/**
 * Group commit. Every mutation of a tenant runs through one queue: items run
 * one at a time (so they see each other's effects and the change feed stays
 * in topological order), and everything that queued up while the previous
 * batch was being written goes to disk in ONE atomic batch. Each item still
 * succeeds or fails on its own: a failing item's writes are discarded and
 * the others proceed. A caller's promise resolves only after the batch that
 * holds its writes is on disk.
 */
import type { KvOp, KvStore } from './kv.js'

/** Read-your-writes view over the store for one group. */
export class Tx {
  readonly #kv: KvStore
  readonly #parent: Tx | undefined
  readonly overlay = new Map<string, Uint8Array | null>()
  readonly ops: KvOp[] = []
  /** Work to do after the group's batch is durable (events, cache updates). */
  readonly after: Array<() => void> = []
  /** Work to undo in-memory effects if this item or the batch fails. */
  readonly undo: Array<() => void> = []

  constructor (kv: KvStore, parent?: Tx) {
    this.#kv = kv
    this.#parent = parent
  }

  #lookup (key: string): Uint8Array | null | undefined {
    const mine = this.overlay.get(key)
    if (mine !== undefined) return mine
    return this.#parent === undefined ? undefined : this.#parent.#lookup(key)
  }

  /**
   * Every key under `prefix` staged so far in this item *or earlier items
   * of the group* (the nearest staging wins; deletions are left out).
   */
  stagedUnder (prefix: string): Map<string, Uint8Array> {
    const out = this.#parent === undefined ? new Map<string, Uint8Array>() : this.#parent.stagedUnder(prefix)
    for (const [k, v] of this.overlay) {
      if (!k.startsWith(prefix)) continue
      if (v === null) out.delete(k)
      else out.set(k, v)
    }
    return out
  }

  /** A value staged in this group (null = deleted), or undefined if untouched. */
  staged (key: string): Uint8Array | null | undefined {
    return this.#lookup(key)
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    const hit = this.#lookup(key)
    if (hit !== undefined) return hit ?? undefined
    return await this.#kv.get(key)
  }

  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    const out: Array<Uint8Array | undefined> = new Array(keys.length)
    const missing: number[] = []
    keys.forEach((k, i) => {
      const hit = this.#lookup(k)
      if (hit === undefined) missing.push(i)
      else out[i] = hit ?? undefined
    })
    if (missing.length > 0) {
      const got = await this.#kv.getMany(missing.map(i => keys[i] as string))
      missing.forEach((i, j) => { out[i] = got[j] })
    }
    return out
  }

  put (key: string, value: Uint8Array): void {
    this.overlay.set(key, value)
    this.ops.push({ type: 'put', key, value })
  }

  del (key: string): void {
    this.overlay.set(key, null)
    this.ops.push({ type: 'del', key })
  }

  /** Fold a successful child item into this group. */
  absorb (child: Tx): void {
    for (const [k, v] of child.overlay) this.overlay.set(k, v)
    this.ops.push(...child.ops)
    this.after.push(...child.after)
    this.undo.push(...child.undo)
  }
}

interface Pending<T> {
  run: (tx: Tx) => Promise<T>
  resolve: (v: T) => void
  reject: (e: unknown) => void
}

export class WriteQueue {
  readonly #kv: KvStore
  readonly #maxGroup: number
  #pending: Array<Pending<unknown>> = []
  #draining: Promise<void> | undefined

  readonly #onHookError: (err: unknown) => void

  constructor (kv: KvStore, maxGroup = 1024, onHookError: (err: unknown) => void = () => {}) {
    this.#kv = kv
    this.#maxGroup = maxGroup
    this.#onHookError = onHookError
  }

  /** Run `fn` in the next group; resolves after its writes are durable. */
  async enqueue<T> (fn: (tx: Tx) => Promise<T>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      this.#pending.push({ run: fn, resolve, reject } as Pending<unknown>)
      this.#draining ??= this.#drain().finally(() => { this.#draining = undefined })
    })
  }

  /**
   * Queue several items at once, in order: they start in the same group (up
   * to the group limit) even when the queue is idle — `enqueue` one by one
   * would start a group with the first alone and write the rest in a second
   * batch (a sync page and its watermark are then two writes, not one).
   */
  enqueueAll<T> (fns: Array<(tx: Tx) => Promise<T>>): Array<Promise<T>> {
    const out = fns.map(async fn => await new Promise<T>((resolve, reject) => {
      this.#pending.push({ run: fn, resolve, reject } as Pending<unknown>)
    }))
    if (fns.length > 0) this.#draining ??= this.#drain().finally(() => { this.#draining = undefined })
    return out
  }

  /** Resolves when every queued item has been written (or failed). */
  async idle (): Promise<void> {
    while (this.#draining !== undefined) await this.#draining
  }

  async #drain (): Promise<void> {
    while (this.#pending.length > 0) {
      const group = this.#pending.splice(0, this.#maxGroup)
      const tx = new Tx(this.#kv)
      const done: Array<{ p: Pending<unknown>, value: unknown }> = []
      for (const p of group) {
        const child = new Tx(this.#kv, tx)
        try {
          const value = await p.run(child)
          tx.absorb(child)
          done.push({ p, value })
        } catch (err) {
          for (const u of child.undo.reverse()) u()
          p.reject(err)
        }
      }
      try {
        await this.#kv.batch(tx.ops)
      } catch (err) {
        for (const u of tx.undo.reverse()) u()
        for (const d of done) d.p.reject(err)
        continue
      }
      // The batch is durable: nothing a hook does may undo that or starve the
      // callers, so a failing hook is reported and the others still run.
      for (const a of tx.after) {
        try { a() } catch (err) { this.#onHookError(err) }
      }
      for (const d of done) d.p.resolve(d.value)
    }
  }
}
