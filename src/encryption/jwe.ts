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
 * Written directly on node:crypto (synchronous, no WebCrypto) and checked
 * against `jose` and an independent implementation in the tests. Every input
 * is shape-checked strictly before any cryptography runs; errors never carry
 * key material. Pure functions apart from drawing random bytes.
 */
import {
  createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman,
  generateKeyPairSync, randomBytes, timingSafeEqual, type KeyObject
} from 'node:crypto'
import { AuthenticationError, BadRequestError, HubError, NotFoundError } from '../errors.js'
import { b64u, fromB64u, utf8, utf8d } from '../identity/encoding.js'
import { CONTENT_KEY_BYTES, importContentKey, isContentKeyId, type ContentKey } from './content-keys.js'

// ---------------------------------------------------------------------------
// Constants and types

export const JWE_ENC = 'A256GCM'
export const KEY_ENVELOPE_ALG = 'ECDH-ES+A256KW'
export const KEY_ENVELOPE_CTY = 'identity-hub-content-key'
/** Protected header parameter of a key envelope naming the content key it carries. */
export const KEY_ENVELOPE_KID_PARAM = 'hub.ckid'
export const PAYLOAD_ALG = 'dir'
/** Protected header parameter of a payload JWE: base64url(SHA-256(AAD)). */
export const PAYLOAD_AAD_PARAM = 'hub.aad'
/** Most recipients one key envelope may carry. */
export const MAX_RECIPIENTS = 1024
/** Longest recipient kid (same bound as a commit header's `kid`). */
export const MAX_RECIPIENT_KID = 512

const DID_URL = /^did:[a-z0-9]+:[^#\s]+#[^\s]+$/
const B64U = /^[A-Za-z0-9_-]*$/
const X25519_BYTES = 32
const GCM_IV_BYTES = 12
const GCM_TAG_BYTES = 16
const WRAPPED_KEY_BYTES = 40 // AES key wrap of a 32-byte CEK
const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex')
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

/** A reader a key envelope is sealed to: its keyAgreement key id (a DID URL) and raw X25519 public key. */
export interface EnvelopeRecipient {
  readonly kid: string
  readonly x25519PublicKey: Uint8Array
}

/** A reader opening a key envelope: its keyAgreement key id and raw X25519 private key. */
export interface EnvelopeOpener {
  readonly kid: string
  readonly x25519PrivateKey: Uint8Array
}

export interface X25519PublicJwk { kty: 'OKP', crv: 'X25519', x: string }

export interface KeyEnvelopeRecipientEntry {
  header: { alg: typeof KEY_ENVELOPE_ALG, kid: string, epk: X25519PublicJwk }
  encrypted_key: string
}

/** A key envelope: General JSON JWE serialization. */
export interface KeyEnvelope {
  protected: string
  recipients: KeyEnvelopeRecipientEntry[]
  iv: string
  ciphertext: string
  tag: string
}

export interface KeyEnvelopeProtectedHeader {
  enc: typeof JWE_ENC
  cty: typeof KEY_ENVELOPE_CTY
  'hub.ckid': string
}

export interface PayloadProtectedHeader {
  alg: typeof PAYLOAD_ALG
  enc: typeof JWE_ENC
  kid: string
  'hub.aad': string
}

/** A structurally valid key envelope; nothing about it is authenticated yet. */
export interface ParsedKeyEnvelope {
  readonly envelope: KeyEnvelope
  readonly header: KeyEnvelopeProtectedHeader
  /** Id of the content key inside (authenticated only once opened). */
  readonly contentKeyId: string
  /** Recipient kids, in envelope order. */
  readonly recipients: string[]
}

/** A structurally valid payload JWE; nothing about it is authenticated yet. */
export interface ParsedPayloadJwe {
  readonly header: PayloadProtectedHeader
  readonly contentKeyId: string
  readonly protected: string
  readonly iv: Uint8Array
  readonly ciphertext: Uint8Array
  readonly tag: Uint8Array
}

// ---------------------------------------------------------------------------
// Shape checks

type Json = Record<string, unknown>

function isObject (v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function bad (message: string, details?: Record<string, unknown>): BadRequestError {
  return new BadRequestError(message, details)
}

/** Exactly these members, all present; `what` names the object in messages. */
function exactKeys (obj: Json, keys: readonly string[], what: string): void {
  if ('zip' in obj) throw bad(`${what}: compression (zip) is not supported`)
  if ('crit' in obj) throw bad(`${what}: crit is not supported`)
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) throw bad(`${what}: unexpected member "${k.slice(0, 64)}"`)
  }
  for (const k of keys) {
    if (!(k in obj)) throw bad(`${what}: missing "${k}"`)
  }
}

function b64Field (v: unknown, what: string, length?: number): Uint8Array {
  if (typeof v !== 'string' || !B64U.test(v)) throw bad(`${what} is not base64url`)
  const bytes = fromB64u(v)
  // Reject non-canonical encodings (stray trailing bits), so one value has one text form.
  if (b64u(bytes) !== v) throw bad(`${what} is not canonical base64url`)
  if (length !== undefined && bytes.length !== length) throw bad(`${what} must be ${length} bytes`)
  return bytes
}

function jsonHeader (protectedB64: unknown, what: string): Json {
  const bytes = b64Field(protectedB64, `${what} protected header`)
  let value: unknown
  try {
    value = JSON.parse(utf8d.decode(bytes))
  } catch {
    throw bad(`${what} protected header is not UTF-8 JSON`)
  }
  if (!isObject(value)) throw bad(`${what} protected header is not a JSON object`)
  return value
}

function checkAlgEnc (h: Json, what: string, alg?: string): void {
  if ('alg' in h && alg !== undefined && h.alg !== alg) throw bad(`${what}: unsupported alg`, { alg: String(h.alg).slice(0, 32) })
  if ('enc' in h && h.enc !== JWE_ENC) throw bad(`${what}: unsupported enc`, { enc: String(h.enc).slice(0, 32) })
}

function checkContentKey (contentKey: ContentKey): void {
  if (!isObject(contentKey) || !isContentKeyId(contentKey.kid) ||
      !(contentKey.key instanceof Uint8Array) || contentKey.key.length !== CONTENT_KEY_BYTES) {
    throw bad('not a content key (kid "<tag>.<version>", 32 key bytes)')
  }
}

function checkRecipientKid (kid: unknown): asserts kid is string {
  if (typeof kid !== 'string' || kid.length > MAX_RECIPIENT_KID || !DID_URL.test(kid)) {
    throw bad('a recipient kid is a DID URL (did:…#fragment)', { kid: String(kid).slice(0, 128) })
  }
}

/** Parse and strictly check a key envelope (object or JSON text) without decrypting it. */
export function parseKeyEnvelope (input: unknown): ParsedKeyEnvelope {
  let value = input
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input)
    } catch {
      throw bad('key envelope is not valid JSON')
    }
  }
  if (!isObject(value)) throw bad('key envelope is not a JSON object')
  exactKeys(value, ['protected', 'recipients', 'iv', 'ciphertext', 'tag'], 'key envelope')

  const h = jsonHeader(value.protected, 'key envelope')
  checkAlgEnc(h, 'key envelope')
  exactKeys(h, ['enc', 'cty', KEY_ENVELOPE_KID_PARAM], 'key envelope protected header')
  if (h.cty !== KEY_ENVELOPE_CTY) throw bad('key envelope: unexpected cty')
  const contentKeyId = h[KEY_ENVELOPE_KID_PARAM]
  if (!isContentKeyId(contentKeyId)) throw bad(`key envelope: ${KEY_ENVELOPE_KID_PARAM} is not a content key id`)

  b64Field(value.iv, 'key envelope iv', GCM_IV_BYTES)
  b64Field(value.tag, 'key envelope tag', GCM_TAG_BYTES)
  b64Field(value.ciphertext, 'key envelope ciphertext', CONTENT_KEY_BYTES)

  const list = value.recipients
  if (!Array.isArray(list) || list.length === 0) throw bad('key envelope: recipients must be a non-empty array')
  if (list.length > MAX_RECIPIENTS) throw bad(`key envelope: more than ${MAX_RECIPIENTS} recipients`)
  const kids: string[] = []
  for (const r of list as unknown[]) {
    if (!isObject(r)) throw bad('key envelope: a recipient is not an object')
    exactKeys(r, ['header', 'encrypted_key'], 'key envelope recipient')
    const rh = r.header
    if (!isObject(rh)) throw bad('key envelope recipient: header is not an object')
    checkAlgEnc(rh, 'key envelope recipient', KEY_ENVELOPE_ALG)
    exactKeys(rh, ['alg', 'kid', 'epk'], 'key envelope recipient header')
    checkRecipientKid(rh.kid)
    const epk = rh.epk
    if (!isObject(epk)) throw bad('key envelope recipient: epk is not an object')
    exactKeys(epk, ['kty', 'crv', 'x'], 'key envelope recipient epk')
    if (epk.kty !== 'OKP' || epk.crv !== 'X25519') throw bad('key envelope recipient: epk must be an OKP X25519 key')
    b64Field(epk.x, 'key envelope recipient epk.x', X25519_BYTES)
    b64Field(r.encrypted_key, 'key envelope recipient encrypted_key', WRAPPED_KEY_BYTES)
    if (kids.includes(rh.kid)) throw bad('key envelope: duplicate recipient kid', { kid: rh.kid })
    kids.push(rh.kid)
  }
  return {
    envelope: value as unknown as KeyEnvelope,
    header: h as unknown as KeyEnvelopeProtectedHeader,
    contentKeyId,
    recipients: kids
  }
}

/** Parse and strictly check a compact payload JWE without decrypting it. */
export function parsePayloadJwe (jwe: unknown): ParsedPayloadJwe {
  if (typeof jwe !== 'string') throw bad('payload JWE is not a string')
  const parts = jwe.split('.')
  if (parts.length !== 5) throw bad('payload JWE is not a compact JWE (5 parts)')
  const [protectedB64, encryptedKey, ivB64, ctB64, tagB64] = parts as [string, string, string, string, string]
  const h = jsonHeader(protectedB64, 'payload JWE')
  checkAlgEnc(h, 'payload JWE', PAYLOAD_ALG)
  exactKeys(h, ['alg', 'enc', 'kid', PAYLOAD_AAD_PARAM], 'payload JWE protected header')
  if (!isContentKeyId(h.kid)) throw bad('payload JWE: kid is not a content key id')
  b64Field(h[PAYLOAD_AAD_PARAM], `payload JWE ${PAYLOAD_AAD_PARAM}`, 32)
  if (encryptedKey !== '') throw bad('payload JWE: encrypted key must be empty for alg "dir"')
  return {
    header: h as unknown as PayloadProtectedHeader,
    contentKeyId: h.kid,
    protected: protectedB64,
    iv: b64Field(ivB64, 'payload JWE iv', GCM_IV_BYTES),
    ciphertext: b64Field(ctB64, 'payload JWE ciphertext'),
    tag: b64Field(tagB64, 'payload JWE tag', GCM_TAG_BYTES)
  }
}

/** The content key id a payload JWE names (not authenticated until decrypted). */
export function payloadContentKeyId (jwe: string): string {
  return parsePayloadJwe(jwe).contentKeyId
}

// ---------------------------------------------------------------------------
// Primitives

function gcmSeal (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array } {
  const iv = randomBytes(GCM_IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES })
  cipher.setAAD(aad)
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return { iv, ciphertext, tag: cipher.getAuthTag() }
}

/** AES-256-GCM open; `undefined` when authentication fails. */
function gcmOpen (key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES })
    decipher.setAAD(aad)
    decipher.setAuthTag(tag)
    return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]))
  } catch {
    return undefined
  }
}

function x25519Public (raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(raw) }, format: 'jwk' })
}

function x25519Private (raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: 'der', type: 'pkcs8' })
}

function u32 (n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

/**
 * Concat KDF (NIST SP 800-56A, RFC 7518 §4.6.2) for a 256-bit key: one
 * SHA-256 round. AlgorithmID is the `alg` value (key agreement with key
 * wrapping); PartyUInfo and PartyVInfo are empty (no apu/apv).
 */
function concatKdf (z: Uint8Array, alg: string): Uint8Array {
  const algId = Buffer.from(alg, 'ascii')
  return createHash('sha256')
    .update(u32(1)).update(z)
    .update(u32(algId.length)).update(algId)
    .update(u32(0)).update(u32(0))
    .update(u32(256))
    .digest()
}

function aesKwWrap (kek: Uint8Array, cek: Uint8Array): Uint8Array {
  const c = createCipheriv('id-aes256-wrap', kek, AES_KW_IV)
  return Buffer.concat([c.update(cek), c.final()])
}

/** AES key unwrap; `undefined` when the integrity check fails. */
function aesKwUnwrap (kek: Uint8Array, wrapped: Uint8Array): Uint8Array | undefined {
  try {
    const d = createDecipheriv('id-aes256-wrap', kek, AES_KW_IV)
    return Buffer.concat([d.update(wrapped), d.final()])
  } catch {
    return undefined
  }
}

/** Check new recipients (kid, key length, no duplicates among themselves or with `existing`) before any work. */
function checkNewRecipients (existing: readonly string[], recipients: readonly EnvelopeRecipient[]): void {
  if (!Array.isArray(recipients)) throw bad('recipients must be an array')
  if (existing.length + recipients.length > MAX_RECIPIENTS) throw bad(`a key envelope has at most ${MAX_RECIPIENTS} recipients`)
  const kids = new Set(existing)
  for (const r of recipients as unknown[]) {
    if (!isObject(r)) throw bad('a recipient is not an object')
    checkRecipientKid(r.kid)
    const pub = r.x25519PublicKey
    if (!(pub instanceof Uint8Array) || pub.length !== X25519_BYTES) {
      throw bad('a recipient X25519 public key is 32 bytes', { kid: r.kid })
    }
    if (kids.has(r.kid)) throw bad('duplicate recipient kid', { kid: r.kid })
    kids.add(r.kid)
  }
}

/** Wrap the CEK for one recipient with a fresh ephemeral X25519 key. */
function wrapFor (recipient: EnvelopeRecipient, cek: Uint8Array): KeyEnvelopeRecipientEntry {
  const pub = recipient.x25519PublicKey
  const eph = generateKeyPairSync('x25519')
  let z: Uint8Array
  try {
    z = diffieHellman({ privateKey: eph.privateKey, publicKey: x25519Public(pub) })
  } catch {
    // OpenSSL refuses low-order points (all-zero shared secret).
    throw bad('recipient key is not a usable X25519 public key', { kid: recipient.kid })
  }
  const x = eph.publicKey.export({ format: 'jwk' }).x
  if (typeof x !== 'string') throw new HubError('internal', 'could not export an ephemeral key')
  return {
    header: { alg: KEY_ENVELOPE_ALG, kid: recipient.kid, epk: { kty: 'OKP', crv: 'X25519', x } },
    encrypted_key: b64u(aesKwWrap(concatKdf(z, KEY_ENVELOPE_ALG), cek))
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
    z = diffieHellman({ privateKey: x25519Private(priv), publicKey: x25519Public(fromB64u(entry.header.epk.x)) })
  } catch {
    throw new AuthenticationError('key envelope could not be decrypted', { kid: opener.kid })
  }
  const cek = aesKwUnwrap(concatKdf(z, KEY_ENVELOPE_ALG), fromB64u(entry.encrypted_key))
  if (cek === undefined || cek.length !== CONTENT_KEY_BYTES) {
    throw new AuthenticationError('key envelope could not be decrypted', { kid: opener.kid })
  }
  return cek
}

// ---------------------------------------------------------------------------
// Key envelopes

/**
 * Seal a content key to readers: a General JSON JWE with a random CEK, the
 * content key as plaintext, and one ECDH-ES+A256KW recipient per reader.
 */
export function sealKeyEnvelope (contentKey: ContentKey, recipients: readonly EnvelopeRecipient[]): KeyEnvelope {
  checkContentKey(contentKey)
  if (!Array.isArray(recipients) || recipients.length === 0) throw bad('a key envelope needs at least one recipient')
  checkNewRecipients([], recipients)
  const header: KeyEnvelopeProtectedHeader = { enc: JWE_ENC, cty: KEY_ENVELOPE_CTY, [KEY_ENVELOPE_KID_PARAM]: contentKey.kid }
  const protectedB64 = b64u(JSON.stringify(header))
  const cek = randomBytes(CONTENT_KEY_BYTES)
  const entries = recipients.map(r => wrapFor(r, cek))
  const { iv, ciphertext, tag } = gcmSeal(cek, contentKey.key, utf8.encode(protectedB64))
  return { protected: protectedB64, recipients: entries, iv: b64u(iv), ciphertext: b64u(ciphertext), tag: b64u(tag) }
}

/**
 * Open a key envelope as one of its readers. `bad_request` for a malformed
 * envelope, `not_found` if no recipient has `recipient.kid`,
 * `authentication_failed` if unwrapping or decryption fails.
 */
export function openKeyEnvelope (jwe: unknown, recipient: EnvelopeOpener): ContentKey {
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
export function addRecipients (jwe: unknown, holder: EnvelopeOpener, recipients: readonly EnvelopeRecipient[]): KeyEnvelope {
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

function aadDigest (aad: Uint8Array): Buffer {
  if (!(aad instanceof Uint8Array)) throw bad('additional authenticated data must be bytes')
  return createHash('sha256').update(aad).digest()
}

/**
 * Encrypt a commit payload under a content key: a compact JWE with protected
 * header `{"alg":"dir","enc":"A256GCM","kid":<content key id>,"hub.aad":<b64u(SHA-256(aad))>}`.
 * The GCM tag covers the protected header (RFC 7516 §5.1 step 14), so the
 * AAD is bound; pass {@link commitHeaderAad} of the commit header.
 */
export function encryptPayload (contentKey: ContentKey, plaintext: Uint8Array, aad: Uint8Array): string {
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
export function decryptPayload (contentKey: ContentKey, jwe: string, aad: Uint8Array): Uint8Array {
  checkContentKey(contentKey)
  const p = parsePayloadJwe(jwe)
  const expected = aadDigest(aad)
  if (p.contentKeyId !== contentKey.kid) {
    throw new AuthenticationError('payload is sealed under a different content key', { kid: p.contentKeyId, expected: contentKey.kid })
  }
  const plaintext = gcmOpen(contentKey.key, p.iv, p.ciphertext, p.tag, utf8.encode(p.protected))
  if (plaintext === undefined) throw new AuthenticationError('payload could not be decrypted', { kid: p.contentKeyId })
  if (!timingSafeEqual(fromB64u(p.header[PAYLOAD_AAD_PARAM]), expected)) {
    throw new AuthenticationError('payload is bound to a different commit header', { kid: p.contentKeyId })
  }
  return plaintext
}

// ---------------------------------------------------------------------------
// AAD of a commit

function canonical (v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw bad('commit header holds a non-finite number')
    return JSON.stringify(v)
  }
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (isObject(v)) {
    const keys = Object.keys(v).filter(k => v[k] !== undefined).sort()
    return `{${keys.map(k => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
  }
  throw bad('commit header holds a value JSON cannot represent')
}

/**
 * The AAD that binds an encrypted payload to its commit: UTF-8 of the
 * canonical JSON (RFC 8785 for these value types: members sorted by UTF-16
 * code units, no whitespace) of the whole commit protected header, i.e. the
 * header exactly as `signCommit` will sign it (`alg`, `kid`, …, `enc`, `tag`).
 * Every field is known before the payload is encrypted, and a reader
 * recomputes it from the parsed header.
 */
export function commitHeaderAad (header: object): Uint8Array {
  if (!isObject(header)) throw bad('commit header is not an object')
  return utf8.encode(canonical(header))
}
