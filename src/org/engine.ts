/**
 * The transaction engine under every organization operation.
 *
 * An operation reads what it needs, stages every write (records, index
 * entries, sealed keys, destroyed keys) and every event in one {@link Tx},
 * and the engine commits the writes as a single KvStore batch; events go
 * out only after that batch is durable. A failure or a crash at any step
 * before the batch leaves no trace; after it, the whole change is there.
 * Each operation passes through an injectable failpoint at every named step
 * (operations.ts), so tests can prove this step by step.
 *
 * Operations are serialized (one at a time per store): they are rare admin
 * actions, and serializing makes read-check-write sequences race-free.
 * Reads do not queue, so a read-only method may see any committed state.
 */
import { SerialQueue } from '../serial.js'
import { utf8, utf8d } from '../identity/encoding.js'
import { prefixEnd, type KvOp, type KvStore } from '../store/kv.js'
import type { Logger } from '../log.js'
import type { OrgEvents } from './org-events.js'
import type { AnyOrgOperation, Failpoint } from './operations.js'
import type { OrgEvent } from './types.js'

/** The writes and events of one operation, staged until its batch is written. */
export class Tx {
  readonly ops: KvOp[] = []
  readonly events: OrgEvent[] = []

  put (key: string, value: unknown): void {
    this.ops.push({ type: 'put', key, value: utf8.encode(JSON.stringify(value)) })
  }

  putBytes (key: string, value: Uint8Array): void {
    this.ops.push({ type: 'put', key, value })
  }

  del (key: string): void {
    this.ops.push({ type: 'del', key })
  }
}

/** Reads of committed records, as the resource modules need them. */
export interface OrgReader {
  get: (key: string) => Promise<Uint8Array | undefined>
  /** A JSON record, or undefined. */
  json: <T>(key: string) => Promise<T | undefined>
  /** Every JSON record under `prefix`, in key order. */
  list: <T>(prefix: string) => Promise<T[]>
  /** Every key under `prefix`, in key order. */
  keys: (prefix: string) => AsyncIterable<string>
}

/** What a resource module needs of the engine: reads, the clock, failpoints and running an operation. */
export interface OrgTransactions extends OrgReader {
  /** The current time as an ISO string (the records' timestamps). */
  iso: () => string
  /** Pass the failpoint of `op` at `step`. */
  step: (op: AnyOrgOperation, step: string) => void
  /** Run `fn` as operation `op`: alone, its staged writes as one batch, then its events. */
  mutate: <T>(op: AnyOrgOperation, fn: (tx: Tx) => Promise<T>) => Promise<T>
}

export interface OrgEngineInit {
  kv: KvStore
  events: OrgEvents
  logger: Logger
  failpoint?: Failpoint
  now: () => number
}

export class OrgEngine implements OrgTransactions {
  readonly #kv: KvStore
  readonly #events: OrgEvents
  readonly #log: Logger
  readonly #failpoint: Failpoint | undefined
  readonly #now: () => number
  /** One operation at a time; a failed one does not stop the ones queued behind it. */
  readonly #queue = new SerialQueue()

  constructor (init: OrgEngineInit) {
    this.#kv = init.kv
    this.#events = init.events
    this.#log = init.logger
    this.#failpoint = init.failpoint
    this.#now = init.now
  }

  iso (): string {
    return new Date(this.#now()).toISOString()
  }

  step (op: AnyOrgOperation, step: string): void {
    this.#failpoint?.(op, step)
  }

  async mutate<T> (op: AnyOrgOperation, fn: (tx: Tx) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const tx = new Tx()
      const result = await fn(tx)
      this.step(op, 'commit')
      await this.#kv.batch(tx.ops)
      this.#log.info('org change', { op, writes: tx.ops.length })
      this.#events.emit(tx.events)
      return result
    }
    return await this.#queue.run(run)
  }

  /** Resolves once every operation queued so far has finished. */
  async idle (): Promise<void> {
    await this.#queue.idle()
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    return await this.#kv.get(key)
  }

  async json<T> (key: string): Promise<T | undefined> {
    const v = await this.#kv.get(key)
    return v === undefined ? undefined : JSON.parse(utf8d.decode(v)) as T
  }

  async list<T> (prefix: string): Promise<T[]> {
    const out: T[] = []
    for await (const [, v] of this.#kv.entries({ gte: prefix, lt: prefixEnd(prefix) })) out.push(JSON.parse(utf8d.decode(v)) as T)
    return out
  }

  keys (prefix: string): AsyncIterable<string> {
    return this.#kv.keys({ gte: prefix, lt: prefixEnd(prefix) })
  }
}
