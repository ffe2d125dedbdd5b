/**
 * Holder side: the credential requests a participant sent to issuers.
 * REQUESTED before sending (the issuer may answer before its 201 reaches
 * us), then RECEIVED or FAILED from the issuer's acknowledgement, and
 * settled ISSUED or REJECTED by the issuer's CredentialMessage, whose
 * credentials are stored in the same batch as the new status. A renewal
 * request (`renews`) removes the credential it renews in that batch too.
 * While RECEIVED, renewal.ts polls the issuer and records each poll here.
 */
import { randomUUID } from 'node:crypto'
import { BadRequestError, ConflictError, NotFoundError, PermissionsRequiredError } from '../errors.js'
import type { Credentials } from './credentials.js'
import { canonicalDid, checkAnyDid } from './did-syntax.js'
import type { OrgTransactions } from './engine.js'
import { checkForeignId, checkRequestedIds } from './id-checks.js'
import { orgKeys } from './layout.js'
import { loadParticipant } from './records.js'
import type { CredentialResource, HolderCredentialRequest, ParticipantRecord } from './types.js'

export interface HolderRequestInput {
  issuerDid: string
  credentials: string[]
  /** A renewal: the credential the new ones replace (renewal.ts). */
  renews?: string
  /** The offer the request answers. */
  offerId?: string
  /** The request this one is sent again in place of (its credentials never arrived). */
  retryOf?: string
}

/**
 * What one poll of the issuer's status taught us (renewal.ts). Only a
 * RECEIVED request records it; any other one is left as it is.
 */
export interface HolderRequestPoll {
  /** When to poll next (the service's clock, ms). */
  nextPollAt: number
  outcome: 'received' | 'unreachable' | 'issued-not-delivered'
  /** Give up on the request: FAILED with this reason (and, when it was sent again, the new holderPid). */
  fail?: { reason: string, retriedAs?: string }
}

/** What the holder learnt from the issuer's answer to its request. */
export type HolderRequestUpdate =
  | { status: 'RECEIVED', issuerPid: string }
  | { status: 'FAILED', reason: string }

/** The issuer's final CredentialMessage for a request this participant sent. */
export interface HolderRequestCompletion {
  /** The authenticated sender (its ID token's `iss`): must be the issuer the request went to. */
  issuerDid: string
  issuerPid: string
  status: 'ISSUED' | 'REJECTED'
  rejectionReason?: string
  /** ISSUED: the JWT VCs to store, all or none, in the same batch as the status. */
  jwts?: string[]
}

/** A CredentialMessage from an authenticated issuer, as the Storage API passes it on. */
export interface CredentialMessageInput {
  issuerDid: string
  issuerPid: string
  holderPid?: string
  status: 'ISSUED' | 'REJECTED'
  rejectionReason?: string
  jwts: string[]
}

export interface HolderRequestsComponents {
  engine: OrgTransactions
  /** Stores the credentials a message carries: alone, or staged with the request's completion. */
  credentials: Pick<Credentials, 'stage' | 'store'>
  /** Whether the participant trusts `issuerDid` (canonical) to deliver credentials it did not ask for. */
  trusts: (pid: string, issuerDid: string) => Promise<boolean>
}

/** A renewal's successor: the same issuer and every specific type of the credential it renews. */
function sameKind (old: CredentialResource, next: CredentialResource): boolean {
  return canonicalDid(old.issuer) === canonicalDid(next.issuer) &&
    old.types.filter(t => t !== 'VerifiableCredential').every(t => next.types.includes(t))
}

export class HolderRequests {
  readonly #engine: OrgTransactions
  readonly #credentials: Pick<Credentials, 'stage' | 'store'>
  readonly #trusts: (pid: string, issuerDid: string) => Promise<boolean>

  constructor (components: HolderRequestsComponents) {
    this.#engine = components.engine
    this.#credentials = components.credentials
    this.#trusts = components.trusts
  }

  /** The participant and one of its requests (not_found for either). */
  async #load (pid: string, holderPid: string): Promise<{ p: ParticipantRecord, req: HolderCredentialRequest }> {
    const e = this.#engine
    const p = await loadParticipant(e, pid)
    const req = await e.json<HolderCredentialRequest>(orgKeys.holderRequest(p.participantId, holderPid))
    if (req === undefined) throw new NotFoundError(`participant "${pid}" has no credential request ${holderPid}`, { holderPid })
    return { p, req }
  }

  /** A request about to be sent to an issuer: REQUESTED, under a fresh holderPid. */
  async create (pid: string, input: HolderRequestInput): Promise<HolderCredentialRequest> {
    const op = 'credential-request.create'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      e.step(op, 'validate')
      const now = e.iso()
      const req: HolderCredentialRequest = {
        participantId: p.participantId,
        holderPid: randomUUID(),
        issuerDid: checkAnyDid(input.issuerDid, 'issuerDid'),
        credentials: checkRequestedIds(input.credentials),
        ...(input.renews !== undefined ? { renews: checkForeignId(input.renews, 'renews') } : {}),
        ...(input.offerId !== undefined ? { offerId: checkForeignId(input.offerId, 'offerId') } : {}),
        ...(input.retryOf !== undefined ? { retryOf: checkForeignId(input.retryOf, 'retryOf') } : {}),
        status: 'REQUESTED',
        createdAt: now,
        updatedAt: now
      }
      tx.put(orgKeys.holderRequest(p.participantId, req.holderPid), req)
      tx.events.push({ type: 'credential-request.created', participantId: p.participantId, holderPid: req.holderPid, issuerDid: req.issuerDid })
      return req
    })
  }

  async find (pid: string, holderPid: string): Promise<HolderCredentialRequest | undefined> {
    const p = await loadParticipant(this.#engine, pid)
    return await this.#engine.json<HolderCredentialRequest>(orgKeys.holderRequest(p.participantId, holderPid))
  }

  async list (pid: string): Promise<HolderCredentialRequest[]> {
    const p = await loadParticipant(this.#engine, pid)
    return await this.#engine.list<HolderCredentialRequest>(orgKeys.holderRequestsPrefix(p.participantId))
  }

  /**
   * Record the issuer's answer to the request. Only a REQUESTED record moves
   * (to RECEIVED or FAILED); one the issuer's CredentialMessage already
   * settled keeps its status and just learns the issuerPid.
   */
  async update (pid: string, holderPid: string, update: HolderRequestUpdate): Promise<HolderCredentialRequest> {
    const op = 'credential-request.update'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const { p, req } = await this.#load(pid, holderPid)
      e.step(op, 'transition')
      let next: HolderCredentialRequest
      if (update.status === 'RECEIVED') {
        const issuerPid = checkForeignId(update.issuerPid, 'issuerPid')
        next = { ...req, issuerPid, ...(req.status === 'REQUESTED' ? { status: 'RECEIVED' as const } : {}), updatedAt: e.iso() }
      } else {
        if (req.status !== 'REQUESTED') return req
        next = { ...req, status: 'FAILED', reason: update.reason, updatedAt: e.iso() }
      }
      tx.put(orgKeys.holderRequest(p.participantId, holderPid), next)
      tx.events.push({ type: 'credential-request.updated', participantId: p.participantId, holderPid, status: next.status })
      return next
    })
  }

  /**
   * What the Storage API does with a CredentialMessage from an authenticated
   * issuer. When it answers a pending request of this participant (its
   * holderPid, sent to this very issuer, under this issuerPid once known),
   * the request is settled in the same batch as the credentials are stored
   * (credential-request.complete); otherwise ISSUED credentials are just
   * stored (credential.store) and a REJECTED message changes nothing.
   * Returns the stored credentials.
   */
  async acceptCredentialMessage (pid: string, m: CredentialMessageInput): Promise<CredentialResource[]> {
    const pending = m.holderPid === undefined ? undefined : await this.find(pid, m.holderPid)
    const matches = pending !== undefined && !['ISSUED', 'REJECTED'].includes(pending.status) &&
      pending.issuerDid === canonicalDid(m.issuerDid) && (pending.issuerPid === undefined || pending.issuerPid === m.issuerPid)
    if (matches) {
      const { stored } = await this.complete(pid, pending.holderPid, {
        issuerDid: m.issuerDid, issuerPid: m.issuerPid, status: m.status, jwts: m.jwts,
        ...(m.rejectionReason !== undefined ? { rejectionReason: m.rejectionReason } : {})
      })
      return stored
    }
    if (m.status !== 'ISSUED') return []
    // Not an answer to a request of ours: only an issuer this participant trusts may write into its
    // store unasked. Anyone else could fill it, make itself a "known" issuer for offers, or crowd out
    // the real credentials in what gets presented (found by test/attacks-dcp.test.ts).
    if (!await this.#trusts(pid, canonicalDid(m.issuerDid))) {
      throw new PermissionsRequiredError(
        `${m.issuerDid} answers no pending request of participant "${pid}" (holderPid) and is not one of its trusted issuers: unsolicited credentials are refused`,
        { reason: 'unsolicited' })
    }
    return await this.#credentials.store(pid, m.jwts)
  }

  /**
   * The issuer's CredentialMessage for one of our requests: its credentials
   * are stored and the request settled in the same batch. Only the issuer
   * the request went to may settle it (and, once known, under its issuerPid);
   * a settled request is not settled again (409). FAILED can still settle:
   * the request may have reached the issuer although its answer did not
   * reach us.
   *
   * A renewal (`renews`) that is ISSUED removes the credential it renews in
   * the same batch that stores its successors, so the holder never holds
   * both (nor neither): all or nothing.
   */
  async complete (pid: string, holderPid: string, c: HolderRequestCompletion): Promise<{ request: HolderCredentialRequest, stored: CredentialResource[] }> {
    const op = 'credential-request.complete'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const { p, req } = await this.#load(pid, holderPid)
      e.step(op, 'validate')
      if (canonicalDid(c.issuerDid) !== req.issuerDid || (req.issuerPid !== undefined && req.issuerPid !== c.issuerPid)) {
        throw new PermissionsRequiredError(`credential request ${holderPid} was not sent to ${c.issuerDid} as ${c.issuerPid}`, { reason: 'wrong_issuer' })
      }
      const stored = c.status === 'ISSUED' ? await this.#credentials.stage(tx, p, c.jwts ?? []) : []
      e.step(op, 'transition')
      if (req.status === 'ISSUED' || req.status === 'REJECTED') throw new ConflictError(`credential request ${holderPid} is already ${req.status}`, { status: req.status })
      e.step(op, 'supersede')
      if (req.renews !== undefined && stored.length > 0 && !stored.some(x => x.credentialId === req.renews)) {
        const oldKey = orgKeys.credential(p.participantId, req.renews)
        const old = await e.json<CredentialResource>(oldKey)
        // Only a successor of the same kind replaces it: an issuer answering a MembershipCredential
        // renewal with some other credential must not take the membership away (the new one is kept too).
        if (old !== undefined && stored.some(x => sameKind(old, x))) {
          tx.del(oldKey)
          tx.events.push({ type: 'credential.deleted', participantId: p.participantId, credentialId: req.renews })
          tx.events.push({ type: 'credential.superseded', participantId: p.participantId, credentialId: req.renews, by: stored.map(x => x.credentialId) })
        }
      }
      const { reason: _old, ...rest } = req
      const next: HolderCredentialRequest = {
        ...rest,
        issuerPid: c.issuerPid,
        status: c.status,
        ...(c.status === 'REJECTED' && c.rejectionReason !== undefined ? { reason: c.rejectionReason.slice(0, 1000) } : {}),
        ...(stored.length > 0 ? { credentialIds: stored.map(x => x.credentialId) } : {}),
        updatedAt: e.iso()
      }
      tx.put(orgKeys.holderRequest(p.participantId, holderPid), next)
      tx.events.push({ type: 'credential-request.updated', participantId: p.participantId, holderPid, status: c.status })
      return { request: next, stored }
    })
  }

  /**
   * Record one poll of the issuer's status for a RECEIVED request (its
   * backoff and counters), or give up on it (FAILED). A request settled in
   * the meantime is returned unchanged: the CredentialMessage won the race.
   */
  async recordPoll (pid: string, holderPid: string, poll: HolderRequestPoll): Promise<HolderCredentialRequest> {
    const op = 'credential-request.poll'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const { p, req } = await this.#load(pid, holderPid)
      e.step(op, 'transition')
      if (req.status !== 'RECEIVED') return req
      if (!Number.isSafeInteger(poll.nextPollAt)) throw new BadRequestError('nextPollAt must be a time in ms')
      const next: HolderCredentialRequest = {
        ...req,
        polls: (req.polls ?? 0) + 1,
        pollFailures: poll.outcome === 'unreachable' ? (req.pollFailures ?? 0) + 1 : 0,
        deliveryMissing: poll.outcome === 'issued-not-delivered' ? (req.deliveryMissing ?? 0) + 1 : 0,
        nextPollAt: poll.nextPollAt,
        ...(poll.fail !== undefined
          ? { status: 'FAILED' as const, reason: poll.fail.reason.slice(0, 1000), ...(poll.fail.retriedAs !== undefined ? { retriedAs: poll.fail.retriedAs } : {}) }
          : {}),
        updatedAt: e.iso()
      }
      tx.put(orgKeys.holderRequest(p.participantId, holderPid), next)
      tx.events.push({ type: 'credential-request.updated', participantId: p.participantId, holderPid, status: next.status })
      return next
    })
  }
}
