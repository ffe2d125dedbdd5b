/**
 * DCP credential offers, both sides (DCP 1.0 §"Credential Offer API").
 *
 * Issuer: `send` builds a CredentialOfferMessage from credential
 * definitions (the CredentialObjects of the issuer metadata, with the
 * offer's reason), checks it against the official schema and POSTs it to
 * the holder's CredentialService `…/offers` with the issuer's ID token,
 * under the outbound rules of issuance-client.ts.
 *
 * Holder: `receive` records an offer from an authenticated issuer and
 * applies the participant's holder policy: `none` → DECLINED; `any`, or
 * `known` for an issuer the participant already holds a credential from,
 * has asked for one, or lists in trustedIssuers → accepted: a credential
 * request for the offered CredentialObject ids goes out (the requester of
 * issuance.ts) after the answer to the issuer, and the offer names it;
 * anything else stays PENDING until `accept` is called by hand.
 */
import { BadRequestError, ConflictError, NotFoundError, toHubError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import type { Logger } from '../log.js'
import { DCP_CONTEXT, validateCredentialOffer, type CredentialOfferMessage } from './dcp/schemas.js'
import { createIdToken } from './dcp/tokens.js'
import { canonicalDid, checkAnyDid } from './did-syntax.js'
import { checkRequestedIds } from './id-checks.js'
import { CREDENTIAL_SERVICE, OutboundError, checkServiceEndpoint, endpointUrl, findServiceEndpoint, postDcp, type OutboundOptions } from './issuance-client.js'
import { clipReason, issuerMetadata, METADATA_OFFER_REASON } from './issuance-messages.js'
import type { OrgStore } from './org-store.js'
import type { CredentialOfferRecord, HolderCredentialRequest } from './types.js'
import type { RequestLinks } from './credential-requester.js'

/** What an offer reason may be: short, printable. */
const OFFER_REASON = /^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}$/

export interface OfferExchangeComponents {
  org: Pick<OrgStore, 'getParticipant' | 'signingKey' | 'listDefinitions' | 'listCredentials' | 'listHolderRequests' |
  'receiveOffer' | 'findOffer' | 'updateOffer' | 'holderPolicy'>
  resolveDocument: (did: string) => Promise<DidDocument>
  /** The holder's side of a request (IssuanceService.requestCredentials). */
  request: (pid: string, input: { issuerDid: string, credentials: string[] } & RequestLinks) => Promise<HolderCredentialRequest>
  outbound: () => OutboundOptions
  nowS: () => number
  logger: Logger
}

/** What the issuer sent. */
export interface SentOffer {
  holderDid: string
  credentials: string[]
  offerReason: string
  /** The holder's HTTP status. */
  status: number
}

export class OfferExchange {
  readonly #c: OfferExchangeComponents
  /** Offers being accepted now: one request per offer, whoever accepts it. */
  readonly #accepting = new Set<string>()
  readonly #background = new Set<Promise<void>>()

  constructor (components: OfferExchangeComponents) {
    this.#c = components
  }

  // ── issuer ────────────────────────────────────────────────────────────

  /** Offer `credentials` (definition ids of `pid`) to `holderDid`. Nothing is recorded on the issuer's side. */
  async send (pid: string, input: { holderDid: unknown, credentials: unknown, reason?: unknown }): Promise<SentOffer> {
    const { org } = this.#c
    const p = await org.getParticipant(pid)
    const holderDid = checkAnyDid(input.holderDid, 'holderDid')
    const ids = checkRequestedIds(input.credentials)
    if (input.reason !== undefined && (typeof input.reason !== 'string' || !OFFER_REASON.test(input.reason))) {
      throw new BadRequestError('reason must be 1–64 characters of letters, digits, space . _ : -', { reason: 'bad_reason' })
    }
    const offerReason = (input.reason as string | undefined) ?? METADATA_OFFER_REASON
    if (p.state !== 'ACTIVATED') throw new ConflictError(`participant "${p.participantId}" is ${p.state}: only an ACTIVATED participant can offer credentials`)
    const all = await org.listDefinitions(p.participantId)
    const defs = ids.map(id => {
      const d = all.find(x => x.id === id)
      if (d === undefined) throw new NotFoundError(`participant "${pid}" has no credential definition "${id}"`, { reason: 'unknown_definition', definitionId: id })
      if (d.holders !== undefined && !d.holders.includes(holderDid)) throw new BadRequestError(`credential definition "${id}" is not for ${holderDid}`, { reason: 'holder_not_allowed', definitionId: id })
      return d
    })
    // The same CredentialObjects the metadata advertises, with this offer's reason.
    const objects = issuerMetadata(p.did, defs).credentialsSupported.map(o => ({ ...o, offerReason }))
    const msg = validateCredentialOffer({ '@context': [DCP_CONTEXT], type: 'CredentialOfferMessage', issuer: p.did, credentials: objects })
    let doc: DidDocument
    try {
      doc = await this.#c.resolveDocument(holderDid)
    } catch (err) {
      throw new OutboundError(`cannot resolve the holder ${holderDid}: ${toHubError(err).message}`, { reason: 'unresolvable_holder' }, { cause: err })
    }
    const ep = findServiceEndpoint(doc, CREDENTIAL_SERVICE)
    if (ep === undefined) throw new BadRequestError(`${holderDid} lists no ${CREDENTIAL_SERVICE} in its DID document`, { reason: 'no_credential_service' })
    const url = endpointUrl(checkServiceEndpoint(ep).href, 'offers')
    const token = createIdToken(await org.signingKey(p.participantId), { did: p.did, audience: holderDid, now: this.#c.nowS() })
    const reply = await postDcp(url, msg, token, this.#c.outbound())
    return { holderDid, credentials: ids, offerReason, status: reply.status }
  }

  // ── holder ────────────────────────────────────────────────────────────

  /**
   * An offer from `issuerDid` (authenticated; the route checked that the
   * message's `issuer` is it): recorded, then handled by the policy. An
   * accepted offer's request goes out after this returns (`idle()` waits).
   */
  async receive (pid: string, issuerDid: string, msg: CredentialOfferMessage): Promise<CredentialOfferRecord> {
    const { org } = this.#c
    const credentials = checkRequestedIds(msg.credentials.map(c => c.id))
    // What the issuer says about the credentials is kept as a hint only: clipped, or dropped when odd, never a reason to refuse.
    const types = msg.credentials.map(c => c.credentialType)
    const reason = msg.credentials.find(c => typeof c.offerReason === 'string' && c.offerReason !== '')?.offerReason?.slice(0, 200)
    const decision = await this.#decide(pid, canonicalDid(issuerDid))
    const rec = await org.receiveOffer(pid, {
      issuerDid,
      credentials,
      ...(types.every((t): t is string => typeof t === 'string' && t !== '' && t.length <= 256) ? { credentialTypes: types } : {}),
      ...(reason !== undefined ? { offerReason: reason } : {}),
      status: decision === 'decline' ? 'DECLINED' : 'PENDING'
    })
    if (decision === 'accept') {
      const job = this.accept(pid, rec.offerId).then(
        () => {},
        (err: unknown) => { this.#c.logger.warn('accepting a credential offer failed', { participantId: pid, offerId: rec.offerId, reason: toHubError(err).message }) }
      )
      this.#background.add(job)
      void job.finally(() => this.#background.delete(job))
    }
    return rec
  }

  /**
   * Accept a PENDING (or FAILED) offer: a credential request for its
   * CredentialObjects goes to its issuer. The offer is ACCEPTED with the
   * request's holderPid, or FAILED with the reason (and the error thrown).
   */
  async accept (pid: string, offerId: string): Promise<CredentialOfferRecord> {
    const { org } = this.#c
    const offer = await org.findOffer(pid, offerId)
    if (offer === undefined) throw new NotFoundError(`participant "${pid}" has no credential offer ${offerId}`, { offerId })
    if (offer.status !== 'PENDING' && offer.status !== 'FAILED') throw new ConflictError(`credential offer ${offerId} is ${offer.status}`, { status: offer.status })
    const key = `${offer.participantId}\n${offerId}`
    if (this.#accepting.has(key)) throw new ConflictError(`credential offer ${offerId} is being accepted`, { status: offer.status, reason: 'in_progress' })
    this.#accepting.add(key)
    try {
      let req: HolderCredentialRequest
      try {
        req = await this.#c.request(pid, { issuerDid: offer.issuerDid, credentials: offer.credentials, offerId })
      } catch (err) {
        const e = toHubError(err)
        await org.updateOffer(pid, offerId, { status: 'FAILED', reason: clipReason(e.message) })
        throw e
      }
      return await org.updateOffer(pid, offerId, { status: 'ACCEPTED', holderPid: req.holderPid })
    } finally {
      this.#accepting.delete(key)
    }
  }

  /** Resolves when no accepted offer's request is still on its way. */
  async idle (): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
  }

  async #decide (pid: string, issuerDid: string): Promise<'accept' | 'pend' | 'decline'> {
    const { org } = this.#c
    const policy = await org.holderPolicy(pid)
    if (policy.accept === 'none') return 'decline'
    if (policy.accept === 'any' || policy.trustedIssuers.includes(issuerDid)) return 'accept'
    const known = (await org.listCredentials(pid)).some(c => canonicalDid(c.issuer) === issuerDid) ||
      (await org.listHolderRequests(pid)).some(r => r.issuerDid === issuerDid)
    return known ? 'accept' : 'pend'
  }
}
