/**
 * DCP credential issuance (DCP 1.0 §"Credential Issuance Protocol"), both
 * sides, over the OrgStore:
 *
 * Issuer: a participant with credential definitions answers metadata and
 * CredentialRequestMessages. A request is recorded RECEIVED and answered
 * 201 at once; it is then processed here, in an in-process queue: policy
 * (every requested definition exists, the holder is on its allow-list) →
 * sign one VCDM 1.1 JWT VC per definition → deliver a CredentialMessage to
 * the holder's CredentialService (its Storage API) → record ISSUED or
 * REJECTED. Rejections are delivered too, when the holder can be reached.
 *
 * Revocation: a definition with `statusList: true` gives each credential a
 * `BitstringStatusListEntry` (purpose revocation) into one of the issuer's
 * own lists. Its index is allocated, and the credential recorded as issued,
 * in one batch before it is signed (OrgStore.recordIssuedCredentials), so
 * whatever may reach a holder can be revoked. The lists are served, signed
 * on every fetch, at `<IssuerService endpoint>/status/<listId>`
 * (createStatusListJwt, http/issuance-api.ts).
 *
 * Holder: `requestCredentials` finds the issuer's IssuerService in its DID
 * document, records the request (REQUESTED) before sending it, sends it and
 * records the issuerPid from the 201's Location. The credentials come back
 * through the Storage API (http/dcp-api.ts), which settles the record.
 *
 * Delivery is at least once: a request is settled only after its delivery
 * was attempted, so a crash in between leaves it RECEIVED, and `resume()`
 * (run when the HTTP server starts) processes it again, issuing new
 * credentials. Transient delivery failures (no answer, 5xx, 429) are
 * retried a bounded number of times; anything else settles the request.
 */
import { randomUUID } from 'node:crypto'
import { BadRequestError, ConflictError, toHubError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { silentLogger, type Logger } from '../log.js'
import { signJwt, type JwtSigner } from './jwt.js'
import { checkAnyDid, checkForeignId, checkRequestedIds, canonicalDid, type OrgStore } from './org-store.js'
import { VC_V1_CONTEXT } from './dcp/presentation.js'
import {
  DCP_CONTEXT, validateCredentialMessage, validateCredentialRequest, validateCredentialStatus, validateIssuerMetadata,
  type CredentialMessage, type CredentialRequestMessage, type CredentialStatusMessage, type IssuerMetadata
} from './dcp/schemas.js'
import { createIdToken } from './dcp/tokens.js'
import {
  CREDENTIAL_SERVICE, ISSUER_SERVICE, OutboundError, checkServiceEndpoint, endpointUrl, findServiceEndpoint, postDcp
} from './issuance-client.js'
import { MAX_BITSTRING_BYTES, MIN_BITSTRING_ENTRIES } from './status-list.js'
import type { CredentialDefinition, HolderCredentialRequest, IssuanceRequest, IssuedCredential, StatusListRecord } from './types.js'

/** DCP 1.0 profile of what we issue: VCDM 1.1 credentials as JWTs. */
export const ISSUANCE_PROFILE = 'vc11-sl2021/jwt'
/** Holders are identified (and their credentials bound) by did:web DIDs. */
export const BINDING_METHODS = ['did:web']
/** The metadata schema requires an offerReason; DCP defines none for metadata. */
export const METADATA_OFFER_REASON = 'issuance'
/** Pauses before the 2nd and 3rd delivery attempt. */
export const DEFAULT_RETRY_DELAYS_MS = [250, 1000]
/** Requests processed at once: one slow holder must not hold up the others. */
const CONCURRENCY = 4
/** Reasons are stored and sent to holders: bounded. */
const MAX_REASON = 500
/**
 * Lifetime of a served status list credential. Short, because it is signed
 * afresh on every fetch and a verifier should come back for revocations;
 * this hub's own checker keeps a list at most 5 minutes anyway.
 */
export const STATUS_LIST_VALIDITY_S = 3600
/**
 * `nbf` of a served list is this far in the past: a verifier whose clock is
 * a little behind ours would otherwise find the list "not yet valid" and,
 * failing closed, drop every credential in it.
 */
export const STATUS_LIST_CLOCK_SKEW_S = 60

export interface IssuanceDeps {
  org: OrgStore
  /** Resolves DID documents (the hub's resolver: its own DIDs locally, others over did:web). */
  resolveDocument: (did: string) => Promise<DidDocument>
  logger?: Logger
  /** Milliseconds since the epoch. */
  now?: () => number
  /** Pauses before each delivery retry; its length + 1 is the number of attempts. */
  retryDelaysMs?: number[]
  /** Per outbound request. */
  timeoutMs?: number
  /**
   * Entries of each status list started from now on. Default (and what a
   * deployment should keep) {@link MIN_BITSTRING_ENTRIES}, the spec's
   * minimum; smaller lists are for tests of the rollover.
   */
  statusListSize?: number
}

export interface VcOptions {
  issuerDid: string
  holderDid: string
  credentialType: string
  claims?: Record<string, unknown>
  validitySeconds: number
  /** Seconds since the epoch. */
  now: number
  id?: string
  /** The credential's `credentialStatus` (a status list entry), if it has one. */
  credentialStatus?: Record<string, unknown>
}

function iso (seconds: number): string {
  return new Date(seconds * 1000).toISOString()
}

/**
 * A VCDM 1.1 JWT VC. The JWT claims and the `vc` properties say the same
 * thing twice (iss/issuer, sub/credentialSubject.id, jti/id, nbf/
 * issuanceDate, exp/expirationDate) because verifiers read either.
 */
export function createVcJwt (signer: JwtSigner, o: VcOptions): { id: string, jwt: string } {
  const id = o.id ?? `urn:uuid:${randomUUID()}`
  const nbf = Math.floor(o.now)
  const exp = nbf + o.validitySeconds
  const jwt = signJwt(signer, {
    iss: o.issuerDid,
    sub: o.holderDid,
    jti: id,
    iat: nbf,
    nbf,
    exp,
    vc: {
      '@context': [VC_V1_CONTEXT],
      id,
      type: ['VerifiableCredential', o.credentialType],
      issuer: o.issuerDid,
      issuanceDate: iso(nbf),
      expirationDate: iso(exp),
      // id last: the subject is the holder, whatever the claims say (definitions refuse an id claim anyway).
      credentialSubject: { ...o.claims, id: o.holderDid },
      ...(o.credentialStatus !== undefined ? { credentialStatus: o.credentialStatus } : {})
    }
  })
  return { id, jwt }
}

/** The `credentialStatus` of a credential issued into a status list (W3C Bitstring Status List v1.0). */
export function statusListEntry (c: Pick<IssuedCredential, 'statusListCredential' | 'index'>): Record<string, unknown> {
  return {
    id: `${c.statusListCredential}#${c.index}`,
    type: 'BitstringStatusListEntry',
    statusPurpose: 'revocation',
    statusListIndex: String(c.index),
    statusListCredential: c.statusListCredential
  }
}

/**
 * A status list as the credential the holders' checkers fetch: a VCDM 1.1
 * JWT VC (`BitstringStatusListCredential`) whose `id`/`jti` is the list's
 * URL — the checker refuses a list that names another URL than the one it
 * asked for — signed by the issuer, valid for {@link STATUS_LIST_VALIDITY_S}.
 */
export function createStatusListJwt (signer: JwtSigner, o: { issuerDid: string, list: StatusListRecord, now: number }): string {
  const iat = Math.floor(o.now)
  const nbf = iat - STATUS_LIST_CLOCK_SKEW_S
  const exp = iat + STATUS_LIST_VALIDITY_S
  const url = o.list.url
  return signJwt(signer, {
    iss: o.issuerDid,
    jti: url,
    iat,
    nbf,
    exp,
    vc: {
      '@context': [VC_V1_CONTEXT],
      id: url,
      type: ['VerifiableCredential', 'BitstringStatusListCredential'],
      issuer: o.issuerDid,
      issuanceDate: iso(nbf),
      expirationDate: iso(exp),
      credentialSubject: { id: `${url}#list`, type: 'BitstringStatusList', statusPurpose: o.list.statusPurpose, encodedList: o.list.encodedList }
    }
  })
}

/** The IssuerMetadata for a participant's definitions, checked against the official schema. */
export function issuerMetadata (issuerDid: string, defs: readonly CredentialDefinition[]): IssuerMetadata {
  return validateIssuerMetadata({
    '@context': [DCP_CONTEXT],
    type: 'IssuerMetadata',
    issuer: issuerDid,
    credentialsSupported: defs.map(d => ({
      id: d.id,
      type: 'CredentialObject',
      credentialType: d.credentialType,
      credentialSchema: d.credentialSchema ?? '',
      offerReason: METADATA_OFFER_REASON,
      bindingMethods: [...BINDING_METHODS],
      profile: ISSUANCE_PROFILE
    }))
  })
}

/**
 * A CredentialRequestMessage as the Issuer Service accepts it: the official
 * schema, plus our bounds (a holderPid of at most 256 characters, 1…16
 * distinct credential ids). Throws {@link BadRequestError}; checked before
 * the caller's token, so a refused message never consumes its jti.
 */
export function parseCredentialRequest (body: unknown): CredentialRequestMessage {
  const msg = validateCredentialRequest(body)
  checkForeignId(msg.holderPid, 'holderPid')
  checkRequestedIds(msg.credentials.map(c => c.id))
  return msg
}

/** The CredentialStatus of a request, checked against the official schema. */
export function credentialStatus (r: IssuanceRequest): CredentialStatusMessage {
  return validateCredentialStatus({ '@context': [DCP_CONTEXT], type: 'CredentialStatus', issuerPid: r.issuerPid, holderPid: r.holderPid, status: r.status })
}

function clip (s: string): string {
  return s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 1)}…` : s
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}

/** Worth another attempt: no answer at all, or an answer that says "later". */
function transient (err: unknown): boolean {
  if (!(err instanceof OutboundError)) return false
  const status = err.details?.status
  return err.details?.reason === 'unreachable' || (typeof status === 'number' && (status >= 500 || status === 429))
}

type Decision =
  /** `statusBaseUrl`: where the issuer's status lists are served, when a definition needs one. */
  | { ok: true, defs: CredentialDefinition[], statusBaseUrl?: string }
  | { ok: false, reason: string }

interface Delivery { delivered: boolean, error?: string }

export class IssuanceService {
  readonly #org: OrgStore
  readonly #resolve: (did: string) => Promise<DidDocument>
  readonly #log: Logger
  readonly #now: () => number
  readonly #retryDelays: number[]
  readonly #timeoutMs: number | undefined
  readonly #statusListSize: number
  readonly #abort = new AbortController()
  /** Jobs waiting or running, by `pid\nissuerPid`: a request is never processed twice at once. */
  readonly #known = new Set<string>()
  readonly #waiting: Array<{ pid: string, issuerPid: string }> = []
  readonly #running = new Set<Promise<void>>()
  #idleWaiters: Array<() => void> = []

  constructor (deps: IssuanceDeps) {
    this.#org = deps.org
    this.#resolve = deps.resolveDocument
    this.#log = (deps.logger ?? silentLogger).child('issuance')
    this.#now = deps.now ?? Date.now
    this.#retryDelays = deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS
    this.#timeoutMs = deps.timeoutMs
    const size = deps.statusListSize ?? MIN_BITSTRING_ENTRIES
    if (!Number.isSafeInteger(size) || size < 8 || size % 8 !== 0 || size > MAX_BITSTRING_BYTES * 8) throw new RangeError(`statusListSize must be a multiple of 8 in 8…${MAX_BITSTRING_BYTES * 8}`)
    this.#statusListSize = size
  }

  #nowS (): number {
    return Math.floor(this.#now() / 1000)
  }

  #outbound (): { signal: AbortSignal, timeoutMs?: number } {
    return { signal: this.#abort.signal, ...(this.#timeoutMs !== undefined ? { timeoutMs: this.#timeoutMs } : {}) }
  }

  // ── issuer: what the DCP Issuer Service endpoints call ─────────────────

  async metadata (pid: string): Promise<IssuerMetadata> {
    const p = await this.#org.getParticipant(pid)
    return issuerMetadata(p.did, await this.#org.listDefinitions(pid))
  }

  /** Record a validated CredentialRequestMessage from `holderDid` (authenticated) and queue it. */
  async receive (pid: string, holderDid: string, msg: CredentialRequestMessage): Promise<IssuanceRequest> {
    const req = await this.#org.receiveIssuanceRequest(pid, { holderDid, holderPid: msg.holderPid, credentials: msg.credentials.map(c => c.id) })
    this.enqueue(pid, req.issuerPid)
    return req
  }

  /** The request's status, for the holder that made it only (anyone else: undefined, i.e. 404). */
  async status (pid: string, issuerPid: string, callerDid: string): Promise<CredentialStatusMessage | undefined> {
    const r = await this.#org.findIssuanceRequest(pid, issuerPid)
    return r !== undefined && r.holderDid === canonicalDid(callerDid) ? credentialStatus(r) : undefined
  }

  // ── issuer: the queue ─────────────────────────────────────────────────

  /** Process a RECEIVED request soon (no-op when it is already queued or running, or after close). */
  enqueue (pid: string, issuerPid: string): void {
    const key = `${pid}\n${issuerPid}`
    if (this.#abort.signal.aborted || this.#known.has(key)) return
    this.#known.add(key)
    this.#waiting.push({ pid, issuerPid })
    this.#pump()
  }

  /** Queue every request still RECEIVED (after a restart). Returns how many. */
  async resume (): Promise<number> {
    let n = 0
    for (const p of await this.#org.listParticipants()) {
      for (const r of await this.#org.listIssuanceRequests(p.participantId)) {
        if (r.status !== 'RECEIVED') continue
        this.enqueue(p.participantId, r.issuerPid)
        n++
      }
    }
    return n
  }

  /** Resolves when nothing is queued or running. */
  async idle (): Promise<void> {
    if (this.#known.size === 0) return
    await new Promise<void>(resolve => this.#idleWaiters.push(resolve))
  }

  /**
   * Stop: queued requests are left RECEIVED (resume() picks them up next
   * time), running ones are aborted at their next outbound call and not
   * settled. Resolves once nothing runs.
   */
  async close (): Promise<void> {
    this.#abort.abort()
    this.#waiting.length = 0
    while (this.#running.size > 0) await Promise.allSettled([...this.#running])
    this.#known.clear()
    this.#settleIdle()
  }

  #settleIdle (): void {
    if (this.#known.size > 0) return
    for (const w of this.#idleWaiters.splice(0)) w()
  }

  #pump (): void {
    while (this.#running.size < CONCURRENCY && this.#waiting.length > 0) {
      const job = this.#waiting.shift() as { pid: string, issuerPid: string }
      const run: Promise<void> = this.#process(job.pid, job.issuerPid)
        .catch((err: unknown) => {
          // The request stays RECEIVED; resume() retries it after a restart.
          this.#log.error('issuance request failed', { participantId: job.pid, issuerPid: job.issuerPid, reason: toHubError(err).message })
        })
        .finally(() => {
          this.#running.delete(run)
          this.#known.delete(`${job.pid}\n${job.issuerPid}`)
          this.#pump()
          this.#settleIdle()
        })
      this.#running.add(run)
    }
  }

  async #decide (pid: string, req: IssuanceRequest): Promise<Decision> {
    const defs: CredentialDefinition[] = []
    for (const id of req.credentials) {
      const def = await this.#org.findDefinition(pid, id)
      if (def === undefined) return { ok: false, reason: `unknown credential definition "${id}"` }
      if (def.holders !== undefined && !def.holders.includes(req.holderDid)) return { ok: false, reason: `${req.holderDid} is not allowed to receive "${id}"` }
      defs.push(def)
    }
    const revocable = defs.find(d => d.statusList === true)
    if (revocable === undefined) return { ok: true, defs }
    const base = await this.#statusBaseUrl(pid)
    if (!base.ok) return { ok: false, reason: `credential definition "${revocable.id}" issues revocable credentials, but ${base.reason}` }
    return { ok: true, defs, statusBaseUrl: base.url }
  }

  /**
   * The issuer's public base URL, its IssuerService endpoint: holders find
   * the issuer there already, and the status list route hangs off the same
   * base (`…/status/<listId>`). Held to the outbound rule, since holders'
   * checkers will only fetch a list from an HTTPS (or loopback) URL.
   */
  async #statusBaseUrl (pid: string): Promise<{ ok: true, url: string } | { ok: false, reason: string }> {
    const doc = (await this.#org.getDid(pid)).document
    const ep = findServiceEndpoint(doc, ISSUER_SERVICE)
    if (ep === undefined) return { ok: false, reason: `the issuer's DID document lists no ${ISSUER_SERVICE} endpoint to serve its status list from` }
    let url: URL
    try {
      url = checkServiceEndpoint(ep)
    } catch (err) {
      return { ok: false, reason: `the issuer's ${ISSUER_SERVICE} endpoint cannot serve its status list: ${toHubError(err).message}` }
    }
    if (url.search !== '' || url.hash !== '') return { ok: false, reason: `the issuer's ${ISSUER_SERVICE} endpoint has a query or fragment: no status list URL can be built from it` }
    return { ok: true, url: url.href }
  }

  async #process (pid: string, issuerPid: string): Promise<void> {
    const signal = this.#abort.signal
    const req = await this.#org.findIssuanceRequest(pid, issuerPid)
    if (req?.status !== 'RECEIVED') return
    const p = await this.#org.getParticipant(pid)
    // A participant that is not ACTIVATED has no served DID document: nothing it signed would verify.
    if (p.state !== 'ACTIVATED') {
      await this.#settle(pid, req, { status: 'REJECTED', rejectionReason: 'the issuer is not active' }, { delivered: false, error: `the issuer is ${p.state}` })
      return
    }
    let signer: JwtSigner
    try {
      signer = await this.#org.signingKey(pid)
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err
      // No key to sign with: nothing can be issued, nor a rejection sent (it needs a signed token).
      await this.#settle(pid, req, { status: 'REJECTED', rejectionReason: 'the issuer has no signing key' }, { delivered: false, error: err.message })
      return
    }
    const decision = await this.#decide(pid, req)
    const base = { '@context': [DCP_CONTEXT], type: 'CredentialMessage' as const, issuerPid: req.issuerPid, holderPid: req.holderPid }
    let message: CredentialMessage
    let credentialIds: string[] | undefined
    if (decision.ok) {
      const now = this.#nowS()
      const planned = decision.defs.map(def => ({ def, id: `urn:uuid:${randomUUID()}` }))
      // Indices are allocated and the credentials recorded before anything is signed (see the header).
      const entries = new Map<string, IssuedCredential>()
      const revocable = planned.filter(x => x.def.statusList === true)
      if (revocable.length > 0) {
        const recorded = await this.#org.recordIssuedCredentials(pid, req.issuerPid, {
          statusBaseUrl: decision.statusBaseUrl ?? '',
          listSize: this.#statusListSize,
          credentials: revocable.map(x => ({ credentialId: x.id, definitionId: x.def.id, credentialType: x.def.credentialType }))
        })
        for (const r of recorded) entries.set(r.credentialId, r)
      }
      const vcs = planned.map(({ def: d, id }) => {
        const entry = entries.get(id)
        return {
          def: d,
          vc: createVcJwt(signer, {
            issuerDid: p.did, holderDid: req.holderDid, credentialType: d.credentialType, validitySeconds: d.validitySeconds, now, id,
            ...(d.claims !== undefined ? { claims: d.claims } : {}),
            ...(entry !== undefined ? { credentialStatus: statusListEntry(entry) } : {})
          })
        }
      })
      credentialIds = vcs.map(x => x.vc.id)
      message = validateCredentialMessage({ ...base, status: 'ISSUED', credentials: vcs.map(x => ({ credentialType: x.def.credentialType, payload: x.vc.jwt, format: 'jwt' })) })
    } else {
      message = validateCredentialMessage({ ...base, status: 'REJECTED', rejectionReason: clip(decision.reason) })
    }
    const delivery = await this.#deliver(p.did, signer, req.holderDid, message, signal)
    if (signal.aborted) return
    if (decision.ok && !delivery.delivered) {
      // Credentials that never reached the holder were not issued: the request fails, and says why.
      await this.#settle(pid, req, { status: 'REJECTED', rejectionReason: clip(`delivery failed: ${delivery.error ?? 'unknown error'}`) }, delivery)
    } else if (decision.ok) {
      await this.#settle(pid, req, { status: 'ISSUED', credentialIds: credentialIds ?? [] }, delivery)
    } else {
      await this.#settle(pid, req, { status: 'REJECTED', rejectionReason: clip(decision.reason) }, delivery)
    }
  }

  async #settle (pid: string, req: IssuanceRequest, o: { status: 'ISSUED' | 'REJECTED', rejectionReason?: string, credentialIds?: string[] }, d: Delivery): Promise<void> {
    await this.#org.settleIssuanceRequest(pid, req.issuerPid, { ...o, delivered: d.delivered, ...(d.error !== undefined ? { deliveryError: clip(d.error) } : {}) })
    this.#log.info('issuance request settled', { participantId: pid, issuerPid: req.issuerPid, status: o.status, delivered: d.delivered })
  }

  /** Send `message` to the holder's Storage API, retrying transient failures. Never throws. */
  async #deliver (issuerDid: string, signer: JwtSigner, holderDid: string, message: CredentialMessage, signal: AbortSignal): Promise<Delivery> {
    let url: string
    try {
      const doc = await this.#resolve(holderDid)
      const ep = findServiceEndpoint(doc, CREDENTIAL_SERVICE)
      if (ep === undefined) return { delivered: false, error: `${holderDid} lists no ${CREDENTIAL_SERVICE}` }
      url = endpointUrl(checkServiceEndpoint(ep).href, 'credentials')
    } catch (err) {
      return { delivered: false, error: `cannot find the holder's ${CREDENTIAL_SERVICE}: ${toHubError(err).message}` }
    }
    let last = 'not attempted'
    for (let attempt = 0; attempt <= this.#retryDelays.length; attempt++) {
      if (attempt > 0) await sleep(this.#retryDelays[attempt - 1] ?? 0, signal)
      if (signal.aborted) return { delivered: false, error: 'aborted' }
      // A fresh ID token per attempt: the holder accepts each jti once.
      const token = createIdToken(signer, { did: issuerDid, audience: holderDid, now: this.#nowS() })
      try {
        await postDcp(url, message, token, this.#outbound())
        return { delivered: true }
      } catch (err) {
        // 409 on a retry: an earlier attempt whose answer we lost already stored these very credentials.
        if (attempt > 0 && err instanceof OutboundError && err.details?.status === 409) return { delivered: true }
        last = toHubError(err).message
        if (!transient(err)) break
      }
    }
    return { delivered: false, error: last }
  }

  // ── holder ────────────────────────────────────────────────────────────

  /**
   * Ask `issuerDid` for credentials (definition ids). Resolves with the
   * request record once the issuer acknowledged it (RECEIVED, or already
   * settled if its answer was faster). Throws before anything is stored for
   * bad input or an issuer without a usable IssuerService; once the request
   * is recorded, a failure to send it marks it FAILED and throws
   * {@link OutboundError} (`unavailable`).
   */
  async requestCredentials (pid: string, input: { issuerDid: unknown, credentials: unknown }): Promise<HolderCredentialRequest> {
    const p = await this.#org.getParticipant(pid)
    const issuerDid = checkAnyDid(input.issuerDid, 'issuerDid')
    const credentials = checkRequestedIds(input.credentials)
    if (p.state !== 'ACTIVATED') throw new ConflictError(`participant "${p.participantId}" is ${p.state}: only an ACTIVATED participant can request credentials (the issuer could not resolve its keys)`)
    let doc: DidDocument
    try {
      doc = await this.#resolve(issuerDid)
    } catch (err) {
      throw new OutboundError(`cannot resolve the issuer ${issuerDid}: ${toHubError(err).message}`, { reason: 'unresolvable_issuer' }, { cause: err })
    }
    const ep = findServiceEndpoint(doc, ISSUER_SERVICE)
    if (ep === undefined) throw new BadRequestError(`${issuerDid} lists no ${ISSUER_SERVICE} in its DID document`, { reason: 'no_issuer_service' })
    const url = endpointUrl(checkServiceEndpoint(ep).href, 'credentials')
    const signer = await this.#org.signingKey(pid)

    // Recorded before sending: the issuer may deliver before its 201 reaches us, and the Storage API must find the record.
    const rec = await this.#org.createHolderRequest(pid, { issuerDid, credentials })
    const msg = validateCredentialRequest({
      '@context': [DCP_CONTEXT],
      type: 'CredentialRequestMessage',
      holderPid: rec.holderPid,
      credentials: credentials.map(id => ({ id }))
    })
    const token = createIdToken(signer, { did: p.did, audience: issuerDid, now: this.#nowS() })
    let issuerPid: string | undefined
    try {
      const reply = await postDcp(url, msg, token, this.#outbound())
      issuerPid = issuerPidOf(reply.location, reply.body)
      if (issuerPid === undefined) throw new OutboundError('the issuer acknowledged the request without saying where its status is (no Location)', { reason: 'bad_answer' })
    } catch (err) {
      const e = toHubError(err)
      await this.#org.updateHolderRequest(pid, rec.holderPid, { status: 'FAILED', reason: clip(e.message) })
      throw e
    }
    return await this.#org.updateHolderRequest(pid, rec.holderPid, { status: 'RECEIVED', issuerPid })
  }
}

/** The issuerPid from a 201: the last segment of `Location` (…/requests/{issuerPid}), else the body's `issuerPid`. */
export function issuerPidOf (location: string | undefined, body: unknown): string | undefined {
  if (location !== undefined) {
    const m = /\/requests\/([^/]+)\/?$/.exec(new URL(location).pathname)
    if (m !== null) {
      try {
        const id = decodeURIComponent(m[1] as string)
        if (id !== '') return id
      } catch { /* fall through to the body */ }
    }
  }
  const fromBody = typeof body === 'object' && body !== null ? (body as { issuerPid?: unknown }).issuerPid : undefined
  return typeof fromBody === 'string' && fromBody !== '' ? fromBody : undefined
}
