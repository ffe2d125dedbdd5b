/**
 * Holder-side maintenance, one `tick()` at a time (IssuanceService runs it
 * on a timer while the HTTP server runs; tests call it with their clock):
 *
 * Polling. A request the issuer acknowledged (RECEIVED) but has not
 * answered with a CredentialMessage is polled once it has waited a poll
 * interval: GET `<IssuerService>/requests/<issuerPid>` with an ID token,
 * the answer checked against the official CredentialStatus schema and
 * against the request (same issuerPid and holderPid).
 *   REJECTED → the request is settled REJECTED (its message was lost).
 *   ISSUED   → the credentials should have come; after
 *              {@link MAX_DELIVERY_MISSING} such polls the request is
 *              FAILED and sent once more (`retryOf`); a retry is never
 *              retried again.
 *   RECEIVED → asked again after another interval.
 *   no answer, a refusal, or an answer that does not fit → kept, and polled
 *              again after a backoff that doubles up to 64 intervals.
 *
 * Renewal. A credential stored by a request (its issuer and CredentialObject
 * id are in the request record) whose expiry is within the lead time is
 * requested again from its issuer, as a request that `renews` it; when the
 * new credential arrives, the old one is removed in the same batch
 * (holder-requests.ts `complete`). At most one renewal per credential is in
 * flight; a FAILED one is retried after a backoff (doubling from the poll
 * interval up to a day); a REJECTED one stops renewal of that credential —
 * it stays until it expires — and is logged.
 *
 * Lead time: the participant's `renewalLeadS` (holder policy), else the
 * service's, else the smaller of 7 days and half the credential's lifetime.
 *
 * Clocks: `now` is the issuance service's clock; records' timestamps are
 * the OrgStore's. Both are the wall clock in a deployment.
 */
import { toHubError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import type { Logger } from '../log.js'
import { validateCredentialStatus } from './dcp/schemas.js'
import { createIdToken } from './dcp/tokens.js'
import { ISSUER_SERVICE, OutboundError, checkServiceEndpoint, endpointUrl, findServiceEndpoint, getDcp, type OutboundOptions } from './issuance-client.js'
import type { RequestLinks } from './credential-requester.js'
import type { OrgStore } from './org-store.js'
import type { CredentialResource, HolderCredentialRequest } from './types.js'

export const DEFAULT_POLL_INTERVAL_MS = 5 * 60_000
/** Polls that find the request ISSUED with nothing delivered before it is sent again. */
export const MAX_DELIVERY_MISSING = 3
export const DEFAULT_MAX_RENEWAL_LEAD_S = 7 * 86_400
const MAX_BACKOFF_STEPS = 6
const MAX_RENEWAL_BACKOFF_MS = 86_400_000

export interface MaintenanceComponents {
  org: Pick<OrgStore, 'listParticipants' | 'getParticipant' | 'signingKey' | 'listHolderRequests' | 'listCredentials' | 'holderPolicy' |
  'recordHolderRequestPoll' | 'completeHolderRequest'>
  resolveDocument: (did: string) => Promise<DidDocument>
  request: (pid: string, input: { issuerDid: string, credentials: string[] } & RequestLinks) => Promise<HolderCredentialRequest>
  outbound: () => OutboundOptions
  now: () => number
  logger: Logger
  pollIntervalMs: number
  /** The hub's renewal lead (s); undefined: min(7 days, half the lifetime). */
  renewalLeadS?: number
}

export interface TickResult {
  polled: number
  renewed: number
}

/** The lead time for one credential, given the configured one (if any). */
export function renewalLeadS (c: Pick<CredentialResource, 'issuanceDate' | 'expirationDate'>, configured: number | undefined): number {
  if (configured !== undefined) return configured
  const exp = Date.parse(c.expirationDate ?? '')
  const iat = Date.parse(c.issuanceDate ?? '')
  const half = Number.isFinite(exp) && Number.isFinite(iat) && exp > iat ? Math.floor((exp - iat) / 2000) : DEFAULT_MAX_RENEWAL_LEAD_S
  return Math.min(DEFAULT_MAX_RENEWAL_LEAD_S, half)
}

export class HolderMaintenance {
  readonly #c: MaintenanceComponents
  readonly #loggedRejections = new Set<string>()
  /**
   * Renewals that failed before a request record existed (issuer unresolvable,
   * no IssuerService): credentialId → failures and when to try again. In
   * memory only; a FAILED record (sent, then refused) carries its own backoff.
   */
  readonly #renewalBackoff = new Map<string, { failures: number, next: number }>()
  #running: Promise<TickResult> | undefined

  constructor (components: MaintenanceComponents) {
    this.#c = components
  }

  /** One round of due polls and renewals over every ACTIVATED participant; a tick already running is joined, not doubled. */
  async tick (): Promise<TickResult> {
    this.#running ??= this.#tick().finally(() => { this.#running = undefined })
    return await this.#running
  }

  /** Resolves once no tick is running (close() waits for it, after aborting its outbound calls). */
  async idle (): Promise<void> {
    await this.#running?.catch(() => {})
  }

  async #tick (): Promise<TickResult> {
    const out: TickResult = { polled: 0, renewed: 0 }
    for (const p of await this.#c.org.listParticipants()) {
      if (p.state !== 'ACTIVATED') continue
      try {
        out.polled += await this.#poll(p.participantId)
        out.renewed += await this.#renew(p.participantId)
      } catch (err) {
        this.#c.logger.error('holder maintenance failed', { participantId: p.participantId, reason: toHubError(err).message })
      }
    }
    return out
  }

  async #poll (pid: string): Promise<number> {
    const { org, now, pollIntervalMs } = this.#c
    let n = 0
    for (const r of await org.listHolderRequests(pid)) {
      if (r.status !== 'RECEIVED' || r.issuerPid === undefined) continue
      const due = r.nextPollAt ?? Date.parse(r.updatedAt) + pollIntervalMs
      if (now() < due) continue
      n++
      await this.#pollOne(pid, r, r.issuerPid)
    }
    return n
  }

  async #pollOne (pid: string, r: HolderCredentialRequest, issuerPid: string): Promise<void> {
    const { org, now, pollIntervalMs, logger } = this.#c
    let status: 'RECEIVED' | 'ISSUED' | 'REJECTED'
    try {
      status = await this.#fetchStatus(pid, r, issuerPid)
    } catch (err) {
      const failures = (r.pollFailures ?? 0) + 1
      const wait = pollIntervalMs * 2 ** Math.min(failures, MAX_BACKOFF_STEPS)
      logger.warn('cannot poll a credential request', { participantId: pid, holderPid: r.holderPid, reason: toHubError(err).message })
      await org.recordHolderRequestPoll(pid, r.holderPid, { outcome: 'unreachable', nextPollAt: now() + wait })
      return
    }
    if (status === 'REJECTED') {
      await org.completeHolderRequest(pid, r.holderPid, {
        issuerDid: r.issuerDid, issuerPid, status: 'REJECTED', rejectionReason: 'the issuer\'s status says REJECTED (polled: its CredentialMessage did not arrive)'
      })
      return
    }
    if (status === 'RECEIVED') {
      await org.recordHolderRequestPoll(pid, r.holderPid, { outcome: 'received', nextPollAt: now() + pollIntervalMs })
      return
    }
    const missing = (r.deliveryMissing ?? 0) + 1
    if (missing < MAX_DELIVERY_MISSING) {
      await org.recordHolderRequestPoll(pid, r.holderPid, { outcome: 'issued-not-delivered', nextPollAt: now() + pollIntervalMs })
      return
    }
    // The issuer issued, the credentials never came: ask once more (a retry is not retried again).
    let retriedAs: string | undefined
    if (r.retryOf === undefined) {
      try {
        retriedAs = (await this.#c.request(pid, {
          issuerDid: r.issuerDid, credentials: r.credentials, retryOf: r.holderPid,
          ...(r.renews !== undefined ? { renews: r.renews } : {}), ...(r.offerId !== undefined ? { offerId: r.offerId } : {})
        })).holderPid
      } catch (err) {
        logger.warn('cannot send a credential request again', { participantId: pid, holderPid: r.holderPid, reason: toHubError(err).message })
      }
    }
    await org.recordHolderRequestPoll(pid, r.holderPid, {
      outcome: 'issued-not-delivered',
      nextPollAt: now() + pollIntervalMs,
      fail: { reason: `delivery_missing: the issuer says ISSUED, no credentials arrived after ${missing} polls`, ...(retriedAs !== undefined ? { retriedAs } : {}) }
    })
  }

  /** The issuer's CredentialStatus of the request, checked against the schema and the request. */
  async #fetchStatus (pid: string, r: HolderCredentialRequest, issuerPid: string): Promise<'RECEIVED' | 'ISSUED' | 'REJECTED'> {
    const { org } = this.#c
    const p = await org.getParticipant(pid)
    const doc = await this.#c.resolveDocument(r.issuerDid)
    const ep = findServiceEndpoint(doc, ISSUER_SERVICE)
    if (ep === undefined) throw new OutboundError(`${r.issuerDid} lists no ${ISSUER_SERVICE}`, { reason: 'no_issuer_service' })
    const url = endpointUrl(checkServiceEndpoint(ep).href, `requests/${encodeURIComponent(issuerPid)}`)
    const token = createIdToken(await org.signingKey(pid), { did: p.did, audience: r.issuerDid, now: Math.floor(this.#c.now() / 1000) })
    const reply = await getDcp(url, token, this.#c.outbound())
    let status
    try {
      status = validateCredentialStatus(reply.body)
    } catch (err) {
      throw new OutboundError(`the issuer's status is not a CredentialStatus: ${toHubError(err).message}`, { reason: 'bad_answer' }, { cause: err })
    }
    if (status.issuerPid !== issuerPid || status.holderPid !== r.holderPid) throw new OutboundError('the issuer answered with the status of another request', { reason: 'bad_answer' })
    return status.status
  }

  async #renew (pid: string): Promise<number> {
    const { org, now, logger } = this.#c
    const requests = await org.listHolderRequests(pid)
    const policy = await org.holderPolicy(pid)
    let n = 0
    for (const c of await org.listCredentials(pid)) {
      if (c.state !== 'ISSUED' || c.expirationDate === undefined) continue
      const source = requests.find(r => r.status === 'ISSUED' && r.credentialIds?.includes(c.credentialId) === true)
      // Only what a request brought can be renewed: we know its issuer and CredentialObject id.
      if (source === undefined || source.credentialIds === undefined || source.credentialIds.length !== source.credentials.length) continue
      const definition = source.credentials[source.credentialIds.indexOf(c.credentialId)]
      if (definition === undefined) continue
      const lead = renewalLeadS(c, policy.renewalLeadS ?? this.#c.renewalLeadS)
      if (now() < Date.parse(c.expirationDate) - lead * 1000) continue
      const renewals = requests.filter(r => r.renews === c.credentialId)
      if (renewals.some(r => r.status === 'REQUESTED' || r.status === 'RECEIVED')) continue
      const rejected = renewals.find(r => r.status === 'REJECTED')
      if (rejected !== undefined) {
        if (!this.#loggedRejections.has(rejected.holderPid)) {
          this.#loggedRejections.add(rejected.holderPid)
          logger.warn('the issuer rejected a renewal: the credential stays until it expires', { participantId: pid, credentialId: c.credentialId, holderPid: rejected.holderPid, reason: rejected.reason })
        }
        continue
      }
      const failed = renewals.filter(r => r.status === 'FAILED' && r.retriedAs === undefined)
      if (failed.length > 0) {
        const last = Math.max(...failed.map(r => Date.parse(r.updatedAt)))
        const wait = Math.min(this.#c.pollIntervalMs * 2 ** Math.min(failed.length - 1, 20), MAX_RENEWAL_BACKOFF_MS)
        if (now() < last + wait) continue
      }
      const key = `${pid}\n${c.credentialId}`
      const backoff = this.#renewalBackoff.get(key)
      if (backoff !== undefined && now() < backoff.next) continue
      n++
      try {
        await this.#c.request(pid, { issuerDid: source.issuerDid, credentials: [definition], renews: c.credentialId })
        this.#renewalBackoff.delete(key)
      } catch (err) {
        // Recorded FAILED by the requester when it got as far as sending; either way retried after a doubling backoff.
        const failures = (backoff?.failures ?? 0) + 1
        this.#renewalBackoff.set(key, { failures, next: now() + Math.min(this.#c.pollIntervalMs * 2 ** Math.min(failures - 1, 20), MAX_RENEWAL_BACKOFF_MS) })
        logger.warn('credential renewal failed', { participantId: pid, credentialId: c.credentialId, reason: toHubError(err).message })
      }
    }
    return n
  }
}
