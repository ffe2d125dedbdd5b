/**
 * Issuer side: the CredentialRequestMessages a participant received.
 * RECEIVED when recorded (under an issuerPid we choose), then settled once
 * as ISSUED or REJECTED with what was delivered; issuance.ts records them and issuance-processor.ts settles them.
 */
import { randomUUID } from 'node:crypto'
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js'
import { checkAnyDid } from './did-syntax.js'
import type { OrgTransactions } from './engine.js'
import { checkForeignId, checkRequestedIds } from './id-checks.js'
import { orgKeys } from './layout.js'
import { loadParticipant } from './records.js'
import type { IssuanceRequest } from './types.js'

export interface ReceivedRequestInput {
  holderDid: string
  holderPid: string
  /** Requested definition ids (the CredentialRequestMessage's `credentials[].id`). */
  credentials: string[]
}

export interface IssuanceOutcome {
  status: 'ISSUED' | 'REJECTED'
  rejectionReason?: string
  credentialIds?: string[]
  delivered: boolean
  deliveryError?: string
}

export interface IssuanceRequestsComponents {
  engine: OrgTransactions
}

export class IssuanceRequests {
  readonly #engine: OrgTransactions

  constructor (components: IssuanceRequestsComponents) {
    this.#engine = components.engine
  }

  /** Record a request from an authenticated holder: RECEIVED, under a fresh issuerPid. */
  async receive (pid: string, input: ReceivedRequestInput): Promise<IssuanceRequest> {
    const op = 'issuance.request.receive'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      e.step(op, 'validate')
      const now = e.iso()
      const req: IssuanceRequest = {
        participantId: p.participantId,
        issuerPid: randomUUID(),
        holderPid: checkForeignId(input.holderPid, 'holderPid'),
        holderDid: checkAnyDid(input.holderDid, 'the holder'),
        credentials: checkRequestedIds(input.credentials),
        status: 'RECEIVED',
        createdAt: now,
        updatedAt: now
      }
      tx.put(orgKeys.issuanceRequest(p.participantId, req.issuerPid), req)
      tx.events.push({ type: 'issuance.request.received', participantId: p.participantId, issuerPid: req.issuerPid, holderDid: req.holderDid })
      return req
    })
  }

  async find (pid: string, issuerPid: string): Promise<IssuanceRequest | undefined> {
    const p = await loadParticipant(this.#engine, pid)
    return await this.#engine.json<IssuanceRequest>(orgKeys.issuanceRequest(p.participantId, issuerPid))
  }

  async list (pid: string): Promise<IssuanceRequest[]> {
    const p = await loadParticipant(this.#engine, pid)
    return await this.#engine.list<IssuanceRequest>(orgKeys.issuanceRequestsPrefix(p.participantId))
  }

  /** RECEIVED → ISSUED | REJECTED, with what was delivered. A request is settled once (409 after). */
  async settle (pid: string, issuerPid: string, outcome: IssuanceOutcome): Promise<IssuanceRequest> {
    const op = 'issuance.request.settle'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const req = await e.json<IssuanceRequest>(orgKeys.issuanceRequest(p.participantId, issuerPid))
      if (req === undefined) throw new NotFoundError(`participant "${pid}" has no issuance request ${issuerPid}`, { issuerPid })
      e.step(op, 'transition')
      if (req.status !== 'RECEIVED') throw new ConflictError(`issuance request ${issuerPid} is already ${req.status}`, { status: req.status })
      if (outcome.status !== 'ISSUED' && outcome.status !== 'REJECTED') throw new BadRequestError('an issuance request settles as ISSUED or REJECTED')
      const next: IssuanceRequest = {
        ...req,
        status: outcome.status,
        delivered: outcome.delivered,
        ...(outcome.rejectionReason !== undefined ? { rejectionReason: outcome.rejectionReason } : {}),
        ...(outcome.credentialIds !== undefined ? { credentialIds: outcome.credentialIds } : {}),
        ...(outcome.deliveryError !== undefined ? { deliveryError: outcome.deliveryError } : {}),
        updatedAt: e.iso()
      }
      tx.put(orgKeys.issuanceRequest(p.participantId, issuerPid), next)
      tx.events.push({ type: 'issuance.request.settled', participantId: p.participantId, issuerPid, status: outcome.status })
      return next
    })
  }
}
