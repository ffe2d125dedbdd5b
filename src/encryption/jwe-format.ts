/**
 * The wire format of the two JWEs of edge encryption
 * (`protocols/encryption.md`): constants, types, and the strict shape checks
 * every input passes before any cryptography runs (exact members, no `zip`
 * or `crit`, canonical base64url, exact lengths, DID URL kids). Generic JOSE
 * libraries accept far more than this format allows, so these checks stay
 * ours whatever does the cryptography (jwe.ts). Pure, no crypto.
 */
import { BadRequestError } from '../errors.js'
import { b64u, fromB64u, utf8d } from '../identity/encoding.js'
import { CONTENT_KEY_BYTES, isContentKeyId, type ContentKey } from './content-keys.js'

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
export const X25519_BYTES = 32
export const GCM_IV_BYTES = 12
export const GCM_TAG_BYTES = 16
const WRAPPED_KEY_BYTES = 40 // AES key wrap of a 32-byte CEK

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

export type Json = Record<string, unknown>

export function isObject (v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function bad (message: string, details?: Record<string, unknown>): BadRequestError {
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

export function checkContentKey (contentKey: ContentKey): void {
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

/** Check new recipients (kid, key length, no duplicates among themselves or with `existing`) before any work. */
export function checkNewRecipients (existing: readonly string[], recipients: readonly EnvelopeRecipient[]): void {
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
