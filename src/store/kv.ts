/**
 * The storage seam: an ordered byte-value map with atomic batches. The hub
 * needs nothing more from a database, so any engine that passes
 * `kv-conformance.ts` can back it. Keys are strings compared by their UTF-8
 * bytes (LevelDB order).
 */
import { UnavailableError } from '../errors.js'

export type KvOp =
  | { type: 'put', key: string, value: Uint8Array }
  | { type: 'del', key: string }

export interface KvRange {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  reverse?: boolean
  limit?: number
}

export interface KvStore {
  get (key: string): Promise<Uint8Array | undefined>
  getMany (keys: string[]): Promise<Array<Uint8Array | undefined>>
  /** Applies every op or none. Resolves only once the batch is written. */
  batch (ops: KvOp[]): Promise<void>
  entries (range: KvRange): AsyncIterable<[string, Uint8Array]>
  keys (range: KvRange): AsyncIterable<string>
  close (): Promise<void>
}

/**
 * A call on a store after (or while) it was closed: typed, so that a request
 * or a sync still in flight when the hub shuts down ends with `unavailable`
 * (worth retrying elsewhere) instead of the engine's untyped error. Every
 * engine throws it; the KV conformance suite checks.
 */
export class StoreClosedError extends UnavailableError {
  constructor (engine: string) {
    super(`the ${engine} store is closed`, { reason: 'closed' })
  }
}

/** Upper bound for a prefix scan: every key starting with `prefix` is below it. */
export function prefixEnd (prefix: string): string {
  return prefix + '\uffff'
}
