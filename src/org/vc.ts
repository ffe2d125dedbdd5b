/**
 * Reading JWT Verifiable Credentials: just enough structure to store,
 * index and select them (id, types, issuer, subject, validity window).
 * Pure: no I/O, no signature check — a holder stores what its issuers sent
 * and the *verifier* checks signatures; the hub only needs to know what it
 * holds and when it is valid.
 *
 * Two encodings are accepted:
 *  - VCDM 1.1 JWT (`vc` claim; `iss`/`sub`/`jti`/`nbf`/`exp` stand for
 *    issuer/subject id/id/issuanceDate/expirationDate);
 *  - VCDM 2.0 `vc+jwt` style, where the claims *are* the credential
 *    (`issuer`, `credentialSubject`, `validFrom`, `validUntil`).
 */
import { createHash } from 'node:crypto'
import { BadRequestError } from '../errors.js'
import { decodeJwt } from './jwt.js'

/** Which W3C VC Data Model a credential follows; decides how it is presented (dcp/presentation.ts). */
export type DataModel = '1.1' | '2.0'

export const VC_V1_CONTEXT = 'https://www.w3.org/2018/credentials/v1'
export const VC_V2_CONTEXT = 'https://www.w3.org/ns/credentials/v2'

export interface ParsedCredential {
  /** `vc.id`, else `jti`, else `urn:sha256:<hex of the JWT>` so every credential has a stable key. */
  id: string
  /** All types, `VerifiableCredential` included; see {@link specificTypes}. */
  types: string[]
  issuer: string
  subjectId?: string
  /** ISO 8601; the credential is not valid before it. */
  issuanceDate?: string
  /** ISO 8601; the credential is not valid from then on. */
  expirationDate?: string
  credentialStatus?: unknown
  /**
   * `2.0` when the credential's first `@context` is the VCDM 2.0 context
   * (the `vc+jwt` encoding, claims = credential), else `1.1` (the `vc`
   * claim of VCDM 1.1 JWTs).
   */
  dataModel: DataModel
  /** The JWT exactly as received: it is what gets presented. */
  raw: string
}

export type Validity = 'valid' | 'expired' | 'not_yet_valid'

const VC = 'VerifiableCredential'

/** Why parsing refused a JWT (`details.reason`): not a credential at all, or one in a `typ` we do not take for one. */
export type ParseFailure = 'malformed' | 'bad_typ'

function bad (message: string, reason: ParseFailure = 'malformed'): BadRequestError {
  return new BadRequestError(`not a JWT VC: ${message}`, { reason })
}

/**
 * Header `typ` values a credential may carry (RFC 7515 §4.1.9: compared
 * case-insensitively, `application/` optional): plain `JWT` (VCDM 1.1 JWT,
 * what did-jwt-vc writes), `vc+jwt` (VC-JOSE-COSE), `vc+ld+jwt` (its
 * earlier drafts). Anything else says the token is something else — a
 * `vp+jwt` presentation, an ID token — and must not be stored as a credential.
 */
export const CREDENTIAL_TYPS: readonly string[] = ['jwt', 'vc+jwt', 'vc+ld+jwt']

function checkTyp (typ: unknown): void {
  if (typ === undefined) return
  const t = typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : undefined
  if (t === undefined || !CREDENTIAL_TYPS.includes(t)) throw bad(`typ ${JSON.stringify(typ)} is not a credential type (JWT, vc+jwt)`, 'bad_typ')
}

/** XML Schema dateTimeStamp (a date-time with a time zone), which VCDM 2.0 requires of validFrom/validUntil. */
const DATE_TIME_STAMP = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/**
 * What VCDM 2.0 requires beyond the common checks: the credential is the
 * payload (not a `vc` claim), names its issuer itself, dates its validity
 * with dateTimeStamps, and does not mix in the 1.1 properties it replaced.
 */
function checkV2 (credential: Record<string, unknown>, inVcClaim: boolean): void {
  if (inVcClaim) throw bad('a VCDM 2.0 credential is the JWT payload itself (vc+jwt), not a vc claim')
  if (credential.issuer === undefined) throw bad('a VCDM 2.0 credential must name its issuer')
  for (const k of ['issuanceDate', 'expirationDate']) {
    if (credential[k] !== undefined) throw bad(`${k} is a VCDM 1.1 property; VCDM 2.0 uses validFrom/validUntil`)
  }
  for (const k of ['validFrom', 'validUntil']) {
    const v = credential[k]
    if (v !== undefined && (typeof v !== 'string' || !DATE_TIME_STAMP.test(v))) throw bad(`${k} is not an XML Schema dateTimeStamp`)
  }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function optString (v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v === '') throw bad(`${what} is not a non-empty string`)
  return v
}

function parseTypes (v: unknown): string[] {
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.length === 0 || !list.every(t => typeof t === 'string' && t !== '')) {
    throw bad('type must be a string or a non-empty array of strings')
  }
  const types = [...new Set(list as string[])]
  if (!types.includes(VC)) throw bad(`type does not include ${VC}`)
  return types
}

function issuerOf (v: unknown): string | undefined {
  if (v === undefined) return undefined
  if (typeof v === 'string' && v !== '') return v
  if (isObject(v) && typeof v.id === 'string' && v.id !== '') return v.id
  throw bad('issuer must be a string or an object with an id')
}

function subjectIdOf (v: unknown): string | undefined {
  const first = Array.isArray(v) ? v[0] : v
  if (!isObject(first)) throw bad('credentialSubject must be an object or a non-empty array of objects')
  return optString(first.id, 'credentialSubject.id')
}

function epochMs (v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${what} is not a NumericDate`)
  return v * 1000
}

function dateMs (v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined
  const ms = typeof v === 'string' ? Date.parse(v) : NaN
  if (Number.isNaN(ms)) throw bad(`${what} is not a date-time`)
  return ms
}

function iso (ms: number | undefined, what: string): string | undefined {
  if (ms === undefined) return undefined
  try {
    return new Date(ms).toISOString()
  } catch {
    throw bad(`${what} is out of range`)
  }
}

/** Two sources for one fact must agree, or the credential is ambiguous. */
function agree (a: string | undefined, b: string | undefined, what: string): string | undefined {
  if (a !== undefined && b !== undefined && a !== b) throw bad(`${what} differs between the JWT claims and the credential`)
  return a ?? b
}

function definedOnly (values: Array<number | undefined>): number[] {
  return values.filter((v): v is number => v !== undefined)
}

/**
 * Parse a JWT VC. Throws {@link BadRequestError} for anything that is not
 * one (including a VP, a plain JWT, or claims that contradict each other,
 * e.g. `iss` ≠ `vc.issuer`). When a JWT claim and a credential property
 * both bound validity (`nbf` and `validFrom`, `exp` and `validUntil`), the
 * narrower window wins: the credential is only valid when both say so.
 */
export function parseVcJwt (jwt: string): ParsedCredential {
  let decoded: ReturnType<typeof decodeJwt>
  try {
    decoded = decodeJwt(jwt)
  } catch (err) {
    throw bad((err as Error).message)
  }
  checkTyp(decoded.header.typ)
  const payload = decoded.payload
  let credential: Record<string, unknown>
  if (payload.vc !== undefined) {
    if (!isObject(payload.vc)) throw bad('vc claim is not an object')
    credential = payload.vc
  } else if (payload.vp !== undefined) {
    throw bad('this is a presentation (vp claim), not a credential')
  } else if (payload['@context'] !== undefined && payload.type !== undefined) {
    credential = payload
  } else {
    throw bad('no vc claim and no VCDM 2.0 credential claims')
  }

  const contexts = credential['@context']
  const firstContext = Array.isArray(contexts) ? contexts[0] : contexts
  const dataModel: DataModel = firstContext === VC_V2_CONTEXT ? '2.0' : '1.1'
  if (dataModel === '2.0') checkV2(credential, credential !== payload)

  const types = parseTypes(credential.type)
  if (credential.credentialSubject === undefined) throw bad('credentialSubject is missing')
  const issuer = agree(optString(payload.iss, 'iss'), issuerOf(credential.issuer), 'issuer')
  if (issuer === undefined) throw bad('no issuer (iss or issuer)')
  const subjectId = agree(optString(payload.sub, 'sub'), subjectIdOf(credential.credentialSubject), 'subject id')
  // Precedence, not agreement: issuers disagree in practice on whether jti repeats vc.id.
  const id = optString(credential.id, 'id') ?? optString(payload.jti, 'jti') ??
    `urn:sha256:${createHash('sha256').update(jwt).digest('hex')}`

  const notBefore = definedOnly([
    epochMs(payload.nbf, 'nbf'),
    dateMs(credential.issuanceDate, 'issuanceDate'),
    dateMs(credential.validFrom, 'validFrom')
  ])
  const notAfter = definedOnly([
    epochMs(payload.exp, 'exp'),
    dateMs(credential.expirationDate, 'expirationDate'),
    dateMs(credential.validUntil, 'validUntil')
  ])
  const issuanceDate = iso(notBefore.length === 0 ? undefined : Math.max(...notBefore), 'issuanceDate')
  const expirationDate = iso(notAfter.length === 0 ? undefined : Math.min(...notAfter), 'expirationDate')

  const out: ParsedCredential = { id, types, issuer, dataModel, raw: jwt }
  if (subjectId !== undefined) out.subjectId = subjectId
  if (issuanceDate !== undefined) out.issuanceDate = issuanceDate
  if (expirationDate !== undefined) out.expirationDate = expirationDate
  if (credential.credentialStatus !== undefined) out.credentialStatus = credential.credentialStatus
  return out
}

/** The types that say what the credential is: everything but `VerifiableCredential`. */
export function specificTypes (c: Pick<ParsedCredential, 'types'>): string[] {
  return c.types.filter(t => t !== VC)
}

/**
 * Where `nowMs` falls in the credential's validity window. `expirationDate`
 * is exclusive (JWT `exp` semantics: not valid *at or after* it).
 */
export function isValidAt (c: Pick<ParsedCredential, 'issuanceDate' | 'expirationDate'>, nowMs: number): Validity {
  if (c.issuanceDate !== undefined && Date.parse(c.issuanceDate) > nowMs) return 'not_yet_valid'
  if (c.expirationDate !== undefined && Date.parse(c.expirationDate) <= nowMs) return 'expired'
  return 'valid'
}
