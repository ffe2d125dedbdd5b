/**
 * The two JWE formats of edge encryption (`protocols/encryption.md`):
 *
 * - **Key envelope**: a General JSON JWE (RFC 7516 §7.2.1) whose plaintext is
 *   a raw 32-byte content key, with one `ECDH-ES+A256KW` (X25519) recipient per
 *   reader and `A256GCM` content encryption.
 * - **Payload JWE**: a compact JWE (`alg: dir`, `enc: A256GCM`) of a commit
 *   payload under a content key, bound to the commit header through the
 *   `hub.aad` protected header parameter (SHA-256 of the caller's AAD).
 *
 * Composed here (ECDH-ES+A256KW, Concat KDF, A256GCM) on the synchronous
 * primitives of the platform seam (`#platform/crypto`: node:crypto under
 * Node, @noble in a browser; {@link jweOn} runs the same code on either),
 * and checked against `jose` and an independent implementation in the tests. Every input
 * is shape-checked strictly (jwe-format.ts) before any cryptography runs;
 * errors never carry key material. Pure functions apart from drawing random
 * bytes.
 *
 * Why not on `jose` (issue 12 asks for it): every jose encrypt and decrypt
 * is async (WebCrypto), and these functions are synchronous because their
 * callers are — the keyring opens envelopes inside a write-queue item that
 * must hand back its undo synchronously, and the tenant store and the SDK
 * seal payloads inside synchronous commit construction. Moving needs those
 * callers made async first. jose alone would not keep the format either:
 * with one recipient GeneralEncrypt moves `epk` into the protected header
 * (a variant the format rejects), and it cannot wrap an existing CEK for new
 * readers (addRecipients), so both would keep a small shim.
 */
import { platformCrypto } from '#platform/crypto'
import type { PlatformCrypto } from '../platform/crypto.js'
import { AuthenticationError, NotFoundError } from '../errors.js'
import { b64u, fromB64u, utf8 } from '../identity/encoding.js'
import { CONTENT_KEY_BYTES, importContentKey, type ContentKey } from './content-keys.js'
import {
  GCM_IV_BYTES, GCM_TAG_BYTES, JWE_ENC, KEY_ENVELOPE_ALG, KEY_ENVELOPE_CTY, KEY_ENVELOPE_KID_PARAM, PAYLOAD_AAD_PARAM,
  PAYLOAD_ALG, X25519_BYTES, bad, checkContentKey, checkNewRecipients, isObject, parseKeyEnvelope, parsePayloadJwe,
  type EnvelopeOpener, type EnvelopeRecipient, type KeyEnvelope, type KeyEnvelopeProtectedHeader,
  type KeyEnvelopeRecipientEntry, type ParsedKeyEnvelope, type PayloadProtectedHeader
} from './jwe-format.js'

// The format (constants, types, strict parsers) and the commit AAD have
// modules of their own; every name stays importable from here.
export {
  JWE_ENC, KEY_ENVELOPE_ALG, KEY_ENVELOPE_CTY, KEY_ENVELOPE_KID_PARAM, MAX_RECIPIENTS, MAX_RECIPIENT_KID, PAYLOAD_AAD_PARAM,
  PAYLOAD_ALG, parseKeyEnvelope, parsePayloadJwe, payloadContentKeyId,
  type EnvelopeOpener, type EnvelopeRecipient, type KeyEnvelope, type KeyEnvelopeProtectedHeader,
  type KeyEnvelopeRecipientEntry, type ParsedKeyEnvelope, type ParsedPayloadJwe, type PayloadProtectedHeader,
  type X25519PublicJwk
} from './jwe-format.js'
export { commitHeaderAad } from './commit-aad.js'

/** The JWE functions of this module, computed with the primitives of `c` (the default exports use the platform's). */
export interface JweFunctions {
  sealKeyEnvelope: typeof sealKeyEnvelope
  openKeyEnvelope: typeof openKeyEnvelope
  addRecipients: typeof addRecipients
  encryptPayload: typeof encryptPayload
  decryptPayload: typeof decryptPayload
}

// ---------------------------------------------------------------------------
// Composition on the primitives

function u32 (n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

export function jweOn (c: PlatformCrypto): JweFunctions {
  function gcmSeal (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array } {
    const iv = c.randomBytes(GCM_IV_BYTES)
    return { iv, ...c.aesGcmEncrypt(key, iv, plaintext, aad) }
  }

  /** AES-256-GCM open; `undefined` when authentication fails. */
  function gcmOpen (key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
    if (tag.length !== GCM_TAG_BYTES) return undefined
    return c.aesGcmDecrypt(key, iv, ciphertext, tag, aad)
  }

  /**
   * Concat KDF (NIST SP 800-56A, RFC 7518 §4.6.2) for a 256-bit key: one
   * SHA-256 round. AlgorithmID is the `alg` value (key agreement with key
   * wrapping); PartyUInfo and PartyVInfo are empty (no apu/apv).
   */
  function concatKdf (z: Uint8Array, alg: string): Uint8Array {
    const algId = utf8.encode(alg) // ASCII
    return c.sha256(u32(1), z, u32(algId.length), algId, u32(0), u32(0), u32(256))
  }

  /** Wrap the CEK for one recipient with a fresh ephemeral X25519 key. */
  function wrapFor (recipient: EnvelopeRecipient, cek: Uint8Array): KeyEnvelopeRecipientEntry {
    const eph = c.x25519Generate()
    let z: Uint8Array
    try {
      z = c.x25519SharedSecret(eph.privateKey, recipient.x25519PublicKey)
    } catch {
      // Low-order points (all-zero shared secret) are refused.
      throw bad('recipient key is not a usable X25519 public key', { kid: recipient.kid })
    }
    return {
      header: { alg: KEY_ENVELOPE_ALG, kid: recipient.kid, epk: { kty: 'OKP', crv: 'X25519', x: b64u(eph.publicKey) } },
      encrypted_key: b64u(c.aesKwWrap(concatKdf(z, KEY_ENVELOPE_ALG), cek))
    }
  }

  /** Unwrap the CEK from the entry addressed to `opener.kid`. */
  function unwrapFor (parsed: ParsedKeyEnvelope, opener: EnvelopeOpener): Uint8Array {
    if (!isObject(opener) || typeof opener.kid !== 'string') throw bad('an opener needs a kid')
    const priv = opener.x25519PrivateKey
    if (!(priv instanceof Uint8Array) || priv.length !== X25519_BYTES) throw bad('an X25519 private key is 32 bytes')
    const entry = parsed.envelope.recipients.find(r => r.header.kid === opener.kid)
    if (entry === undefined) {
      throw new NotFoundError('key envelope has no recipient with this kid', { kid: opener.kid, contentKeyId: parsed.contentKeyId })
    }
    let z: Uint8Array
    try {
      z = c.x25519SharedSecret(priv, fromB64u(entry.header.epk.x))
    } catch {
      throw new AuthenticationError('key envelope could not be decrypted', { kid: opener.kid })
    }
    const cek = c.aesKwUnwrap(concatKdf(z, KEY_ENVELOPE_ALG), fromB64u(entry.encrypted_key))
    if (cek === undefined || cek.length !== CONTENT_KEY_BYTES) {
      throw new AuthenticationError('key envelope could not be decrypted', { kid: opener.kid })
    }
    return cek
  }

  function aadDigest (aad: Uint8Array): Uint8Array {
    if (!(aad instanceof Uint8Array)) throw bad('additional authenticated data must be bytes')
    return c.sha256(aad)
  }

  // ---------------------------------------------------------------------------
  // Key envelopes

  /**
   * Seal a content key to readers: a General JSON JWE with a random CEK, the
   * content key as plaintext, and one ECDH-ES+A256KW recipient per reader.
   */
  function sealKeyEnvelope (contentKey: ContentKey, recipients: readonly EnvelopeRecipient[]): KeyEnvelope {
    checkContentKey(contentKey)
    if (!Array.isArray(recipients) || recipients.length === 0) throw bad('a key envelope needs at least one recipient')
    checkNewRecipients([], recipients)
    const header: KeyEnvelopeProtectedHeader = { enc: JWE_ENC, cty: KEY_ENVELOPE_CTY, [KEY_ENVELOPE_KID_PARAM]: contentKey.kid }
    const protectedB64 = b64u(JSON.stringify(header))
    const cek = c.randomBytes(CONTENT_KEY_BYTES)
    const entries = recipients.map(r => wrapFor(r, cek))
    const { iv, ciphertext, tag } = gcmSeal(cek, contentKey.key, utf8.encode(protectedB64))
    return { protected: protectedB64, recipients: entries, iv: b64u(iv), ciphertext: b64u(ciphertext), tag: b64u(tag) }
  }

  /**
   * Open a key envelope as one of its readers. `bad_request` for a malformed
   * envelope, `not_found` if no recipient has `recipient.kid`,
   * `authentication_failed` if unwrapping or decryption fails.
   */
  function openKeyEnvelope (jwe: unknown, recipient: EnvelopeOpener): ContentKey {
    const parsed = parseKeyEnvelope(jwe)
    const cek = unwrapFor(parsed, recipient)
    const e = parsed.envelope
    const key = gcmOpen(cek, fromB64u(e.iv), fromB64u(e.ciphertext), fromB64u(e.tag), utf8.encode(e.protected))
    if (key === undefined) throw new AuthenticationError('key envelope could not be decrypted', { kid: recipient.kid })
    return importContentKey(parsed.contentKeyId, key)
  }

  /**
   * Add readers to an existing envelope without touching the others: a current
   * reader (`holder`) unwraps the CEK, which is wrapped again for each new
   * reader. The protected header, IV, ciphertext and tag stay as they are.
   * (Removing a reader is a key rotation, not an envelope edit.)
   */
  function addRecipients (jwe: unknown, holder: EnvelopeOpener, recipients: readonly EnvelopeRecipient[]): KeyEnvelope {
    const parsed = parseKeyEnvelope(jwe)
    const cek = unwrapFor(parsed, holder)
    const e = parsed.envelope
    // Prove the CEK actually opens this envelope before extending it.
    if (gcmOpen(cek, fromB64u(e.iv), fromB64u(e.ciphertext), fromB64u(e.tag), utf8.encode(e.protected)) === undefined) {
      throw new AuthenticationError('key envelope could not be decrypted', { kid: holder.kid })
    }
    checkNewRecipients(parsed.recipients, recipients)
    return {
      protected: e.protected,
      recipients: [...e.recipients.map(r => ({ header: { ...r.header, epk: { ...r.header.epk } }, encrypted_key: r.encrypted_key })), ...recipients.map(r => wrapFor(r, cek))],
      iv: e.iv,
      ciphertext: e.ciphertext,
      tag: e.tag
    }
  }

  // ---------------------------------------------------------------------------
  // Payloads

  /**
   * Encrypt a commit payload under a content key: a compact JWE with protected
   * header `{"alg":"dir","enc":"A256GCM","kid":<content key id>,"hub.aad":<b64u(SHA-256(aad))>}`.
   * The GCM tag covers the protected header (RFC 7516 §5.1 step 14), so the
   * AAD is bound; pass {@link commitHeaderAad} of the commit header.
   */
  function encryptPayload (contentKey: ContentKey, plaintext: Uint8Array, aad: Uint8Array): string {
    checkContentKey(contentKey)
    if (!(plaintext instanceof Uint8Array)) throw bad('plaintext must be bytes')
    const header: PayloadProtectedHeader = { alg: PAYLOAD_ALG, enc: JWE_ENC, kid: contentKey.kid, [PAYLOAD_AAD_PARAM]: b64u(aadDigest(aad)) }
    const protectedB64 = b64u(JSON.stringify(header))
    const { iv, ciphertext, tag } = gcmSeal(contentKey.key, plaintext, utf8.encode(protectedB64))
    return `${protectedB64}..${b64u(iv)}.${b64u(ciphertext)}.${b64u(tag)}`
  }

  /**
   * Decrypt a payload JWE. `bad_request` if malformed; `authentication_failed`
   * if it names another content key, if the ciphertext, IV, tag or protected
   * header changed, or if it is bound to different AAD. Returns nothing unless
   * every check passed.
   */
  function decryptPayload (contentKey: ContentKey, jwe: string, aad: Uint8Array): Uint8Array {
    checkContentKey(contentKey)
    const p = parsePayloadJwe(jwe)
    const expected = aadDigest(aad)
    if (p.contentKeyId !== contentKey.kid) {
      throw new AuthenticationError('payload is sealed under a different content key', { kid: p.contentKeyId, expected: contentKey.kid })
    }
    const plaintext = gcmOpen(contentKey.key, p.iv, p.ciphertext, p.tag, utf8.encode(p.protected))
    if (plaintext === undefined) throw new AuthenticationError('payload could not be decrypted', { kid: p.contentKeyId })
    if (!c.timingSafeEqual(fromB64u(p.header[PAYLOAD_AAD_PARAM]), expected)) {
      throw new AuthenticationError('payload is bound to a different commit header', { kid: p.contentKeyId })
    }
    return plaintext
  }

  return { sealKeyEnvelope, openKeyEnvelope, addRecipients, encryptPayload, decryptPayload }
}

const onPlatform = jweOn(platformCrypto)

/**
 * Seal a content key to readers: a General JSON JWE with a random CEK, the
 * content key as plaintext, and one ECDH-ES+A256KW recipient per reader.
 */
export function sealKeyEnvelope (contentKey: ContentKey, recipients: readonly EnvelopeRecipient[]): KeyEnvelope {
  return onPlatform.sealKeyEnvelope(contentKey, recipients)
}

/**
 * Open a key envelope as one of its readers. `bad_request` for a malformed
 * envelope, `not_found` if no recipient has `recipient.kid`,
 * `authentication_failed` if unwrapping or decryption fails.
 */
export function openKeyEnvelope (jwe: unknown, recipient: EnvelopeOpener): ContentKey {
  return onPlatform.openKeyEnvelope(jwe, recipient)
}

/** Add readers to an existing envelope without touching the others (see the composition above). */
export function addRecipients (jwe: unknown, holder: EnvelopeOpener, recipients: readonly EnvelopeRecipient[]): KeyEnvelope {
  return onPlatform.addRecipients(jwe, holder, recipients)
}

/** Encrypt a commit payload under a content key, bound to `aad` (see the composition above). */
export function encryptPayload (contentKey: ContentKey, plaintext: Uint8Array, aad: Uint8Array): string {
  return onPlatform.encryptPayload(contentKey, plaintext, aad)
}

/** Decrypt a payload JWE (see the composition above). */
export function decryptPayload (contentKey: ContentKey, jwe: string, aad: Uint8Array): Uint8Array {
  return onPlatform.decryptPayload(contentKey, jwe, aad)
}
