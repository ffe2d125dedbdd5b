/**
 * Device attestations: the short-lived proof a hub presents to *another*
 * owner's hub that it is, right now, a live device of its own owner.
 *
 * A DeviceAuthorization (an owner-signed create commit) never expires, and
 * a hub that is not one of that owner's hubs never learns of its revocation,
 * so it cannot be shown to strangers as proof. An attestation is a compact
 * JWS signed by the OWNER key — `kid` a verification method of the owner's
 * DID — with the claims
 *
 *   { typ: 'device-attestation', iss: ownerDid, sub: deviceHubDid, role: 'owner-device', iat, exp }
 *
 * issued only by a hub that holds the owner key and sees the device as live
 * in its registry (1 h by default, at most 24 h). A revoked device gets no
 * new one, so it loses what other owners share with its owner within the
 * lifetime of the last one it got.
 *
 * Pure functions: no storage, no clock but the one passed in.
 */
import { AuthenticationError, BadRequestError, HubError } from '../errors.js'
import { asDid, type Did } from '../ids.js'
import type { Signer } from '../identity/keys.js'
import type { KeyLookup } from '../commits/commit.js'
import { CLOCK_SKEW_S, decodeJws, signJws, verifyJwsSignature } from '../identity/jws.js'

export const ATTESTATION_TYP = 'device-attestation'
/** JWS header `typ`, so an attestation is never mistaken for a request token (and vice versa). */
export const ATTESTATION_HEADER_TYP = 'device-attestation+jwt'
/** Default lifetime of an attestation. */
export const ATTESTATION_LIFETIME_S = 3600
/** Longest lifetime a verifier accepts. */
export const MAX_ATTESTATION_LIFETIME_S = 24 * 3600
/** An attestation is small; anything larger is not one. */
export const MAX_ATTESTATION_BYTES = 4096

export interface AttestationClaims {
  typ: typeof ATTESTATION_TYP
  /** The owner DID that signed it. */
  iss: Did
  /** The attested device's hub DID. */
  sub: Did
  role: 'owner-device'
  /** Seconds since the epoch. */
  iat: number
  exp: number
}

/** Why an attestation was refused; stable, part of the contract (audit reasons, tests). */
export type AttestationReason =
  | 'malformed'
  | 'wrong_type'
  | 'wrong_issuer'
  | 'bad_signature'
  | 'wrong_subject'
  | 'wrong_role'
  | 'bad_lifetime'
  | 'lifetime_too_long'
  | 'iat_in_future'
  | 'expired'

/**
 * A refused attestation. `code` is `bad_request` for one that is not even
 * shaped like an attestation, `authentication_failed` otherwise; `reason`
 * (also in `details.reason`) says which check failed.
 */
export class AttestationError extends HubError {
  readonly reason: AttestationReason
  constructor (reason: AttestationReason, message: string, options?: { cause?: unknown }) {
    super(reason === 'malformed' ? 'bad_request' : 'authentication_failed', message, { reason }, options)
    this.reason = reason
  }
}

export interface SignAttestationOptions {
  /** The device's hub DID. */
  device: string
  /** Default ATTESTATION_LIFETIME_S; 1 … MAX_ATTESTATION_LIFETIME_S. */
  lifetimeS?: number
  /** Milliseconds since the epoch; default now. */
  now?: number
}

/** Sign an attestation of `opts.device` with the owner's key. The caller checks the device is live. */
export function signAttestation (owner: Signer, opts: SignAttestationOptions): { attestation: string, claims: AttestationClaims } {
  const lifetime = opts.lifetimeS ?? ATTESTATION_LIFETIME_S
  if (!Number.isSafeInteger(lifetime) || lifetime < 1 || lifetime > MAX_ATTESTATION_LIFETIME_S) {
    throw new BadRequestError(`an attestation lives 1 to ${MAX_ATTESTATION_LIFETIME_S} s`)
  }
  const iat = Math.floor((opts.now ?? Date.now()) / 1000)
  const claims: AttestationClaims = { typ: ATTESTATION_TYP, iss: owner.did, sub: asDid(opts.device), role: 'owner-device', iat, exp: iat + lifetime }
  return { attestation: signJws(owner, ATTESTATION_HEADER_TYP, claims), claims }
}

export interface VerifyAttestationOptions {
  /** The owner DID the attestation must be signed by (the pull's `as.did`). */
  owner: string
  /** The hub DID it must name (the authenticated peer). */
  device: string
  /** Resolves `kid` to an Ed25519 public key (the hub's DID resolver). */
  lookup: KeyLookup
  /** Milliseconds since the epoch; default now. */
  now?: number
  /** Tolerated skew on `iat` (seconds); default 60. `exp` gets none: the bound stays the lifetime. */
  skewS?: number
  /** Default MAX_ATTESTATION_LIFETIME_S. */
  maxLifetimeS?: number
}

function isInt (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

/**
 * Verify an attestation: shape, type, issuer (`opts.owner`, through `kid`),
 * signature, subject (`opts.device`), role, lifetime, and the clock — an
 * attestation is expired from `exp` on, with no skew. Throws
 * {@link AttestationError}.
 */
export async function verifyAttestation (jws: unknown, opts: VerifyAttestationOptions): Promise<AttestationClaims> {
  if (typeof jws !== 'string' || jws.length > MAX_ATTESTATION_BYTES) throw new AttestationError('malformed', 'attestation is not a string or is too large')
  let decoded
  try {
    decoded = decodeJws(jws, 'attestation')
  } catch (err) {
    throw new AttestationError('malformed', (err as Error).message, { cause: err })
  }
  const h = decoded.header as Record<string, unknown> | null
  const c = decoded.claims as Record<string, unknown> | null
  if (typeof h !== 'object' || h === null || Array.isArray(h) || typeof c !== 'object' || c === null || Array.isArray(c)) {
    throw new AttestationError('malformed', 'attestation header and claims must be JSON objects')
  }
  if (h.alg !== 'EdDSA' || typeof h.kid !== 'string') throw new AttestationError('malformed', 'attestation header must be {alg:EdDSA, kid, typ}')
  if (typeof c.iss !== 'string' || typeof c.sub !== 'string' || !isInt(c.iat) || !isInt(c.exp)) {
    throw new AttestationError('malformed', 'attestation claims need iss, sub, iat and exp')
  }
  if (h.typ !== ATTESTATION_HEADER_TYP || c.typ !== ATTESTATION_TYP) throw new AttestationError('wrong_type', 'not a device attestation')
  if (c.iss !== opts.owner || !h.kid.startsWith(`${opts.owner}#`)) throw new AttestationError('wrong_issuer', 'attestation is not signed by the owner it is presented for')
  try {
    await verifyJwsSignature(decoded, h.kid, opts.owner, opts.lookup, 'attestation')
  } catch (err) {
    const message = err instanceof AuthenticationError ? err.message : `attestation key not resolvable: ${(err as Error).message}`
    throw new AttestationError('bad_signature', message, { cause: err })
  }
  if (c.sub !== opts.device) throw new AttestationError('wrong_subject', 'attestation names another device')
  if (c.role !== 'owner-device') throw new AttestationError('wrong_role', 'attestation is not for an owner device')
  if (c.exp <= c.iat) throw new AttestationError('bad_lifetime', 'attestation lifetime must be positive')
  const max = opts.maxLifetimeS ?? MAX_ATTESTATION_LIFETIME_S
  if (c.exp - c.iat > max) throw new AttestationError('lifetime_too_long', `attestation lives longer than ${max} s`)
  const nowMs = opts.now ?? Date.now()
  if (c.iat * 1000 > nowMs + (opts.skewS ?? CLOCK_SKEW_S) * 1000) throw new AttestationError('iat_in_future', 'attestation is issued in the future')
  if (c.exp * 1000 <= nowMs) throw new AttestationError('expired', 'attestation has expired')
  return { typ: ATTESTATION_TYP, iss: asDid(c.iss), sub: asDid(c.sub), role: 'owner-device', iat: c.iat, exp: c.exp }
}
