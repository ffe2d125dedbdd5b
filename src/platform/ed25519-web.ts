/**
 * Ed25519 for crypto-web.ts (a helper of that module, not a seam of its
 * own: there is no `#platform/ed25519`).
 *
 * The acceptance rule is @noble/curves' `zip215: false` verification and
 * nothing else: strict RFC 8032 decoding of A and R (y < p, no x = 0 with
 * the sign bit set), S < L, A not of small order, and the cofactored
 * equation. `ed25519VerifyWeb` gets exactly that verdict faster:
 *
 *  - a key whose bytes could be judged differently (a non-canonical y, an
 *    x = 0 point with the sign bit set, one of the eight small-order points)
 *    never reaches WebCrypto: @noble decides it;
 *  - otherwise WebCrypto's Ed25519 (BoringSSL in Chromium: cofactorless
 *    equation, S < L, the recomputed R compared byte for byte with the
 *    signature's, so a non-canonical R never passes) is asked. Its `true`
 *    implies @noble's: the cofactorless equation implies the cofactored one,
 *    and with canonical A and R both hash the same bytes;
 *  - its `false` (or any failure: no Ed25519 in this browser, a key it
 *    refuses to import) is NOT taken as the answer: @noble decides. So a
 *    stricter WebCrypto (one that also refuses small-order R, as the
 *    WebCrypto draft asks, or mixed-order keys under the cofactorless
 *    equation) changes nothing, and invalid signatures — rare, and a peer's
 *    fault — cost the old price once more.
 *
 * test/browser/ed25519-web.test.ts runs the edge vectors in Chromium and
 * checks WebCrypto's raw answer, @noble's, and this combination.
 *
 * Signing stays synchronous (`Signer.sign` is, on both platforms), with
 * @noble, but with the key's hashed scalar, prefix and public point derived
 * once instead of on every signature (@noble's `sign(msg, secret)` redoes a
 * SHA-512 and a base-point multiplication each time): the same RFC 8032
 * steps, so the same bytes (test/browser/ed25519-web.test.ts compares).
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { bytesToNumberLE } from '@noble/curves/utils.js'
import { sha512 } from '@noble/hashes/sha2.js'
import type { Ed25519PrivateKey } from './crypto.js'

const Point = ed25519.Point
const Fn = Point.Fn

/** L, reduced mod L: r and k are SHA-512 outputs read little-endian. */
const scalarOf = (hash: Uint8Array): bigint => Fn.create(bytesToNumberLE(hash))

/** An Ed25519 signing key from a 32-byte seed, its RFC 8032 expansion done once. */
export function ed25519Signer (seed: Uint8Array): Ed25519PrivateKey {
  if (seed.length !== 32) throw new TypeError('an Ed25519 seed is 32 bytes')
  const { prefix, scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(Uint8Array.from(seed))
  const publicKey = Uint8Array.from(pointBytes)
  return {
    publicKey,
    sign (data: Uint8Array): Uint8Array {
      // RFC 8032 5.1.6, as @noble's sign: r = H(prefix || M), R = [r]B, k = H(R || A || M), S = r + k·s mod L.
      const msg = Uint8Array.from(data)
      const r = scalarOf(sha512.create().update(prefix).update(msg).digest())
      const R = Point.BASE.multiply(r).toBytes()
      const k = scalarOf(sha512.create().update(R).update(publicKey).update(msg).digest())
      const out = new Uint8Array(64)
      out.set(R)
      out.set(Fn.toBytes(Fn.create(r + k * scalar)), 32)
      return out
    }
  }
}

/** The hub's Ed25519 acceptance rule (module comment). */
export function ed25519VerifyNoble (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  try {
    return ed25519.verify(signature, data, publicKey, { zip215: false })
  } catch {
    return false
  }
}

/**
 * The canonical encodings of the eight points of small order (the torsion
 * subgroup: orders 1, 2, 4, 4, 8, 8, 8, 8). test/browser/ed25519-web.test.ts
 * checks they are exactly that subgroup.
 */
export const SMALL_ORDER_KEYS: readonly string[] = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85'
]
/** x = 0 with the sign bit set (y = 1 and y = p − 1): non-canonical, @noble refuses them. */
const NEGATIVE_ZERO_X_KEYS = [
  '0100000000000000000000000000000000000000000000000000000000000080',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff'
]
const LEFT_TO_NOBLE = new Set([...SMALL_ORDER_KEYS, ...NEGATIVE_ZERO_X_KEYS])

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
function hexOf (b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += HEX[b[i] as number] as string
  return s
}

/** Whether y (the low 255 bits, little-endian) is ≥ p = 2^255 − 19, i.e. a non-canonical encoding. */
export function nonCanonicalY (b: Uint8Array): boolean {
  if (((b[31] as number) & 0x7f) !== 0x7f) return false
  for (let i = 30; i >= 1; i--) if (b[i] !== 0xff) return false
  return (b[0] as number) >= 0xed
}

/** Whether WebCrypto's verdict for this key may be taken (module comment): canonical and not of small order. */
export function webCryptoMayJudge (publicKey: Uint8Array, hex = hexOf(publicKey)): boolean {
  return publicKey.length === 32 && !nonCanonicalY(publicKey) && !LEFT_TO_NOBLE.has(hex)
}

/** undefined: WebCrypto lacks Ed25519 here (or has no `subtle`: not a secure context); decided at the first import. */
let webEd25519: boolean | undefined
const MAX_KEYS = 10_000
/** Imported verification keys by hex; undefined: left to @noble. */
const keys = new Map<string, Promise<CryptoKey | undefined>>()

function webKey (publicKey: Uint8Array): Promise<CryptoKey | undefined> | undefined {
  if (webEd25519 === false) return undefined
  const subtle = globalThis.crypto?.subtle
  if (subtle === undefined) { webEd25519 = false; return undefined }
  const hex = hexOf(publicKey)
  let key = keys.get(hex)
  if (key === undefined) {
    if (!webCryptoMayJudge(publicKey, hex)) return undefined
    key = subtle.importKey('raw', Uint8Array.from(publicKey), { name: 'Ed25519' }, false, ['verify']).then(
      k => { webEd25519 = true; return k },
      (err: unknown) => {
        // NotSupportedError: no Ed25519 in this browser's WebCrypto; anything else: this key only.
        if (webEd25519 === undefined && (err as { name?: string }).name === 'NotSupportedError') webEd25519 = false
        return undefined
      })
    if (keys.size >= MAX_KEYS) keys.clear()
    keys.set(hex, key)
  }
  return key
}

/** The verdict of {@link ed25519VerifyNoble}, from WebCrypto where it is the same (module comment). */
export async function ed25519VerifyWeb (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  const pending = webKey(publicKey)
  if (pending !== undefined) {
    try {
      const key = await pending
      // (A view of a SharedArrayBuffer makes WebCrypto throw: then @noble decides.)
      if (key !== undefined && await globalThis.crypto.subtle.verify({ name: 'Ed25519' }, key, signature as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>)) return true
    } catch {
      // Left to @noble below.
    }
  }
  return ed25519VerifyNoble(publicKey, data, signature)
}
