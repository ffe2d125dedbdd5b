/**
 * Group commit. Every mutation of a tenant runs through one queue: items run
 * one at a time (so they see each other's effects and the change feed stays
 * in topological order), and everything that queued up while the previous
 * batch was being written goes to disk in ONE atomic batch. Each item still
 * succeeds or fails on its own: a failing item's writes are discarded and
 * the others proceed. A caller's promise resolves only after the batch that
 * holds its writes is on disk.
 *
 * Pipelined: while one group's batch is being written, the next group's
 * items already run (signing, Automerge, index keys — the CPU of a write),
 * on top of the unwritten group (its staged writes are the next group's
 * parent overlay), and that group's batch is issued once the previous one
 * is durable. If a batch fails, the group computed on top of it is void
 * too: its items are undone first (newest first), then the failed group's,
 * and both groups' callers are rejected. Items still pending then run on a
 * clean state.
 */
import type { KvOp, KvStore } from './kv.js'

/**
 * Read-your-writes view over the store for one group. What it staged is
 * its overlay: the last value put for each key, or null for a delete —
 * which is also the group's whole batch (`ops`). A key written several
 * times in a group goes to disk once: a sync page of one object's updates
 * rewrites the object's meta and moves its index entries per commit, and
 * only the net effect is written (the batch holds one op per key, as
 * PgKv's and QuotaKv's `collapse` already assumed: within one atomic
 * batch, only the last op on a key counts).
 */
export class Tx {
  readonly #kv: KvStore
  #parent: Tx | undefined
  readonly overlay = new Map<string, Uint8Array | null>()
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
  }

  del (key: string): void {
    this.overlay.set(key, null)
  }

  /** The batch: one op per key staged, its last value (a delete stays a delete: the key may be on disk). */
  get ops (): KvOp[] {
    const out: KvOp[] = []
    for (const [key, value] of this.overlay) out.push(value === null ? { type: 'del', key } : { type: 'put', key, value })
    return out
  }

  /** Stop reading through the parent group: it is on disk now, so the store itself answers. */
  detach (): void { this.#parent = undefined }

  /** Fold a successful child item into this group. */
  absorb (child: Tx): void {
    for (const [k, v] of child.overlay) this.overlay.set(k, v)
    this.after.push(...child.after)
    this.undo.push(...child.undo)
  }
}

interface Pending<T> {
  run: (tx: Tx) => Promise<T>
  resolve: (v: T) => void
  reject: (e: unknown) => void
}

/** A group of items run into one Tx: the callers to settle once its batch is written. */
interface Group { tx: Tx, done: Array<{ p: Pending<unknown>, value: unknown }>, size: number }

/** A group whose batch is being written: `result` is undefined once written, else the error. */
interface Writing extends Group { result: Promise<unknown>, settled: boolean }

export class WriteQueue {
  readonly #kv: KvStore
  readonly #maxGroup: number
  #pending: Array<Pending<unknown>> = []
  #draining: Promise<void> | undefined
  /** Wakes a drain that waits for new items while a batch is being written. */
  #wake: (() => void) | undefined

  readonly #onHookError: (err: unknown) => void

  constructor (kv: KvStore, maxGroup = 1024, onHookError: (err: unknown) => void = () => {}) {
    this.#kv = kv
    this.#maxGroup = Math.max(1, maxGroup)
    this.#onHookError = onHookError
  }

  /** Run `fn` in the next group; resolves after its writes are durable. */
  async enqueue<T> (fn: (tx: Tx) => Promise<T>): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      this.#pending.push({ run: fn, resolve, reject } as Pending<unknown>)
      this.#kick()
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
    if (fns.length > 0) this.#kick()
    return out
  }

  /** Resolves when every queued item has been written (or failed). */
  async idle (): Promise<void> {
    while (this.#draining !== undefined) await this.#draining
  }

  #kick (): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
    this.#draining ??= this.#drain()
  }

  async #drain (): Promise<void> {
    let writing: Writing | undefined
    try {
      for (;;) {
        // While a batch is being written, wait for it or for the next item, whichever comes first.
        if (writing !== undefined && this.#pending.length === 0) await this.#arrivalOr(writing)
        let next: Group | undefined
        if (this.#pending.length > 0) {
          next = { tx: new Tx(this.#kv, writing?.tx), done: [], size: 0 }
          // Run what is pending, and what arrives, while the previous batch is still being written.
          for (;;) {
            await this.#run(next, this.#pending.splice(0, this.#maxGroup - next.size))
            if (writing === undefined || writing.settled || next.size >= this.#maxGroup) break
            if (this.#pending.length === 0) await this.#arrivalOr(writing)
            if (this.#pending.length === 0) break
          }
        }
        if (writing !== undefined) {
          const err = await writing.result
          if (err === undefined) {
            this.#finish(writing)
            next?.tx.detach()
          } else {
            // What the next group computed stands on writes that never landed.
            if (next !== undefined) this.#fail(next, err)
            this.#fail(writing, err)
            next = undefined
          }
          writing = undefined
        }
        // A group whose every item failed has nothing to write or settle.
        if (next !== undefined && next.done.length === 0) next = undefined
        if (next === undefined) {
          if (this.#pending.length > 0) continue
          // Checked and cleared in one synchronous step: an item enqueued from now on starts a new drain.
          this.#draining = undefined
          return
        }
        const w: Writing = { ...next, settled: false, result: Promise.resolve(undefined) }
        w.result = this.#kv.batch(next.tx.ops).then(() => { w.settled = true }, (err: unknown) => { w.settled = true; return err ?? new Error('batch failed') })
        writing = w
      }
    } catch (err) {
      // A bug here must not wedge the queue: settle what is in hand and let the next item start afresh.
      if (writing !== undefined) this.#fail(writing, err)
      this.#draining = undefined
      throw err
    }
  }

  /** Until an item is enqueued or `writing`'s batch settles. */
  async #arrivalOr (writing: Writing): Promise<void> {
    if (writing.settled) return
    await Promise.race([writing.result, new Promise<void>(resolve => { this.#wake = resolve })])
    this.#wake = undefined
  }

  async #run (group: Group, items: Array<Pending<unknown>>): Promise<void> {
    for (const p of items) {
      group.size++
      const child = new Tx(this.#kv, group.tx)
      try {
        const value = await p.run(child)
        group.tx.absorb(child)
        group.done.push({ p, value })
      } catch (err) {
        for (const u of child.undo.reverse()) u()
        p.reject(err)
      }
    }
  }

  #finish (group: Group): void {
    // The batch is durable: nothing a hook does may undo that or starve the
    // callers, so a failing hook is reported and the others still run.
    for (const a of group.tx.after) {
      try { a() } catch (err) { this.#onHookError(err) }
    }
    for (const d of group.done) d.p.resolve(d.value)
  }

  #fail (group: Group, err: unknown): void {
    for (const u of group.tx.undo.reverse()) u()
    for (const d of group.done) d.p.reject(err)
  }
}
