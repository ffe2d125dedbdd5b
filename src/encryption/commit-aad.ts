/**
 * The AAD that binds a payload JWE to its commit (`protocols/encryption.md`
 * "Binding to the commit header"): canonical JSON of the signed commit
 * header. Its bytes are part of every stored encrypted commit (their SHA-256
 * is the payload's `hub.aad`), so this serialization must never change.
 */
import { utf8 } from '../identity/encoding.js'
import { bad, isObject } from './jwe-format.js'


function canonical (v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw bad('commit header holds a non-finite number')
    return JSON.stringify(v)
  }
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (isObject(v)) {
    const keys = Object.keys(v).filter(k => v[k] !== undefined).sort()
    return `{${keys.map(k => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
  }
  throw bad('commit header holds a value JSON cannot represent')
}

/**
 * The AAD that binds an encrypted payload to its commit: UTF-8 of the
 * canonical JSON (RFC 8785 for these value types: members sorted by UTF-16
 * code units, no whitespace) of the whole commit protected header, i.e. the
 * header exactly as `signCommit` will sign it (`alg`, `kid`, …, `enc`, `tag`).
 * Every field is known before the payload is encrypted, and a reader
 * recomputes it from the parsed header.
 */
export function commitHeaderAad (header: object): Uint8Array {
  if (!isObject(header)) throw bad('commit header is not an object')
  return utf8.encode(canonical(header))
}
