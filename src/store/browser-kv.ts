/**
 * IndexedDB implementation of KvStore, for the hub in a browser tab
 * (src/browser/). Keys are stored as UTF-8 bytes, which IndexedDB orders
 * byte by byte: LevelDB's order.
 *
 * Two object stores (browser-kv-idb.ts has the format and its migration):
 * every key in one record of its own, except the index entries
 * (`t!<T>!i!…!<objectId>`, `t!<T>!x!…!<objectId>`), which are kept as ONE
 * record per (tenant, object) in a second object store, under a
 * `multiEntry` index over their keys (browser-kv-packed.ts says why: a
 * create writes ~11 index entries, and IndexedDB's cost is per record).
 * Callers see one ordered map: reads of an index key look into its
 * object's record, range reads query the index and merge it with the
 * plain store in byte order, and a batch's puts and dels of index keys are
 * merged into their records by a read-modify-write inside the batch's own
 * readwrite transaction. IndexedDB runs readwrite transactions over the
 * same object store one after the other, so two batches touching one
 * object never interleave: the second reads the record the first wrote.
 *
 * IndexedDB is used directly, not through browser-level (which backed this
 * store until the format had a second object store): browser-level opens
 * its database with one object store at a fixed version and has no way to
 * create a second one, an index, or to run a migration in the upgrade
 * transaction, and the store had already bypassed it for batches (its batch
 * waits for each request before the next) and range reads (its iterators
 * are not snapshots).
 *
 * Snapshots. A LevelDB iterator reads one snapshot. Here every range is
 * read whole, both object stores in ONE readonly transaction, and then
 * yielded: each range read is a consistent snapshot, as under LevelDB
 * (browser-level's chunked iterators were not). The price is memory for
 * the range (the hub's ranges are an object's log, one index prefix, a
 * feed page); `limit` bounds it where callers set one. docs/architecture.md
 * lists the reads that rely on it.
 */
import { HubError } from '../errors.js'
import { applyToRecord, compareBytes, exactBytes, isPackedRecord, ordKey, packedGroup, rangeSides, unordKey, valueIn, type PackedRecord } from './browser-kv-packed.js'
import { compareUtf8 } from './utf8-order.js'
import { keyString, openStoreDatabase, PACKED_INDEX, packedStoreName, storedBytes } from './browser-kv-idb.js'
import { StoreClosedError, type KvOp, type KvRange, type KvStore } from './kv.js'

/** The IndexedDB database name prefix (browser-level's default is `level-js-`; databases written by it keep their names). */
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
  /**
   * Read ranges with cursors, as in a browser without `getAllRecords`
   * (IndexedDB 3.0; Chromium has it, other engines may not), even where
   * it is there: the fallback is tested in Chromium this way.
   */
  cursorReads?: boolean
}

/** IndexedDB 3.0's getAllRecords (not in TypeScript's DOM types yet). */
interface IdbRecord { key: IDBValidKey, primaryKey: IDBValidKey, value: unknown }
interface GetAllRecords {
  getAllRecords: (o: { query?: IDBKeyRange | null, count?: number, direction?: IDBCursorDirection }) => IDBRequest<IdbRecord[]>
}
function hasGetAllRecords<T extends object> (x: T): x is T & GetAllRecords {
  return typeof (x as Partial<GetAllRecords>).getAllRecords === 'function'
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

async function done<T> (r: IDBRequest<T>): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    r.onsuccess = () => { resolve(r.result) }
    r.onerror = () => { reject(r.error ?? new Error('IndexedDB request failed')) }
  })
}

/** Visit a cursor's entries until it ends or `visit` returns false (or throws: the read fails with its error). */
async function walk<C extends IDBCursor> (r: IDBRequest<C | null>, visit: (c: C) => boolean): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    r.onsuccess = () => {
      try {
        const c = r.result
        if (c === null || !visit(c)) resolve()
        else c.continue()
      } catch (err) { reject(err) }
    }
    r.onerror = () => { reject(r.error ?? new Error('IndexedDB cursor failed')) }
  })
}

const encoder = new TextEncoder()
/** Up to this `limit`, index keys are read with their records in one request rather than by key cursor (#readPacked). */
const SHORT_RANGE = 200

/** One side of a range read: keys in the read's order, values when asked for. */
interface Side { k: string[], v: Uint8Array[] }

interface Ranges {
  /** Over the plain object store's keys (UTF-8 bytes). */
  range: IDBKeyRange | null
  /** The same bounds over the packed records' keys (`ordKey` strings). */
  packed: IDBKeyRange | null
  lower?: string
  upper?: string
}

function bounds<K> (lo: K | undefined, hi: K | undefined, loOpen: boolean, hiOpen: boolean): IDBKeyRange | null {
  if (lo !== undefined && hi !== undefined) return IDBKeyRange.bound(lo, hi, loOpen, hiOpen)
  if (lo !== undefined) return IDBKeyRange.lowerBound(lo, loOpen)
  if (hi !== undefined) return IDBKeyRange.upperBound(hi, hiOpen)
  return null
}

/** IndexedDB key ranges for `r` ('empty' when its lower bound is above its upper one), with its string bounds. */
function keyRange (r: KvRange): Ranges | 'empty' {
  const lower = r.gte ?? r.gt
  const upper = r.lte ?? r.lt
  const lo = lower === undefined ? undefined : encoder.encode(lower)
  const hi = upper === undefined ? undefined : encoder.encode(upper)
  const loOpen = r.gte === undefined
  const hiOpen = r.lte === undefined
  if (lo !== undefined && hi !== undefined) {
    const c = compareBytes(lo, hi)
    if (c > 0 || (c === 0 && (loOpen || hiOpen))) return 'empty'
  }
  return {
    range: bounds(lo, hi, loOpen, hiOpen),
    packed: bounds(lower === undefined ? undefined : ordKey(lower), upper === undefined ? undefined : ordKey(upper), loOpen, hiOpen),
    ...(lower !== undefined ? { lower } : {}),
    ...(upper !== undefined ? { upper } : {})
  }
}

export class BrowserKv implements KvStore {
  readonly #db: IDBDatabase
  readonly #plain: string
  readonly #packed: string
  readonly #both: string[]
  readonly #release: () => Promise<void>
  readonly #durability: IDBTransactionDurability
  readonly #cursorReads: boolean
  #closed = false

  private constructor (db: IDBDatabase, plain: string, release: () => Promise<void>, opts: BrowserKvOptions) {
    this.#db = db
    this.#plain = plain
    this.#packed = packedStoreName(plain)
    this.#both = [this.#plain, this.#packed]
    this.#release = release
    this.#durability = opts.sync === true ? 'strict' : 'relaxed'
    this.#cursorReads = opts.cursorReads === true
  }

  /** Open (creating, or upgrading a store written by an earlier version) the store named `name` in this origin's IndexedDB. */
  static async open (name: string, opts: BrowserKvOptions = {}): Promise<BrowserKv> {
    let release = async (): Promise<void> => {}
    if (opts.exclusive === true) {
      const got = await takeLock(`${BROWSER_KV_PREFIX}${name}`)
      if (got === undefined) throw new HubError('unavailable', `the store ${name} is in use by another tab or worker of this origin`, { name, reason: 'store_locked' })
      release = got
    }
    let db: IDBDatabase
    try {
      db = await openStoreDatabase(`${BROWSER_KV_PREFIX}${name}`, name)
    } catch (err) {
      await release()
      if (err instanceof HubError) throw err
      throw new HubError('unavailable', `cannot open the IndexedDB store ${name}: ${(err as Error).message}`, { name }, { cause: err })
    }
    return new BrowserKv(db, name, release, opts)
  }

  /** Delete the store named `name` (it must be closed). */
  static async destroy (name: string): Promise<void> {
    await done(indexedDB.deleteDatabase(`${BROWSER_KV_PREFIX}${name}`))
  }

  /** Calls after close() fail typed (a closed IDBDatabase throws an untyped InvalidStateError). */
  #open (): void {
    if (this.#closed) throw new StoreClosedError('IndexedDB')
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    this.#open()
    const group = packedGroup(key)
    if (group === undefined) {
      return storedBytes(await done(this.#db.transaction(this.#plain, 'readonly').objectStore(this.#plain).get(encoder.encode(key))))
    }
    const rec = await done(this.#db.transaction(this.#packed, 'readonly').objectStore(this.#packed).get(ordKey(group)))
    return valueIn(this.#record(rec), ordKey(key))
  }

  /** All in one readonly transaction (one request per plain key, one per packed record), every request placed at once. */
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    this.#open()
    if (keys.length === 0) return []
    const tx = this.#db.transaction(this.#both, 'readonly')
    const plain = tx.objectStore(this.#plain)
    const packed = tx.objectStore(this.#packed)
    const out = new Array<Uint8Array | undefined>(keys.length)
    const records = new Map<string, Promise<PackedRecord | undefined>>()
    await Promise.all(keys.map(async (key, i) => {
      const group = packedGroup(key)
      if (group === undefined) {
        out[i] = storedBytes(await done(plain.get(encoder.encode(key))))
        return
      }
      let rec = records.get(group)
      if (rec === undefined) {
        rec = done(packed.get(ordKey(group))).then(r => this.#record(r))
        records.set(group, rec)
      }
      out[i] = valueIn(await rec, ordKey(key))
    }))
    return out
  }

  /** A packed record read back, checked (anything could have been put in the origin's IndexedDB). */
  #record (r: unknown): PackedRecord | undefined {
    if (r === undefined) return undefined
    if (!isPackedRecord(r)) throw new HubError('unavailable', 'the IndexedDB store holds a malformed index record', { reason: 'store_corrupt' })
    return r
  }

  /**
   * One readwrite IndexedDB transaction over both object stores: every op
   * or none, in order. The plain ops' requests are all placed at once
   * (IndexedDB runs a transaction's requests in the order they were made,
   * so put/del order holds); each touched packed record is read, and
   * written back with the batch's ops on its keys applied in order, from
   * the read's success callback, inside the same transaction (module
   * comment: this is what keeps two batches on one object apart).
   * Durability `relaxed` unless `sync` (strict): committed to the OS, not
   * fsynced — LevelKv's default guarantee (survives a tab or browser
   * crash, not a power cut).
   */
  async batch (ops: KvOp[]): Promise<void> {
    this.#open()
    if (ops.length === 0) return
    const groups = new Map<string, KvOp[]>()
    const plainOps: KvOp[] = []
    for (const op of ops) {
      const group = packedGroup(op.key)
      if (group === undefined) { plainOps.push(op); continue }
      const g = groups.get(group)
      if (g === undefined) groups.set(group, [op])
      else g.push(op)
    }
    // Over both object stores even when one would do: readwrite
    // transactions with overlapping scopes run in the order they were
    // made, so batches apply in call order, as on LevelDB.
    const tx = this.#db.transaction(this.#both, 'readwrite', { durability: this.#durability })
    let failure: unknown
    const fail = (err: unknown): void => {
      failure ??= err
      try { tx.abort() } catch { /* already finished: its own error is reported */ }
    }
    const finished = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => { resolve() }
      tx.onabort = () => {
        const cause = failure ?? tx.error
        reject(cause instanceof HubError ? cause : new HubError('unavailable', `an IndexedDB write failed: ${(cause as Error | null)?.message ?? 'aborted'}`, { reason: 'write_failed' }, { cause }))
      }
    })
    try {
      if (plainOps.length > 0) {
        const plain = tx.objectStore(this.#plain)
        for (const op of plainOps) {
          const key = encoder.encode(op.key)
          if (op.type === 'put') plain.put(exactBytes(op.value), key)
          else plain.delete(key)
        }
      }
      if (groups.size > 0) {
        const packed = tx.objectStore(this.#packed)
        for (const [group, gops] of groups) {
          const id = ordKey(group)
          const read = packed.get(id)
          read.onsuccess = () => {
            try {
              const rec = applyToRecord(this.#record(read.result), gops)
              if (rec === undefined) packed.delete(id)
              else packed.put(rec, id)
            } catch (err) { fail(err) }
          }
        }
      }
    } catch (err) {
      fail(err)
    }
    await finished
  }

  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    this.#open()
    const { k, v } = await this.#read(range, true)
    for (let i = 0; i < k.length; i++) yield [k[i] as string, v[i] as Uint8Array]
  }

  async * keys (range: KvRange): AsyncIterable<string> {
    this.#open()
    const { k } = await this.#read(range, false)
    yield * k
  }

  /** The whole range (up to `limit`), both object stores read in ONE readonly transaction (module comment), merged in byte order. */
  async #read (r: KvRange, values: boolean): Promise<Side> {
    const limit = r.limit === undefined || r.limit < 0 || !Number.isFinite(r.limit) ? undefined : Math.floor(r.limit)
    if (limit === 0) return { k: [], v: [] }
    const kr = keyRange(r)
    if (kr === 'empty') return { k: [], v: [] }
    const sides = rangeSides(kr.lower, kr.upper)
    const stores = sides === 'plain' ? [this.#plain] : sides === 'packed' ? [this.#packed] : this.#both
    const tx = this.#db.transaction(stores, 'readonly')
    const dir: IDBCursorDirection = r.reverse === true ? 'prev' : 'next'
    const none: Side = { k: [], v: [] }
    const [a, b] = await Promise.all([
      sides === 'packed' ? none : this.#readPlain(tx.objectStore(this.#plain), kr.range, limit, dir, values),
      sides === 'plain' ? none : this.#readPacked(tx.objectStore(this.#packed).index(PACKED_INDEX), kr.packed, limit, dir, values)
    ])
    if (b.k.length === 0) return a
    if (a.k.length === 0) return b
    return merge(a, b, r.reverse === true ? -1 : 1, limit ?? Infinity, values)
  }

  async #readPlain (store: IDBObjectStore, range: IDBKeyRange | null, count: number | undefined, dir: IDBCursorDirection, values: boolean): Promise<Side> {
    const out: Side = { k: [], v: [] }
    if (!values && dir === 'next') {
      for (const k of await done(store.getAllKeys(range, count))) out.k.push(keyString(k))
      return out
    }
    if (!this.#cursorReads && hasGetAllRecords(store)) {
      for (const rec of await done(store.getAllRecords({ query: range, ...(count !== undefined ? { count } : {}), direction: dir }))) {
        out.k.push(keyString(rec.key))
        if (values) out.v.push(storedBytes(rec.value) as Uint8Array)
      }
      return out
    }
    if (dir === 'next') {
      const [ks, vs] = await Promise.all([done(store.getAllKeys(range, count)), done(store.getAll(range, count))])
      for (const k of ks) out.k.push(keyString(k))
      for (const v of vs) out.v.push(storedBytes(v) as Uint8Array)
      return out
    }
    const max = count ?? Infinity
    if (values) {
      await walk(store.openCursor(range, dir), c => { out.k.push(keyString(c.key)); out.v.push(storedBytes(c.value) as Uint8Array); return out.k.length < max })
    } else {
      await walk(store.openKeyCursor(range, dir), c => { out.k.push(keyString(c.key)); return out.k.length < max })
    }
    return out
  }

  /**
   * Index keys in the range: the multiEntry index's keys are exactly the
   * packed keys, each in one record. A long run of keys alone (a query's
   * field-index scan) comes from a key cursor, which never reads the
   * records: getAllRecords reads each match's record (measured in
   * Chromium 156: 1,000 keys in 60-65 ms that way, 17-35 ms by key
   * cursor, 5-10 ms as plain records); a short one (a sort-index page,
   * `limit` ≤ 200) in one getAllRecords request (~1 ms for 50).
   */
  async #readPacked (index: IDBIndex, range: IDBKeyRange | null, count: number | undefined, dir: IDBCursorDirection, values: boolean): Promise<Side> {
    const out: Side = { k: [], v: [] }
    const push = (key: IDBValidKey, rec: unknown): void => {
      if (typeof key !== 'string') corrupt()
      out.k.push(unordKey(key))
      if (values) out.v.push(valueIn(this.#record(rec), key) ?? corrupt())
    }
    if ((values || (count !== undefined && count <= SHORT_RANGE)) && !this.#cursorReads && hasGetAllRecords(index)) {
      for (const rec of await done(index.getAllRecords({ query: range, ...(count !== undefined ? { count } : {}), direction: dir }))) push(rec.key, rec.value)
      return out
    }
    const max = count ?? Infinity
    if (values) {
      await walk(index.openCursor(range, dir), c => { push(c.key, c.value); return out.k.length < max })
    } else {
      await walk(index.openKeyCursor(range, dir), c => { push(c.key, undefined); return out.k.length < max })
    }
    return out
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      this.#db.close()
    } finally {
      await this.#release()
    }
  }
}

function corrupt (): never {
  throw new HubError('unavailable', 'the IndexedDB store\'s index does not match its records', { reason: 'store_corrupt' })
}

/** Two sides, each sorted in `dir` (1 ascending, -1 descending), merged up to `limit` (no key is on both sides). */
function merge (a: Side, b: Side, dir: 1 | -1, limit: number, values: boolean): Side {
  const out: Side = { k: [], v: [] }
  let i = 0
  let j = 0
  while (out.k.length < limit && (i < a.k.length || j < b.k.length)) {
    const takeA = j >= b.k.length || (i < a.k.length && compareUtf8(a.k[i] as string, b.k[j] as string) * dir < 0)
    if (takeA) {
      out.k.push(a.k[i] as string)
      if (values) out.v.push(a.v[i] as Uint8Array)
      i++
    } else {
      out.k.push(b.k[j] as string)
      if (values) out.v.push(b.v[j] as Uint8Array)
      j++
    }
  }
  return out
}
