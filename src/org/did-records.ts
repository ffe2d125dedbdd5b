/**
 * A participant's DID record: whether its document is published, and its
 * service endpoints. The document itself is never stored: it is computed
 * from the record and the key pairs on every read (did-document.ts), so a
 * key rotation shows in the served document without a second write.
 */
import { AlreadyExistsError, BadRequestError, NotFoundError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { utf8d } from '../identity/encoding.js'
import { checkOutboundLiteral } from '../identity/outbound.js'
import { buildDidDocument } from './did-document.js'
import type { OrgTransactions } from './engine.js'
import { orgKeys } from './layout.js'
import { loadDidResource, loadParticipant } from './records.js'
import type { DidResource, KeyPairResource, ParticipantRecord, ServiceEndpoint } from './types.js'

export interface DidRecordsComponents {
  engine: OrgTransactions
}

/** A service endpoint of `did`'s document, its id made a full DID URL. */
export function checkService (did: string, s: unknown): ServiceEndpoint {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new BadRequestError('a service endpoint is an object {id, type, serviceEndpoint}')
  const { id, type, serviceEndpoint } = s as Record<string, unknown>
  if (typeof id !== 'string' || id === '') throw new BadRequestError('service id must be a non-empty string')
  if (typeof type !== 'string' || type === '') throw new BadRequestError('service type must be a non-empty string')
  if (typeof serviceEndpoint !== 'string') throw new BadRequestError('serviceEndpoint must be a URL string')
  let url: URL
  try {
    url = new URL(serviceEndpoint)
  } catch {
    throw new BadRequestError('serviceEndpoint must be an absolute URL')
  }
  // Other parties' hubs will connect to it, and so will this one (issuance
  // delivery): an address literal the outbound policy refuses (link-local,
  // metadata, loopback under deny, IPv4-mapped forms of those, …) is
  // refused now (details.reason forbidden_address). Names are checked when
  // connected to.
  checkOutboundLiteral(url, 'serviceEndpoint')
  const full = id.startsWith('#') ? did + id : id.startsWith(did + '#') ? id : `${did}#${id}`
  if (!/^[^\s#]+#[A-Za-z0-9._~-]+$/.test(full)) throw new BadRequestError('service id must be a fragment such as "#credential-service"')
  return { id: full, type, serviceEndpoint }
}

export class DidRecords {
  readonly #engine: OrgTransactions

  constructor (components: DidRecordsComponents) {
    this.#engine = components.engine
  }

  /** The participant that owns `did`, if any. */
  async ownerOf (did: string): Promise<string | undefined> {
    const v = await this.#engine.get(orgKeys.didOwner(did))
    return v === undefined ? undefined : utf8d.decode(v)
  }

  async get (pid: string): Promise<DidResource & { document: DidDocument }> {
    const e = this.#engine
    const p = await loadParticipant(e, pid)
    // No DID record: deleted since the participant was read (not_found), else damage (internal).
    const d = await loadDidResource(e, p.participantId).catch(async (err: unknown) => { await loadParticipant(e, pid); throw err })
    const keys = await e.list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
    return { ...d, document: buildDidDocument(p.did, keys, d.services) }
  }

  /**
   * The document to serve for `did`, or undefined unless it is published
   * and its participant ACTIVATED (did:web hosting asks this on every fetch).
   */
  async servedDocument (did: string): Promise<DidDocument | undefined> {
    const pid = await this.ownerOf(did)
    if (pid === undefined) return undefined
    const p = await this.#engine.json<ParticipantRecord>(orgKeys.participant(pid))
    if (p?.state !== 'ACTIVATED') return undefined
    const d = await this.get(pid)
    return d.state === 'PUBLISHED' ? d.document : undefined
  }

  /** Publish or unpublish; idempotent (an unchanged state writes nothing). */
  async setPublished (pid: string, published: boolean): Promise<DidResource> {
    const op = published ? 'did.publish' : 'did.unpublish'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const d = await loadDidResource(e, p.participantId)
      e.step(op, 'transition')
      const state = published ? 'PUBLISHED' : 'UNPUBLISHED'
      if (d.state === state) return d
      const next: DidResource = { ...d, state, updatedAt: e.iso() }
      tx.put(orgKeys.didResource(p.participantId), next)
      tx.events.push({ type: published ? 'did.published' : 'did.unpublished', participantId: p.participantId, did: p.did })
      return next
    })
  }

  async addService (pid: string, service: unknown): Promise<ServiceEndpoint> {
    const op = 'did.service.add'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const d = await loadDidResource(e, p.participantId)
      e.step(op, 'validate')
      const s = checkService(p.did, service)
      if (d.services.some(x => x.id === s.id)) throw new AlreadyExistsError(`service ${s.id} already exists`, { serviceId: s.id })
      tx.put(orgKeys.didResource(p.participantId), { ...d, services: [...d.services, s], updatedAt: e.iso() })
      tx.events.push({ type: 'did.service.added', participantId: p.participantId, serviceId: s.id })
      return s
    })
  }

  async removeService (pid: string, serviceId: string): Promise<void> {
    const op = 'did.service.remove'
    const e = this.#engine
    await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const d = await loadDidResource(e, p.participantId)
      e.step(op, 'validate')
      const full = serviceId.startsWith('#') ? p.did + serviceId : serviceId.includes('#') ? serviceId : `${p.did}#${serviceId}`
      if (!d.services.some(x => x.id === full)) throw new NotFoundError(`no service ${full}`, { serviceId: full })
      tx.put(orgKeys.didResource(p.participantId), { ...d, services: d.services.filter(x => x.id !== full), updatedAt: e.iso() })
      tx.events.push({ type: 'did.service.removed', participantId: p.participantId, serviceId: full })
    })
  }
}
