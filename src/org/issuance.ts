/**
 * DCP credential issuance (DCP 1.0 §"Credential Issuance Protocol"), both
 * sides, over the OrgStore. IssuanceService is the facade the hub and the
 * HTTP routes use; it wires these parts together:
 *
 *   issuance-messages.ts    what an issuer signs and says (VCs, status list credential, metadata, DCP messages)
 *   issuance-queue.ts       received requests, a few at a time, each once at a time
 *   issuance-processor.ts   one request: policy → status list entries → sign → deliver → settle
 *   credential-delivery.ts  the CredentialMessage to the holder's Storage API, with bounded retries
 *   credential-requester.ts holder side: ask an issuer for credentials
 *   offer-exchange.ts       offers: the issuer sends them, the holder's policy accepts them (or not)
 *   renewal.ts              holder side, on a timer: poll unanswered requests, renew expiring credentials
 *
 * Issuer: a participant with credential definitions answers metadata and
 * CredentialRequestMessages. A request is recorded RECEIVED and answered
 * 201 at once, then processed in the queue. Rejections are delivered too,
 * when the holder can be reached.
 *
 * Revocation: a definition with `statusList: true` gives each credential a
 * `BitstringStatusListEntry` (purpose revocation) into one of the issuer's
 * own lists, recorded in one batch before it is signed
 * (OrgStore.recordIssuedCredentials), so whatever may reach a holder can be
 * revoked. The lists are served, signed on every fetch, at
 * `<IssuerService endpoint>/status/<listId>` (createStatusListJwt,
 * http/issuance-api.ts).
 *
 * Delivery is at least once: a request is settled only after its delivery
 * was attempted, so a crash in between leaves it RECEIVED, and `resume()`
 * (run when the HTTP server starts) processes it again, issuing new
 * credentials. Transient delivery failures (no answer, 5xx, 429) are
 * retried a bounded number of times; anything else settles the request.
 */
import { toHubError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { silentLogger, type Logger } from '../log.js'
import { CredentialDelivery, DEFAULT_RETRY_DELAYS_MS } from './credential-delivery.js'
import { CredentialRequester, type RequestLinks } from './credential-requester.js'
import { OfferExchange, type SentOffer } from './offer-exchange.js'
import { DEFAULT_POLL_INTERVAL_MS, HolderMaintenance, type TickResult } from './renewal.js'
import type { CredentialOfferMessage, CredentialRequestMessage, CredentialStatusMessage, IssuerMetadata } from './dcp/schemas.js'
import { canonicalDid } from './did-syntax.js'
import type { OutboundOptions } from './issuance-client.js'
import { credentialStatus, issuerMetadata } from './issuance-messages.js'
import { IssuanceProcessor } from './issuance-processor.js'
import { IssuanceQueue } from './issuance-queue.js'
import type { OrgStore } from './org-store.js'
import { MAX_BITSTRING_BYTES, MIN_BITSTRING_ENTRIES } from './status-list.js'
import type { CredentialOfferRecord, HolderCredentialRequest, IssuanceRequest } from './types.js'

// What callers have always imported from here.
export {
  ISSUANCE_PROFILE, BINDING_METHODS, METADATA_OFFER_REASON, STATUS_LIST_VALIDITY_S, STATUS_LIST_CLOCK_SKEW_S,
  createVcJwt, statusListEntry, createStatusListJwt, issuerMetadata, parseCredentialRequest, credentialStatus, type VcOptions
} from './issuance-messages.js'
export { DEFAULT_RETRY_DELAYS_MS } from './credential-delivery.js'
export { issuerPidOf } from './credential-requester.js'
export { DEFAULT_POLL_INTERVAL_MS, MAX_DELIVERY_MISSING, renewalLeadS, type TickResult } from './renewal.js'
export type { SentOffer } from './offer-exchange.js'

/** Requests processed at once: one slow holder must not hold up the others. */
const CONCURRENCY = 4

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
  /** Renew credentials this many seconds before they expire (a participant's holder policy may say otherwise). Default: min(7 days, half the lifetime). */
  renewalLeadS?: number
  /** A RECEIVED request is polled after waiting this long (ms). Default {@link DEFAULT_POLL_INTERVAL_MS}. */
  pollIntervalMs?: number
}

/** How often the maintenance timer ticks (startMaintenance). */
export const DEFAULT_MAINTENANCE_INTERVAL_MS = 60_000

export class IssuanceService {
  readonly #org: OrgStore
  readonly #log: Logger
  readonly #abort = new AbortController()
  readonly #queue: IssuanceQueue
  readonly #requester: CredentialRequester
  readonly #offers: OfferExchange
  readonly #maintenance: HolderMaintenance
  #timer: ReturnType<typeof setInterval> | undefined

  constructor (deps: IssuanceDeps) {
    this.#org = deps.org
    this.#log = (deps.logger ?? silentLogger).child('issuance')
    const now = deps.now ?? Date.now
    const size = deps.statusListSize ?? MIN_BITSTRING_ENTRIES
    if (!Number.isSafeInteger(size) || size < 8 || size % 8 !== 0 || size > MAX_BITSTRING_BYTES * 8) throw new RangeError(`statusListSize must be a multiple of 8 in 8…${MAX_BITSTRING_BYTES * 8}`)
    const signal = this.#abort.signal
    const nowS = (): number => Math.floor(now() / 1000)
    // Every outbound call is cut short by close(): nothing the service started outlives it.
    const outbound = (): OutboundOptions & { signal: AbortSignal } => ({ signal, ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}) })
    const delivery = new CredentialDelivery({ resolveDocument: deps.resolveDocument, retryDelaysMs: deps.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS, outbound, nowS })
    const processor = new IssuanceProcessor({ org: deps.org, delivery, logger: this.#log, signal, nowS, statusListSize: size })
    this.#queue = new IssuanceQueue({
      concurrency: CONCURRENCY,
      signal,
      run: async job => { await processor.process(job.pid, job.issuerPid) },
      onError: (job, err) => {
        // The request stays RECEIVED; resume() retries it after a restart.
        this.#log.error('issuance request failed', { participantId: job.pid, issuerPid: job.issuerPid, reason: toHubError(err).message })
      }
    })
    this.#requester = new CredentialRequester({ org: deps.org, resolveDocument: deps.resolveDocument, outbound, nowS })
    const request = async (pid: string, input: { issuerDid: string, credentials: string[] } & RequestLinks): Promise<HolderCredentialRequest> => await this.#requester.request(pid, input)
    this.#offers = new OfferExchange({ org: deps.org, resolveDocument: deps.resolveDocument, request, outbound, nowS, logger: this.#log.child('offers') })
    const lead = deps.renewalLeadS
    if (lead !== undefined && (!Number.isSafeInteger(lead) || lead < 0)) throw new RangeError('renewalLeadS must be a whole number of seconds ≥ 0')
    this.#maintenance = new HolderMaintenance({
      org: deps.org,
      resolveDocument: deps.resolveDocument,
      request,
      outbound,
      now,
      logger: this.#log.child('maintenance'),
      pollIntervalMs: deps.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      ...(lead !== undefined ? { renewalLeadS: lead } : {})
    })
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
    this.#queue.add({ pid, issuerPid })
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
    await this.#queue.idle()
    await this.#offers.idle()
  }

  /**
   * Stop: queued requests are left RECEIVED (resume() picks them up next
   * time), running ones are aborted at their next outbound call and not
   * settled. Resolves once nothing runs.
   */
  async close (): Promise<void> {
    this.stopMaintenance()
    this.#abort.abort()
    await this.#queue.stop()
    // A tick or an accepted offer's request still running ends at its next outbound call; nothing outlives close().
    await this.#maintenance.idle()
    await this.#offers.idle()
  }

  // ── holder ────────────────────────────────────────────────────────────

  /**
   * Ask `issuerDid` for credentials (definition ids). Resolves with the
   * request record once the issuer acknowledged it (credential-requester.ts).
   */
  async requestCredentials (pid: string, input: { issuerDid: unknown, credentials: unknown }): Promise<HolderCredentialRequest> {
    return await this.#requester.request(pid, input)
  }

  // ── offers ────────────────────────────────────────────────────────────

  /** Issuer: send a CredentialOfferMessage for `credentials` (definition ids) to `holderDid`'s CredentialService. */
  async sendOffer (pid: string, input: { holderDid: unknown, credentials: unknown, reason?: unknown }): Promise<SentOffer> {
    return await this.#offers.send(pid, input)
  }

  /** Holder: an offer from the authenticated `issuerDid`, recorded and handled by the participant's policy (offer-exchange.ts). */
  async receiveOffer (pid: string, issuerDid: string, msg: CredentialOfferMessage): Promise<CredentialOfferRecord> {
    return await this.#offers.receive(pid, issuerDid, msg)
  }

  /** Holder: accept a PENDING (or FAILED) offer by hand: its credential request goes out. */
  async acceptOffer (pid: string, offerId: string): Promise<CredentialOfferRecord> {
    return await this.#offers.accept(pid, offerId)
  }

  // ── holder maintenance (renewal.ts) ───────────────────────────────────

  /** One round of due polls and renewals. */
  async tick (): Promise<TickResult> {
    return await this.#maintenance.tick()
  }

  /** Run tick() every `intervalMs` until stopMaintenance() or close() (the daemon, while its HTTP server runs). Idempotent. */
  startMaintenance (intervalMs = DEFAULT_MAINTENANCE_INTERVAL_MS): void {
    if (this.#timer !== undefined || this.#abort.signal.aborted) return
    this.#timer = setInterval(() => {
      this.tick().catch((err: unknown) => { this.#log.error('holder maintenance failed', { reason: toHubError(err).message }) })
    }, intervalMs)
    // The timer alone must not keep the process alive.
    this.#timer.unref()
  }

  stopMaintenance (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }
}
