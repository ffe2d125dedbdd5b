/**
 * The verifier's side of a DCP presentation: what a `PresentationResponseMessage`
 * from a holder proves. Pure apart from the injected I/O (DID resolution,
 * the issuers' status lists).
 *
 * The answer is a report, never an exception: a holder that sends garbage,
 * a forged VP or someone else's credential is a *finding*, each with a
 * stable `code`, so a caller (the CLI, a policy engine) can act on exactly
 * what failed. Only bad arguments — ours, not the holder's — throw.
 *
 * Checks, in order (protocols/dcp.md, "Verifier"):
 *  1. the message against the official schema (`schema_violation`);
 *  2. each presentation (at most 8, with at most 64 credentials in all): a compact JWS (`unsupported_presentation`,
 *     `malformed_vp`) of either data model (VCDM 1.1 `vp` claim, or a VCDM
 *     2.0 `vp+jwt` whose payload is the VP), signed by a key in the holder's
 *     DID document (`bad_vp_signature`), `iss` (and `holder`) the holder
 *     (`vp_wrong_holder`), `aud` the verifier (`wrong_audience`), `exp`
 *     present and not passed (`vp_expired`), `nbf`/`iat` not in the future
 *     (`vp_not_yet_valid`), 60 s of skew as for DCP tokens;
 *  3. each credential: a JWT VC (`malformed_credential`,
 *     `unsupported_credential`) of the presentation's data model
 *     (`data_model_mismatch`), signed by its issuer (`bad_signature`), valid
 *     now (`expired`, `not_yet_valid`), clear in its issuer's status lists
 *     (`revoked`, `suspended`, `status_unverifiable`) — looked up only once
 *     the signature holds, since an unsigned credential's status URL is
 *     anyone's choice — and about the holder (`holder_mismatch`,
 *     `no_subject`);
 *  4. every requested scope matched by a credential that passed everything
 *     and sits in a presentation that passed everything (`missing`).
 */
import { createHash } from 'node:crypto'
import { BadRequestError, toHubError } from '../../errors.js'
import type { DidDocument } from '../../identity/did-key.js'
import { canonicalDid, checkAnyDid } from '../did-syntax.js'
import { decodeJwt, verifyDidJwt, type JwtPayload } from '../jwt.js'
import type { StatusCheckable, StatusVerdict } from '../status-checker.js'
import { isValidAt, parseVcJwt, VC_V2_CONTEXT, type DataModel, type ParsedCredential } from '../vc.js'
import { unenvelope } from './presentation.js'
import { validatePresentationResponse } from './schemas.js'
import { credentialMatches, type Scope } from './scopes.js'
import { DEFAULT_SKEW_S } from './tokens.js'

/** Every finding a verification can report. Stable: callers switch on them. */
export const FINDING_CODES = [
  // the message
  'schema_violation', 'too_many_presentations',
  // a presentation
  'unsupported_presentation', 'malformed_vp', 'bad_vp_signature', 'vp_wrong_holder', 'wrong_audience',
  'vp_expired', 'vp_not_yet_valid', 'too_many_credentials',
  // a credential
  'malformed_credential', 'unsupported_credential', 'data_model_mismatch', 'bad_signature', 'expired',
  'not_yet_valid', 'revoked', 'suspended', 'status_unverifiable', 'holder_mismatch', 'no_subject',
  'self_issued', 'untrusted_issuer', 'in_rejected_presentation',
  // the query
  'missing',
  // getting the answer (verify-client.ts)
  'unresolvable_holder', 'no_credential_service', 'insecure_endpoint', 'bad_endpoint', 'forbidden_address',
  'redirected', 'holder_refused', 'unreachable', 'response_too_large'
] as const

export type FindingCode = typeof FINDING_CODES[number]

export interface Problem {
  code: FindingCode
  message: string
  details?: Record<string, unknown>
}

/** `pass`, `fail`, or `skip` (not checked: an earlier check failed, or there was nothing to check it with). */
export type CheckResult = 'pass' | 'fail' | 'skip'

export interface PresentationReport {
  /** Index in the message's `presentation` array. */
  index: number
  ok: boolean
  /** Undefined when the presentation could not be read as either data model. */
  dataModel?: DataModel
  problems: Problem[]
}

export interface CredentialReport {
  /** As `parseVcJwt` names it; `urn:sha256:<hex>` of the JWT when it cannot be parsed. */
  id: string
  types: string[]
  issuer?: string
  subject?: string
  dataModel?: DataModel
  /** Index of the presentation it came in. */
  presentation: number
  /** Every check passed and so did its presentation. */
  ok: boolean
  checks: { signature: CheckResult, validity: CheckResult, status: CheckResult, holderBinding: CheckResult, issuerTrust: CheckResult }
  problems: Problem[]
}

export interface VerificationReport {
  /** No finding at all. */
  ok: boolean
  /** The holder DID checked against (canonical form). */
  holder: string
  /** Findings about the message as a whole (schema, and in verify-client.ts the call itself). */
  problems: Problem[]
  presentations: PresentationReport[]
  credentials: CredentialReport[]
  /** Requested scopes no valid credential matched. */
  missing: string[]
}

/** The per-credential verdict of an issuer status check (`StatusListChecker.check` fits). */
export interface CredentialStatusSource {
  check: (cred: StatusCheckable) => Promise<StatusVerdict>
}

export interface VerifyPresentationOptions {
  /** Whose presentation this must be. */
  holderDid: string
  /** Who asked: the VP's `aud` must name it. */
  verifierDid: string
  /** Seconds since the epoch. */
  nowS: number
  /** When given, each must be matched by some valid credential, else a `missing` finding. */
  requestedScopes?: readonly Scope[]
  /** Resolves holder and issuer DID documents. */
  resolveDocument: (did: string) => Promise<DidDocument>
  /** Without one, status is `skip` (not checked) for credentials that have a `credentialStatus`. */
  statusChecker?: CredentialStatusSource
  /** Clock skew tolerated on the VP's `exp`/`nbf`/`iat`; default 60 s. */
  skewS?: number
  /**
   * The issuers whose credentials count (DIDs). A credential from anyone
   * else is `untrusted_issuer`. Without a list, issuer trust is not checked
   * (`issuerTrust: 'skip'`) — except that a credential the holder issued
   * to itself (`self_issued`) never counts unless its issuer is listed: a
   * valid signature proves nothing when the signer is the one being checked.
   */
  trustedIssuers?: readonly string[]
}

/** More than any real answer holds; each costs signature checks and DID resolutions. */
export const MAX_PRESENTATIONS = 8
/**
 * Across all presentations of one answer: each credential may name a
 * different issuer DID, and each DID is a document fetched from wherever
 * the holder chose, so a hostile answer must not buy hundreds of fetches.
 */
export const MAX_CREDENTIALS = 64

const VP = 'VerifiablePresentation'

function problem (code: FindingCode, message: string, details?: Record<string, unknown>): Problem {
  return details === undefined ? { code, message } : { code, message, details }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function sameDid (a: string, b: string): boolean {
  return canonicalDid(a) === canonicalDid(b)
}

function jwtFailure (err: unknown): string {
  const e = toHubError(err)
  return typeof e.details?.reason === 'string' ? e.details.reason : e.code
}

/** One resolution per DID per verification: many credentials usually share an issuer. */
function memoised (resolve: (did: string) => Promise<DidDocument>): (did: string) => Promise<DidDocument> {
  const seen = new Map<string, Promise<DidDocument>>()
  return async did => {
    let p = seen.get(did)
    if (p === undefined) {
      p = resolve(did)
      seen.set(did, p)
    }
    return await p
  }
}

function checkArgs (opts: VerifyPresentationOptions): { holder: string, verifier: string } {
  if (!isObject(opts)) throw new BadRequestError('verification options must be an object')
  const holder = checkAnyDid(opts.holderDid, 'holderDid')
  const verifier = checkAnyDid(opts.verifierDid, 'verifierDid')
  if (typeof opts.nowS !== 'number' || !Number.isFinite(opts.nowS)) throw new BadRequestError('nowS must be a number of seconds')
  if (typeof opts.resolveDocument !== 'function') throw new BadRequestError('resolveDocument must be a function')
  if (opts.requestedScopes !== undefined && !Array.isArray(opts.requestedScopes)) throw new BadRequestError('requestedScopes must be a list of parsed scopes')
  return { holder, verifier }
}

interface ReadVp {
  dataModel: DataModel
  payload: JwtPayload
  /** The holder the VP names (`vp.holder` / `holder`), when it names one. */
  holder: unknown
  credentials: unknown
}

/** A VP's data model and parts, or the finding that says why it is neither. */
function readVp (payload: JwtPayload): ReadVp | Problem {
  if (payload.vp !== undefined) {
    if (!isObject(payload.vp)) return problem('malformed_vp', 'the vp claim is not an object')
    const types = payload.vp.type
    if (!(types === VP || (Array.isArray(types) && types.includes(VP)))) return problem('malformed_vp', `vp.type does not include ${VP}`)
    return { dataModel: '1.1', payload, holder: payload.vp.holder, credentials: payload.vp.verifiableCredential }
  }
  const ctx = payload['@context']
  const first = Array.isArray(ctx) ? ctx[0] : ctx
  const types = payload.type
  if (first === VC_V2_CONTEXT && (types === VP || (Array.isArray(types) && types.includes(VP)))) {
    return { dataModel: '2.0', payload, holder: payload.holder, credentials: payload.verifiableCredential }
  }
  return problem('malformed_vp', 'neither a VCDM 1.1 JWT VP (vp claim) nor a VCDM 2.0 vp+jwt (VerifiablePresentation claims)')
}

function audienceIncludes (aud: unknown, who: string): boolean {
  const list = Array.isArray(aud) ? aud : [aud]
  return list.some(a => typeof a === 'string' && sameDid(a, who))
}

/** The JWT claims of a VP that bind it to holder, verifier and time. */
function claimProblems (vp: ReadVp, holder: string, verifier: string, nowS: number, skewS: number): Problem[] {
  const p = vp.payload
  const out: Problem[] = []
  for (const k of ['exp', 'nbf', 'iat'] as const) {
    if (p[k] !== undefined && (typeof p[k] !== 'number' || !Number.isFinite(p[k]))) out.push(problem('malformed_vp', `the VP's ${k} is not a NumericDate`))
  }
  if (out.length > 0) return out
  if (typeof p.iss !== 'string' || !sameDid(p.iss, holder)) {
    out.push(problem('vp_wrong_holder', `the VP is issued by ${typeof p.iss === 'string' ? p.iss : '(no iss)'}, not by the holder ${holder}`))
  } else if (vp.holder !== undefined && !(typeof vp.holder === 'string' && sameDid(vp.holder, p.iss))) {
    out.push(problem('vp_wrong_holder', 'the VP names a holder other than its iss'))
  }
  if (!audienceIncludes(p.aud, verifier)) out.push(problem('wrong_audience', `the VP is not addressed to ${verifier}`, { aud: p.aud }))
  const exp = p.exp as number | undefined
  const nbf = p.nbf as number | undefined
  const iat = p.iat as number | undefined
  if (exp === undefined) out.push(problem('vp_expired', 'the VP has no exp: it would be valid forever'))
  else if (exp <= nowS - skewS) out.push(problem('vp_expired', 'the VP has expired', { exp }))
  if (nbf !== undefined && nbf > nowS + skewS) out.push(problem('vp_not_yet_valid', 'the VP is not valid yet (nbf)', { nbf }))
  else if (iat !== undefined && iat > nowS + skewS) out.push(problem('vp_not_yet_valid', 'the VP was issued in the future (iat)', { iat }))
  return out
}

/** The JWTs a VP carries, in order; entries that are not one become findings. */
function credentialJwts (vp: ReadVp): { jwts: string[], problems: Problem[] } {
  const list = vp.credentials
  if (list === undefined) return { jwts: [], problems: [] }
  if (!Array.isArray(list)) return { jwts: [], problems: [problem('malformed_vp', 'verifiableCredential is not an array')] }
  const problems: Problem[] = []
  const jwts: string[] = []
  list.forEach((entry: unknown, i) => {
    const jwt = vp.dataModel === '1.1' ? (typeof entry === 'string' ? entry : undefined) : unenvelope(entry)
    if (jwt === undefined) {
      problems.push(problem('unsupported_credential', vp.dataModel === '1.1'
        ? `verifiableCredential[${i}] is not a JWT VC (VCDM 1.1 VPs carry them as strings)`
        : `verifiableCredential[${i}] is not an EnvelopedVerifiableCredential holding a vc+jwt`, { index: i }))
    } else {
      jwts.push(jwt)
    }
  })
  return { jwts, problems }
}

interface Context {
  holder: string
  verifier: string
  nowS: number
  skewS: number
  resolve: (did: string) => Promise<DidDocument>
  statusChecker?: CredentialStatusSource
  /** Canonical DIDs; undefined when the caller gave no list. */
  trusted?: ReadonlySet<string>
  /** Credentials still to be checked in this answer ({@link MAX_CREDENTIALS}). */
  budget: { left: number }
}

async function checkCredential (jwt: string, index: number, vp: ReadVp, vpHolder: string, c: Context): Promise<CredentialReport> {
  const checks: CredentialReport['checks'] = { signature: 'skip', validity: 'skip', status: 'skip', holderBinding: 'skip', issuerTrust: 'skip' }
  const problems: Problem[] = []
  let cred: ParsedCredential
  try {
    cred = parseVcJwt(jwt)
  } catch (err) {
    return {
      id: `urn:sha256:${createHash('sha256').update(jwt).digest('hex')}`,
      types: [],
      presentation: index,
      ok: false,
      checks: { signature: 'fail', validity: 'skip', status: 'skip', holderBinding: 'skip', issuerTrust: 'skip' },
      problems: [problem('malformed_credential', toHubError(err).message)]
    }
  }
  if (cred.dataModel !== vp.dataModel) {
    problems.push(problem('data_model_mismatch', `a VCDM ${cred.dataModel} credential inside a VCDM ${vp.dataModel} presentation`))
  }

  try {
    const verified = await verifyDidJwt(jwt, c.resolve, { purpose: 'assertionMethod' })
    // verifyDidJwt ties `iss` to the key's DID when there is an `iss`; a VCDM 2.0 credential may name its issuer only in `issuer`.
    if (!sameDid(verified.did, cred.issuer)) throw new BadRequestError(`signed by ${verified.did}, not by its issuer ${cred.issuer}`, { reason: 'iss_mismatch' })
    checks.signature = 'pass'
  } catch (err) {
    checks.signature = 'fail'
    problems.push(problem('bad_signature', `the credential's signature does not verify against its issuer ${cred.issuer}: ${toHubError(err).message}`, { reason: jwtFailure(err) }))
  }

  const validity = isValidAt(cred, c.nowS * 1000)
  checks.validity = validity === 'valid' ? 'pass' : 'fail'
  if (validity === 'expired') problems.push(problem('expired', `the credential expired at ${cred.expirationDate ?? '?'}`, { expirationDate: cred.expirationDate }))
  if (validity === 'not_yet_valid') problems.push(problem('not_yet_valid', `the credential is not valid before ${cred.issuanceDate ?? '?'}`, { issuanceDate: cred.issuanceDate }))

  if (checks.signature === 'pass' && c.statusChecker !== undefined) {
    let v: StatusVerdict
    try {
      v = await c.statusChecker.check(cred)
    } catch (err) {
      v = { presentable: false, reason: 'unverifiable', detail: toHubError(err).message }
    }
    if (v.presentable) {
      checks.status = 'pass'
    } else {
      checks.status = 'fail'
      const details = { ...(v.statusListCredential !== undefined ? { statusListCredential: v.statusListCredential } : {}), ...(v.code !== undefined ? { cause: v.code } : {}) }
      const code = v.reason === 'revoked' ? 'revoked' : v.reason === 'suspended' ? 'suspended' : 'status_unverifiable'
      problems.push(problem(code, code === 'status_unverifiable' ? `the credential's status cannot be established: ${v.detail}` : `the credential is ${code} by its issuer (${v.detail})`, details))
    }
  }

  if (cred.subjectId === undefined) {
    checks.holderBinding = 'fail'
    problems.push(problem('no_subject', 'the credential names no subject id: nothing binds it to the holder'))
  } else if (!sameDid(cred.subjectId, vpHolder)) {
    checks.holderBinding = 'fail'
    problems.push(problem('holder_mismatch', `the credential is about ${cred.subjectId}, not about the holder ${vpHolder}`, { subject: cred.subjectId }))
  } else {
    checks.holderBinding = 'pass'
  }

  const listed = c.trusted?.has(canonicalDid(cred.issuer)) === true
  if (listed) {
    checks.issuerTrust = 'pass'
  } else if (sameDid(cred.issuer, vpHolder)) {
    checks.issuerTrust = 'fail'
    problems.push(problem('self_issued', `the holder issued this credential to itself (${cred.issuer}); list it with the trusted issuers if that is meant`))
  } else if (c.trusted !== undefined) {
    checks.issuerTrust = 'fail'
    problems.push(problem('untrusted_issuer', `${cred.issuer} is not one of the trusted issuers`, { issuer: cred.issuer }))
  }

  return {
    id: cred.id,
    types: cred.types,
    issuer: cred.issuer,
    ...(cred.subjectId !== undefined ? { subject: cred.subjectId } : {}),
    dataModel: cred.dataModel,
    presentation: index,
    ok: problems.length === 0,
    checks,
    problems
  }
}

async function checkPresentation (raw: unknown, index: number, c: Context): Promise<{ presentation: PresentationReport, credentials: CredentialReport[] }> {
  const fail = (p: Problem): { presentation: PresentationReport, credentials: CredentialReport[] } =>
    ({ presentation: { index, ok: false, problems: [p] }, credentials: [] })
  if (typeof raw !== 'string') return fail(problem('unsupported_presentation', 'the presentation is not a JWT (JSON-LD presentations with embedded proofs cannot be verified here)'))
  let payload: JwtPayload
  try {
    payload = decodeJwt(raw).payload
  } catch (err) {
    return fail(problem('malformed_vp', `the presentation is not a compact JWS: ${toHubError(err).message}`))
  }
  const vp = readVp(payload)
  if ('code' in vp) return fail(vp)
  const problems: Problem[] = []
  try {
    const verified = await verifyDidJwt(raw, c.resolve, { purpose: 'authentication' })
    if (!sameDid(verified.did, c.holder)) throw new BadRequestError(`signed by a key of ${verified.did}, not of the holder`, { reason: 'iss_mismatch' })
  } catch (err) {
    problems.push(problem('bad_vp_signature', `the VP's signature does not verify against the holder's DID document: ${toHubError(err).message}`, { reason: jwtFailure(err) }))
  }
  problems.push(...claimProblems(vp, c.holder, c.verifier, c.nowS, c.skewS))
  const { jwts, problems: carried } = credentialJwts(vp)
  problems.push(...carried)
  if (jwts.length > c.budget.left) {
    problems.push(problem('too_many_credentials', `the answer carries more than ${MAX_CREDENTIALS} credentials; the rest are not checked`))
    jwts.length = c.budget.left
  }
  c.budget.left -= jwts.length
  // Holder binding is against the holder we asked, the one the VP must be from (checked above).
  const credentials = await Promise.all(jwts.map(async jwt => await checkCredential(jwt, index, vp, c.holder, c)))
  const ok = problems.length === 0
  if (!ok) {
    for (const cr of credentials) {
      cr.ok = false
      cr.problems.push(problem('in_rejected_presentation', 'the presentation it came in failed its checks'))
    }
  }
  return { presentation: { index, ok, dataModel: vp.dataModel, problems }, credentials }
}

/**
 * Verify a holder's answer to a presentation query. Resolves with a
 * {@link VerificationReport} whatever the holder sent; throws
 * {@link BadRequestError} only for bad options.
 */
export async function verifyPresentationResponse (msg: unknown, opts: VerifyPresentationOptions): Promise<VerificationReport> {
  const { holder, verifier } = checkArgs(opts)
  const c: Context = {
    holder,
    verifier,
    nowS: opts.nowS,
    skewS: opts.skewS ?? DEFAULT_SKEW_S,
    resolve: memoised(opts.resolveDocument),
    budget: { left: MAX_CREDENTIALS },
    ...(opts.statusChecker !== undefined ? { statusChecker: opts.statusChecker } : {}),
    ...(opts.trustedIssuers !== undefined ? { trusted: new Set(opts.trustedIssuers.map(d => canonicalDid(checkAnyDid(d, 'a trusted issuer')))) } : {})
  }
  const requested = opts.requestedScopes ?? []
  const report = (problems: Problem[], presentations: PresentationReport[], credentials: CredentialReport[]): VerificationReport => {
    const missing = requested
      .filter(s => !credentials.some(cr => cr.ok && credentialMatches(s, cr)))
      .map(s => s.scope)
    const ok = problems.length === 0 && presentations.every(p => p.ok) && credentials.every(cr => cr.ok) && missing.length === 0
    return { ok, holder, problems, presentations, credentials, missing }
  }

  try {
    validatePresentationResponse(msg)
  } catch (err) {
    const e = toHubError(err)
    return report([problem('schema_violation', `the answer is not a PresentationResponseMessage: ${e.message}`, e.details)], [], [])
  }
  const all = (msg as { presentation: unknown[] }).presentation
  const problems: Problem[] = []
  if (all.length > MAX_PRESENTATIONS) problems.push(problem('too_many_presentations', `the answer holds ${all.length} presentations; only the first ${MAX_PRESENTATIONS} are checked`))
  // One after the other: the credential budget is spent in presentation order.
  const checked: Array<Awaited<ReturnType<typeof checkPresentation>>> = []
  for (const [i, raw] of all.slice(0, MAX_PRESENTATIONS).entries()) checked.push(await checkPresentation(raw, i, c))
  return report(problems, checked.map(x => x.presentation), checked.flatMap(x => x.credentials))
}

/** A report for an answer that never came (verify-client.ts): one finding, nothing verified, every requested scope missing. */
export function failedReport (holder: string, p: Problem, requestedScopes: readonly Scope[] = []): VerificationReport {
  return { ok: false, holder, problems: [p], presentations: [], credentials: [], missing: requestedScopes.map(s => s.scope) }
}

export { problem as finding }
