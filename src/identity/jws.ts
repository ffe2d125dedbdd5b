/**
 * Compact JWS (EdDSA over Ed25519), the one implementation the hub's own
 * tokens use: request tokens (request/token.ts) and device attestations
 * (permissions/attestation.ts). Commit envelopes are General JWS with their
 * own rules (commits/commit.ts); organization JWTs go through jose (org/jwt.ts).
 */
import { AuthenticationError, BadRequestError } from '../errors.js'
import { b64u, fromB64u, utf8, utf8d } from './encoding.js'
import { verifyEd25519, type Signer } from './keys.js'

/** Clock skew tolerated when checking token lifetimes (seconds). */
export const CLOCK_SKEW_S = 60

/** Resolves a key id to its Ed25519 public key. */
export type JwsKeyLookup = (kid: string) => Uint8Array | Promise<Uint8Array>

/**
 * A compact JWS (EdDSA) of `claims`, header `{ alg, kid: signer.kid, typ }`.
 * The one JWS signer of the hub's own tokens.
 */
export function signJws (signer: Signer, typ: string, claims: object): string {
  const header = b64u(JSON.stringify({ alg: 'EdDSA', kid: signer.kid, typ }))
  const payload = b64u(JSON.stringify(claims))
  return `${header}.${payload}.${b64u(signer.sign(utf8.encode(`${header}.${payload}`)))}`
}

/** A compact JWS split and JSON-decoded; nothing verified yet. */
export interface DecodedJws { header: unknown, claims: unknown, signingInput: string, signature: string }

/** Split a compact JWS and decode its header and claims. `what` names it in errors (`bad_request`). */
export function decodeJws (jws: string, what: string): DecodedJws {
  const parts = jws.split('.')
  if (parts.length !== 3) throw new BadRequestError(`${what} is not a compact JWS`)
  const [h, p, s] = parts as [string, string, string]
  try {
    return { header: JSON.parse(utf8d.decode(fromB64u(h))), claims: JSON.parse(utf8d.decode(fromB64u(p))), signingInput: `${h}.${p}`, signature: s }
  } catch {
    throw new BadRequestError(`${what} header or claims are not base64url JSON`)
  }
}

/**
 * Check a decoded JWS's EdDSA signature by `iss`: `kid` must be one of
 * `iss`'s verification methods (`iss#…`), resolved through `lookup`.
 * Throws `authentication_failed`.
 */
export async function verifyJwsSignature (jws: DecodedJws, kid: string, iss: string, lookup: JwsKeyLookup, what: string): Promise<void> {
  if (!kid.startsWith(`${iss}#`)) throw new AuthenticationError(`${what} kid does not belong to iss`)
  const key = await lookup(kid)
  let sig: Uint8Array
  try { sig = fromB64u(jws.signature) } catch { throw new AuthenticationError(`${what} signature is not base64url`) }
  if (!verifyEd25519(key, utf8.encode(jws.signingInput), sig)) throw new AuthenticationError(`${what} signature does not verify`)
}

