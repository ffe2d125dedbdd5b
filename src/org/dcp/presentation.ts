/**
 * Answering a DCP presentation query: choose the credentials the caller may
 * see, wrap them in a JWT VP signed by the holder, and build the response
 * message. Pure apart from the random `jti`.
 */
import { randomUUID } from 'node:crypto'
import { signJwt, type JwtSigner } from '../jwt.js'
import { isValidAt, type ParsedCredential } from '../vc.js'
import { credentialMatches, type Scope } from './scopes.js'
import { DCP_CONTEXT, validatePresentationResponse, type PresentationResponseMessage } from './schemas.js'
import { DEFAULT_TOKEN_TTL_S } from './tokens.js'

/** A stored credential and whether its holder has marked it revoked. */
export type HeldCredential = ParsedCredential & { revoked: boolean }

/**
 * The credentials to present: each must match at least one *requested*
 * scope (what the query asked for) and at least one *granted* scope (what
 * the access token allows), be valid at `nowMs`, and not be revoked.
 * Matching both lists per credential, rather than intersecting the scope
 * lists first, lets a type grant cover a request by id and vice versa.
 * Duplicates (same id or same JWT) are presented once, first one wins.
 */
export function selectCredentials<T extends HeldCredential> (creds: readonly T[], requested: readonly Scope[], granted: readonly Scope[], nowMs: number): T[] {
  const out: T[] = []
  const ids = new Set<string>()
  const raws = new Set<string>()
  for (const c of creds) {
    if (c.revoked || isValidAt(c, nowMs) !== 'valid') continue
    if (!requested.some(s => credentialMatches(s, c)) || !granted.some(s => credentialMatches(s, c))) continue
    if (ids.has(c.id) || raws.has(c.raw)) continue
    ids.add(c.id)
    raws.add(c.raw)
    out.push(c)
  }
  return out
}

export interface VpOptions {
  /** The holder: signer, `iss`, `sub` and `vp.holder`. */
  holderDid: string
  /** The verifier (`aud`). */
  audience: string
  /** JWT VCs, presented exactly as stored. */
  credentials: string[]
  ttlS?: number
  /** Seconds since the epoch. */
  now: number
  jti?: string
}

export const VC_V1_CONTEXT = 'https://www.w3.org/2018/credentials/v1'

/**
 * A VCDM 1.1 JWT VP (the encoding `did-jwt-vc` and EDC verify). `nbf`
 * equals `iat` because VCDM 1.1 verifiers read `nbf` as the presentation's
 * issuance date; `aud` binds it to one verifier.
 */
export function createVpJwt (signer: JwtSigner, opts: VpOptions): string {
  const iat = Math.floor(opts.now)
  return signJwt(signer, {
    iss: opts.holderDid,
    sub: opts.holderDid,
    aud: opts.audience,
    iat,
    nbf: iat,
    exp: iat + (opts.ttlS ?? DEFAULT_TOKEN_TTL_S),
    jti: opts.jti ?? `urn:uuid:${randomUUID()}`,
    vp: {
      '@context': [VC_V1_CONTEXT],
      type: ['VerifiablePresentation'],
      holder: opts.holderDid,
      verifiableCredential: [...opts.credentials]
    }
  })
}

/** The DCP response message for some JWT VPs, checked against the official schema. */
export function presentationResponse (vps: string[]): PresentationResponseMessage {
  const msg: PresentationResponseMessage = {
    '@context': [DCP_CONTEXT],
    type: 'PresentationResponseMessage',
    presentation: [...vps]
  }
  validatePresentationResponse(msg)
  return msg
}
