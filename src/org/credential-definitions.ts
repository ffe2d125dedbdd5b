/**
 * Credential definitions: what an issuing participant issues, to whom, for
 * how long. Checked strictly when written (unknown fields refused, bounded
 * claims, no subject id), because every credential issued under one copies
 * what it says.
 */
import { AlreadyExistsError, BadRequestError, NotFoundError } from '../errors.js'
import { checkAnyDid } from './did-syntax.js'
import type { OrgTransactions } from './engine.js'
import { checkDefinitionId, CREDENTIAL_TYPE } from './id-checks.js'
import { DEFINITION_ID, orgKeys } from './layout.js'
import { loadParticipant } from './records.js'
import type { CredentialDefinition } from './types.js'

/** Default lifetime of an issued credential: 30 days. */
export const DEFAULT_VALIDITY_S = 86_400 * 30
/** Longest lifetime a definition may give its credentials (10 years). */
export const MAX_VALIDITY_S = 86_400 * 3650
/** Extra claims are copied into every credential (and every presentation of it): keep them small. */
export const MAX_CLAIMS_BYTES = 16 * 1024
const MAX_HOLDERS = 1000
const DEFINITION_FIELDS = new Set(['id', 'credentialType', 'validitySeconds', 'claims', 'holders', 'credentialSchema', 'statusList', 'dataModel'])

export interface CredentialDefinitionInput {
  id: string
  credentialType: string
  /** Default {@link DEFAULT_VALIDITY_S}. */
  validitySeconds?: number
  claims?: Record<string, unknown>
  holders?: string[]
  credentialSchema?: string
  /** Issue its credentials with a revocation entry in the issuer's own status list. Default false. */
  statusList?: boolean
  /** `1.1` (VCDM 1.1 JWT, the default) or `2.0` (a VCDM 2.0 `vc+jwt`). */
  dataModel?: '1.1' | '2.0'
}

export interface CredentialDefinitionsComponents {
  engine: OrgTransactions
}

function checkDefinition (pid: string, input: unknown, now: string): CredentialDefinition {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new BadRequestError('a credential definition is an object {id, credentialType, validitySeconds?, claims?, holders?}')
  const o = input as Record<string, unknown>
  // Unknown fields are refused rather than ignored: a misspelt "holder" would otherwise silently open the definition to everyone.
  const unknown = Object.keys(o).filter(k => !DEFINITION_FIELDS.has(k))
  if (unknown.length > 0) throw new BadRequestError(`unknown credential definition field(s): ${unknown.join(', ')}`, { fields: unknown })
  const id = checkDefinitionId(o.id)
  if (typeof o.credentialType !== 'string' || !CREDENTIAL_TYPE.test(o.credentialType) || o.credentialType === 'VerifiableCredential') {
    throw new BadRequestError('credentialType must be a credential type name such as MembershipCredential (not VerifiableCredential, which every credential has)')
  }
  const validitySeconds = o.validitySeconds ?? DEFAULT_VALIDITY_S
  if (typeof validitySeconds !== 'number' || !Number.isInteger(validitySeconds) || validitySeconds < 1 || validitySeconds > MAX_VALIDITY_S) {
    throw new BadRequestError(`validitySeconds must be an integer in 1…${MAX_VALIDITY_S}`)
  }
  const def: CredentialDefinition = { participantId: pid, id, credentialType: o.credentialType, validitySeconds, createdAt: now }
  if (o.claims !== undefined) {
    if (typeof o.claims !== 'object' || o.claims === null || Array.isArray(o.claims)) throw new BadRequestError('claims must be a JSON object')
    // credentialSubject.id is the holder; a definition must not be able to make a credential about someone else.
    if (Object.hasOwn(o.claims, 'id')) throw new BadRequestError('claims must not contain "id": the credential subject is always the requesting holder')
    if (Buffer.byteLength(JSON.stringify(o.claims)) > MAX_CLAIMS_BYTES) throw new BadRequestError(`claims exceed ${MAX_CLAIMS_BYTES} bytes of JSON`)
    def.claims = o.claims as Record<string, unknown>
  }
  if (o.holders !== undefined) {
    if (!Array.isArray(o.holders) || o.holders.length > MAX_HOLDERS) throw new BadRequestError(`holders must be an array of at most ${MAX_HOLDERS} DIDs`)
    def.holders = [...new Set(o.holders.map(h => checkAnyDid(h, 'each holder')))]
  }
  if (o.credentialSchema !== undefined) {
    if (typeof o.credentialSchema !== 'string') throw new BadRequestError('credentialSchema must be a URL string')
    try {
      new URL(o.credentialSchema)
    } catch {
      throw new BadRequestError('credentialSchema must be an absolute URL')
    }
    def.credentialSchema = o.credentialSchema
  }
  if (o.statusList !== undefined) {
    if (typeof o.statusList !== 'boolean') throw new BadRequestError('statusList must be a boolean')
    def.statusList = o.statusList
  }
  if (o.dataModel !== undefined) {
    if (o.dataModel !== '1.1' && o.dataModel !== '2.0') throw new BadRequestError('dataModel must be "1.1" or "2.0"')
    def.dataModel = o.dataModel
  }
  return def
}

export class CredentialDefinitions {
  readonly #engine: OrgTransactions

  constructor (components: CredentialDefinitionsComponents) {
    this.#engine = components.engine
  }

  /** Add a definition. 409 if the id is taken. */
  async create (pid: string, input: CredentialDefinitionInput): Promise<CredentialDefinition> {
    const op = 'issuance.definition.create'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      e.step(op, 'validate')
      const def = checkDefinition(p.participantId, input, e.iso())
      if (await e.get(orgKeys.definition(p.participantId, def.id)) !== undefined) {
        throw new AlreadyExistsError(`participant "${pid}" already has a credential definition "${def.id}"`, { definitionId: def.id })
      }
      tx.put(orgKeys.definition(p.participantId, def.id), def)
      tx.events.push({ type: 'issuance.definition.created', participantId: p.participantId, definitionId: def.id })
      return def
    })
  }

  async list (pid: string): Promise<CredentialDefinition[]> {
    const p = await loadParticipant(this.#engine, pid)
    return await this.#engine.list<CredentialDefinition>(orgKeys.definitionsPrefix(p.participantId))
  }

  /** The definition, or undefined (an issuer rejects unknown ids rather than failing). */
  async find (pid: string, id: string): Promise<CredentialDefinition | undefined> {
    const p = await loadParticipant(this.#engine, pid)
    return DEFINITION_ID.test(id) ? await this.#engine.json<CredentialDefinition>(orgKeys.definition(p.participantId, id)) : undefined
  }

  /** Remove a definition. Requests already received that name it are rejected when processed. */
  async delete (pid: string, id: string): Promise<void> {
    const op = 'issuance.definition.delete'
    const e = this.#engine
    await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const key = orgKeys.definition(p.participantId, checkDefinitionId(id))
      if (await e.get(key) === undefined) throw new NotFoundError(`participant "${pid}" has no credential definition "${id}"`, { definitionId: id })
      tx.del(key)
      tx.events.push({ type: 'issuance.definition.deleted', participantId: p.participantId, definitionId: id })
    })
  }
}
