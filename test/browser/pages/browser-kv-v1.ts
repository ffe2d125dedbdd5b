/**
 * FROZEN COPY, for the migration tests only (test/browser/kv-browser.test.ts):
 * BrowserKv as it was before the packed index records (commit 3fa070d,
 * src/store/browser-kv.ts), on browser-level — the format-version-1 store
 * that tabs running that version wrote. Not to be changed with the store:
 * it is the old writer the new store must read.
 */
/**
 * IndexedDB (through `browser-level`) implementation of KvStore, for the
 * hub in a browser tab (src/browser/). Keys are stored as UTF-8 bytes, which
 * IndexedDB orders byte by byte: LevelDB's order.
 *
 * Snapshots. A LevelDB iterator reads one snapshot; a browser-level
 * iterator does not: each `nextv` is its own IndexedDB transaction, so a
 * batch landing between two chunks shows through (an index entry moved by
 * an update seen twice or not at all, a migration's rewritten keys read
 * back). Here every range is read whole in ONE readonly transaction
 * (`iterator.all()`, which browser-level serves with one getAll/cursor
 * pass) and then yielded: each range read is a consistent snapshot, as
 * under LevelDB. The price is memory for the range (the hub's ranges are
 * an object's log, one index prefix, a feed page); `limit` bounds it where
 * callers set one. docs/architecture.md lists the reads that rely on it.
 */
import { BrowserLevel } from 'browser-level'
import { HubError } from '../../../src/errors.js'
import { utf8 } from '../../../src/identity/encoding.js'
import { StoreClosedError, type KvOp, type KvRange, type KvStore } from '../../../src/store/kv.js'

/** The IndexedDB database name prefix (browser-level's default is `level-js-`). */
export const BROWSER_KV_PREFIX = 'identity-hub-'

export interface BrowserKvOptions {
  /**
   * Hold an exclusive Web Lock on the store while it is open, so a second
   * tab of the same origin cannot open it too (LevelDB's LOCK file under
   * Node): its open fails with `unavailable`. IndexedDB itself would let
   * both write, and two hubs on one store would corrupt each other's
   * derived state.
   */
  exclusive?: boolean
  /** Strict durability for every batch (the browser flushes to disk before it completes). Default: relaxed. */
  sync?: boolean
}

/** Take the Web Lock `name` if nobody holds it; resolves to its release (done once the lock is free), or undefined when it is held. */
async function takeLock (name: string): Promise<(() => Promise<void>) | undefined> {
  const locks = globalThis.navigator?.locks
  if (locks === undefined) return async () => {}
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  let granted: (got: boolean) => void = () => {}
  const answer = new Promise<boolean>(resolve => { granted = resolve })
  const request = locks.request(name, { ifAvailable: true }, async lock => {
    granted(lock !== null)
    if (lock !== null) await held
  })
  const got = await Promise.race([answer, request.then(() => false)])
  if (!got) return undefined
  return async () => { release(); await request }
}

export class BrowserKvV1 implements KvStore {
  readonly #db: BrowserLevel<string, Uint8Array>
  readonly #release: () => Promise<void>
  readonly #durability: IDBTransactionDurability
  #closed = false

  private constructor (db: BrowserLevel<string, Uint8Array>, release: () => Promise<void>, sync: boolean) {
    this.#db = db
    this.#release = release
    this.#durability = sync ? 'strict' : 'relaxed'
  }

  /** Open (creating if needed) the store named `name` in this origin's IndexedDB. */
  static async open (name: string, opts: BrowserKvOptions = {}): Promise<BrowserKvV1> {
    let release = async (): Promise<void> => {}
    if (opts.exclusive === true) {
      const got = await takeLock(`${BROWSER_KV_PREFIX}${name}`)
      if (got === undefined) throw new HubError('unavailable', `the store ${name} is in use by another tab or worker of this origin`, { name, reason: 'store_locked' })
      release = got
    }
    const db = new BrowserLevel<string, Uint8Array>(name, { prefix: BROWSER_KV_PREFIX, keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (err) {
      await release()
      throw new HubError('unavailable', `cannot open the IndexedDB store ${name}: ${(err as Error).message}`, { name }, { cause: err })
    }
    return new BrowserKvV1(db, release, opts.sync === true)
  }

  /** Delete the store named `name` (it must be closed). */
  static async destroy (name: string): Promise<void> {
    await BrowserLevel.destroy(name, BROWSER_KV_PREFIX)
  }

  /** Calls after close() fail typed (browser-level's own error is untyped, and a raw IDBDatabase throws InvalidStateError). */
  #open (): void {
    if (this.#closed) throw new StoreClosedError('IndexedDB')
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    this.#open()
    return await this.#db.get(key)
  }

  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    this.#open()
    if (keys.length === 0) return []
    return await this.#db.getMany(keys)
  }

  /**
   * One readwrite IndexedDB transaction: every op or none, in order.
   * Written here rather than through browser-level's batch, which waits
   * for each request before making the next (one round trip to the
   * browser's storage process per key: a create's ~15 keys cost ~4 ms);
   * IndexedDB runs a transaction's requests in the order they were made,
   * so placing them all at once keeps put/del order. Durability
   * `relaxed` unless `sync` (strict): committed to the OS, not fsynced —
   * LevelKv's default guarantee (survives a tab or browser crash, not
   * a power cut).
   */
  async batch (ops: KvOp[]): Promise<void> {
    this.#open()
    if (ops.length === 0) return
    // browser-level exposes its IDBDatabase as `db` (untyped in its .d.ts).
    const idb = (this.#db as unknown as { db: IDBDatabase }).db
    const tx = idb.transaction([this.#db.location], 'readwrite', { durability: this.#durability })
    const store = tx.objectStore(this.#db.location)
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => { resolve() }
      tx.onabort = () => { reject(new HubError('unavailable', `an IndexedDB write failed: ${tx.error?.message ?? 'aborted'}`, { reason: 'write_failed' }, { cause: tx.error })) }
    })
    try {
      for (const op of ops) {
        const key = utf8.encode(op.key)
        // A view into a larger buffer would be cloned whole: store exactly its bytes.
        if (op.type === 'put') store.put(op.value.byteOffset === 0 && op.value.byteLength === op.value.buffer.byteLength ? op.value : op.value.slice(), key)
        else store.delete(key)
      }
    } catch (err) {
      tx.abort()
      await done.catch(() => {})
      throw new HubError('unavailable', `an IndexedDB write failed: ${(err as Error).message}`, { reason: 'write_failed' }, { cause: err })
    }
    await done
  }

  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    this.#open()
    // Read whole, in one transaction: a snapshot of the range (module comment).
    const all = await this.#db.iterator(range).all()
    for (const e of all) yield e
  }

  async * keys (range: KvRange): AsyncIterable<string> {
    this.#open()
    const all = await this.#db.keys(range).all()
    yield * all
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      await this.#db.close()
    } finally {
      await this.#release()
    }
  }
}
