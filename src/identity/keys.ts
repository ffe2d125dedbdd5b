/**
 * Ed25519 key pairs backed by node:crypto KeyObjects (fast, and the private
 * key never has to live in a JS string). A key pair also yields the X25519
 * key-agreement pair the did:key method derives from it.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { inspect } from 'node:util'
import { ed25519 } from '@noble/curves/ed25519.js'
import type { Did } from '../ids.js'
import { b64u, fromB64u } from './encoding.js'
import { didKeyFromPublicKey, didKeyFragment } from './did-key.js'

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** Anything that can produce an EdDSA signature under a DID key id. */
export interface Signer {
  readonly did: Did
  /** Full verification method id, `did#fragment`. */
  readonly kid: string
  sign (data: Uint8Array): Uint8Array
}

export class Ed25519KeyPair implements Signer {
  readonly publicKey: Uint8Array
  readonly did: Did
  readonly kid: string
  readonly #seed: Uint8Array
  readonly #privateKey: KeyObject

  private constructor (seed: Uint8Array) {
    if (seed.length !== 32) throw new TypeError('an Ed25519 seed is 32 bytes')
    this.#seed = Uint8Array.from(seed)
    this.#privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
    const jwk = createPublicKey(this.#privateKey).export({ format: 'jwk' })
    this.publicKey = fromB64u(String(jwk.x))
    this.did = didKeyFromPublicKey(this.publicKey)
    this.kid = `${this.did}#${didKeyFragment(this.did)}`
  }

  static generate (): Ed25519KeyPair { return new Ed25519KeyPair(randomBytes(32)) }
  static fromSeed (seed: Uint8Array): Ed25519KeyPair { return new Ed25519KeyPair(seed) }

  /** Import an OKP/Ed25519 private JWK (the common interchange form). */
  static fromJwk (jwk: { kty?: unknown, crv?: unknown, d?: unknown }): Ed25519KeyPair {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string') {
      throw new TypeError('expected an OKP Ed25519 private JWK')
    }
    return new Ed25519KeyPair(fromB64u(jwk.d))
  }

  sign (data: Uint8Array): Uint8Array {
    return nodeSign(null, data, this.#privateKey)
  }

  /** The 32-byte seed. Only the keystore should ever call this. */
  exportSeed (): Uint8Array { return Uint8Array.from(this.#seed) }

  privateJwk (): { kty: 'OKP', crv: 'Ed25519', x: string, d: string } {
    return { kty: 'OKP', crv: 'Ed25519', x: b64u(this.publicKey), d: b64u(this.#seed) }
  }

  publicJwk (): { kty: 'OKP', crv: 'Ed25519', x: string } {
    return { kty: 'OKP', crv: 'Ed25519', x: b64u(this.publicKey) }
  }

  /** X25519 key-agreement private key, derived as did:key specifies (RFC 8032 → RFC 7748). */
  x25519PrivateKey (): Uint8Array { return ed25519.utils.toMontgomerySecret(this.#seed) }
  x25519PublicKey (): Uint8Array { return ed25519.utils.toMontgomery(this.publicKey) }

  // Never let a private key reach a log line, an error or a JSON dump.
  toJSON (): { did: Did } { return { did: this.did } }
  [inspect.custom] (): string { return `Ed25519KeyPair(${this.did})` }
  toString (): string { return `Ed25519KeyPair(${this.did})` }
}

const publicKeyCache = new Map<string, KeyObject>()

/** Verify an Ed25519 signature over `data` with a raw 32-byte public key. */
export function verifyEd25519 (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  const cacheKey = Buffer.from(publicKey).toString('hex')
  let key = publicKeyCache.get(cacheKey)
  if (key === undefined) {
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(publicKey) }, format: 'jwk' })
    } catch {
      return false
    }
    if (publicKeyCache.size > 10_000) publicKeyCache.clear()
    publicKeyCache.set(cacheKey, key)
  }
  try {
    return nodeVerify(null, data, key, signature)
  } catch {
    return false
  }
}
