/**
 * The change feed's position for one tenant: the next sequence number to
 * assign, the highest one on disk, and the long-polling readers waiting
 * for it to move (sync streams waiting for live commits).
 */
export class FeedClock {
  #seq = 0
  #durable = 0
  readonly #waiters = new Set<() => void>()

  /** Start from the highest sequence number on disk. */
  start (seq: number): void {
    this.#seq = seq
    this.#durable = seq
  }

  /** Highest sequence number assigned so far. */
  get seq (): number { return this.#seq }

  /** Highest sequence number on disk (what feed readers see). */
  get durable (): number { return this.#durable }

  /** Assign the next sequence number (to a commit being staged). */
  next (): number { return ++this.#seq }

  /** `seq` is on disk (the caller then wakes the waiters with nudge()). */
  reached (seq: number): void {
    if (seq > this.#durable) this.#durable = seq
  }

  /** Wake every waiter (e.g. a permission changed and streams must re-check). */
  nudge (): void {
    for (const w of [...this.#waiters]) w()
  }

  /**
   * Resolves once the durable feed moves past `after`, or the timeout or
   * signal fires (then it resolves too: callers re-check and decide).
   */
  async waitFor (after: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#durable > after || signal?.aborted === true) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.#waiters.delete(check)
        resolve()
      }
      const check = (): void => { if (this.#durable > after) done() }
      const timer = setTimeout(done, timeoutMs)
      signal?.addEventListener('abort', done)
      this.#waiters.add(check)
    })
  }
}
