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

function bad (message: string, details?: Record<string, unknown>): BadRequestError {
  return new BadRequestError(`not a JWT VC: ${message}`, details)
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
  let payload: Record<string, unknown>
  try {
    payload = decodeJwt(jwt).payload
  } catch (err) {
    throw bad((err as Error).message)
  }
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

  const contexts = credential['@context']
  const firstContext = Array.isArray(contexts) ? contexts[0] : contexts
  const dataModel: DataModel = firstContext === VC_V2_CONTEXT ? '2.0' : '1.1'
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
