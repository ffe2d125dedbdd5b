/** LevelDB (through `level` / classic-level) implementation of KvStore. */
import { Level } from 'level'
import { HubError } from '../errors.js'
import { StoreClosedError, type KvOp, type KvRange, type KvStore } from './kv.js'

export interface LevelKvOptions {
  /**
   * fsync every batch. Off by default: a batch is in the OS page cache when
   * the write resolves, which survives a process crash (kill -9) but not a
   * power cut. Turn on for power-loss durability at a large throughput cost.
   */
  sync?: boolean
}

const CHUNK = 512

/**
 * abstract-level's errors for a database that is closing or closed: the
 * untyped engine error becomes {@link StoreClosedError}, so a request still
 * in flight when the hub closes fails with a code a caller can act on.
 */
function closedOr (err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'LEVEL_DATABASE_NOT_OPEN' || code === 'LEVEL_ITERATOR_NOT_OPEN'
    ? new StoreClosedError('LevelDB')
    : err
}

export class LevelKv implements KvStore {
  readonly #db: Level<string, Uint8Array>
  readonly #sync: boolean

  private constructor (db: Level<string, Uint8Array>, sync: boolean) {
    this.#db = db
    this.#sync = sync
  }

  static async open (path: string, opts: LevelKvOptions = {}): Promise<LevelKv> {
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new HubError('unavailable', `the store at ${path} is in use by another process (is a hub daemon running?)`)
      }
      throw err
    }
    return new LevelKv(db, opts.sync === true)
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    return await this.#db.get(key).catch(err => { throw closedOr(err) })
  }

  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return []
    return await this.#db.getMany(keys).catch(err => { throw closedOr(err) })
  }

  async batch (ops: KvOp[]): Promise<void> {
    if (ops.length === 0) return
    await this.#db.batch(ops, { sync: this.#sync }).catch(err => { throw closedOr(err) })
  }

  // Iterators are read in chunks (nextv): one native call per chunk instead
  // of one per entry, which more than halves the cost of an index scan.
  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    const it = this.#open(() => this.#db.iterator(range))
    try {
      for (;;) {
        const chunk = await it.nextv(CHUNK).catch(err => { throw closedOr(err) })
        if (chunk.length === 0) return
        for (const e of chunk) yield e
      }
    } finally {
      await it.close()
    }
  }

  async * keys (range: KvRange): AsyncIterable<string> {
    const it = this.#open(() => this.#db.keys(range))
    try {
      for (;;) {
        const chunk = await it.nextv(CHUNK).catch(err => { throw closedOr(err) })
        if (chunk.length === 0) return
        yield * chunk
      }
    } finally {
      await it.close()
    }
  }

  /** An iterator, created only on an open database (abstract-level throws synchronously, or fails the first read, otherwise). */
  #open<T> (make: () => T): T {
    if (this.#db.status !== 'open') throw new StoreClosedError('LevelDB')
    try {
      return make()
    } catch (err) {
      throw closedOr(err)
    }
  }

  async close (): Promise<void> {
    await this.#db.close()
  }
}
