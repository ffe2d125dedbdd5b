/**
 * Request tokens for /identity-hub/request/1.0.0: a compact JWS (EdDSA)
 * signed by the caller's DID, whose claims name the target owner, the
 * method and its parameters. Pure functions; shared by the hub (verify) and
 * the client SDK (create), so it imports no store code.
 */
import { platformCrypto } from '#platform/crypto'
import { protocolValidator } from '../protocol-schemas.js'
import { AuthenticationError, BadRequestError, TooLargeError } from '../errors.js'
import { b64u } from '../identity/encoding.js'
import type { Signer } from '../identity/keys.js'
import type { KeyLookup } from '../commits/commit.js'
import { CLOCK_SKEW_S, decodeJws, signJws, verifyJwsSignature } from '../identity/jws.js'

export type RequestInterface = 'Collections' | 'Profile' | 'Permissions' | 'Keys' | 'Devices'
export type RequestMethod = 'write' | 'update' | 'delete' | 'read' | 'query' | 'history' | 'export' | 'subscribe' | 'grant' | 'revoke' | 'list' | 'attest'

export interface RequestClaims {
  iss: string
  aud: string
  sub: string
  iat: number
  exp: number
  jti: string
  interface: RequestInterface
  method: RequestMethod
  params: Record<string, unknown>
}

export interface ClientMessage { t: 'request', id: number, jws: string }
export interface CancelMessage { t: 'cancel', id: number }
export type ServerMessage =
  | { t: 'response', id: number, result: unknown }
  | { t: 'error', id: number, code: string, message: string }
  | { t: 'event', id: number, event: Record<string, unknown> }
  | { t: 'end', id: number, code?: string, message?: string }

/** Longest a request may live: `exp - iat` at most five minutes. */
export const MAX_REQUEST_LIFETIME_S = 300
/** Clock skew tolerated between caller and hub. */
export { CLOCK_SKEW_S } from '../identity/jws.js'
export const TOKEN_TYPE = 'hub-request+jwt'

function get<T> (ref: string): ReturnType<typeof protocolValidator<T>> {
  return protocolValidator<T>(`https://identity-hub.local/schemas/request/v1#/definitions/${ref}`)
}
export const validateClaims = get<RequestClaims>('claims')
export const validateClientMessage = get<ClientMessage | CancelMessage>('clientMessage')
export const validateServerMessage = get<ServerMessage>('serverMessage')

/** Sign a request. `owner` is both `aud` and `sub`: the DID whose hub and data are addressed. */
export function signRequest (signer: Signer, owner: string, iface: RequestInterface, method: RequestMethod, params: Record<string, unknown>, opts: { now?: number, lifetimeS?: number } = {}): string {
  const iat = Math.floor((opts.now ?? Date.now()) / 1000)
  const claims: RequestClaims = {
    iss: signer.did,
    aud: owner,
    sub: owner,
    iat,
    exp: iat + Math.min(opts.lifetimeS ?? 60, MAX_REQUEST_LIFETIME_S),
    jti: b64u(platformCrypto.randomBytes(16)),
    interface: iface,
    method,
    params
  }
  return signJws(signer, TOKEN_TYPE, claims)
}

// The JWS primitives live in identity/jws.ts (one home: request tokens and device attestations use them).
export { decodeJws, signJws, verifyJwsSignature, type DecodedJws } from '../identity/jws.js'

/**
 * Verify a request token: structure, signature by `iss` (through `kid`),
 * lifetime at most five minutes, and the clock. Replay (`jti`) and audience
 * are checked by the caller, which knows its tenants and its replay cache.
 */
export async function verifyRequest (jws: string, lookup: KeyLookup, opts: { now?: number, maxBytes?: number } = {}): Promise<RequestClaims> {
  if (jws.length > (opts.maxBytes ?? 2_200_000)) throw new TooLargeError('request is too large')
  const decoded = decodeJws(jws, 'request')
  const header = decoded.header as { alg?: unknown, kid?: unknown, typ?: unknown } | null
  const claims = decoded.claims
  if (typeof header !== 'object' || header === null || header.alg !== 'EdDSA' || typeof header.kid !== 'string' || header.typ !== TOKEN_TYPE) throw new BadRequestError('request header must be {alg:EdDSA, kid, typ:hub-request+jwt}')
  if (!validateClaims(claims)) {
    const e = validateClaims.errors?.[0]
    throw new BadRequestError(`invalid request claims: ${e?.instancePath ?? ''} ${e?.message ?? ''}`.trim())
  }
  await verifyJwsSignature(decoded, header.kid, claims.iss, lookup, 'request')
  const now = Math.floor((opts.now ?? Date.now()) / 1000)
  if (claims.exp <= claims.iat || claims.exp - claims.iat > MAX_REQUEST_LIFETIME_S) throw new AuthenticationError('request lifetime must be positive and at most five minutes')
  if (claims.iat > now + CLOCK_SKEW_S) throw new AuthenticationError('request is issued in the future')
  if (claims.exp < now - CLOCK_SKEW_S) throw new AuthenticationError('request has expired')
  return claims
}
