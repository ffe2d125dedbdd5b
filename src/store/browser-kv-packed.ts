/**
 * Which keys the IndexedDB store (browser-kv.ts) packs, and how one
 * object's packed record changes under a batch. Pure functions, no
 * IndexedDB: unit-tested under Node (browser-kv-packed.test.ts).
 *
 * IndexedDB's cost is per record (~0.1 ms of structured clone and IPC a
 * put, whatever its size), and most of a hub object's records are index
 * entries: `t!<T>!i!…!<objectId>` (sort indexes) and
 * `t!<T>!x!…!<objectId>` (field indexes), ~11 of the ~15 keys a create
 * writes. The store keeps all index entries of one (tenant, object) in ONE
 * record, whose `k` array an IndexedDB `multiEntry` index keeps ordered
 * and range-scannable. The only thing relied on from the key layout
 * (layout.ts) is that shape: a tenant partition `t!<T>!` (T without `!`),
 * the kind `i` or `x`, and the object id after the key's last `!`. Which
 * index keys exist, and how many, is the layout's business: any key of
 * that shape is packed, whatever lies between the kind and the id.
 *
 * The rule is decided by the key alone, so every key lives in exactly one
 * of the two object stores, and the packed keys of a partition's kind are
 * exactly the keys starting with `t!<T>!i!` (or `x!`).
 */
import type { KvOp } from './kv.js'

/**
 * The record of one (tenant, object): the packed keys (in `ordKey` form,
 * the `multiEntry` index's key path) and, only when one of them has a
 * non-empty value, the values in the same order (the layout's index values
 * are all empty: most records have no `v`).
 *
 * Keys are strings, not UTF-8 bytes as in the plain object store: a range
 * read of the index returns whole records, and Chromium clones a short
 * string far faster than an ArrayBuffer (measured: a 1,000-entry read of
 * byte-keyed records took 5-10x longer than of the same keys unpacked).
 */
export interface PackedRecord {
  k: string[]
  v?: Uint8Array[]
}

const BANG = 0x21

/** The end (exclusive) of `t!<T>!i!` / `t!<T>!x!` when `key` starts with one, else -1. */
function packedAreaEnd (key: string): number {
  if (key.charCodeAt(0) !== 0x74 || key.charCodeAt(1) !== BANG) return -1
  const e = key.indexOf('!', 2)
  if (e < 0) return -1
  const kind = key.charCodeAt(e + 1)
  if ((kind !== 0x69 && kind !== 0x78) || key.charCodeAt(e + 2) !== BANG) return -1
  return e + 3
}

/**
 * The record a key belongs to — `t!<T>!<objectId>` — or undefined for a key
 * kept as a record of its own. (A key `t!<T>!i!…` always has a last `!`,
 * so the id is what follows it, possibly empty: the rule is total on the
 * packed area, which range reads rely on.)
 */
export function packedGroup (key: string): string | undefined {
  const end = packedAreaEnd(key)
  if (end < 0) return undefined
  return key.slice(0, end - 2) + key.slice(key.lastIndexOf('!') + 1)
}

/**
 * Which object stores a range [lower, upper] can meet: `packed` when both
 * bounds lie in one packed area (every key between them does too), `plain`
 * when both lie in an area no packed key can be in (the same first
 * character other than `t`, or the same `t!<T>!<kind>!` with another kind),
 * else `both`. Undefined bounds are open ends. Only an optimization: `both`
 * is always correct.
 */
export function rangeSides (lower: string | undefined, upper: string | undefined): 'plain' | 'packed' | 'both' {
  if (lower === undefined || upper === undefined || lower === '' || upper === '') return 'both'
  const pl = packedAreaEnd(lower)
  if (pl >= 0) return pl === packedAreaEnd(upper) && upper.startsWith(lower.slice(0, pl)) ? 'packed' : 'both'
  if (lower.charCodeAt(0) !== 0x74) return lower.charCodeAt(0) === upper.charCodeAt(0) ? 'plain' : 'both'
  const area = plainArea(lower)
  return area !== undefined && upper.startsWith(area) ? 'plain' : 'both'
}

/** `t!<T>!<kind>!` when `key` starts with one whose kind is neither `i` nor `x` (nor packed): no key under it is packed. */
function plainArea (key: string): string | undefined {
  if (!key.startsWith('t!')) return undefined
  const e = key.indexOf('!', 2)
  if (e < 0) return undefined
  const f = key.indexOf('!', e + 1)
  if (f < 0) return undefined
  const kind = key.slice(e + 1, f)
  return kind === 'i' || kind === 'x' ? undefined : key.slice(0, f + 1)
}

const EMPTY = new Uint8Array(0)

/**
 * A key as a string whose UTF-16 order (IndexedDB's order of strings) is
 * its UTF-8 byte order (the store's order): code units from U+E000 move
 * down by 0x800 and surrogates up by 0x2000, so every surrogate pair sorts
 * above every BMP character, as its code point does. Lone surrogates first
 * become U+FFFD, as TextEncoder makes them in the plain object store. Keys
 * without a character from U+D800 up (all the layout writes but escaped
 * values) are returned as they are.
 */
export function ordKey (key: string): string {
  if (!HIGH.test(key)) return key
  const w = key.toWellFormed()
  let out = ''
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i)
    out += String.fromCharCode(c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c)
  }
  return out
}

/** The key an `ordKey` string stands for. */
export function unordKey (s: string): string {
  if (!HIGH.test(s)) return s
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    out += String.fromCharCode(c >= 0xf800 ? c - 0x2000 : c >= 0xd800 ? c + 0x800 : c)
  }
  return out
}

const HIGH = /[\ud800-\uffff]/

/** Exactly the bytes of a view (a view into a larger buffer would be cloned whole). */
export function exactBytes (v: Uint8Array): Uint8Array {
  return v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v : v.slice()
}

/** The value the key `ord` (in `ordKey` form) has in `rec`, or undefined when it is not there. */
export function valueIn (rec: PackedRecord | undefined, ord: string): Uint8Array | undefined {
  if (rec === undefined) return undefined
  const i = rec.k.indexOf(ord)
  return i < 0 ? undefined : rec.v?.[i] ?? EMPTY
}

/**
 * `rec` (undefined: no record yet) after `ops` (all of this record's
 * keys, in batch order); undefined when no key is left (the record is
 * deleted).
 */
export function applyToRecord (rec: PackedRecord | undefined, ops: readonly KvOp[]): PackedRecord | undefined {
  const m = new Map<string, Uint8Array>()
  if (rec !== undefined) {
    for (let i = 0; i < rec.k.length; i++) m.set(rec.k[i] as string, rec.v?.[i] ?? EMPTY)
  }
  for (const op of ops) {
    if (op.type === 'del') m.delete(ordKey(op.key))
    else m.set(ordKey(op.key), exactBytes(op.value))
  }
  if (m.size === 0) return undefined
  const k = [...m.keys()]
  const v = [...m.values()]
  return v.some(x => x.byteLength > 0) ? { k, v } : { k }
}

/** Whether `x` is a record this store wrote (read back from IndexedDB, where anything may have been put). */
export function isPackedRecord (x: unknown): x is PackedRecord {
  if (typeof x !== 'object' || x === null) return false
  const r = x as { k?: unknown, v?: unknown }
  if (!Array.isArray(r.k) || !r.k.every(e => typeof e === 'string')) return false
  return r.v === undefined || (Array.isArray(r.v) && r.v.length === r.k.length && r.v.every(e => e instanceof Uint8Array))
}

/** Byte order (IndexedDB's order of binary keys, and UTF-8's of strings). */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return a.length - b.length
}
