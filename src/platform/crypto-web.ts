/**
 * The browser implementation of the platform crypto seam (see crypto.ts):
 * @noble/hashes, @noble/ciphers and @noble/curves, all pure and
 * synchronous, with `crypto.getRandomValues` for randomness. Byte for byte
 * the same results as crypto-node.ts (test/isomorphic.test.ts).
 *
 * One exception to "pure": `ed25519VerifyAsync` asks the browser's native
 * WebCrypto Ed25519 first (~0.07 ms instead of @noble's ~0.4 ms on the main
 * thread, and it runs off it) — with exactly @noble's `zip215: false`
 * verdict, see ed25519-web.ts.
 */
import { gcm, aeskw } from '@noble/ciphers/aes.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import type { PlatformCrypto, X25519KeyPair } from './crypto.js'
import { ed25519Signer, ed25519VerifyNoble, ed25519VerifyWeb } from './ed25519-web.js'

const GCM_TAG_BYTES = 16
const encoder = new TextEncoder()
const bytesOf = (v: Uint8Array | string): Uint8Array => typeof v === 'string' ? encoder.encode(v) : v

function randomBytes (n: number): Uint8Array {
  const out = new Uint8Array(n)
  // getRandomValues fills at most 65536 bytes per call.
  for (let o = 0; o < n; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)))
  return out
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const DECODE = new Int16Array(128).fill(-1)
for (let i = 0; i < 64; i++) { DECODE[B64.charCodeAt(i)] = i; DECODE[B64U.charCodeAt(i)] = i }

function encode (bytes: Uint8Array, alphabet: string, pad: boolean): string {
  const parts: string[] = []
  let chunk = ''
  const n = bytes.length
  let i = 0
  for (; i + 2 < n; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    chunk += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]! + alphabet[(v >> 6) & 63]! + alphabet[v & 63]!
    if (chunk.length >= 8192) { parts.push(chunk); chunk = '' }
  }
  if (i < n) {
    const a = bytes[i] as number
    const b = i + 1 < n ? bytes[i + 1] as number : 0
    const v = (a << 16) | (b << 8)
    chunk += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]!
    chunk += i + 1 < n ? alphabet[(v >> 6) & 63]! : (pad ? '=' : '')
    if (pad) chunk += '='
  }
  parts.push(chunk)
  return parts.join('')
}

/** Lenient like Buffer: stops at `=`, skips characters outside the alphabet. */
function decode (s: string): Uint8Array {
  const out = new Uint8Array(Math.floor(s.length * 3 / 4) + 3)
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 61) break
    const v = c < 128 ? DECODE[c] as number : -1
    if (v < 0) continue
    acc = (acc << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  return out.slice(0, o)
}

function utf8ByteLength (s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++ } else n += 3
  }
  return n
}

export const platformCrypto: PlatformCrypto = {
  name: 'web',

  sha256 (...parts) {
    const h = sha256.create()
    for (const p of parts) h.update(bytesOf(p))
    return h.digest()
  },
  hmacSha256: (key, data) => hmac(sha256, key, data),
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, bytesOf(info), length),
  randomBytes,
  timingSafeEqual (a, b) {
    if (a.length !== b.length) return false
    let diff = 0
    for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
    return diff === 0
  },

  ed25519PrivateKey: ed25519Signer,
  ed25519Verify: ed25519VerifyNoble,
  ed25519VerifyAsync: ed25519VerifyWeb,

  x25519Generate (): X25519KeyPair {
    const privateKey = randomBytes(32)
    return { privateKey, publicKey: x25519.getPublicKey(privateKey) }
  },
  x25519SharedSecret (privateKey, publicKey) {
    if (privateKey.length !== 32 || publicKey.length !== 32) throw new TypeError('an X25519 key is 32 bytes')
    // noble throws for a low-order point (an all-zero shared secret), as OpenSSL does.
    return x25519.getSharedSecret(privateKey, publicKey)
  },

  aesGcmEncrypt (key, iv, plaintext, aad) {
    const sealed = gcm(key, iv, aad).encrypt(plaintext)
    const cut = sealed.length - GCM_TAG_BYTES
    return { ciphertext: sealed.slice(0, cut), tag: sealed.slice(cut) }
  },
  aesGcmDecrypt (key, iv, ciphertext, tag, aad) {
    if (tag.length !== GCM_TAG_BYTES) return undefined
    const sealed = new Uint8Array(ciphertext.length + GCM_TAG_BYTES)
    sealed.set(ciphertext)
    sealed.set(tag, ciphertext.length)
    try {
      return gcm(key, iv, aad).decrypt(sealed)
    } catch {
      return undefined
    }
  },
  aesKwWrap: (kek, key) => aeskw(kek).encrypt(key),
  aesKwUnwrap (kek, wrapped) {
    try {
      return aeskw(kek).decrypt(wrapped)
    } catch {
      return undefined
    }
  },

  base64urlEncode: (bytes) => encode(bytes, B64U, false),
  base64urlDecode: decode,
  base64Encode: (bytes) => encode(bytes, B64, true),
  base64Decode: decode,
  utf8ByteLength
}
