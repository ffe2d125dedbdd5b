/**
 * Holder side of DCP issuance: ask an issuer for credentials. The issuer's
 * IssuerService is found in its DID document; the request is recorded
 * (REQUESTED) before it is sent, because the issuer may deliver before its
 * 201 reaches us and the Storage API must find the record; the issuerPid
 * from the 201's Location is recorded after. The credentials come back
 * through the Storage API (http/dcp-api.ts), which settles the record.
 */
import { BadRequestError, ConflictError, toHubError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { DCP_CONTEXT, validateCredentialRequest } from './dcp/schemas.js'
import { createIdToken } from './dcp/tokens.js'
import { checkAnyDid } from './did-syntax.js'
import { checkRequestedIds } from './id-checks.js'
import { ISSUER_SERVICE, OutboundError, checkServiceEndpoint, endpointUrl, findServiceEndpoint, postDcp, type OutboundOptions } from './issuance-client.js'
import { clipReason } from './issuance-messages.js'
import type { OrgStore } from './org-store.js'
import type { HolderCredentialRequest } from './types.js'

/** What a request reads and writes of the organization records. */
export type HolderRecords = Pick<OrgStore, 'getParticipant' | 'signingKey' | 'createHolderRequest' | 'updateHolderRequest'>

/** Why a request is sent, when the hub sends it on its own (renewal, an accepted offer, a lost delivery): recorded with it. */
export interface RequestLinks {
  renews?: string
  offerId?: string
  retryOf?: string
}

export interface CredentialRequesterComponents {
  org: HolderRecords
  /** Resolves the issuer's DID document. */
  resolveDocument: (did: string) => Promise<DidDocument>
  /** Per outbound request, and the signal that aborts it (the service is closing). */
  outbound: () => OutboundOptions
  /** Seconds since the epoch (the ID token's iat). */
  nowS: () => number
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

export class CredentialRequester {
  readonly #c: CredentialRequesterComponents

  constructor (components: CredentialRequesterComponents) {
    this.#c = components
  }

  /**
   * Ask `issuerDid` for credentials (definition ids). Resolves with the
   * request record once the issuer acknowledged it (RECEIVED, or already
   * settled if its answer was faster). Throws before anything is stored for
   * bad input or an issuer without a usable IssuerService; once the request
   * is recorded, a failure to send it marks it FAILED and throws
   * {@link OutboundError} (`unavailable`).
   */
  async request (pid: string, input: { issuerDid: unknown, credentials: unknown } & RequestLinks): Promise<HolderCredentialRequest> {
    const { org } = this.#c
    const p = await org.getParticipant(pid)
    const issuerDid = checkAnyDid(input.issuerDid, 'issuerDid')
    const credentials = checkRequestedIds(input.credentials)
    if (p.state !== 'ACTIVATED') throw new ConflictError(`participant "${p.participantId}" is ${p.state}: only an ACTIVATED participant can request credentials (the issuer could not resolve its keys)`)
    let doc: DidDocument
    try {
      doc = await this.#c.resolveDocument(issuerDid)
    } catch (err) {
      throw new OutboundError(`cannot resolve the issuer ${issuerDid}: ${toHubError(err).message}`, { reason: 'unresolvable_issuer' }, { cause: err })
    }
    const ep = findServiceEndpoint(doc, ISSUER_SERVICE)
    if (ep === undefined) throw new BadRequestError(`${issuerDid} lists no ${ISSUER_SERVICE} in its DID document`, { reason: 'no_issuer_service' })
    const url = endpointUrl(checkServiceEndpoint(ep).href, 'credentials')
    const signer = await org.signingKey(pid)

    const rec = await org.createHolderRequest(pid, {
      issuerDid,
      credentials,
      ...(input.renews !== undefined ? { renews: input.renews } : {}),
      ...(input.offerId !== undefined ? { offerId: input.offerId } : {}),
      ...(input.retryOf !== undefined ? { retryOf: input.retryOf } : {})
    })
    const msg = validateCredentialRequest({
      '@context': [DCP_CONTEXT],
      type: 'CredentialRequestMessage',
      holderPid: rec.holderPid,
      credentials: credentials.map(id => ({ id }))
    })
    const token = createIdToken(signer, { did: p.did, audience: issuerDid, now: this.#c.nowS() })
    let issuerPid: string | undefined
    try {
      const reply = await postDcp(url, msg, token, this.#c.outbound())
      issuerPid = issuerPidOf(reply.location, reply.body)
      if (issuerPid === undefined) throw new OutboundError('the issuer acknowledged the request without saying where its status is (no Location)', { reason: 'bad_answer' })
    } catch (err) {
      const e = toHubError(err)
      await org.updateHolderRequest(pid, rec.holderPid, { status: 'FAILED', reason: clipReason(e.message) })
      throw e
    }
    return await org.updateHolderRequest(pid, rec.holderPid, { status: 'RECEIVED', issuerPid })
  }
}
