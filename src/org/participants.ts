/**
 * Participant contexts: CREATED → ACTIVATED ⇄ DEACTIVATED, and deletion.
 *
 * A participant is created with everything it needs to be used at once (an
 * API key, an ACTIVATED default key pair, its DID record) in one batch, and
 * deleted with everything it owns in one batch: every record it owns lives
 * under a key naming it (layout.ts), so deletion is a handful of prefix scans.
 * Activation publishes its DID document and deactivation unpublishes it, in
 * the same batch as the state change.
 */
import { AlreadyExistsError, BadRequestError, ConflictError } from '../errors.js'
import { utf8, utf8d } from '../identity/encoding.js'
import { hashApiKey, newApiKey } from './api-keys.js'
import { checkService } from './did-records.js'
import { checkDid } from './did-syntax.js'
import type { OrgTransactions } from './engine.js'
import { checkParticipantId } from './id-checks.js'
import type { KeyPairs, KeySpec } from './key-pairs.js'
import { orgKeys } from './layout.js'
import { loadDidResource, loadParticipant, publicOnly } from './records.js'
import type { DidResource, KeyPairResource, ParticipantContext, ParticipantRecord, ParticipantState, ServiceEndpoint } from './types.js'

export interface CreateParticipantInput {
  participantId: string
  did: string
  /** Activate (and publish) at once. Default false. */
  active?: boolean
  key?: KeySpec
  services?: ServiceEndpoint[]
}

export interface CreatedParticipant {
  participant: ParticipantContext
  /** Shown once: only its hash is stored. */
  apiKey: string
  key: KeyPairResource
}

export interface ParticipantsComponents {
  engine: OrgTransactions
  /** Stages the participant's first key pair inside the create operation. */
  keyPairs: Pick<KeyPairs, 'stage'>
}

export class Participants {
  readonly #engine: OrgTransactions
  readonly #keyPairs: Pick<KeyPairs, 'stage'>

  constructor (components: ParticipantsComponents) {
    this.#engine = components.engine
    this.#keyPairs = components.keyPairs
  }

  async create (input: CreateParticipantInput): Promise<CreatedParticipant> {
    const op = 'participant.create'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'validate')
      if (typeof input !== 'object' || input === null) throw new BadRequestError('expected {participantId, did}')
      const participantId = checkParticipantId(input.participantId)
      const did = checkDid(input.did)
      if (input.active !== undefined && typeof input.active !== 'boolean') throw new BadRequestError('active must be a boolean')
      const services = (input.services ?? []).map(s => checkService(did, s))
      if (new Set(services.map(s => s.id)).size !== services.length) throw new BadRequestError('service ids must be unique')
      if (await e.get(orgKeys.participant(participantId)) !== undefined) throw new AlreadyExistsError(`participant context "${participantId}" already exists`, { participantId })
      const owner = await e.get(orgKeys.didOwner(did))
      if (owner !== undefined) throw new AlreadyExistsError(`${did} already belongs to participant "${utf8d.decode(owner)}"`, { did })

      e.step(op, 'api-key')
      const apiKey = newApiKey(participantId)
      const now = e.iso()
      const active = input.active === true
      const record: ParticipantRecord = { participantId, did, state: active ? 'ACTIVATED' : 'CREATED', createdAt: now, updatedAt: now, apiKeyHash: hashApiKey(apiKey) }

      e.step(op, 'key-pair')
      const key = this.#keyPairs.stage(op, tx, input.key ?? {}, { participant: { participantId, did }, existing: [], defaults: { activate: true, isDefault: true } })
      if (key.state !== 'ACTIVATED') throw new BadRequestError('the default key pair of a new participant must be activated')

      e.step(op, 'did-document')
      const didRecord: DidResource = { participantId, did, state: 'UNPUBLISHED', services, updatedAt: now }

      e.step(op, 'activate')
      if (active) didRecord.state = 'PUBLISHED'

      tx.put(orgKeys.participant(participantId), record)
      tx.putBytes(orgKeys.didOwner(did), utf8.encode(participantId))
      tx.put(orgKeys.didResource(participantId), didRecord)
      // First, ahead of the key events staged above: a listener learns of the participant before its keys.
      tx.events.unshift({ type: 'participant.created', participantId, did })
      if (active) tx.events.push({ type: 'participant.activated', participantId }, { type: 'did.published', participantId, did })
      return { participant: publicOnly(record), apiKey, key }
    })
  }

  async get (pid: string): Promise<ParticipantContext> {
    return publicOnly(await loadParticipant(this.#engine, pid))
  }

  async list (): Promise<ParticipantContext[]> {
    return (await this.#engine.list<ParticipantRecord>(orgKeys.participantsPrefix())).map(publicOnly)
  }

  /** ACTIVATED publishes the DID document (needs an ACTIVATED key pair); DEACTIVATED unpublishes it. */
  async transition (pid: string, to: Exclude<ParticipantState, 'CREATED'>): Promise<ParticipantContext> {
    const op = to === 'ACTIVATED' ? 'participant.activate' : 'participant.deactivate'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const keys = await e.list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
      const didRecord = await loadDidResource(e, p.participantId)
      e.step(op, 'transition')
      const allowed = to === 'ACTIVATED' ? p.state === 'CREATED' || p.state === 'DEACTIVATED' : p.state === 'ACTIVATED'
      if (!allowed) throw new ConflictError(`participant "${pid}" is ${p.state}: it cannot become ${to} (CREATED → ACTIVATED ⇄ DEACTIVATED)`, { state: p.state })
      if (to === 'ACTIVATED' && !keys.some(k => k.state === 'ACTIVATED')) throw new ConflictError(`participant "${pid}" has no ACTIVATED key pair: activate or create one first`)
      const now = e.iso()
      tx.put(orgKeys.participant(p.participantId), { ...p, state: to, updatedAt: now })
      if (to === 'ACTIVATED') {
        e.step(op, 'publish')
        tx.events.push({ type: 'participant.activated', participantId: p.participantId })
        if (didRecord.state !== 'PUBLISHED') {
          tx.put(orgKeys.didResource(p.participantId), { ...didRecord, state: 'PUBLISHED', updatedAt: now })
          tx.events.push({ type: 'did.published', participantId: p.participantId, did: p.did })
        }
      } else {
        e.step(op, 'unpublish')
        tx.events.push({ type: 'participant.deactivated', participantId: p.participantId })
        if (didRecord.state !== 'UNPUBLISHED') {
          tx.put(orgKeys.didResource(p.participantId), { ...didRecord, state: 'UNPUBLISHED', updatedAt: now })
          tx.events.push({ type: 'did.unpublished', participantId: p.participantId, did: p.did })
        }
      }
      return { ...publicOnly(p), state: to, updatedAt: now }
    })
  }

  /** Remove the context and everything it holds, in one batch. */
  async delete (pid: string): Promise<void> {
    const op = 'participant.delete'
    const e = this.#engine
    await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      e.step(op, 'collect')
      const id = p.participantId
      const prefixes = [
        orgKeys.keyPairsPrefix(id), orgKeys.privateKeysPrefix(id), orgKeys.credentialsPrefix(id),
        orgKeys.definitionsPrefix(id), orgKeys.issuanceRequestsPrefix(id), orgKeys.holderRequestsPrefix(id),
        orgKeys.statusListsPrefix(id), orgKeys.issuedCredentialsPrefix(id), orgKeys.offersPrefix(id)
      ]
      for (const prefix of prefixes) {
        for await (const key of e.keys(prefix)) tx.del(key)
      }
      tx.del(orgKeys.didResource(id))
      tx.del(orgKeys.holderPolicy(id))
      tx.del(orgKeys.didOwner(p.did))
      tx.del(orgKeys.participant(id))
      tx.events.push({ type: 'participant.deleted', participantId: id, did: p.did })
    })
  }
}
