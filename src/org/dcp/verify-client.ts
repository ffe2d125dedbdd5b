/**
 * The verifier's DCP call: ask a holder for credentials and verify what it
 * sends (`verifyHolder`, behind `hub dcp verify`).
 *
 *  1. the holder's access token: the one the holder handed over (as in a
 *     DSP request) — the access token itself, or the holder's self-issued
 *     ID token whose `token` claim carries it, which is then checked to be
 *     the holder's and addressed to us. Without one, and only when the
 *     holder is a participant on *this* hub, our STS grants it directly: a
 *     local convenience (one hub playing both sides, as in the docs'
 *     example setup), never possible for a holder elsewhere;
 *  2. the holder's DID document → its `CredentialService`, held to the
 *     outbound rule (HTTPS or loopback HTTP, no redirects, a timeout, the
 *     answer read up to {@link MAX_PRESENTATION_RESPONSE_BYTES});
 *  3. `POST <CredentialService>/presentations/query` with a
 *     `PresentationQueryMessage` and our ID token carrying the access token;
 *  4. `verifyPresentationResponse` (verifier.ts).
 *
 * Whatever the holder's side does wrong (no DID document, no endpoint, an
 * insecure or redirecting one, an error answer, garbage) comes back as a
 * report with a finding, not an exception. Exceptions are for our side:
 * bad arguments, a verifier participant that cannot sign, a token that is
 * not the holder's.
 */
import { BadRequestError, ConflictError, HubError, toHubError } from '../../errors.js'
import type { DidDocument } from '../../identity/did-key.js'
import { canonicalDid, checkAnyDid } from '../did-syntax.js'
import { CREDENTIAL_SERVICE, checkServiceEndpoint, endpointUrl, findServiceEndpoint, OutboundError, postDcp, type OutboundOptions } from '../issuance-client.js'
import { decodeJwt } from '../jwt.js'
import type { OrgStore } from '../org-store.js'
import { StatusListChecker } from '../status-checker.js'
import { issueTokens } from '../sts.js'
import { DCP_CONTEXT, type PresentationQueryMessage } from './schemas.js'
import { parseScopes } from './scopes.js'
import { DcpTokenError, verifySelfIssuedIdToken, type ReplayGuard, type VerifiedIdToken } from './tokens.js'
import { failedReport, finding, verifyPresentationResponse, type CredentialStatusSource, type FindingCode, type VerificationReport } from './verifier.js'

/** A VP with a few dozen credentials is well under this; more is a holder trying to exhaust us. */
export const MAX_PRESENTATION_RESPONSE_BYTES = 1024 * 1024

export interface VerifyHolderOptions {
  /** Our participant: signs the ID token, and is the `aud` the VP must carry. */
  verifierPid: string
  /** The holder. Default: the issuer of `token` when that is the holder's self-issued ID token (DCP: the verifier resolves the prover from it). */
  holderDid?: string
  /** DCP scopes to ask for; each must come back matched by a valid credential. */
  scopes: string[]
  /** The holder's access token, or its self-issued ID token carrying it. Optional for a holder on this hub. */
  token?: string
  resolveDocument: (did: string) => Promise<DidDocument>
  /** The issuers whose credentials count (see VerifyPresentationOptions.trustedIssuers). */
  trustedIssuers?: string[]
  /** Default: a fresh StatusListChecker (no cache shared with other calls: a verifier wants today's revocations). */
  statusChecker?: CredentialStatusSource
  /** Per outbound request (timeout, abort signal). */
  outbound?: Pick<OutboundOptions, 'timeoutMs' | 'signal'>
  /** Milliseconds since the epoch. */
  now?: () => number
  /**
   * Remembers the holder ID tokens already acted on (a token is used once).
   * The hub's `dcpReplay` keeps them across restarts; without one, this
   * process remembers them.
   */
  replay?: ReplayGuard
}

export interface HolderVerification extends VerificationReport {
  verifier: string
  /** The canonical scopes asked for. */
  scopes: string[]
  /** The URL queried, once known. */
  endpoint?: string
  /** `given` (the caller's token) or `local` (our STS, the holder being a participant here). */
  tokenSource: 'given' | 'local'
  /** The trust list the credentials were checked against; absent when none was given. */
  trustedIssuers?: string[]
}

function badToken (reason: string, message: string): BadRequestError {
  return new BadRequestError(`--token: ${message}`, { reason })
}

/**
 * The access token inside what the holder handed over. An ID token (it has
 * a `token` claim, or is self-issued: `iss` = `sub`) is checked by the same
 * function that checks every ID token our endpoints receive
 * (`verifySelfIssuedIdToken`: iss = sub, aud, exp, iat, nbf, lifetime, jti,
 * signature, and replay last), then must be the holder's and carry an
 * access token: we are about to act on it. A bare access token (issued by
 * the holder *for* us: `sub` is the verifier) is opaque to us — only the
 * holder can read it back, and does, when we query.
 */
async function accessTokenFrom (token: string, holder: string, verifier: string, nowS: number, resolve: (did: string) => Promise<DidDocument>, replay: ReplayGuard): Promise<string> {
  let payload: Record<string, unknown>
  try {
    payload = decodeJwt(token).payload
  } catch (err) {
    throw badToken('malformed_token', `not a JWT: ${(err as Error).message}`)
  }
  const selfIssued = typeof payload.iss === 'string' && payload.iss === payload.sub
  if (payload.token === undefined && !selfIssued) return token
  let verified: VerifiedIdToken
  try {
    verified = await verifySelfIssuedIdToken(token, { audience: verifier, now: nowS, resolveDocument: resolve, replay })
  } catch (err) {
    const reason = err instanceof DcpTokenError ? String(err.details?.reason) : 'malformed'
    throw badToken(ID_TOKEN_REASONS[reason] ?? `token_${reason}`, `the holder's ID token is refused: ${toHubError(err).message}`)
  }
  if (canonicalDid(verified.iss) !== holder) throw badToken('token_not_from_holder', `the ID token is not the holder's (iss ${verified.iss})`)
  if (verified.token === undefined || verified.token === '') throw badToken('token_missing_access_token', 'the holder\'s ID token carries no access token (token claim)')
  return verified.token
}

/** The prover named by a self-issued ID token (`iss` = `sub`), when no holder DID is given. */
function holderOfToken (token: unknown): string {
  const need = (): BadRequestError => new BadRequestError('give the holder\'s DID, or its self-issued ID token (--token) to take it from', { reason: 'holder_required' })
  if (typeof token !== 'string' || token === '') throw need()
  let payload: Record<string, unknown>
  try {
    payload = decodeJwt(token).payload
  } catch (err) {
    throw badToken('malformed_token', `not a JWT: ${(err as Error).message}`)
  }
  if (typeof payload.iss !== 'string' || payload.iss !== payload.sub) throw need()
  return checkAnyDid(payload.iss, 'the ID token\'s iss')
}

/** Token failures under the names this command has always used; the others become `token_<reason>`. */
const ID_TOKEN_REASONS: Record<string, string> = {
  wrong_audience: 'token_wrong_audience',
  expired: 'token_expired',
  bad_signature: 'bad_token_signature',
  unresolvable_key: 'bad_token_signature',
  malformed: 'malformed_token'
}

/** Accepted (iss, jti) pairs when the caller gives no replay guard: this process only. */
class MemoryReplayGuard implements ReplayGuard {
  readonly #seen = new Map<string, number>()
  async accept (iss: string, jti: string, exp: number): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000)
    if (this.#seen.size > 10_000) for (const [k, e] of this.#seen) if (e < now) this.#seen.delete(k)
    const key = `${iss} ${jti}`
    if (this.#seen.has(key)) return false
    this.#seen.set(key, exp)
    return true
  }
}
const processReplay = new MemoryReplayGuard()

/** The finding for a failed POST: the outbound rule's reason, a redirect, the holder's error, or no answer. */
function callFinding (err: unknown, url: string): { code: FindingCode, message: string, details: Record<string, unknown> } {
  const e = toHubError(err)
  const reason = e.details?.reason
  if (e instanceof BadRequestError && (reason === 'insecure_endpoint' || reason === 'bad_endpoint' || reason === 'forbidden_address')) {
    return { code: reason, message: `the holder's CredentialService is refused by the outbound rule: ${e.message}`, details: { url } }
  }
  if (e instanceof OutboundError && reason === 'refused') {
    const status = e.details?.status as number
    if (status >= 300 && status < 400) return { code: 'redirected', message: `the holder's CredentialService answered a redirect (HTTP ${status}), which is never followed`, details: { url, status } }
    const remote = e.details?.remote as { code?: string } | undefined
    return { code: 'holder_refused', message: e.message, details: { url, status, ...(remote?.code !== undefined ? { holderCode: remote.code } : {}), ...(remote !== undefined ? { remote } : {}) } }
  }
  const cause = (e as { cause?: unknown }).cause
  if (cause instanceof HubError && cause.code === 'too_large') {
    return { code: 'response_too_large', message: `the holder's answer is larger than ${MAX_PRESENTATION_RESPONSE_BYTES} bytes`, details: { url, maxBytes: MAX_PRESENTATION_RESPONSE_BYTES } }
  }
  return { code: 'unreachable', message: e.message, details: { url } }
}

/**
 * Query `holderDid` for `scopes` as participant `verifierPid` and verify
 * the answer. Throws (typed) for bad arguments and for what is wrong on our
 * side; everything about the holder is in the report.
 */
export async function verifyHolder (org: OrgStore, opts: VerifyHolderOptions): Promise<HolderVerification> {
  const now = opts.now ?? Date.now
  const holder = opts.holderDid !== undefined ? checkAnyDid(opts.holderDid, 'holder') : holderOfToken(opts.token)
  if (!Array.isArray(opts.scopes) || opts.scopes.length === 0) throw new BadRequestError('give at least one scope to ask for')
  const scopes = parseScopes(opts.scopes)
  if (opts.trustedIssuers !== undefined && !Array.isArray(opts.trustedIssuers)) throw new BadRequestError('trustedIssuers must be a list of DIDs')
  const trustedIssuers = opts.trustedIssuers?.map(d => canonicalDid(checkAnyDid(d, 'a trusted issuer')))
  if (opts.token !== undefined && (typeof opts.token !== 'string' || opts.token === '')) throw badToken('malformed_token', 'must be a non-empty string')
  const verifierP = await org.getParticipant(opts.verifierPid)
  if (verifierP.state !== 'ACTIVATED') throw new ConflictError(`participant "${verifierP.participantId}" is ${verifierP.state}: only an ACTIVATED participant can verify (the holder resolves its keys)`)
  const verifier = canonicalDid(verifierP.did)
  const resolve = opts.resolveDocument

  let accessToken: string
  let tokenSource: HolderVerification['tokenSource']
  if (opts.token !== undefined) {
    accessToken = await accessTokenFrom(opts.token, holder, verifier, Math.floor(now() / 1000), resolve, opts.replay ?? processReplay)
    tokenSource = 'given'
  } else {
    const holderPid = await org.participantOfDid(holder)
    if (holderPid === undefined) {
      throw new BadRequestError(`${holder} is not a participant on this hub: give the token the holder handed over (--token)`, { reason: 'token_required' })
    }
    const granted = await issueTokens(org, { participantId: holderPid, audience: verifier, scope: scopes.map(s => s.scope) }, now())
    accessToken = granted.accessToken as string
    tokenSource = 'local'
  }

  const base = { verifier, scopes: scopes.map(s => s.scope), tokenSource, ...(trustedIssuers !== undefined ? { trustedIssuers } : {}) }
  const failed = (code: FindingCode, message: string, details?: Record<string, unknown>, endpoint?: string): HolderVerification =>
    ({ ...failedReport(holder, finding(code, message, details), scopes), ...base, ...(endpoint !== undefined ? { endpoint } : {}) })

  let doc: DidDocument
  try {
    doc = await resolve(holder)
  } catch (err) {
    return failed('unresolvable_holder', `cannot resolve the holder's DID document: ${toHubError(err).message}`)
  }
  const ep = findServiceEndpoint(doc, CREDENTIAL_SERVICE)
  if (ep === undefined) return failed('no_credential_service', `${holder} lists no ${CREDENTIAL_SERVICE} in its DID document`)
  let url: string
  try {
    url = endpointUrl(checkServiceEndpoint(ep).href, 'presentations/query')
  } catch (err) {
    const f = callFinding(err, ep)
    return failed(f.code, f.message, f.details)
  }

  // Ours: a failure here (the verifier cannot sign) is thrown, not reported.
  const { idToken } = await issueTokens(org, { participantId: opts.verifierPid, audience: holder, token: accessToken }, now())
  const query: PresentationQueryMessage = { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: scopes.map(s => s.scope) }
  let body: unknown
  try {
    body = (await postDcp(url, query, idToken, { ...opts.outbound, maxResponseBytes: MAX_PRESENTATION_RESPONSE_BYTES })).body
  } catch (err) {
    const f = callFinding(err, url)
    return failed(f.code, f.message, f.details, url)
  }

  const report = await verifyPresentationResponse(body, {
    holderDid: holder,
    verifierDid: verifier,
    nowS: Math.floor(now() / 1000),
    requestedScopes: scopes,
    resolveDocument: resolve,
    statusChecker: opts.statusChecker ?? new StatusListChecker({ resolveDocument: resolve, now }),
    ...(trustedIssuers !== undefined ? { trustedIssuers } : {})
  })
  return { ...report, ...base, endpoint: url }
}
