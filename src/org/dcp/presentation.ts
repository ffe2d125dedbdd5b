/**
 * Answering a DCP presentation query: choose the credentials the caller may
 * see, wrap them in a JWT VP signed by the holder, and build the response
 * message. Pure apart from the random `jti`.
 */
import { randomUUID } from 'node:crypto'
import { signJwt, type JwtSigner } from '../jwt.js'
import { isValidAt, VC_V1_CONTEXT, VC_V2_CONTEXT, type DataModel, type ParsedCredential } from '../vc.js'
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

export { VC_V1_CONTEXT, VC_V2_CONTEXT } from '../vc.js'

/**
 * A VCDM 1.1 JWT VP (the encoding `did-jwt-vc` and EDC verify). `nbf`
 * equals `iat` because VCDM 1.1 verifiers read `nbf` as the presentation's
 * issuance date; `aud` binds it to one verifier.
 */
export function createVpJwt (signer: JwtSigner, opts: VpOptions): string {
  return signJwt(signer, {
    ...vpClaims(opts),
    vp: {
      '@context': [VC_V1_CONTEXT],
      type: ['VerifiablePresentation'],
      holder: opts.holderDid,
      verifiableCredential: [...opts.credentials]
    }
  })
}

/** A VCDM 2.0 `vp+jwt`: the payload is the presentation, with the JWT claims beside it (VC-JOSE-COSE §3.2). */
export function createVp2Jwt (signer: JwtSigner, opts: VpOptions): string {
  return signJwt(signer, {
    '@context': [VC_V2_CONTEXT],
    type: ['VerifiablePresentation'],
    holder: opts.holderDid,
    verifiableCredential: opts.credentials.map(envelope),
    ...vpClaims(opts)
  }, { typ: 'vp+jwt', cty: 'vp' })
}

/** The JWT claims of a VP, either data model: from the holder, for one verifier, short-lived. */
function vpClaims (opts: VpOptions): Record<string, unknown> {
  const iat = Math.floor(opts.now)
  return {
    iss: opts.holderDid,
    sub: opts.holderDid,
    aud: opts.audience,
    iat,
    nbf: iat,
    exp: iat + (opts.ttlS ?? DEFAULT_TOKEN_TTL_S),
    jti: opts.jti ?? `urn:uuid:${randomUUID()}`
  }
}

/** A `vc+jwt` inside a VCDM 2.0 presentation: an `EnvelopedVerifiableCredential` whose id is a data: URL of the JWT. */
export function envelope (jwt: string): Record<string, unknown> {
  return { '@context': VC_V2_CONTEXT, id: `${ENVELOPE_PREFIX}${jwt}`, type: 'EnvelopedVerifiableCredential' }
}

export const ENVELOPE_PREFIX = 'data:application/vc+jwt,'

/**
 * The JWT inside an `EnvelopedVerifiableCredential`, or undefined when `v`
 * is not one.
 */
export function unenvelope (v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  if (o.type !== 'EnvelopedVerifiableCredential' || typeof o.id !== 'string' || !o.id.startsWith(ENVELOPE_PREFIX)) return undefined
  return o.id.slice(ENVELOPE_PREFIX.length)
}

/** Where one presented credential sits in the response (for a Presentation Exchange `descriptor_map`). */
export interface Placement {
  /** Index into the response's `presentation` array. */
  presentation: number
  /** Index into that VP's `verifiableCredential`. */
  index: number
  /** Format designations of the VP and the credential, as Presentation Exchange names them. */
  vpFormat: 'jwt_vp' | 'vp+jwt'
  vcFormat: 'jwt_vc' | 'vc+jwt'
  /** JSONPath of the credential inside its (decoded) VP. */
  nestedPath: string
}

export interface BuiltPresentations {
  /** Compact JWT VPs, at most one per data model: VCDM 1.1 first. */
  presentations: string[]
  /** One entry per input credential, in input order. */
  placements: Placement[]
}

/**
 * The VPs for a set of credentials: VCDM 1.1 credentials in one VCDM 1.1
 * JWT VP (what EDC and did-jwt-vc verify), VCDM 2.0 credentials enveloped
 * in one VCDM 2.0 `vp+jwt` — a 2.0 credential inside a 1.1 VP, or the
 * reverse, is something neither data model defines. With no credentials at
 * all, one empty VCDM 1.1 VP (the answer DCP verifiers have always got).
 */
export function buildPresentations (
  signer: JwtSigner,
  opts: Omit<VpOptions, 'credentials' | 'jti'> & { credentials: ReadonlyArray<{ raw: string, dataModel: DataModel }> }
): BuiltPresentations {
  const v1 = opts.credentials.filter(c => c.dataModel === '1.1').map(c => c.raw)
  const v2 = opts.credentials.filter(c => c.dataModel === '2.0').map(c => c.raw)
  const presentations: string[] = []
  const base = { holderDid: opts.holderDid, audience: opts.audience, now: opts.now, ...(opts.ttlS !== undefined ? { ttlS: opts.ttlS } : {}) }
  const v1At = v1.length > 0 || v2.length === 0 ? presentations.push(createVpJwt(signer, { ...base, credentials: v1 })) - 1 : -1
  const v2At = v2.length > 0 ? presentations.push(createVp2Jwt(signer, { ...base, credentials: v2 })) - 1 : -1
  let i1 = 0
  let i2 = 0
  const placements = opts.credentials.map((c): Placement => c.dataModel === '1.1'
    ? { presentation: v1At, index: i1, vpFormat: 'jwt_vp', vcFormat: 'jwt_vc', nestedPath: `$.vp.verifiableCredential[${i1++}]` }
    : { presentation: v2At, index: i2, vpFormat: 'vp+jwt', vcFormat: 'vc+jwt', nestedPath: `$.verifiableCredential[${i2++}]` })
  return { presentations, placements }
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
