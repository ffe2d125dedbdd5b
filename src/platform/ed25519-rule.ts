/**
 * The hub's Ed25519 acceptance rule, for every platform: @noble/curves'
 * `zip215: false` verification and nothing else — strict RFC 8032 decoding
 * of A and R (y < p, no x = 0 with the sign bit set), S < L, A not of small
 * order, and the cofactored equation.
 *
 * Native implementations are faster but answer some edge cases otherwise
 * (Chromium's WebCrypto and Node's OpenSSL alike: both ACCEPT signatures
 * forged for the eight small-order keys, the all-zero key among them, and
 * for non-canonical keys, and both REFUSE mixed-order R and mixed-order A
 * with 8 ∤ k, which @noble accepts). A hub in Node and one in a tab must
 * agree on every commit — otherwise a commit one stores is one the other
 * refuses, and the other's pull fails on that page every time — so a
 * native verdict is used only as {@link withNobleRule} says: its `true`
 * for a key it may judge (canonical, not of small order; with canonical A
 * and R the cofactorless equation it checks implies the cofactored one,
 * and both hash the same bytes), anything else is @noble's answer. Invalid
 * signatures, rare and a peer's fault, then cost @noble's price once more.
 *
 * test/ed25519-rule.test.ts (Node) and test/browser/ed25519-web.test.ts
 * (Chromium) run the edge vectors of test/fixtures/ed25519-vectors.ts.
 */
import { ed25519 } from '@noble/curves/ed25519.js'

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
export function hexOf (b: Uint8Array): string {
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

/** Whether a native implementation's `true` for this key may be taken (module comment): canonical and not of small order. */
export function nativeMayJudge (publicKey: Uint8Array, hex = hexOf(publicKey)): boolean {
  return publicKey.length === 32 && !nonCanonicalY(publicKey) && !LEFT_TO_NOBLE.has(hex)
}

/** The hub's verdict, given what a native implementation said (module comment). */
export function withNobleRule (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array, nativeSaid: boolean): boolean {
  return (nativeSaid && nativeMayJudge(publicKey)) || ed25519VerifyNoble(publicKey, data, signature)
}
