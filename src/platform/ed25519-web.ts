/**
 * Ed25519 for crypto-web.ts (a helper of that module, not a seam of its
 * own: there is no `#platform/ed25519`).
 *
 * The acceptance rule is ed25519-rule.ts's (@noble's `zip215: false`);
 * `ed25519VerifyWeb` gets that verdict faster by asking WebCrypto's Ed25519
 * (BoringSSL in Chromium, off the main thread) first, under that module's
 * rule: a key it may not judge never reaches it, and only its `true` is
 * taken — a stricter WebCrypto (one that also refuses small-order R, as the
 * WebCrypto draft asks) changes nothing.
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
import { ed25519VerifyNoble, hexOf, nativeMayJudge } from './ed25519-rule.js'

export { ed25519VerifyNoble } from './ed25519-rule.js'

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
    if (!nativeMayJudge(publicKey, hex)) return undefined
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
