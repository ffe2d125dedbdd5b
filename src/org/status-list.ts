/**
 * Credential status lists, the pure part: reading a credential's
 * `credentialStatus` entries, decoding a status list credential's bitstring
 * and deciding what an entry's bit says. No I/O; fetching, verifying and
 * caching the list credentials is `status-checker.ts`.
 *
 * Two formats, both "one bit per credential in a GZIP-compressed
 * bitstring, bit 0 = the most significant bit of byte 0":
 *  - W3C Bitstring Status List v1.0: entry `BitstringStatusListEntry`,
 *    list subject `BitstringStatusList`, `encodedList` = multibase base64url
 *    (`u` prefix, no padding);
 *  - its predecessor StatusList2021 (W3C CCG): entry `StatusList2021Entry`,
 *    list subject `StatusList2021`, `encodedList` = base64url, no prefix.
 *
 * Only the `revocation` and `suspension` purposes can keep a credential out
 * of a presentation; other purposes (`message`, `refresh`…) carry no such
 * meaning and are ignored without being fetched.
 */
import { gunzipSync, gzipSync } from 'node:zlib'
import { BadRequestError, TooLargeError } from '../errors.js'
import { b64u, fromB64u } from '../identity/encoding.js'
import type { JwtPayload } from './jwt.js'

export type StatusListFormat = 'BitstringStatusList' | 'StatusList2021'

/** The purposes whose set bit means "do not present". */
export type BlockingPurpose = 'revocation' | 'suspension'

/** One `credentialStatus` entry that can keep its credential out of a presentation. */
export interface StatusEntry {
  format: StatusListFormat
  purpose: BlockingPurpose
  /** `statusListIndex`: the bit to read. */
  index: number
  /** `statusListCredential`, as an absolute http(s) URL (normalised by the URL parser). */
  listUrl: string
}

/** An entry that is present but not checked, and why. */
export interface IgnoredEntry {
  type: string
  purpose?: string
  why: 'unknown_type' | 'non_blocking_purpose'
}

export interface CredentialStatusEntries {
  /** Entries to check: every one must come back clear for the credential to be presented. */
  entries: StatusEntry[]
  ignored: IgnoredEntry[]
}

/** A decoded status list credential subject. */
export interface StatusList {
  format: StatusListFormat
  /** The list's `statusPurpose` (one or more). An entry must name one of them. */
  purposes: string[]
  /** The uncompressed bitstring. */
  bits: Uint8Array
  /** `credentialSubject.ttl` (Bitstring Status List: milliseconds the list may be cached), when given. */
  ttlMs?: number
  /** The list credential's own `id`, when given. */
  id?: string
}

/**
 * Largest uncompressed bitstring accepted: 16 MiB = 134 million entries,
 * far beyond any real list (the spec's minimum is 16 KiB), while a few KiB
 * of hostile GZIP could otherwise inflate to gigabytes.
 */
export const MAX_BITSTRING_BYTES = 16 * 1024 * 1024

/**
 * Entries of a Bitstring Status List the spec requires at least (16 KiB):
 * a smaller list would tell a verifier more about which credential it is
 * looking at ("herd privacy"). The hub's own lists have exactly this size.
 */
export const MIN_BITSTRING_ENTRIES = 131_072

const ENTRY_TYPES: Record<string, StatusListFormat> = {
  BitstringStatusListEntry: 'BitstringStatusList',
  StatusList2021Entry: 'StatusList2021'
}

const LIST_CREDENTIAL_TYPES: Record<StatusListFormat, string> = {
  BitstringStatusList: 'BitstringStatusListCredential',
  StatusList2021: 'StatusList2021Credential'
}

const BLOCKING: readonly string[] = ['revocation', 'suspension'] satisfies BlockingPurpose[]

/** GZIP's magic number in base64url: every GZIP stream's encoding starts with it. */
const GZIP_B64U_PREFIX = 'H4sI'

function bad (message: string, details?: Record<string, unknown>): BadRequestError {
  return new BadRequestError(message, details)
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function typesOf (v: unknown): string[] {
  if (typeof v === 'string') return [v]
  if (Array.isArray(v)) return v.filter((t): t is string => typeof t === 'string')
  return []
}

/**
 * `statusListIndex`: the spec says a base-10 string; a JSON number is taken
 * too (some issuers emit one), as long as it is a non-negative integer.
 * Anything past 2^53 cannot be inside a bounded list anyway, so it is
 * refused here rather than silently rounded.
 */
function parseIndex (v: unknown): number {
  const n = typeof v === 'string' && /^[0-9]{1,16}$/.test(v) ? Number(v) : typeof v === 'number' ? v : NaN
  if (!Number.isSafeInteger(n) || n < 0) throw bad('credentialStatus.statusListIndex is not a non-negative integer', { statusListIndex: v })
  return n
}

function parseListUrl (v: unknown): string {
  if (typeof v !== 'string' || v === '') throw bad('credentialStatus.statusListCredential is not a URL')
  let u: URL
  try {
    u = new URL(v)
  } catch {
    throw bad('credentialStatus.statusListCredential is not a URL', { statusListCredential: v })
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw bad('credentialStatus.statusListCredential is not an http(s) URL', { statusListCredential: v })
  return u.href
}

/**
 * The entries of a credential's `credentialStatus` (one object or an array
 * of them). Entries of types we do not know are returned as ignored: the
 * holder cannot check them, and refusing to ever present such a credential
 * would be worse than letting the verifier check it. A *known* entry with a
 * blocking purpose that is malformed throws {@link BadRequestError}: the
 * issuer meant its status to be checkable, so the caller fails closed.
 */
export function statusEntries (credentialStatus: unknown): CredentialStatusEntries {
  const out: CredentialStatusEntries = { entries: [], ignored: [] }
  if (credentialStatus === undefined || credentialStatus === null) return out
  const list = Array.isArray(credentialStatus) ? credentialStatus : [credentialStatus]
  for (const [i, e] of list.entries()) {
    if (!isObject(e)) throw bad(`credentialStatus[${i}] is not an object`)
    const types = typesOf(e.type)
    const typeName = types.find(t => ENTRY_TYPES[t] !== undefined)
    if (typeName === undefined) {
      out.ignored.push({ type: types.join(',') || '(none)', why: 'unknown_type', ...(typeof e.statusPurpose === 'string' ? { purpose: e.statusPurpose } : {}) })
      continue
    }
    const format = ENTRY_TYPES[typeName] as StatusListFormat
    if (typeof e.statusPurpose !== 'string' || e.statusPurpose === '') throw bad(`credentialStatus[${i}].statusPurpose is not a string`)
    if (!BLOCKING.includes(e.statusPurpose)) {
      out.ignored.push({ type: typeName, purpose: e.statusPurpose, why: 'non_blocking_purpose' })
      continue
    }
    // statusSize > 1 is for multi-valued `message` statuses; one bit is all a revocation or suspension can mean.
    if (e.statusSize !== undefined && e.statusSize !== 1) throw bad(`credentialStatus[${i}].statusSize must be 1 for ${e.statusPurpose}`, { statusSize: e.statusSize })
    out.entries.push({
      format,
      purpose: e.statusPurpose as BlockingPurpose,
      index: parseIndex(e.statusListIndex),
      listUrl: parseListUrl(e.statusListCredential)
    })
  }
  return out
}

/**
 * `encodedList` → the uncompressed bitstring. Bitstring Status List needs
 * the multibase `u` prefix. StatusList2021 has none, but a `u` in front of
 * the GZIP magic (`uH4sI…`) is accepted there too: some issuers reuse their
 * newer encoder, and a bare base64url GZIP stream always starts with `H4sI`,
 * so the two readings cannot be confused. Trailing `=` padding is tolerated.
 * GZIP output past `maxBytes` is refused ({@link TooLargeError}) without
 * ever being held in memory.
 */
export function decodeEncodedList (format: StatusListFormat, encoded: unknown, maxBytes = MAX_BITSTRING_BYTES): Uint8Array {
  if (typeof encoded !== 'string' || encoded === '') throw bad('encodedList is not a non-empty string')
  let b64: string
  if (format === 'BitstringStatusList') {
    if (!encoded.startsWith('u')) throw bad('encodedList is not multibase base64url (no "u" prefix)')
    b64 = encoded.slice(1)
  } else {
    b64 = encoded.startsWith('u' + GZIP_B64U_PREFIX) ? encoded.slice(1) : encoded
  }
  b64 = b64.replace(/={1,2}$/, '')
  let compressed: Uint8Array
  try {
    compressed = fromB64u(b64)
  } catch {
    throw bad('encodedList is not base64url')
  }
  if (compressed.length < 2 || compressed[0] !== 0x1f || compressed[1] !== 0x8b) throw bad('encodedList is not GZIP-compressed')
  let bits: Buffer
  try {
    bits = gunzipSync(compressed, { maxOutputLength: maxBytes })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new TooLargeError(`encodedList inflates to more than ${maxBytes} bytes`, { maxBytes })
    }
    throw bad(`encodedList is not valid GZIP: ${(err as Error).message}`)
  }
  if (bits.length === 0) throw bad('encodedList is an empty bitstring')
  return new Uint8Array(bits.buffer, bits.byteOffset, bits.length)
}

/** Bit `index` of `bits`, bit 0 being the most significant bit of byte 0. Out of range throws. */
export function bitAt (bits: Uint8Array, index: number): boolean {
  if (!Number.isSafeInteger(index) || index < 0 || index >= bits.length * 8) {
    throw bad(`statusListIndex ${index} is outside the status list (${bits.length * 8} entries)`, { index, entries: bits.length * 8 })
  }
  return (((bits[index >> 3] as number) >> (7 - (index & 7))) & 1) === 1
}

/**
 * Set (or clear) bit `index` of `bits` in place, with the same bit order as
 * {@link bitAt}. Out of range throws {@link BadRequestError}.
 */
export function setBit (bits: Uint8Array, index: number, value = true): void {
  bitAt(bits, index) // the range check, with bitAt's error
  const mask = 0x80 >> (index & 7)
  const i = index >> 3
  bits[i] = value ? (bits[i] as number) | mask : (bits[i] as number) & ~mask
}

/**
 * The `encodedList` of a bitstring, the inverse of {@link decodeEncodedList}:
 * GZIP, then base64url without padding, with the multibase `u` prefix for
 * Bitstring Status List (none for StatusList2021).
 */
export function encodeBitstring (bits: Uint8Array, format: StatusListFormat = 'BitstringStatusList'): string {
  if (bits.length === 0) throw bad('a status list bitstring cannot be empty')
  const gz = b64u(gzipSync(bits))
  return format === 'BitstringStatusList' ? `u${gz}` : gz
}

/**
 * The status list inside a list credential's JWT payload (VCDM 1.1 `vc`
 * claim, or VCDM 2.0 claims at the top level). The format is read from the
 * subject's `type`; the credential's `type` must name the matching list
 * credential type. Throws {@link BadRequestError} / {@link TooLargeError}.
 */
export function parseStatusListPayload (payload: JwtPayload, maxBytes = MAX_BITSTRING_BYTES): StatusList {
  const credential = isObject(payload.vc) ? payload.vc : payload
  const subjects = Array.isArray(credential.credentialSubject) ? credential.credentialSubject : [credential.credentialSubject]
  if (subjects.length !== 1 || !isObject(subjects[0])) throw bad('the status list credential needs exactly one credentialSubject')
  const subject = subjects[0]
  const subjectTypes = typesOf(subject.type)
  const format = (['BitstringStatusList', 'StatusList2021'] as const).find(f => subjectTypes.includes(f))
  if (format === undefined) throw bad('credentialSubject.type is neither BitstringStatusList nor StatusList2021', { type: subject.type })
  if (!typesOf(credential.type).includes(LIST_CREDENTIAL_TYPES[format])) {
    throw bad(`a ${format} must come in a credential of type ${LIST_CREDENTIAL_TYPES[format]}`, { type: credential.type })
  }
  const purposes = typesOf(subject.statusPurpose)
  if (purposes.length === 0 || purposes.some(p => p === '')) throw bad('credentialSubject.statusPurpose is not one or more strings')
  const out: StatusList = { format, purposes, bits: decodeEncodedList(format, subject.encodedList, maxBytes) }
  if (typeof subject.ttl === 'number' && Number.isFinite(subject.ttl) && subject.ttl >= 0) out.ttlMs = subject.ttl
  if (typeof credential.id === 'string' && credential.id !== '') out.id = credential.id
  return out
}

/**
 * Whether the entry's bit is set in `list`. An entry naming another format
 * or a purpose the list does not carry, or an index past its end, throws
 * {@link BadRequestError}: the list does not answer for this credential.
 */
export function entryIsSet (entry: StatusEntry, list: StatusList): boolean {
  if (entry.format !== list.format) throw bad(`the credential has a ${entry.format} entry but the list is a ${list.format}`)
  if (!list.purposes.includes(entry.purpose)) {
    throw bad(`the status list is for ${list.purposes.join(', ')}, not ${entry.purpose}`, { listPurposes: list.purposes, entryPurpose: entry.purpose })
  }
  return bitAt(list.bits, entry.index)
}
