/**
 * Holder side: the credential offers issuers sent to a participant
 * (`org!of!<pid>!<offerId>`) and the participant's holder policy
 * (`org!hp!<pid>`): which offers it accepts, and how long before expiry its
 * credentials are renewed. Deciding and acting on an offer is
 * offer-exchange.ts; this module only keeps the records, all-or-nothing
 * like every OrgStore operation.
 *
 * Bounded, because any DID can send an offer: at most
 * {@link MAX_PENDING_OFFERS} open offers (PENDING, or FAILED: those can be
 * accepted again, so they are pending too — under policy `any`, a flood of
 * offers whose issuers fail would otherwise pile up without end, each
 * with its request record; found by test/attacks-dcp.test.ts) per
 * participant — a new one
 * beyond that is refused (`unavailable`, `details.reason` `too_many`) rather
 * than the oldest dropped, so a flood cannot push a legitimate offer out
 * unseen; the participant clears the list by accepting (or the policy
 * declining) offers. DECLINED offers are kept as a short history: the
 * oldest beyond {@link MAX_DECLINED_OFFERS} is deleted in the batch that
 * records a new one.
 */
import { randomUUID } from 'node:crypto'
import { BadRequestError, ConflictError, HubError, NotFoundError } from '../errors.js'
import { canonicalDid, checkAnyDid } from './did-syntax.js'
import type { OrgTransactions } from './engine.js'
import { checkForeignId, checkRequestedIds } from './id-checks.js'
import { orgKeys } from './layout.js'
import { loadParticipant } from './records.js'
import type { CredentialOfferRecord, HolderPolicy, OfferAcceptance, OfferStatus } from './types.js'

export const MAX_PENDING_OFFERS = 50
export const MAX_DECLINED_OFFERS = 50
/** Issuers one policy may list as trusted. */
export const MAX_TRUSTED_ISSUERS = 100
/** A renewal lead longer than a year would renew most credentials the moment they arrive. */
export const MAX_RENEWAL_LEAD_S = 365 * 86_400
const MAX_OFFER_REASON = 200
const ACCEPTANCE: readonly OfferAcceptance[] = ['known', 'any', 'none']

export interface OfferInput {
  /** The authenticated sender. */
  issuerDid: string
  credentials: string[]
  credentialTypes?: string[]
  offerReason?: string
  /** What the policy decided: PENDING (accepted offers start PENDING too, until their request went out) or DECLINED. */
  status: Extract<OfferStatus, 'PENDING' | 'DECLINED'>
}

export type OfferUpdate =
  | { status: 'ACCEPTED', holderPid: string }
  | { status: 'FAILED', reason: string }

export interface HolderPolicyInput {
  accept?: unknown
  trustedIssuers?: unknown
  /** Seconds, or null to fall back to the hub's default. */
  renewalLeadS?: unknown
}

/** The policy of a participant that never set one. */
export function defaultHolderPolicy (participantId: string): Omit<HolderPolicy, 'updatedAt'> {
  return { participantId, accept: 'known', trustedIssuers: [] }
}

export class CredentialOffers {
  readonly #engine: OrgTransactions

  constructor (components: { engine: OrgTransactions }) {
    this.#engine = components.engine
  }

  /** Record an offer from an authenticated issuer, under a fresh offerId. */
  async receive (pid: string, input: OfferInput): Promise<CredentialOfferRecord> {
    const op = 'credential-offer.receive'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const existing = await e.list<CredentialOfferRecord>(orgKeys.offersPrefix(p.participantId))
      e.step(op, 'validate')
      const credentials = checkRequestedIds(input.credentials)
      const types = input.credentialTypes?.map(t => checkForeignId(t, 'credentialType'))
      const reason = input.offerReason === undefined ? undefined : checkForeignId(input.offerReason, 'offerReason').slice(0, MAX_OFFER_REASON)
      if (input.status !== 'PENDING' && input.status !== 'DECLINED') throw new BadRequestError('an offer is recorded PENDING or DECLINED')
      e.step(op, 'bound')
      if (input.status === 'PENDING' && existing.filter(o => o.status === 'PENDING' || o.status === 'FAILED').length >= MAX_PENDING_OFFERS) {
        throw new HubError('unavailable', `participant "${pid}" has ${MAX_PENDING_OFFERS} offers pending or failed: accept them or change the offer policy`, { reason: 'too_many', max: MAX_PENDING_OFFERS })
      }
      if (input.status === 'DECLINED') {
        const declined = existing.filter(o => o.status === 'DECLINED').sort((a, b) => a.createdAt.localeCompare(b.createdAt))
        for (const old of declined.slice(0, Math.max(0, declined.length - MAX_DECLINED_OFFERS + 1))) tx.del(orgKeys.offer(p.participantId, old.offerId))
      }
      const now = e.iso()
      const rec: CredentialOfferRecord = {
        participantId: p.participantId,
        offerId: randomUUID(),
        issuerDid: checkAnyDid(input.issuerDid, 'issuerDid'),
        credentials,
        ...(types !== undefined && types.length === credentials.length ? { credentialTypes: types } : {}),
        ...(reason !== undefined ? { offerReason: reason } : {}),
        status: input.status,
        ...(input.status === 'DECLINED' ? { reason: 'the offer policy accepts none' } : {}),
        createdAt: now,
        updatedAt: now
      }
      tx.put(orgKeys.offer(p.participantId, rec.offerId), rec)
      tx.events.push({ type: 'credential-offer.received', participantId: p.participantId, offerId: rec.offerId, issuerDid: rec.issuerDid, status: rec.status })
      return rec
    })
  }

  async find (pid: string, offerId: string): Promise<CredentialOfferRecord | undefined> {
    const p = await loadParticipant(this.#engine, pid)
    return await this.#engine.json<CredentialOfferRecord>(orgKeys.offer(p.participantId, offerId))
  }

  /** Oldest first. */
  async list (pid: string): Promise<CredentialOfferRecord[]> {
    const p = await loadParticipant(this.#engine, pid)
    const all = await this.#engine.list<CredentialOfferRecord>(orgKeys.offersPrefix(p.participantId))
    return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  /** PENDING or FAILED → ACCEPTED (its request went out) or FAILED (it could not). Anything else: 409. */
  async update (pid: string, offerId: string, update: OfferUpdate): Promise<CredentialOfferRecord> {
    const op = 'credential-offer.update'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const o = await e.json<CredentialOfferRecord>(orgKeys.offer(p.participantId, offerId))
      if (o === undefined) throw new NotFoundError(`participant "${pid}" has no credential offer ${offerId}`, { offerId })
      e.step(op, 'transition')
      if (o.status !== 'PENDING' && o.status !== 'FAILED') throw new ConflictError(`credential offer ${offerId} is ${o.status}`, { status: o.status })
      const { reason: _old, holderPid: _h, ...rest } = o
      const next: CredentialOfferRecord = update.status === 'ACCEPTED'
        ? { ...rest, status: 'ACCEPTED', holderPid: checkForeignId(update.holderPid, 'holderPid'), updatedAt: e.iso() }
        : { ...rest, status: 'FAILED', reason: update.reason.slice(0, 500), updatedAt: e.iso() }
      tx.put(orgKeys.offer(p.participantId, offerId), next)
      tx.events.push({ type: 'credential-offer.updated', participantId: p.participantId, offerId, status: next.status })
      return next
    })
  }

  /** The participant's policy, or the default one. */
  async policy (pid: string): Promise<HolderPolicy> {
    const p = await loadParticipant(this.#engine, pid)
    return await this.#engine.json<HolderPolicy>(orgKeys.holderPolicy(p.participantId)) ?? { ...defaultHolderPolicy(p.participantId), updatedAt: p.createdAt }
  }

  /** Change the policy: the fields given replace the current ones (`renewalLeadS: null` clears the override). */
  async setPolicy (pid: string, input: HolderPolicyInput): Promise<HolderPolicy> {
    const op = 'holder-policy.set'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const current = await e.json<HolderPolicy>(orgKeys.holderPolicy(p.participantId)) ?? { ...defaultHolderPolicy(p.participantId), updatedAt: p.createdAt }
      e.step(op, 'validate')
      const next: HolderPolicy = { ...current, updatedAt: e.iso() }
      if (input.accept !== undefined) {
        if (typeof input.accept !== 'string' || !ACCEPTANCE.includes(input.accept as OfferAcceptance)) throw new BadRequestError(`accept must be one of ${ACCEPTANCE.join(', ')}`, { reason: 'bad_policy' })
        next.accept = input.accept as OfferAcceptance
      }
      if (input.trustedIssuers !== undefined) {
        if (!Array.isArray(input.trustedIssuers) || input.trustedIssuers.length > MAX_TRUSTED_ISSUERS) throw new BadRequestError(`trustedIssuers must be a list of at most ${MAX_TRUSTED_ISSUERS} DIDs`, { reason: 'bad_policy' })
        next.trustedIssuers = [...new Set(input.trustedIssuers.map(d => canonicalDid(checkAnyDid(d, 'a trusted issuer'))))]
      }
      if (input.renewalLeadS === null) {
        delete next.renewalLeadS
      } else if (input.renewalLeadS !== undefined) {
        const s = input.renewalLeadS
        if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0 || s > MAX_RENEWAL_LEAD_S) throw new BadRequestError(`renewalLeadS must be a whole number of seconds in 0…${MAX_RENEWAL_LEAD_S}`, { reason: 'bad_policy' })
        next.renewalLeadS = s
      }
      tx.put(orgKeys.holderPolicy(p.participantId), next)
      tx.events.push({ type: 'holder-policy.set', participantId: p.participantId })
      return next
    })
  }
}
