/**
 * Opening the IndexedDB database behind one BrowserKv (browser-kv.ts), and
 * its format versions:
 *
 *   1  (written by browser-level, the store up to issue 15's second round):
 *      one object store named after the store, every key a record (key =
 *      its UTF-8 bytes, value = the bytes).
 *   2  the same object store for every key but the index entries, plus
 *      `<name>!packed`: one record per (tenant, object), under the key
 *      `ordKey('t!<T>!<objectId>')`, holding that object's `t!<T>!i!…` /
 *      `t!<T>!x!…` keys (browser-kv-packed.ts: `ordKey` strings, values
 *      only when one is non-empty), with the `multiEntry` index `k` over
 *      them.
 *
 * Opening a version-1 database upgrades it in IndexedDB's versionchange
 * transaction, which also moves every existing index entry into its
 * object's packed record: all of it or, if the page dies midway, none
 * (the database stays at version 1 and the next open upgrades it again).
 */
import { HubError } from '../errors.js'
import { applyToRecord, ordKey, packedGroup } from './browser-kv-packed.js'
import type { KvOp } from './kv.js'

export const FORMAT_VERSION = 2
/** The multiEntry index over the packed records' keys. */
export const PACKED_INDEX = 'k'

export function packedStoreName (plain: string): string {
  return `${plain}!packed`
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A stored value as bytes (browser-level wrote Uint8Arrays; level-js before 5 wrote strings or ArrayBuffers). */
export function storedBytes (v: unknown): Uint8Array | undefined {
  if (v === undefined) return undefined
  if (v instanceof Uint8Array) return v
  if (v instanceof ArrayBuffer) return new Uint8Array(v)
  if (typeof v === 'string') return encoder.encode(v)
  throw new HubError('unavailable', 'the IndexedDB store holds a value that is not bytes', { reason: 'store_corrupt' })
}

/** A binary IndexedDB key (an ArrayBuffer when read back) as the store's string key. */
export function keyString (k: IDBValidKey | Uint8Array): string {
  if (k instanceof ArrayBuffer) return decoder.decode(new Uint8Array(k))
  if (ArrayBuffer.isView(k)) return decoder.decode(k)
  throw new HubError('unavailable', 'the IndexedDB store holds a key that is not bytes', { reason: 'store_corrupt' })
}

export function keyBytes (k: IDBValidKey): Uint8Array {
  if (k instanceof ArrayBuffer) return new Uint8Array(k)
  if (k instanceof Uint8Array) return k
  if (ArrayBuffer.isView(k)) return new Uint8Array(k.buffer, k.byteOffset, k.byteLength)
  throw new HubError('unavailable', 'the IndexedDB store holds a key that is not bytes', { reason: 'store_corrupt' })
}

/** Open (creating or upgrading) the database `dbName` whose plain object store is `plain`. */
export async function openStoreDatabase (dbName: string, plain: string): Promise<IDBDatabase> {
  return await new Promise<IDBDatabase>((resolve, reject) => {
    let settled = false
    let upgradeError: unknown
    const request = indexedDB.open(dbName, FORMAT_VERSION)
    request.onupgradeneeded = ev => {
      const db = request.result
      const tx = request.transaction
      if (tx === null) return
      if (!db.objectStoreNames.contains(plain)) db.createObjectStore(plain)
      const packedName = packedStoreName(plain)
      if (!db.objectStoreNames.contains(packedName)) db.createObjectStore(packedName).createIndex(PACKED_INDEX, PACKED_INDEX, { multiEntry: true })
      if (ev.oldVersion === 1) {
        migrateV1(tx, plain, packedName, err => {
          upgradeError = err
          try { tx.abort() } catch { /* already finished: its own error is reported */ }
        })
      }
    }
    request.onsuccess = () => {
      const db = request.result
      // Settled already (blocked): nobody will use this connection.
      if (settled) { db.close(); return }
      settled = true
      resolve(db)
    }
    request.onerror = () => {
      if (settled) return
      settled = true
      reject(upgradeError ?? request.error ?? new Error('IndexedDB open failed'))
    }
    // Another connection at version 1 (a tab still running the previous
    // version) holds the database: the upgrade waits for it to close.
    // Refused now rather than hanging; if the wait ends later, the
    // connection is closed again at once (above).
    request.onblocked = () => {
      if (settled) return
      settled = true
      reject(new HubError('unavailable', `the IndexedDB store ${dbName} is open in another tab running an older version; close it and retry`, { reason: 'store_upgrade_blocked' }))
    }
  })
}

/**
 * Inside the versionchange transaction: every packed key of the plain
 * store moves into its object's packed record. Only keys under `t!` can
 * be packed; their keys are read once, and each maximal run of
 * consecutive packed keys is read and deleted as one key range (nothing
 * else lies between its first and last key).
 */
function migrateV1 (tx: IDBTransaction, plain: string, packedName: string, fail: (err: unknown) => void): void {
  const store = tx.objectStore(plain)
  const packed = tx.objectStore(packedName)
  const area = IDBKeyRange.bound(encoder.encode('t!'), encoder.encode('t"'), false, true)
  store.getAllKeys(area).onsuccess = ev => {
    try {
      const keys = (ev.target as IDBRequest<IDBValidKey[]>).result
      const runs: Array<{ first: IDBValidKey, last: IDBValidKey, keys: string[], group: Array<string | undefined> }> = []
      let run: (typeof runs)[number] | undefined
      for (const raw of keys) {
        const key = keyString(raw)
        const group = packedGroup(key)
        if (group === undefined) { run = undefined; continue }
        if (run === undefined) { run = { first: raw, last: raw, keys: [], group: [] }; runs.push(run) }
        run.last = raw
        run.keys.push(key)
        run.group.push(group)
      }
      const byGroup = new Map<string, KvOp[]>()
      let pending = runs.length
      const writeRecords = (): void => {
        for (const [group, ops] of byGroup) {
          const rec = applyToRecord(undefined, ops)
          if (rec !== undefined) packed.put(rec, ordKey(group))
        }
      }
      if (pending === 0) return
      for (const r of runs) {
        const range = IDBKeyRange.bound(r.first, r.last)
        store.getAll(range).onsuccess = e => {
          try {
            const values = (e.target as IDBRequest<unknown[]>).result
            if (values.length !== r.keys.length) throw new Error('the key run changed during the upgrade')
            for (let i = 0; i < r.keys.length; i++) {
              const group = r.group[i] as string
              let ops = byGroup.get(group)
              if (ops === undefined) { ops = []; byGroup.set(group, ops) }
              ops.push({ type: 'put', key: r.keys[i] as string, value: storedBytes(values[i]) ?? new Uint8Array(0) })
            }
            store.delete(range)
            if (--pending === 0) writeRecords()
          } catch (err) { fail(err) }
        }
      }
    } catch (err) { fail(err) }
  }
}
