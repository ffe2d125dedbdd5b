/**
 * Ed25519 key pairs on the platform seam (`#platform/crypto`: node:crypto
 * KeyObjects under Node — fast, and the private key never has to live in a
 * JS string — @noble in a browser). A key pair also yields the X25519
 * key-agreement pair the did:key method derives from it.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { platformCrypto } from '#platform/crypto'
import type { Ed25519PrivateKey } from '../platform/crypto.js'
import type { Did } from '../ids.js'
import { b64u, fromB64u } from './encoding.js'
import { didKeyFromPublicKey, didKeyFragment } from './did-key.js'

/** Node's `util.inspect.custom`, without importing node:util (a registered symbol). */
const INSPECT = Symbol.for('nodejs.util.inspect.custom')

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
  readonly #privateKey: Ed25519PrivateKey

  private constructor (seed: Uint8Array) {
    if (seed.length !== 32) throw new TypeError('an Ed25519 seed is 32 bytes')
    this.#seed = Uint8Array.from(seed)
    this.#privateKey = platformCrypto.ed25519PrivateKey(this.#seed)
    this.publicKey = this.#privateKey.publicKey
    this.did = didKeyFromPublicKey(this.publicKey)
    this.kid = `${this.did}#${didKeyFragment(this.did)}`
  }

  static generate (): Ed25519KeyPair { return new Ed25519KeyPair(platformCrypto.randomBytes(32)) }
  static fromSeed (seed: Uint8Array): Ed25519KeyPair { return new Ed25519KeyPair(seed) }

  /** Import an OKP/Ed25519 private JWK (the common interchange form). */
  static fromJwk (jwk: { kty?: unknown, crv?: unknown, d?: unknown }): Ed25519KeyPair {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string') {
      throw new TypeError('expected an OKP Ed25519 private JWK')
    }
    return new Ed25519KeyPair(fromB64u(jwk.d))
  }

  sign (data: Uint8Array): Uint8Array {
    return this.#privateKey.sign(data)
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
  [INSPECT] (): string { return `Ed25519KeyPair(${this.did})` }
  toString (): string { return `Ed25519KeyPair(${this.did})` }
}

/** Verify an Ed25519 signature over `data` with a raw 32-byte public key. */
export function verifyEd25519 (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  return platformCrypto.ed25519Verify(publicKey, data, signature)
}

/** {@link verifyEd25519}'s verdict, natively and off the main thread where the platform can (WebCrypto in a browser). */
export async function verifyEd25519Async (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return platformCrypto.ed25519VerifyAsync === undefined
    ? platformCrypto.ed25519Verify(publicKey, data, signature)
    : await platformCrypto.ed25519VerifyAsync(publicKey, data, signature)
}
