/**
 * The two DCP token formats (DCP 1.0 §"Self-Issued ID Token" and the
 * access token it carries). Pure: the clock is injected as `now` (seconds),
 * key material arrives through callbacks.
 *
 * Flow: holder H lets verifier V read some of its credentials by signing an
 * *access token* (`iss = aud = H`, `sub = V`, `scope`). V later calls H's
 * presentation endpoint with a *self-issued ID token* (`iss = sub = V`,
 * `aud = H`) whose `token` claim is that access token. H checks the ID token
 * against V's DID document, then its own access token against its own keys,
 * and that the access token was handed to this very caller (`sub = V`).
 */
import { randomUUID } from 'node:crypto'
import { AuthenticationError, BadRequestError, HubError } from '../../errors.js'
import type { DidDocument } from '../../identity/did-key.js'
import { decodeJwt, signJwt, verifyDidJwt, verifyJwtWithKeys, type DecodedJwt, type JWK, type JwtPayload, type JwtSigner } from '../jwt.js'
import { parseScopes } from './scopes.js'

/** Default lifetime of both token kinds: DCP tokens are per-request credentials. */
export const DEFAULT_TOKEN_TTL_S = 300
/** Clock skew tolerated between holder and verifier. */
export const DEFAULT_SKEW_S = 60
/** Longest `exp - iat` accepted on an ID token (bounds how long the replay cache must remember a jti). */
export const DEFAULT_MAX_ID_TOKEN_TTL_S = 3600

export type DcpTokenReason =
  | 'malformed'
  | 'iss_sub_mismatch'
  | 'wrong_audience'
  | 'expired'
  | 'iat_in_future'
  | 'not_yet_valid'
  | 'lifetime_too_long'
  | 'missing_jti'
  | 'bad_signature'
  | 'unresolvable_key'
  | 'replayed'
  | 'wrong_participant'
  | 'wrong_caller'
  | 'missing_scope'
  // Raised by the presentation endpoint, not by the verifiers here:
  | 'missing_token'
  | 'scope_escalation'

/**
 * A DCP token was refused. Code `permissions_required` (HTTP 403): DCP
 * answers an unusable token with 403 rather than 401, there being no
 * challenge the caller could answer. `details.reason` says which check
 * failed; `details.cause`, when present, is the underlying JWT failure.
 */
export class DcpTokenError extends HubError {
  readonly reason: DcpTokenReason
  constructor (reason: DcpTokenReason, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('permissions_required', message, { ...details, reason }, options)
    this.reason = reason
  }
}

function jti (given: string | undefined): string {
  return given ?? `urn:uuid:${randomUUID()}`
}

function seconds (now: number): number {
  return Math.floor(now)
}

export interface AccessTokenOptions {
  /** The participant granting access (signer, `iss` and `aud`). */
  holderDid: string
  /** Who may use it (`sub`): the caller of the presentation endpoint. */
  verifierDid: string
  /** DCP scopes; validated and normalised (legacy `:read` suffixes dropped, duplicates removed). */
  scopes: string[]
  ttlS?: number
  /** Seconds since the epoch. */
  now: number
  jti?: string
}

/**
 * An access token is only ever read back by its own issuer, so its format
 * is ours to choose; it is a JWT signed by the holder so that verifying it
 * needs no state beyond the holder's own keys. Throws
 * {@link BadRequestError} for an empty or invalid scope list.
 */
export function createAccessToken (signer: JwtSigner, opts: AccessTokenOptions): string {
  const scopes = parseScopes(opts.scopes)
  if (scopes.length === 0) throw new BadRequestError('an access token needs at least one scope')
  const iat = seconds(opts.now)
  return signJwt(signer, {
    iss: opts.holderDid,
    sub: opts.verifierDid,
    aud: opts.holderDid,
    scope: scopes.map(s => s.scope).join(' '),
    iat,
    exp: iat + (opts.ttlS ?? DEFAULT_TOKEN_TTL_S),
    jti: jti(opts.jti)
  })
}

export interface IdTokenOptions {
  /** The caller's DID: `iss` and `sub`. */
  did: string
  /** The DID of the party that will verify it (`aud`). */
  audience: string
  /** An access token to carry (the `token` claim). */
  token?: string
  ttlS?: number
  /** Seconds since the epoch. */
  now: number
  jti?: string
}

/** A self-issued ID token, as a verifier sends it to a holder's presentation endpoint. */
export function createIdToken (signer: JwtSigner, opts: IdTokenOptions): string {
  const iat = seconds(opts.now)
  const payload: Record<string, unknown> = {
    iss: opts.did,
    sub: opts.did,
    aud: opts.audience,
    iat,
    exp: iat + (opts.ttlS ?? DEFAULT_TOKEN_TTL_S),
    jti: jti(opts.jti)
  }
  if (opts.token !== undefined) payload.token = opts.token
  return signJwt(signer, payload)
}

/** Remembers `(iss, jti)` until `exp`; `ReplayCache` in `request/replay.ts` fits. */
export interface ReplayGuard {
  /** True the first time a token is seen, false for a replay. */
  accept (iss: string, jti: string, exp: number): Promise<boolean>
}

export interface VerifyIdTokenOptions {
  /** This participant's DID: must be in `aud`. */
  audience: string
  /** Seconds since the epoch. */
  now: number
  /** Resolves the caller's DID document, e.g. `KeyResolver.resolveDocument`. */
  resolveDocument: (did: string) => Promise<DidDocument>
  replay: ReplayGuard
  skewS?: number
  maxTtlS?: number
}

export interface VerifiedIdToken {
  /** The authenticated caller. */
  iss: string
  /** The access token it carried, still unverified. */
  token?: string
  payload: JwtPayload
}

const JWT_FAILURE_IS_KEY_PROBLEM = new Set(['missing_kid', 'bad_kid', 'unresolvable_did', 'unknown_key', 'unsupported_key'])

function jwtFailureReason (err: unknown): string {
  return err instanceof AuthenticationError && typeof err.details?.reason === 'string' ? err.details.reason : 'unknown'
}

/**
 * Claims are type-checked before any rule, so a wrong type is `malformed`
 * rather than whichever rule happens to look at it first.
 */
function decodeClaims (jwt: string): DecodedJwt {
  let decoded: DecodedJwt
  try {
    decoded = decodeJwt(jwt)
  } catch (err) {
    throw new DcpTokenError('malformed', `malformed token: ${(err as Error).message}`, undefined, { cause: err })
  }
  const p = decoded.payload
  for (const k of ['iss', 'sub', 'jti', 'scope', 'token']) {
    if (p[k] !== undefined && typeof p[k] !== 'string') throw new DcpTokenError('malformed', `token claim ${k} is not a string`)
  }
  for (const k of ['exp', 'iat', 'nbf']) {
    if (p[k] !== undefined && (typeof p[k] !== 'number' || !Number.isFinite(p[k]))) throw new DcpTokenError('malformed', `token claim ${k} is not a NumericDate`)
  }
  const aud = p.aud
  if (aud !== undefined && typeof aud !== 'string' && !(Array.isArray(aud) && aud.every(a => typeof a === 'string'))) {
    throw new DcpTokenError('malformed', 'token claim aud is neither a string nor an array of strings')
  }
  return decoded
}

function audienceIncludes (aud: unknown, who: string): boolean {
  return aud === who || (Array.isArray(aud) && aud.includes(who))
}

/**
 * Verify a self-issued ID token presented to this participant. The checks
 * run in a fixed order, each with its own `details.reason`, and the replay
 * check runs last: only a token that is otherwise fully valid may consume
 * its `jti`, so a forged or expired copy cannot burn the real one.
 * Throws {@link DcpTokenError}.
 */
export async function verifySelfIssuedIdToken (jwt: string, opts: VerifyIdTokenOptions): Promise<VerifiedIdToken> {
  const skew = opts.skewS ?? DEFAULT_SKEW_S
  const maxTtl = opts.maxTtlS ?? DEFAULT_MAX_ID_TOKEN_TTL_S
  const now = opts.now
  const { payload: p } = decodeClaims(jwt)
  const iss = p.iss as string | undefined
  const exp = p.exp as number | undefined
  const iat = p.iat as number | undefined
  const nbf = p.nbf as number | undefined
  const tokenJti = p.jti as string | undefined

  if (iss === undefined || iss === '' || p.sub !== iss) throw new DcpTokenError('iss_sub_mismatch', 'ID token iss and sub must be present and equal')
  if (!audienceIncludes(p.aud, opts.audience)) throw new DcpTokenError('wrong_audience', 'ID token is not addressed to this participant')
  if (exp === undefined || exp <= now - skew) throw new DcpTokenError('expired', exp === undefined ? 'ID token has no exp' : 'ID token has expired')
  if (iat === undefined || iat > now + skew) throw new DcpTokenError('iat_in_future', iat === undefined ? 'ID token has no iat' : 'ID token was issued in the future')
  if (nbf !== undefined && nbf > now + skew) throw new DcpTokenError('not_yet_valid', 'ID token is not valid yet')
  if (exp - iat > maxTtl) throw new DcpTokenError('lifetime_too_long', `ID token lives longer than ${maxTtl} s`, { maxTtlS: maxTtl })
  if (tokenJti === undefined || tokenJti === '') throw new DcpTokenError('missing_jti', 'ID token has no jti')

  try {
    await verifyDidJwt(jwt, opts.resolveDocument)
  } catch (err) {
    const cause = jwtFailureReason(err)
    const reason = JWT_FAILURE_IS_KEY_PROBLEM.has(cause) ? 'unresolvable_key' : 'bad_signature'
    throw new DcpTokenError(reason, reason === 'unresolvable_key' ? 'cannot find the ID token signing key' : 'ID token signature does not verify', { cause }, { cause: err })
  }

  if (!await opts.replay.accept(iss, tokenJti, exp)) throw new DcpTokenError('replayed', 'ID token has been used before')
  const out: VerifiedIdToken = { iss, payload: p }
  if (typeof p.token === 'string') out.token = p.token
  return out
}

export interface VerifyAccessTokenOptions {
  /** The participant whose presentation endpoint was called: issuer and audience of its own access tokens. */
  participantDid: string
  /** The verified ID token's `iss`: the access token must have been handed to this caller. */
  caller: string
  /** Seconds since the epoch. */
  now: number
  /**
   * This participant's own non-revoked keys, by header `kid` verbatim
   * (e.g. `did:web:…#key-1`). A token signed by a revoked key fails.
   */
  lookupKey: (kid: string) => Promise<JWK | undefined>
  skewS?: number
}

export interface VerifiedAccessToken {
  /** The scope claim split on spaces, unparsed (see `parseScopes`). */
  scopes: string[]
  payload: JwtPayload
}

/**
 * Verify an access token this participant issued earlier. Throws
 * {@link DcpTokenError}: `malformed`, `wrong_participant` (issued by or for
 * someone else), `bad_signature` (unknown/revoked kid or a bad signature),
 * `expired`, `not_yet_valid`, `wrong_caller`, `missing_scope`.
 */
export async function verifyAccessToken (jwt: string, opts: VerifyAccessTokenOptions): Promise<VerifiedAccessToken> {
  const skew = opts.skewS ?? DEFAULT_SKEW_S
  const now = opts.now
  const { header, payload: p } = decodeClaims(jwt)
  if (p.iss !== opts.participantDid || !audienceIncludes(p.aud, opts.participantDid)) {
    throw new DcpTokenError('wrong_participant', 'access token was not issued by and for this participant')
  }
  // A kid naming another DID cannot be one of this participant's keys.
  const kid = header.kid
  if (typeof kid === 'string' && kid.includes('#') && !kid.startsWith('#') && !kid.startsWith(`${opts.participantDid}#`)) {
    throw new DcpTokenError('bad_signature', 'access token is signed by a key of another DID', { cause: 'foreign_kid' })
  }
  try {
    await verifyJwtWithKeys(jwt, opts.lookupKey)
  } catch (err) {
    throw new DcpTokenError('bad_signature', 'access token signature does not verify', { cause: jwtFailureReason(err) }, { cause: err })
  }
  const exp = p.exp as number | undefined
  const nbf = p.nbf as number | undefined
  const iat = p.iat as number | undefined
  if (exp === undefined || exp <= now - skew) throw new DcpTokenError('expired', exp === undefined ? 'access token has no exp' : 'access token has expired')
  if ((nbf !== undefined && nbf > now + skew) || (iat !== undefined && iat > now + skew)) {
    throw new DcpTokenError('not_yet_valid', 'access token is not valid yet')
  }
  if (p.sub !== opts.caller) throw new DcpTokenError('wrong_caller', 'access token was issued to a different verifier')
  const scopes = typeof p.scope === 'string' ? [...new Set(p.scope.split(' ').filter(s => s !== ''))] : []
  if (scopes.length === 0) throw new DcpTokenError('missing_scope', 'access token carries no scope')
  return { scopes, payload: p }
}
