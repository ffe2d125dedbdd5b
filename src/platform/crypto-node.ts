/**
 * The Node implementation of the platform crypto seam (see crypto.ts):
 * node:crypto (OpenSSL) and Buffer. Private keys become KeyObjects once, and
 * verification keys are cached, because the hub signs and verifies
 * thousands of commits a second.
 */
import {
  createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman,
  generateKeyPairSync, hkdfSync, randomBytes, sign as nodeSign, timingSafeEqual, verify as nodeVerify, type KeyObject
} from 'node:crypto'
import type { Ed25519PrivateKey, PlatformCrypto, X25519KeyPair } from './crypto.js'
import { ed25519VerifyNoble, nativeMayJudge, withNobleRule } from './ed25519-rule.js'

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex')
const GCM_TAG_BYTES = 16

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
const b64u = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')

const publicKeyCache = new Map<string, KeyObject>()

/** OpenSSL's key for a raw Ed25519 public key, cached (also used by verify-pool-node.ts). */
export function ed25519PublicKeyObject (publicKey: Uint8Array): KeyObject | undefined {
  const cacheKey = b64u(publicKey)
  let key = publicKeyCache.get(cacheKey)
  if (key === undefined) {
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: cacheKey }, format: 'jwk' })
    } catch {
      return undefined
    }
    if (publicKeyCache.size > 10_000) publicKeyCache.clear()
    publicKeyCache.set(cacheKey, key)
  }
  return key
}

function x25519Public (raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(raw) }, format: 'jwk' })
}

function x25519Private (raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: 'der', type: 'pkcs8' })
}

function jwkX (key: KeyObject): Uint8Array {
  const x = key.export({ format: 'jwk' }).x
  if (typeof x !== 'string') throw new Error('could not export a public key')
  return u8(Buffer.from(x, 'base64url'))
}

export const platformCrypto: PlatformCrypto = {
  name: 'node',

  sha256 (...parts) {
    const h = createHash('sha256')
    for (const p of parts) h.update(p)
    return u8(h.digest())
  },
  hmacSha256: (key, data) => u8(createHmac('sha256', key).update(data).digest()),
  hkdfSha256: (ikm, salt, info, length) => new Uint8Array(hkdfSync('sha256', ikm, salt, info, length)),
  randomBytes: (n) => u8(randomBytes(n)),
  timingSafeEqual: (a, b) => a.length === b.length && timingSafeEqual(a, b),

  ed25519PrivateKey (seed): Ed25519PrivateKey {
    if (seed.length !== 32) throw new TypeError('an Ed25519 seed is 32 bytes')
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
    const publicKey = jwkX(createPublicKey(key))
    return { publicKey, sign: (data) => u8(nodeSign(null, data, key)) }
  },
  ed25519Verify (publicKey, data, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    // OpenSSL answers some edge cases otherwise than the hub's rule (ed25519-rule.ts): only its `true`, for a key it may judge, is taken.
    if (!nativeMayJudge(publicKey)) return ed25519VerifyNoble(publicKey, data, signature)
    const key = ed25519PublicKeyObject(publicKey)
    let native = false
    try {
      native = key !== undefined && nodeVerify(null, data, key, signature)
    } catch {
      native = false
    }
    return withNobleRule(publicKey, data, signature, native)
  },

  x25519Generate (): X25519KeyPair {
    const pair = generateKeyPairSync('x25519')
    const d = pair.privateKey.export({ format: 'jwk' }).d
    if (typeof d !== 'string') throw new Error('could not export a private key')
    return { privateKey: u8(Buffer.from(d, 'base64url')), publicKey: jwkX(pair.publicKey) }
  },
  x25519SharedSecret (privateKey, publicKey) {
    if (privateKey.length !== 32 || publicKey.length !== 32) throw new TypeError('an X25519 key is 32 bytes')
    // OpenSSL refuses low-order points (all-zero shared secret).
    return u8(diffieHellman({ privateKey: x25519Private(privateKey), publicKey: x25519Public(publicKey) }))
  },

  aesGcmEncrypt (key, iv, plaintext, aad) {
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES })
    cipher.setAAD(aad)
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return { ciphertext: u8(ciphertext), tag: u8(cipher.getAuthTag()) }
  },
  aesGcmDecrypt (key, iv, ciphertext, tag, aad) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES })
      decipher.setAAD(aad)
      decipher.setAuthTag(tag)
      return u8(Buffer.concat([decipher.update(ciphertext), decipher.final()]))
    } catch {
      return undefined
    }
  },
  aesKwWrap (kek, key) {
    const c = createCipheriv('id-aes256-wrap', kek, AES_KW_IV)
    return u8(Buffer.concat([c.update(key), c.final()]))
  },
  aesKwUnwrap (kek, wrapped) {
    try {
      const d = createDecipheriv('id-aes256-wrap', kek, AES_KW_IV)
      return u8(Buffer.concat([d.update(wrapped), d.final()]))
    } catch {
      return undefined
    }
  },

  base64urlEncode: b64u,
  base64urlDecode: (s) => u8(Buffer.from(s, 'base64url')),
  base64Encode: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
  base64Decode: (s) => u8(Buffer.from(s, 'base64')),
  utf8ByteLength: (s) => Buffer.byteLength(s, 'utf8')
}
