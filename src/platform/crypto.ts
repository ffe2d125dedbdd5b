/**
 * The platform seam for cryptography and byte encodings: one interface, two
 * implementations chosen by the package.json subpath import
 * `#platform/crypto` — `crypto-node.ts` (node:crypto and Buffer: the hub's
 * path, thousands of signatures and seals a second) under Node, and
 * `crypto-web.ts` (@noble, pure and synchronous) under the `browser`
 * condition. Every function is synchronous, because its callers are (commit
 * construction, the keyring fold). test/isomorphic.test.ts runs one
 * conformance suite against both.
 *
 * This module holds only types; import the implementation as
 * `import { platformCrypto } from '#platform/crypto'`.
 */

/** An Ed25519 private key prepared for signing (the Node variant keeps a KeyObject). */
export interface Ed25519PrivateKey {
  readonly publicKey: Uint8Array
  sign (data: Uint8Array): Uint8Array
}

export interface X25519KeyPair {
  readonly privateKey: Uint8Array
  readonly publicKey: Uint8Array
}

export interface PlatformCrypto {
  /** `node` or `web`: which implementation this is. */
  readonly name: 'node' | 'web'

  /** SHA-256 of the concatenation of `parts` (strings as UTF-8). */
  sha256 (...parts: Array<Uint8Array | string>): Uint8Array
  hmacSha256 (key: Uint8Array, data: Uint8Array): Uint8Array
  /** HKDF-SHA256 (RFC 5869). */
  hkdfSha256 (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length: number): Uint8Array
  randomBytes (n: number): Uint8Array
  /** Constant-time equality; `false` for different lengths. */
  timingSafeEqual (a: Uint8Array, b: Uint8Array): boolean

  /** Prepare a 32-byte Ed25519 seed for signing. */
  ed25519PrivateKey (seed: Uint8Array): Ed25519PrivateKey
  /** Verify an Ed25519 signature; `false` (never a throw) for malformed keys or signatures. */
  ed25519Verify (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean
  /**
   * Optional: {@link ed25519Verify}'s exact verdict, computed where the
   * platform does it faster off the calling thread (WebCrypto in a browser).
   * Callers that may wait use it when present (verifyEd25519Async).
   */
  ed25519VerifyAsync? (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): Promise<boolean>

  x25519Generate (): X25519KeyPair
  /** X25519 ECDH. Throws for a low-order (or malformed) public key: the shared secret would be all zeros. */
  x25519SharedSecret (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array

  /** AES-256-GCM with a 16-byte tag. */
  aesGcmEncrypt (key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { ciphertext: Uint8Array, tag: Uint8Array }
  /** AES-256-GCM open; `undefined` when authentication fails. */
  aesGcmDecrypt (key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array): Uint8Array | undefined
  /** AES-256 key wrap (RFC 3394, default IV). */
  aesKwWrap (kek: Uint8Array, key: Uint8Array): Uint8Array
  /** AES-256 key unwrap; `undefined` when the integrity check fails. */
  aesKwUnwrap (kek: Uint8Array, wrapped: Uint8Array): Uint8Array | undefined

  /** base64url without padding. */
  base64urlEncode (bytes: Uint8Array): string
  /** base64url decode; the caller checks the alphabet first. */
  base64urlDecode (s: string): Uint8Array
  /** Standard base64 with padding. */
  base64Encode (bytes: Uint8Array): string
  base64Decode (s: string): Uint8Array
  /** Length of `s` in UTF-8 bytes (lone surrogates count as U+FFFD, 3 bytes). */
  utf8ByteLength (s: string): number
}
