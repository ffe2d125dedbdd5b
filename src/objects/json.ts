/** JSON value types and the checks a stored value must pass. */
import { platformCrypto } from '#platform/crypto'
import { BadRequestError, TooLargeError } from '../errors.js'

export type JsonPrimitive = string | number | boolean | null
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject
export interface JsonObject { [key: string]: JsonValue }

export function isJsonObject (v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Default maximum size of a stored value (serialized JSON): 1 MiB. */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024

/**
 * Check that `value` is a plain JSON object of bounded size and depth and
 * return its serialized length. Rejects what JSON cannot carry faithfully
 * (NaN, Infinity, undefined, functions, class instances).
 */
export function checkJsonObject (value: unknown, maxBytes = DEFAULT_MAX_VALUE_BYTES): number {
  if (!isJsonObject(value)) throw new BadRequestError('value must be a JSON object')
  checkPlain(value, 0)
  const size = platformCrypto.utf8ByteLength(JSON.stringify(value))
  if (size > maxBytes) throw new TooLargeError(`value is ${size} bytes, over the ${maxBytes}-byte limit`, { size, limit: maxBytes })
  return size
}

function checkPlain (v: unknown, depth: number): void {
  if (depth > 64) throw new BadRequestError('value is nested too deeply (max 64)')
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new BadRequestError('value contains a non-finite number')
    // Automerge stores integral numbers as 64-bit ints and cannot decode one
    // past 2^53 again: such a commit would be refused by every other hub.
    // JSON cannot carry them exactly either, so refuse them at the edge.
    if (Number.isInteger(v) && !Number.isSafeInteger(v)) throw new BadRequestError(`value contains the integer ${v}, outside ±(2^53−1); store it as a string`)
    return
  }
  if (Array.isArray(v)) { for (const x of v) checkPlain(x, depth + 1); return }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) checkPlain(x, depth + 1)
    return
  }
  throw new BadRequestError(`value contains a non-JSON ${typeof v}`)
}

/** `@context` and `@type` of a Collections value; both must be non-empty strings. */
export function contextAndType (value: JsonObject): { context: string, type: string } {
  const context = value['@context']
  const type = value['@type']
  if (typeof context !== 'string' || context === '') throw new BadRequestError('value must carry a string "@context"')
  if (typeof type !== 'string' || type === '') throw new BadRequestError('value must carry a string "@type"')
  if (context.length > 512 || type.length > 256) throw new BadRequestError('"@context" or "@type" is too long')
  return { context, type }
}

export function deepEqual (a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i] as JsonValue))
  }
  const ao = a as JsonObject
  const bo = b as JsonObject
  const ak = Object.keys(ao)
  if (ak.length !== Object.keys(bo).length) return false
  return ak.every(k => Object.hasOwn(bo, k) && deepEqual(ao[k] as JsonValue, bo[k] as JsonValue))
}
