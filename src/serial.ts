/**
 * Serialized async work: tasks run one at a time in the order they were
 * queued, each one after the previous has settled. A task's failure goes to
 * its own caller only: the tasks queued behind it still run (an error never
 * poisons the queue). The one helper for the store's audit log, the org
 * transaction engine and a request stream's replies; the tenant store's
 * WriteQueue (store/write-queue.ts) is a different thing (group commit:
 * many items, one batch).
 */

/** One queue: every task runs after the previous one settled. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve()
  #pending = 0

  /** Run `task` after every task queued before it has settled; resolves or rejects with its outcome. */
  async run<T> (task: () => Promise<T> | T): Promise<T> {
    const run = async (): Promise<T> => await task()
    const p = this.#tail.then(run, run)
    this.#pending++
    this.#tail = p.then(() => {}, () => {}).finally(() => { this.#pending-- })
    return await p
  }

  /** Tasks queued and not yet settled. */
  get size (): number { return this.#pending }

  /** Resolves once every task queued so far has settled (never rejects). */
  async idle (): Promise<void> {
    await this.#tail
  }
}

/**
 * One queue per key: tasks of the same key run one at a time in order, tasks
 * of different keys do not wait for each other. A key's queue is dropped
 * once it runs empty, so the map holds only busy keys.
 */
export class KeyedSerial<K = string> {
  readonly #queues = new Map<K, { queue: SerialQueue, tasks: number }>()

  async run<T> (key: K, task: () => Promise<T> | T): Promise<T> {
    let entry = this.#queues.get(key)
    if (entry === undefined) {
      entry = { queue: new SerialQueue(), tasks: 0 }
      this.#queues.set(key, entry)
    }
    const e = entry
    e.tasks++
    try {
      return await e.queue.run(task)
    } finally {
      if (--e.tasks === 0) this.#queues.delete(key)
    }
  }

  /** Keys with queued or running tasks. */
  get size (): number { return this.#queues.size }

  /** Resolves once every task queued so far, of every key, has settled. */
  async idle (): Promise<void> {
    await Promise.all([...this.#queues.values()].map(async e => await e.queue.idle()))
  }
}
