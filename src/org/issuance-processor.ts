/**
 * The issuer's processing of one received request: policy (every requested
 * definition exists, the holder is on its allow-list) → record status list
 * entries for revocable credentials → sign one JWT VC per definition →
 * deliver a CredentialMessage (or a rejection) → settle the request.
 *
 * A request is settled only after its delivery was attempted, so a crash in
 * between leaves it RECEIVED to be processed again (at least once); status
 * list indices are recorded before anything is signed, so whatever may
 * reach a holder can be revoked.
 */
import { randomUUID } from 'node:crypto'
import { ConflictError, toHubError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Delivery, CredentialDelivery } from './credential-delivery.js'
import { DCP_CONTEXT, validateCredentialMessage, type CredentialMessage } from './dcp/schemas.js'
import { ISSUER_SERVICE, checkServiceEndpoint, findServiceEndpoint } from './issuance-client.js'
import { clipReason, createVcJwt, statusListEntry } from './issuance-messages.js'
import type { JwtSigner } from './jwt.js'
import type { OrgStore } from './org-store.js'
import type { CredentialDefinition, IssuanceRequest, IssuedCredential } from './types.js'

/** What processing reads and writes of the organization records. */
export type IssuerRecords = Pick<OrgStore,
  'findIssuanceRequest' | 'getParticipant' | 'signingKey' | 'findDefinition' | 'getDid' | 'recordIssuedCredentials' | 'settleIssuanceRequest'>

export interface IssuanceProcessorComponents {
  org: IssuerRecords
  delivery: Pick<CredentialDelivery, 'deliver'>
  logger: Logger
  /** Aborted when the service closes: a request whose delivery was cut short is not settled. */
  signal: AbortSignal
  /** Seconds since the epoch. */
  nowS: () => number
  /** Entries of each status list started. */
  statusListSize: number
}

type Decision =
  /** `statusBaseUrl`: where the issuer's status lists are served, when a definition needs one. */
  | { ok: true, defs: CredentialDefinition[], statusBaseUrl?: string }
  | { ok: false, reason: string }

export class IssuanceProcessor {
  readonly #c: IssuanceProcessorComponents

  constructor (components: IssuanceProcessorComponents) {
    this.#c = components
  }

  async process (pid: string, issuerPid: string): Promise<void> {
    const { org, signal } = this.#c
    const req = await org.findIssuanceRequest(pid, issuerPid)
    if (req?.status !== 'RECEIVED') return
    const p = await org.getParticipant(pid)
    // A participant that is not ACTIVATED has no served DID document: nothing it signed would verify.
    if (p.state !== 'ACTIVATED') {
      await this.#settle(pid, req, { status: 'REJECTED', rejectionReason: 'the issuer is not active' }, { delivered: false, error: `the issuer is ${p.state}` })
      return
    }
    let signer: JwtSigner
    try {
      signer = await org.signingKey(pid)
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
      const now = this.#c.nowS()
      const planned = decision.defs.map(def => ({ def, id: `urn:uuid:${randomUUID()}` }))
      // Indices are allocated and the credentials recorded before anything is signed (see the header).
      const entries = new Map<string, IssuedCredential>()
      const revocable = planned.filter(x => x.def.statusList === true)
      if (revocable.length > 0) {
        const recorded = await org.recordIssuedCredentials(pid, req.issuerPid, {
          statusBaseUrl: decision.statusBaseUrl ?? '',
          listSize: this.#c.statusListSize,
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
            ...(entry !== undefined ? { credentialStatus: statusListEntry(entry) } : {}),
            ...(d.dataModel !== undefined ? { dataModel: d.dataModel } : {})
          })
        }
      })
      credentialIds = vcs.map(x => x.vc.id)
      message = validateCredentialMessage({ ...base, status: 'ISSUED', credentials: vcs.map(x => ({ credentialType: x.def.credentialType, payload: x.vc.jwt, format: 'jwt' })) })
    } else {
      message = validateCredentialMessage({ ...base, status: 'REJECTED', rejectionReason: clipReason(decision.reason) })
    }
    const delivery = await this.#c.delivery.deliver(p.did, signer, req.holderDid, message)
    if (signal.aborted) return
    if (decision.ok && !delivery.delivered) {
      // Credentials that never reached the holder were not issued: the request fails, and says why.
      await this.#settle(pid, req, { status: 'REJECTED', rejectionReason: clipReason(`delivery failed: ${delivery.error ?? 'unknown error'}`) }, delivery)
    } else if (decision.ok) {
      await this.#settle(pid, req, { status: 'ISSUED', credentialIds: credentialIds ?? [] }, delivery)
    } else {
      await this.#settle(pid, req, { status: 'REJECTED', rejectionReason: clipReason(decision.reason) }, delivery)
    }
  }

  async #decide (pid: string, req: IssuanceRequest): Promise<Decision> {
    const defs: CredentialDefinition[] = []
    for (const id of req.credentials) {
      const def = await this.#c.org.findDefinition(pid, id)
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
    const doc = (await this.#c.org.getDid(pid)).document
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

  async #settle (pid: string, req: IssuanceRequest, o: { status: 'ISSUED' | 'REJECTED', rejectionReason?: string, credentialIds?: string[] }, d: Delivery): Promise<void> {
    await this.#c.org.settleIssuanceRequest(pid, req.issuerPid, { ...o, delivered: d.delivered, ...(d.error !== undefined ? { deliveryError: clipReason(d.error) } : {}) })
    this.#c.logger.info('issuance request settled', { participantId: pid, issuerPid: req.issuerPid, status: o.status, delivered: d.delivered })
  }
}
