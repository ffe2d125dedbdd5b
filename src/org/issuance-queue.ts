/**
 * The in-process queue of received issuance requests: a few processed at
 * once (one slow holder must not hold up the others), each request at most
 * once at a time. Nothing is persisted here: a request still RECEIVED after
 * a restart is queued again by IssuanceService.resume(), so the queue may
 * forget anything without losing work.
 */

/** One received request to process. */
export interface IssuanceJob { pid: string, issuerPid: string }

export interface IssuanceQueueInit {
  /** Jobs processed at once. */
  concurrency: number
  /** Once aborted, nothing more is queued. */
  signal: AbortSignal
  run: (job: IssuanceJob) => Promise<void>
  /** A job that threw: its request stays RECEIVED. */
  onError: (job: IssuanceJob, err: unknown) => void
}

function keyOf (job: IssuanceJob): string {
  return `${job.pid}\n${job.issuerPid}`
}

export class IssuanceQueue {
  readonly #init: IssuanceQueueInit
  /** Jobs waiting or running, by key: a request is never processed twice at once. */
  readonly #known = new Set<string>()
  readonly #waiting: IssuanceJob[] = []
  readonly #running = new Set<Promise<void>>()
  #idleWaiters: Array<() => void> = []

  constructor (init: IssuanceQueueInit) {
    this.#init = init
  }

  /** Process `job` soon (no-op when it is already queued or running, or once the signal aborted). */
  add (job: IssuanceJob): void {
    const key = keyOf(job)
    if (this.#init.signal.aborted || this.#known.has(key)) return
    this.#known.add(key)
    this.#waiting.push(job)
    this.#pump()
  }

  /** Resolves when nothing is queued or running. */
  async idle (): Promise<void> {
    if (this.#known.size === 0) return
    await new Promise<void>(resolve => this.#idleWaiters.push(resolve))
  }

  /** Drop what waits and resolve once nothing runs (the caller aborts the running jobs first). */
  async stop (): Promise<void> {
    this.#waiting.length = 0
    while (this.#running.size > 0) await Promise.allSettled([...this.#running])
    this.#known.clear()
    this.#settleIdle()
  }

  #settleIdle (): void {
    if (this.#known.size > 0) return
    for (const w of this.#idleWaiters.splice(0)) w()
  }

  #pump (): void {
    while (this.#running.size < this.#init.concurrency && this.#waiting.length > 0) {
      const job = this.#waiting.shift() as IssuanceJob
      const run: Promise<void> = this.#init.run(job)
        .catch((err: unknown) => { this.#init.onError(job, err) })
        .finally(() => {
          this.#running.delete(run)
          this.#known.delete(keyOf(job))
          this.#pump()
          this.#settleIdle()
        })
      this.#running.add(run)
    }
  }
}
