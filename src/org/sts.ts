/**
 * The token service (STS) of the DCP flow, for both sides:
 *
 * - Holder: `scope` given → an access token granting those scopes to the
 *   verifier (`audience`), wrapped in the holder's self-issued ID token. The
 *   holder hands the ID token to the verifier (e.g. in a DSP request).
 * - Verifier: `token` given (the access token it received) → its own
 *   self-issued ID token for the holder (`audience`) carrying that access
 *   token in its `token` claim; this is the Bearer of the presentation query.
 *
 * Tokens are signed with the participant's signing key, so the participant
 * must be ACTIVATED (its DID document is what verifiers resolve).
 */
import { BadRequestError, ConflictError } from '../errors.js'
import { checkAnyDid } from './did-syntax.js'
import type { OrgStore } from './org-store.js'
import { parseScopes } from './dcp/scopes.js'
import { createAccessToken, createIdToken, DEFAULT_MAX_ID_TOKEN_TTL_S, DEFAULT_TOKEN_TTL_S } from './dcp/tokens.js'

export interface TokenRequest {
  participantId: string
  /** The DID the ID token is for. */
  audience: string
  /** Holder side: scopes to grant the audience. */
  scope?: string[]
  /** Verifier side: the access token to present back to its issuer. */
  token?: string
  /** Lifetime in seconds (default 300, at most 3600). */
  ttlS?: number
}

export interface TokenResponse {
  idToken: string
  accessToken?: string
  expiresIn: number
}

/** Longest lifetime we issue: what a holder will accept as an ID token's lifetime. */
export const MAX_TOKEN_TTL_S = DEFAULT_MAX_ID_TOKEN_TTL_S

export async function issueTokens (org: OrgStore, req: TokenRequest, nowMs = Date.now()): Promise<TokenResponse> {
  // Canonical form (did:web escapes), so the holder's `aud` check compares equal strings.
  const audience = checkAnyDid(req.audience, 'audience')
  if (req.scope !== undefined && req.token !== undefined) throw new BadRequestError('give either scope (holder: grant access) or token (verifier: present an access token), not both')
  const ttlS = req.ttlS ?? DEFAULT_TOKEN_TTL_S
  if (!Number.isInteger(ttlS) || ttlS < 1 || ttlS > MAX_TOKEN_TTL_S) throw new BadRequestError(`ttl must be an integer number of seconds in 1…${MAX_TOKEN_TTL_S}`)
  const p = await org.getParticipant(req.participantId)
  if (p.state !== 'ACTIVATED') throw new ConflictError(`participant "${p.participantId}" is ${p.state}: only an ACTIVATED participant can issue tokens (nobody could resolve its keys)`)
  const signer = await org.signingKey(p.participantId)
  const now = Math.floor(nowMs / 1000)
  let accessToken: string | undefined
  if (req.scope !== undefined) {
    if (!Array.isArray(req.scope) || req.scope.length === 0) throw new BadRequestError('scope must list at least one scope')
    const scopes = parseScopes(req.scope).map(s => s.scope)
    accessToken = createAccessToken(signer, { holderDid: p.did, verifierDid: audience, scopes, ttlS, now })
  }
  const token = accessToken ?? req.token
  if (token !== undefined && (typeof token !== 'string' || token === '')) throw new BadRequestError('token must be a non-empty string')
  const idToken = createIdToken(signer, { did: p.did, audience, ttlS, now, ...(token !== undefined ? { token } : {}) })
  return { idToken, ...(accessToken !== undefined ? { accessToken } : {}), expiresIn: ttlS }
}
