/** Small byte/encoding helpers shared by every format module. */
import { base58btc } from 'multiformats/bases/base58'
import { platformCrypto } from '#platform/crypto'

export const utf8 = new TextEncoder()
export const utf8d = new TextDecoder('utf-8', { fatal: true })

export function b64u (bytes: Uint8Array | string): string {
  return platformCrypto.base64urlEncode(typeof bytes === 'string' ? utf8.encode(bytes) : bytes)
}

const B64U = /^[A-Za-z0-9_-]*$/
/** Strict base64url decode: rejects padding and foreign characters. */
export function fromB64u (s: string): Uint8Array {
  if (!B64U.test(s)) throw new TypeError('not base64url')
  return platformCrypto.base64urlDecode(s)
}

export function multibaseEncode (bytes: Uint8Array): string {
  return base58btc.encode(bytes)
}

export function multibaseDecode (s: string): Uint8Array {
  return base58btc.decode(s)
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Standard (padded) base64, as the hub's JSON replies carry binary fields. */
export function b64 (bytes: Uint8Array): string {
  return platformCrypto.base64Encode(bytes)
}

/** Standard base64 decode (lenient, like Node's Buffer). */
export function fromB64 (s: string): Uint8Array {
  return platformCrypto.base64Decode(s)
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
/** Lower-case hex. */
export function hex (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += HEX[b] as string
  return s
}

/** Lower-case (or upper-case) hex to bytes; throws a TypeError for odd lengths or foreign characters. */
export function fromHex (s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(s)) throw new TypeError('not hex')
  const out = new Uint8Array(s.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** SHA-256 of a string (as UTF-8) in lower-case hex: the store's short names for tokens, actors and replay keys. */
export function sha256Hex (s: string): string {
  return hex(platformCrypto.sha256(s))
}
