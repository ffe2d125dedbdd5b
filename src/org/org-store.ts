/**
 * Participant contexts and everything they own: API key, key pairs (with
 * their sealed private keys), DID document state, stored credentials, and
 * the records of DCP issuance (credential definitions, requests received,
 * status lists and the credentials issued into them as an issuer,
 * credential requests sent as a holder; issuance.ts drives them).
 *
 * Every operation is all-or-nothing. It reads what it needs, stages every
 * write (records, index entries, sealed keys, destroyed keys) in one
 * transaction, and commits them as a single LevelDB batch; events go out
 * only after that batch is durable. A failure or a crash at any step before
 * the batch leaves no trace; after it, the whole change is there. Each
 * operation names its steps (OPERATION_STEPS) and passes through an
 * injectable failpoint at every one, so tests can prove this step by step.
 *
 * Operations are serialized (one at a time per hub): they are rare admin
 * actions, and serializing makes read-check-write sequences race-free.
 */
import { createHash, createPublicKey, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import type { JWK } from 'jose'
import { AlreadyExistsError, AuthenticationError, BadRequestError, ConflictError, HubError, NotFoundError, PermissionsRequiredError } from '../errors.js'
import { b64u, fromB64u, utf8, utf8d } from '../identity/encoding.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { checkOutboundLiteral } from '../identity/outbound.js'
import type { DidDocument } from '../identity/did-key.js'
import { prefixEnd, type KvOp, type KvStore } from '../store/kv.js'
import { silentLogger, type Logger } from '../log.js'
import { buildDidDocument } from './did-document.js'
import { checkInvariants } from './invariants.js'
import { DEFINITION_ID, KEY_ID, PARTICIPANT_ID, STATUS_LIST_ID, orgKeys } from './layout.js'
import { decodeEncodedList, encodeBitstring, MAX_BITSTRING_BYTES, MIN_BITSTRING_ENTRIES, setBit } from './status-list.js'
import type { Vault } from './vault.js'
import { parseVcJwt } from './vc.js'
import type {
  CredentialDefinition, CredentialResource, DidResource, HolderCredentialRequest, IssuanceRequest, IssuedCredential, KeyPairResource, OrgEvent,
  OrgEventType, ParticipantContext, ParticipantRecord, ParticipantState, ServiceEndpoint, StatusListRecord
} from './types.js'

/** The named steps of each operation, in order. A failpoint can stop any of them. */
export const OPERATION_STEPS = {
  'participant.create': ['validate', 'api-key', 'key-pair', 'seal-private-key', 'did-document', 'activate', 'commit'],
  'participant.activate': ['load', 'transition', 'publish', 'commit'],
  'participant.deactivate': ['load', 'transition', 'unpublish', 'commit'],
  'participant.delete': ['load', 'collect', 'commit'],
  'participant.regenerate-api-key': ['load', 'api-key', 'commit'],
  'keypair.create': ['load', 'key-pair', 'seal-private-key', 'commit'],
  'keypair.activate': ['load', 'transition', 'commit'],
  'keypair.rotate': ['load', 'transition', 'destroy-private-key', 'successor', 'seal-private-key', 'commit'],
  'keypair.revoke': ['load', 'transition', 'destroy-private-key', 'commit'],
  'did.publish': ['load', 'transition', 'commit'],
  'did.unpublish': ['load', 'transition', 'commit'],
  'did.service.add': ['load', 'validate', 'commit'],
  'did.service.remove': ['load', 'validate', 'commit'],
  'credential.store': ['load', 'validate', 'commit'],
  'credential.revoke': ['load', 'transition', 'commit'],
  'credential.delete': ['load', 'commit'],
  'issuance.definition.create': ['load', 'validate', 'commit'],
  'issuance.definition.delete': ['load', 'commit'],
  'issuance.request.receive': ['load', 'validate', 'commit'],
  'issuance.request.settle': ['load', 'transition', 'commit'],
  'issued-credential.record': ['load', 'validate', 'allocate', 'commit'],
  'issued-credential.revoke': ['load', 'transition', 'commit'],
  'credential-request.create': ['load', 'validate', 'commit'],
  'credential-request.update': ['load', 'transition', 'commit'],
  'credential-request.complete': ['load', 'validate', 'transition', 'commit']
} as const

export type OrgOperation = keyof typeof OPERATION_STEPS
export type OrgStep<O extends OrgOperation = OrgOperation> = (typeof OPERATION_STEPS)[O][number]

/**
 * A credential whose issuer signature does not verify (or whose issuer
 * cannot be resolved): invalid input (`bad_request`), not a failed login —
 * the caller authenticated fine. `details.reason` is `bad_credential_signature`,
 * `details.cause` the verifier's reason (bad_signature, unknown_key, …).
 */
export class CredentialSignatureError extends BadRequestError {
  constructor (credentialId: string, cause: AuthenticationError) {
    const why = typeof cause.details?.reason === 'string' ? cause.details.reason : undefined
    super(`credential ${credentialId}: its issuer signature does not verify (${cause.message})`, { credentialId, reason: 'bad_credential_signature', ...(why !== undefined ? { cause: why } : {}) }, { cause })
  }
}

/** Thrown by a failpoint in tests; a plain HubError so it travels like any failure. */
export class InjectedFailure extends HubError {
  constructor (op: string, step: string) {
    super('internal', `injected failure at ${op}/${step}`)
  }
}

export interface OrgStoreOptions {
  kv: KvStore
  vault: Vault
  logger?: Logger
  /** Called at every step of every operation; throwing aborts the operation. For tests. */
  failpoint?: (op: OrgOperation, step: string) => void
  /**
   * Checks a credential's issuer signature before it is stored (the hub wires
   * DID resolution in). Throws to refuse. Without it, credentials are stored
   * unverified.
   */
  verifyCredential?: (jwt: string) => Promise<void>
  now?: () => number
}

export interface KeySpec {
  keyId?: string
  /** Import this public key instead of generating a pair (the hub then cannot sign with it). */
  publicKeyJwk?: JWK
  /** Activate at once (default: true for a participant's first key, false otherwise). */
  activate?: boolean
  /** Make it the signing key (default: when the participant has no default key). */
  isDefault?: boolean
}

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

export interface SigningKey {
  readonly did: string
  readonly kid: string
  sign (data: Uint8Array): Uint8Array
}

type Listener = (e: OrgEvent) => void

class Tx {
  readonly ops: KvOp[] = []
  readonly events: OrgEvent[] = []
  put (key: string, value: unknown): void {
    this.ops.push({ type: 'put', key, value: utf8.encode(JSON.stringify(value)) })
  }

  putBytes (key: string, value: Uint8Array): void {
    this.ops.push({ type: 'put', key, value })
  }

  del (key: string): void {
    this.ops.push({ type: 'del', key })
  }
}

function hashApiKey (apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex')
}

/** `<base64url(participantId)>.<43 random chars>`: names its participant, so the admin-less routes can find it. */
function newApiKey (participantId: string): string {
  return `${b64u(participantId)}.${randomBytes(32).toString('base64url')}`
}

function publicOnly (p: ParticipantRecord): ParticipantContext {
  return { participantId: p.participantId, did: p.did, state: p.state, createdAt: p.createdAt, updatedAt: p.updatedAt }
}

/** Normalise and check an imported public JWK; refuse private material outright. */
function importPublicJwk (jwk: unknown): JWK {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new BadRequestError('publicKeyJwk must be a JWK object')
  const j = jwk as Record<string, unknown>
  if ('d' in j || 'p' in j || 'k' in j) throw new BadRequestError('publicKeyJwk contains private key material: send only the public key')
  try {
    const exported = createPublicKey({ key: j as never, format: 'jwk' }).export({ format: 'jwk' }) as JWK
    return exported
  } catch (err) {
    throw new BadRequestError(`publicKeyJwk is not a usable public key: ${(err as Error).message}`)
  }
}

/**
 * A did:web DID in canonical form: each part percent-decoded and encoded
 * again with encodeURIComponent (so `%3a` → `%3A`, `a%2Db` → `a-b`), the
 * host lower-cased. did:web hosting rebuilds the DID from a request the same
 * way, so a stored DID is exactly what a resolver of its URL asks for.
 */
export function checkDid (did: unknown): string {
  if (typeof did !== 'string' || !/^did:web:[A-Za-z0-9._%-]+(:[A-Za-z0-9._%-]+)*$/.test(did)) {
    throw new BadRequestError('did must be a did:web DID, e.g. did:web:127.0.0.1%3A8080:org:acme')
  }
  const [, , host, ...path] = did.split(':') as [string, string, string, ...string[]]
  let parts: string[]
  try {
    parts = [host, ...path].map(p => decodeURIComponent(p))
  } catch {
    throw new BadRequestError('did has a malformed percent-escape')
  }
  if (parts.some(p => p === '' || p === '.' || p === '..' || /[/?#@\s]/.test(p))) throw new BadRequestError('did has an invalid host or path segment')
  const [h, ...rest] = parts as [string, ...string[]]
  return ['did', 'web', encodeURIComponent(h.toLowerCase()), ...rest.map(p => encodeURIComponent(p))].join(':')
}

function checkParticipantId (id: unknown): string {
  if (typeof id !== 'string' || !PARTICIPANT_ID.test(id)) throw new BadRequestError('participantId must be 1–64 characters of A–Z a–z 0–9 . _ - (starting with a letter or digit)')
  return id
}

function checkKeyId (id: unknown): string {
  if (typeof id !== 'string' || !KEY_ID.test(id)) throw new BadRequestError('keyId must be 1–64 characters of A–Z a–z 0–9 . _ - (starting with a letter or digit)')
  return id
}

function checkService (did: string, s: unknown): ServiceEndpoint {
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

/** Default lifetime of an issued credential: 30 days. */
export const DEFAULT_VALIDITY_S = 86_400 * 30
/** Longest lifetime a definition may give its credentials (10 years). */
export const MAX_VALIDITY_S = 86_400 * 3650
/** Extra claims are copied into every credential (and every presentation of it): keep them small. */
export const MAX_CLAIMS_BYTES = 16 * 1024
const MAX_HOLDERS = 1000
/** Definitions one CredentialRequestMessage may name: bounds the work a single request causes. */
export const MAX_REQUESTED_CREDENTIALS = 16
/** Ids chosen by the other side (holderPid) are stored and echoed: bounded. */
const MAX_FOREIGN_ID_LENGTH = 256
const CREDENTIAL_TYPE = /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,199}$/
const DEFINITION_FIELDS = new Set(['id', 'credentialType', 'validitySeconds', 'claims', 'holders', 'credentialSchema', 'statusList'])

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
}

/**
 * A DID as compared with an ID token's `iss`: did:web in canonical form (so
 * an allow-list entry written with `%3a` still matches), anything else as is.
 */
export function canonicalDid (did: string): string {
  if (!did.startsWith('did:web:')) return did
  try {
    return checkDid(did)
  } catch {
    return did
  }
}

/** A DID (any method) in the form it is compared in; `what` names it in the error. */
export function checkAnyDid (v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > 2048 || !/^did:[a-z0-9]+:\S+$/.test(v)) throw new BadRequestError(`${what} must be a DID`)
  return canonicalDid(v)
}

function checkDefinitionId (id: unknown): string {
  if (typeof id !== 'string' || !DEFINITION_ID.test(id)) throw new BadRequestError('a credential definition id must be 1–128 characters of A–Z a–z 0–9 . _ ~ : - (starting with a letter or digit)')
  return id
}

/** An id chosen by the other side (a holderPid): a non-empty, bounded string. */
export function checkForeignId (v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '' || v.length > MAX_FOREIGN_ID_LENGTH) throw new BadRequestError(`${what} must be a non-empty string of at most ${MAX_FOREIGN_ID_LENGTH} characters`)
  return v
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
  return def
}

/** What an issuer records before signing credentials with status list entries (issuance.ts). */
export interface IssuedCredentialsInput {
  /**
   * The issuer's public base URL (its IssuerService endpoint): lists are
   * served at `<statusBaseUrl>/status/<listId>`. A list started under
   * another base URL is not filled further: its URL would not reach it.
   */
  statusBaseUrl: string
  /** Entries of a list started by this call. Default {@link MIN_BITSTRING_ENTRIES}; smaller ones only for tests. */
  listSize?: number
  /** The credentials about to be signed (ids chosen by the caller), in the order indices are handed out. */
  credentials: Array<{ credentialId: string, definitionId: string, credentialType: string }>
}

/** A status list's URL: `<base>/status/<listId>`, normalised as the holder's checker normalises it. */
function statusListUrl (base: string, listId: string): string {
  return new URL(`${base}/status/${encodeURIComponent(listId)}`).href
}

function checkStatusBaseUrl (v: unknown): string {
  let u: URL
  try {
    u = new URL(typeof v === 'string' ? v : '')
  } catch {
    throw new BadRequestError('the status list base URL must be an absolute URL')
  }
  // A query or fragment would end up in front of "/status/<listId>" and name another resource.
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw new BadRequestError('the status list base URL must be an http(s) URL without query, fragment or credentials', { url: String(v) })
  }
  return u.href.replace(/\/+$/, '')
}

function checkListSize (v: unknown): number {
  // Whole bytes (the bitstring is bytes), and no bigger than a holder's checker accepts.
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 8 || v % 8 !== 0 || v > MAX_BITSTRING_BYTES * 8) {
    throw new BadRequestError(`a status list size must be a multiple of 8 in 8…${MAX_BITSTRING_BYTES * 8}`)
  }
  return v
}

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

export interface HolderRequestInput {
  issuerDid: string
  credentials: string[]
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

/** The definition ids of one credential request: 1…16 distinct, bounded strings. */
export function checkRequestedIds (v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_REQUESTED_CREDENTIALS) throw new BadRequestError(`credentials must name 1…${MAX_REQUESTED_CREDENTIALS} credential definitions`)
  const ids = v.map(x => checkForeignId(x, 'each requested credential id'))
  if (new Set(ids).size !== ids.length) throw new BadRequestError('credentials must not name a definition twice')
  return ids
}

export class OrgStore {
  readonly #kv: KvStore
  readonly #vault: Vault
  readonly #log: Logger
  readonly #failpoint: ((op: OrgOperation, step: string) => void) | undefined
  readonly #verifyCredential: ((jwt: string) => Promise<void>) | undefined
  readonly #now: () => number
  readonly #listeners = new Map<OrgEventType | '*', Set<Listener>>()
  #queue: Promise<unknown> = Promise.resolve()

  constructor (opts: OrgStoreOptions) {
    this.#kv = opts.kv
    this.#vault = opts.vault
    this.#log = (opts.logger ?? silentLogger).child('org')
    this.#failpoint = opts.failpoint
    this.#verifyCredential = opts.verifyCredential
    this.#now = opts.now ?? Date.now
  }

  // ── events ────────────────────────────────────────────────────────────

  /** Listen to one event type, or '*' for all. Returns the unsubscribe function. */
  on<T extends OrgEventType | '*'> (type: T, listener: (e: T extends OrgEventType ? Extract<OrgEvent, { type: T }> : OrgEvent) => void): () => void {
    let set = this.#listeners.get(type)
    if (set === undefined) this.#listeners.set(type, set = new Set())
    const l = listener as Listener
    set.add(l)
    return () => { set.delete(l) }
  }

  #emit (events: OrgEvent[]): void {
    for (const e of events) {
      for (const l of [...(this.#listeners.get(e.type) ?? []), ...(this.#listeners.get('*') ?? [])]) {
        try {
          l(e)
        } catch (err) {
          this.#log.error('org event listener failed', { event: e.type, reason: (err as Error).message })
        }
      }
    }
  }

  // ── plumbing ──────────────────────────────────────────────────────────

  #iso (): string {
    return new Date(this.#now()).toISOString()
  }

  #step (op: OrgOperation, step: string): void {
    this.#failpoint?.(op, step)
  }

  /** Run one mutation at a time, commit its transaction as one batch, then emit its events. */
  async #mutate<T> (op: OrgOperation, fn: (tx: Tx) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const tx = new Tx()
      const result = await fn(tx)
      this.#step(op, 'commit')
      await this.#kv.batch(tx.ops)
      this.#log.info('org change', { op, writes: tx.ops.length })
      this.#emit(tx.events)
      return result
    }
    const p = this.#queue.then(run, run)
    this.#queue = p.catch(() => {})
    return await p
  }

  async #json<T> (key: string): Promise<T | undefined> {
    const v = await this.#kv.get(key)
    return v === undefined ? undefined : JSON.parse(utf8d.decode(v)) as T
  }

  async #list<T> (prefix: string): Promise<T[]> {
    const out: T[] = []
    for await (const [, v] of this.#kv.entries({ gte: prefix, lt: prefixEnd(prefix) })) out.push(JSON.parse(utf8d.decode(v)) as T)
    return out
  }

  async #record (pid: string): Promise<ParticipantRecord> {
    const p = await this.#json<ParticipantRecord>(orgKeys.participant(checkParticipantId(pid)))
    if (p === undefined) throw new NotFoundError(`no participant context "${pid}"`, { participantId: pid })
    return p
  }

  async #didResource (pid: string): Promise<DidResource> {
    const d = await this.#json<DidResource>(orgKeys.didResource(pid))
    if (d === undefined) throw new HubError('internal', `participant "${pid}" has no DID record`)
    return d
  }

  async #keyPair (pid: string, keyId: string): Promise<KeyPairResource> {
    const k = await this.#json<KeyPairResource>(orgKeys.keyPair(pid, checkKeyId(keyId)))
    if (k === undefined) throw new NotFoundError(`participant "${pid}" has no key pair "${keyId}"`, { participantId: pid, keyId })
    return k
  }

  /** Build a key pair record (and stage its sealed private key) without writing anything else. */
  #newKeyPair (op: OrgOperation, tx: Tx, p: { participantId: string, did: string }, spec: KeySpec, existing: KeyPairResource[], defaults: { activate: boolean, isDefault: boolean }): KeyPairResource {
    const keyId = spec.keyId !== undefined ? checkKeyId(spec.keyId) : nextKeyId(existing)
    if (existing.some(k => k.keyId === keyId)) throw new AlreadyExistsError(`participant "${p.participantId}" already has a key pair "${keyId}"`, { keyId })
    const now = this.#iso()
    let publicKeyJwk: JWK
    let seed: Uint8Array | undefined
    if (spec.publicKeyJwk !== undefined) {
      publicKeyJwk = importPublicJwk(spec.publicKeyJwk)
    } else {
      const pair = Ed25519KeyPair.generate()
      publicKeyJwk = pair.publicJwk()
      seed = pair.exportSeed()
    }
    const active = spec.activate ?? defaults.activate
    const record: KeyPairResource = {
      participantId: p.participantId,
      keyId,
      kid: `${p.did}#${keyId}`,
      publicKeyJwk,
      state: active ? 'ACTIVATED' : 'CREATED',
      isDefault: spec.isDefault ?? defaults.isDefault,
      hasPrivateKey: seed !== undefined,
      createdAt: now,
      ...(active ? { activatedAt: now } : {})
    }
    tx.put(orgKeys.keyPair(p.participantId, keyId), record)
    this.#step(op, 'seal-private-key')
    if (seed !== undefined) tx.putBytes(orgKeys.privateKey(p.participantId, keyId), this.#vault.seal(seed, orgKeys.privateKey(p.participantId, keyId)))
    tx.events.push({ type: 'keypair.created', participantId: p.participantId, keyId })
    if (active) tx.events.push({ type: 'keypair.activated', participantId: p.participantId, keyId })
    return record
  }

  // ── participant contexts ──────────────────────────────────────────────

  async createParticipant (input: CreateParticipantInput): Promise<CreatedParticipant> {
    const op = 'participant.create'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'validate')
      if (typeof input !== 'object' || input === null) throw new BadRequestError('expected {participantId, did}')
      const participantId = checkParticipantId(input.participantId)
      const did = checkDid(input.did)
      if (input.active !== undefined && typeof input.active !== 'boolean') throw new BadRequestError('active must be a boolean')
      const services = (input.services ?? []).map(s => checkService(did, s))
      if (new Set(services.map(s => s.id)).size !== services.length) throw new BadRequestError('service ids must be unique')
      if (await this.#kv.get(orgKeys.participant(participantId)) !== undefined) throw new AlreadyExistsError(`participant context "${participantId}" already exists`, { participantId })
      const owner = await this.#kv.get(orgKeys.didOwner(did))
      if (owner !== undefined) throw new AlreadyExistsError(`${did} already belongs to participant "${utf8d.decode(owner)}"`, { did })

      this.#step(op, 'api-key')
      const apiKey = newApiKey(participantId)
      const now = this.#iso()
      const active = input.active === true
      const record: ParticipantRecord = { participantId, did, state: active ? 'ACTIVATED' : 'CREATED', createdAt: now, updatedAt: now, apiKeyHash: hashApiKey(apiKey) }

      this.#step(op, 'key-pair')
      const key = this.#newKeyPair(op, tx, { participantId, did }, input.key ?? {}, [], { activate: true, isDefault: true })
      if (key.state !== 'ACTIVATED') throw new BadRequestError('the default key pair of a new participant must be activated')

      this.#step(op, 'did-document')
      const didRecord: DidResource = { participantId, did, state: 'UNPUBLISHED', services, updatedAt: now }

      this.#step(op, 'activate')
      if (active) didRecord.state = 'PUBLISHED'

      tx.put(orgKeys.participant(participantId), record)
      tx.putBytes(orgKeys.didOwner(did), utf8.encode(participantId))
      tx.put(orgKeys.didResource(participantId), didRecord)
      tx.events.unshift({ type: 'participant.created', participantId, did })
      if (active) tx.events.push({ type: 'participant.activated', participantId }, { type: 'did.published', participantId, did })
      return { participant: publicOnly(record), apiKey, key }
    })
  }

  async getParticipant (pid: string): Promise<ParticipantContext> {
    return publicOnly(await this.#record(pid))
  }

  async listParticipants (): Promise<ParticipantContext[]> {
    return (await this.#list<ParticipantRecord>(orgKeys.participantsPrefix())).map(publicOnly)
  }

  /** The participant that owns `did`, if any. */
  async participantOfDid (did: string): Promise<string | undefined> {
    const v = await this.#kv.get(orgKeys.didOwner(did))
    return v === undefined ? undefined : utf8d.decode(v)
  }

  async #transition (op: 'participant.activate' | 'participant.deactivate', pid: string, to: ParticipantState): Promise<ParticipantContext> {
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const keys = await this.#list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
      const didRecord = await this.#didResource(p.participantId)
      this.#step(op, 'transition')
      const allowed = to === 'ACTIVATED' ? p.state === 'CREATED' || p.state === 'DEACTIVATED' : p.state === 'ACTIVATED'
      if (!allowed) throw new ConflictError(`participant "${pid}" is ${p.state}: it cannot become ${to} (CREATED → ACTIVATED ⇄ DEACTIVATED)`, { state: p.state })
      if (to === 'ACTIVATED' && !keys.some(k => k.state === 'ACTIVATED')) throw new ConflictError(`participant "${pid}" has no ACTIVATED key pair: activate or create one first`)
      const now = this.#iso()
      tx.put(orgKeys.participant(p.participantId), { ...p, state: to, updatedAt: now })
      if (to === 'ACTIVATED') {
        this.#step(op, 'publish')
        tx.events.push({ type: 'participant.activated', participantId: p.participantId })
        if (didRecord.state !== 'PUBLISHED') {
          tx.put(orgKeys.didResource(p.participantId), { ...didRecord, state: 'PUBLISHED', updatedAt: now })
          tx.events.push({ type: 'did.published', participantId: p.participantId, did: p.did })
        }
      } else {
        this.#step(op, 'unpublish')
        tx.events.push({ type: 'participant.deactivated', participantId: p.participantId })
        if (didRecord.state !== 'UNPUBLISHED') {
          tx.put(orgKeys.didResource(p.participantId), { ...didRecord, state: 'UNPUBLISHED', updatedAt: now })
          tx.events.push({ type: 'did.unpublished', participantId: p.participantId, did: p.did })
        }
      }
      return { ...publicOnly(p), state: to, updatedAt: now }
    })
  }

  /** CREATED or DEACTIVATED → ACTIVATED; publishes the DID document. Needs an ACTIVATED key pair. */
  async activateParticipant (pid: string): Promise<ParticipantContext> {
    return await this.#transition('participant.activate', pid, 'ACTIVATED')
  }

  /** ACTIVATED → DEACTIVATED; unpublishes the DID document. */
  async deactivateParticipant (pid: string): Promise<ParticipantContext> {
    return await this.#transition('participant.deactivate', pid, 'DEACTIVATED')
  }

  /**
   * Remove the context and everything it holds (keys and private keys, DID,
   * credentials, credential definitions, issuance and credential requests,
   * status lists and issued credentials) in one batch.
   */
  async deleteParticipant (pid: string): Promise<void> {
    const op = 'participant.delete'
    await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      this.#step(op, 'collect')
      const id = p.participantId
      const prefixes = [
        orgKeys.keyPairsPrefix(id), orgKeys.privateKeysPrefix(id), orgKeys.credentialsPrefix(id),
        orgKeys.definitionsPrefix(id), orgKeys.issuanceRequestsPrefix(id), orgKeys.holderRequestsPrefix(id),
        orgKeys.statusListsPrefix(id), orgKeys.issuedCredentialsPrefix(id)
      ]
      for (const prefix of prefixes) {
        for await (const key of this.#kv.keys({ gte: prefix, lt: prefixEnd(prefix) })) tx.del(key)
      }
      tx.del(orgKeys.didResource(id))
      tx.del(orgKeys.didOwner(p.did))
      tx.del(orgKeys.participant(id))
      tx.events.push({ type: 'participant.deleted', participantId: id, did: p.did })
    })
  }

  /** A new API key; the old one stops working at once. */
  async regenerateApiKey (pid: string): Promise<string> {
    const op = 'participant.regenerate-api-key'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      this.#step(op, 'api-key')
      const apiKey = newApiKey(p.participantId)
      tx.put(orgKeys.participant(p.participantId), { ...p, apiKeyHash: hashApiKey(apiKey), updatedAt: this.#iso() })
      tx.events.push({ type: 'participant.apikey.regenerated', participantId: p.participantId })
      return apiKey
    })
  }

  /**
   * The participant a presented API key belongs to. Constant-time comparison
   * of hashes; every failure is the same `authentication_failed`, so a caller
   * cannot probe which participants exist.
   */
  async authenticateApiKey (apiKey: string): Promise<ParticipantContext> {
    const fail = new AuthenticationError('invalid API key')
    const dot = apiKey.indexOf('.')
    if (dot <= 0) throw fail
    let pid: string
    try {
      pid = utf8d.decode(fromB64u(apiKey.slice(0, dot)))
    } catch {
      throw fail
    }
    if (!PARTICIPANT_ID.test(pid)) throw fail
    const p = await this.#json<ParticipantRecord>(orgKeys.participant(pid))
    const given = Buffer.from(hashApiKey(apiKey), 'hex')
    const stored = Buffer.from(p?.apiKeyHash ?? '0'.repeat(64), 'hex')
    if (!timingSafeEqual(given, stored) || p === undefined) throw fail
    return publicOnly(p)
  }

  // ── key pairs ─────────────────────────────────────────────────────────

  async listKeyPairs (pid: string): Promise<KeyPairResource[]> {
    const p = await this.#record(pid)
    return await this.#list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
  }

  async getKeyPair (pid: string, keyId: string): Promise<KeyPairResource> {
    const p = await this.#record(pid)
    return await this.#keyPair(p.participantId, keyId)
  }

  /** Add a key pair (generated, or an imported public key). CREATED unless `activate`. */
  async createKeyPair (pid: string, spec: KeySpec = {}): Promise<KeyPairResource> {
    const op = 'keypair.create'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const keys = await this.#list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
      this.#step(op, 'key-pair')
      const hasDefault = keys.some(k => k.isDefault && k.state === 'ACTIVATED')
      const record = this.#newKeyPair(op, tx, p, spec, keys, { activate: false, isDefault: !hasDefault })
      if (record.isDefault) this.#clearDefault(tx, keys, record.keyId)
      return record
    })
  }

  #clearDefault (tx: Tx, keys: KeyPairResource[], except: string): void {
    for (const k of keys) if (k.isDefault && k.keyId !== except) tx.put(orgKeys.keyPair(k.participantId, k.keyId), { ...k, isDefault: false })
  }

  /** CREATED → ACTIVATED: the key becomes a verification method (and, if ours, usable for signing). */
  async activateKeyPair (pid: string, keyId: string): Promise<KeyPairResource> {
    const op = 'keypair.activate'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const k = await this.#keyPair(p.participantId, keyId)
      this.#step(op, 'transition')
      if (k.state !== 'CREATED') throw new ConflictError(`key pair "${keyId}" is ${k.state}: only a CREATED key pair can be activated`, { state: k.state })
      const next: KeyPairResource = { ...k, state: 'ACTIVATED', activatedAt: this.#iso() }
      tx.put(orgKeys.keyPair(p.participantId, k.keyId), next)
      tx.events.push({ type: 'keypair.activated', participantId: p.participantId, keyId: k.keyId })
      return next
    })
  }

  /**
   * ACTIVATED → ROTATED: the private key is destroyed, the public key stays a
   * verification method. With `successor`, its replacement is created and
   * activated in the same batch (and inherits the default role).
   */
  async rotateKeyPair (pid: string, keyId: string, successor?: KeySpec): Promise<{ rotated: KeyPairResource, successor?: KeyPairResource }> {
    const op = 'keypair.rotate'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const k = await this.#keyPair(p.participantId, keyId)
      const keys = await this.#list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
      this.#step(op, 'transition')
      if (k.state !== 'ACTIVATED') throw new ConflictError(`key pair "${keyId}" is ${k.state}: only an ACTIVATED key pair can be rotated`, { state: k.state })
      const now = this.#iso()
      const rotated: KeyPairResource = { ...k, state: 'ROTATED', rotatedAt: now, isDefault: false, hasPrivateKey: false }
      this.#step(op, 'destroy-private-key')
      tx.del(orgKeys.privateKey(p.participantId, k.keyId))
      this.#step(op, 'successor')
      let next: KeyPairResource | undefined
      if (successor !== undefined) {
        next = this.#newKeyPair(op, tx, p, successor, keys, { activate: true, isDefault: k.isDefault })
        rotated.successor = next.keyId
        if (next.isDefault) this.#clearDefault(tx, keys.filter(x => x.keyId !== k.keyId), next.keyId)
      } else {
        this.#step(op, 'seal-private-key')
      }
      tx.put(orgKeys.keyPair(p.participantId, k.keyId), rotated)
      tx.events.push({ type: 'keypair.rotated', participantId: p.participantId, keyId: k.keyId, ...(next !== undefined ? { successor: next.keyId } : {}) })
      return next !== undefined ? { rotated, successor: next } : { rotated }
    })
  }

  /** Any state → REVOKED: private key destroyed and verification method removed. */
  async revokeKeyPair (pid: string, keyId: string): Promise<KeyPairResource> {
    const op = 'keypair.revoke'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const k = await this.#keyPair(p.participantId, keyId)
      this.#step(op, 'transition')
      if (k.state === 'REVOKED') throw new ConflictError(`key pair "${keyId}" is already REVOKED`, { state: k.state })
      const revoked: KeyPairResource = { ...k, state: 'REVOKED', revokedAt: this.#iso(), isDefault: false, hasPrivateKey: false }
      this.#step(op, 'destroy-private-key')
      tx.del(orgKeys.privateKey(p.participantId, k.keyId))
      tx.put(orgKeys.keyPair(p.participantId, k.keyId), revoked)
      tx.events.push({ type: 'keypair.revoked', participantId: p.participantId, keyId: k.keyId })
      return revoked
    })
  }

  /**
   * The key the participant signs with: its default key if ACTIVATED and
   * ours, else the newest ACTIVATED key we hold the private half of.
   */
  async signingKey (pid: string): Promise<SigningKey> {
    // Reads do not go through the operation queue, so a rotation, revocation
    // or delete can commit between listing the keys and reading the chosen
    // sealed key: then choose again (a sealed key that stays missing is damage).
    for (let attempt = 1; ; attempt++) {
      const p = await this.#record(pid)
      const keys = (await this.#list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId)))
        .filter(k => k.state === 'ACTIVATED' && k.hasPrivateKey)
        .sort((a, b) => Number(b.isDefault) - Number(a.isDefault) || b.createdAt.localeCompare(a.createdAt))
      const k = keys[0]
      if (k === undefined) throw new ConflictError(`participant "${pid}" has no ACTIVATED key pair with a private key to sign with`)
      const name = orgKeys.privateKey(p.participantId, k.keyId)
      const sealed = await this.#kv.get(name)
      if (sealed === undefined) {
        if (attempt < 3) continue
        throw new HubError('internal', `the private key of "${k.keyId}" is missing`)
      }
      const pair = Ed25519KeyPair.fromSeed(this.#vault.open(sealed, name))
      return { did: p.did, kid: k.kid, sign: data => pair.sign(data) }
    }
  }

  /** A public key of this participant that may still verify: ACTIVATED or ROTATED, never REVOKED. */
  async verificationKey (pid: string, kid: string): Promise<JWK | undefined> {
    const p = await this.#record(pid)
    const hash = kid.indexOf('#')
    if (hash < 0 || kid.slice(0, hash) !== p.did) return undefined
    const k = await this.#json<KeyPairResource>(orgKeys.keyPair(p.participantId, kid.slice(hash + 1)))
    return k !== undefined && (k.state === 'ACTIVATED' || k.state === 'ROTATED') ? k.publicKeyJwk : undefined
  }

  // ── DID documents ─────────────────────────────────────────────────────

  async getDid (pid: string): Promise<DidResource & { document: DidDocument }> {
    const p = await this.#record(pid)
    // No DID record: deleted since the participant was read (not_found), else damage (internal).
    const d = await this.#didResource(p.participantId).catch(async (err: unknown) => { await this.#record(pid); throw err })
    const keys = await this.#list<KeyPairResource>(orgKeys.keyPairsPrefix(p.participantId))
    return { ...d, document: buildDidDocument(p.did, keys, d.services) }
  }

  /**
   * The document to serve for `did`, or undefined unless it is published
   * and its participant ACTIVATED (did:web hosting asks this on every fetch).
   */
  async servedDocument (did: string): Promise<DidDocument | undefined> {
    const pid = await this.participantOfDid(did)
    if (pid === undefined) return undefined
    const p = await this.#json<ParticipantRecord>(orgKeys.participant(pid))
    if (p?.state !== 'ACTIVATED') return undefined
    const d = await this.getDid(pid)
    return d.state === 'PUBLISHED' ? d.document : undefined
  }

  async #setPublished (op: 'did.publish' | 'did.unpublish', pid: string, published: boolean): Promise<DidResource> {
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const d = await this.#didResource(p.participantId)
      this.#step(op, 'transition')
      const state = published ? 'PUBLISHED' : 'UNPUBLISHED'
      if (d.state === state) return d
      const next: DidResource = { ...d, state, updatedAt: this.#iso() }
      tx.put(orgKeys.didResource(p.participantId), next)
      tx.events.push({ type: published ? 'did.published' : 'did.unpublished', participantId: p.participantId, did: p.did })
      return next
    })
  }

  /** Mark the document published (served while the participant is ACTIVATED). Idempotent. */
  async publishDid (pid: string): Promise<DidResource> {
    return await this.#setPublished('did.publish', pid, true)
  }

  async unpublishDid (pid: string): Promise<DidResource> {
    return await this.#setPublished('did.unpublish', pid, false)
  }

  async addService (pid: string, service: unknown): Promise<ServiceEndpoint> {
    const op = 'did.service.add'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const d = await this.#didResource(p.participantId)
      this.#step(op, 'validate')
      const s = checkService(p.did, service)
      if (d.services.some(x => x.id === s.id)) throw new AlreadyExistsError(`service ${s.id} already exists`, { serviceId: s.id })
      tx.put(orgKeys.didResource(p.participantId), { ...d, services: [...d.services, s], updatedAt: this.#iso() })
      tx.events.push({ type: 'did.service.added', participantId: p.participantId, serviceId: s.id })
      return s
    })
  }

  async removeService (pid: string, serviceId: string): Promise<void> {
    const op = 'did.service.remove'
    await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const d = await this.#didResource(p.participantId)
      this.#step(op, 'validate')
      const full = serviceId.startsWith('#') ? p.did + serviceId : serviceId.includes('#') ? serviceId : `${p.did}#${serviceId}`
      if (!d.services.some(x => x.id === full)) throw new NotFoundError(`no service ${full}`, { serviceId: full })
      tx.put(orgKeys.didResource(p.participantId), { ...d, services: d.services.filter(x => x.id !== full), updatedAt: this.#iso() })
      tx.events.push({ type: 'did.service.removed', participantId: p.participantId, serviceId: full })
    })
  }

  // ── credentials ───────────────────────────────────────────────────────

  /**
   * Store credentials (compact JWT VCs) for a participant, all or none. Each
   * must be a well-formed VC about this participant (or about no subject);
   * with a configured verifier, its issuer signature must verify.
   */
  async storeCredentials (pid: string, jwts: string[]): Promise<CredentialResource[]> {
    const op = 'credential.store'
    if (!Array.isArray(jwts) || jwts.length === 0) throw new BadRequestError('expected at least one credential')
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      this.#step(op, 'validate')
      return await this.#stageCredentials(tx, p, jwts)
    })
  }

  /** Check credentials for `p` and stage their records and events in `tx` (storeCredentials, completeHolderRequest). */
  async #stageCredentials (tx: Tx, p: ParticipantRecord, jwts: string[]): Promise<CredentialResource[]> {
    const out: CredentialResource[] = []
    for (const jwt of jwts) {
      if (typeof jwt !== 'string') throw new BadRequestError('a credential must be a compact JWT string')
      const c = parseVcJwt(jwt)
      if (c.subjectId !== undefined && c.subjectId !== p.did) {
        throw new BadRequestError(`credential ${c.id} is about ${c.subjectId}, not about this participant (${p.did})`, { credentialId: c.id })
      }
      if (out.some(x => x.credentialId === c.id) || await this.#kv.get(orgKeys.credential(p.participantId, c.id)) !== undefined) {
        throw new AlreadyExistsError(`credential ${c.id} is already stored`, { credentialId: c.id })
      }
      if (this.#verifyCredential !== undefined) {
        try {
          await this.#verifyCredential(jwt)
        } catch (err) {
          if (err instanceof AuthenticationError) throw new CredentialSignatureError(c.id, err)
          throw err
        }
      }
      const record: CredentialResource = {
        credentialId: c.id,
        participantId: p.participantId,
        format: 'jwt',
        types: c.types,
        issuer: c.issuer,
        ...(c.subjectId !== undefined ? { subjectId: c.subjectId } : {}),
        ...(c.issuanceDate !== undefined ? { issuanceDate: c.issuanceDate } : {}),
        ...(c.expirationDate !== undefined ? { expirationDate: c.expirationDate } : {}),
        state: 'ISSUED',
        createdAt: this.#iso(),
        raw: jwt
      }
      tx.put(orgKeys.credential(p.participantId, c.id), record)
      tx.events.push({ type: 'credential.stored', participantId: p.participantId, credentialId: c.id })
      out.push(record)
    }
    return out
  }

  async getCredential (pid: string, credentialId: string): Promise<CredentialResource> {
    const p = await this.#record(pid)
    const c = await this.#json<CredentialResource>(orgKeys.credential(p.participantId, credentialId))
    if (c === undefined) throw new NotFoundError(`participant "${pid}" has no credential ${credentialId}`, { credentialId })
    return c
  }

  /** All credentials of a participant, or those having `type`. */
  async listCredentials (pid: string, type?: string): Promise<CredentialResource[]> {
    const p = await this.#record(pid)
    const all = await this.#list<CredentialResource>(orgKeys.credentialsPrefix(p.participantId))
    return type === undefined ? all : all.filter(c => c.types.includes(type))
  }

  /** Mark a credential revoked: it is never presented again. */
  async revokeCredential (pid: string, credentialId: string): Promise<CredentialResource> {
    const op = 'credential.revoke'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const c = await this.getCredential(pid, credentialId)
      this.#step(op, 'transition')
      if (c.state === 'REVOKED') return c
      const next: CredentialResource = { ...c, state: 'REVOKED' }
      tx.put(orgKeys.credential(c.participantId, c.credentialId), next)
      tx.events.push({ type: 'credential.revoked', participantId: c.participantId, credentialId: c.credentialId })
      return next
    })
  }

  async deleteCredential (pid: string, credentialId: string): Promise<void> {
    const op = 'credential.delete'
    await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const c = await this.getCredential(pid, credentialId)
      tx.del(orgKeys.credential(c.participantId, c.credentialId))
      tx.events.push({ type: 'credential.deleted', participantId: c.participantId, credentialId: c.credentialId })
    })
  }

  // ── issuance: issuer side ─────────────────────────────────────────────

  /** Add a credential definition (what this participant issues, to whom). 409 if the id is taken. */
  async createDefinition (pid: string, input: CredentialDefinitionInput): Promise<CredentialDefinition> {
    const op = 'issuance.definition.create'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      this.#step(op, 'validate')
      const def = checkDefinition(p.participantId, input, this.#iso())
      if (await this.#kv.get(orgKeys.definition(p.participantId, def.id)) !== undefined) {
        throw new AlreadyExistsError(`participant "${pid}" already has a credential definition "${def.id}"`, { definitionId: def.id })
      }
      tx.put(orgKeys.definition(p.participantId, def.id), def)
      tx.events.push({ type: 'issuance.definition.created', participantId: p.participantId, definitionId: def.id })
      return def
    })
  }

  async listDefinitions (pid: string): Promise<CredentialDefinition[]> {
    const p = await this.#record(pid)
    return await this.#list<CredentialDefinition>(orgKeys.definitionsPrefix(p.participantId))
  }

  /** The definition, or undefined (an issuer rejects unknown ids rather than failing). */
  async findDefinition (pid: string, id: string): Promise<CredentialDefinition | undefined> {
    const p = await this.#record(pid)
    return DEFINITION_ID.test(id) ? await this.#json<CredentialDefinition>(orgKeys.definition(p.participantId, id)) : undefined
  }

  /** Remove a definition. Requests already received that name it are rejected when processed. */
  async deleteDefinition (pid: string, id: string): Promise<void> {
    const op = 'issuance.definition.delete'
    await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const key = orgKeys.definition(p.participantId, checkDefinitionId(id))
      if (await this.#kv.get(key) === undefined) throw new NotFoundError(`participant "${pid}" has no credential definition "${id}"`, { definitionId: id })
      tx.del(key)
      tx.events.push({ type: 'issuance.definition.deleted', participantId: p.participantId, definitionId: id })
    })
  }

  /** Record a CredentialRequestMessage from an authenticated holder: RECEIVED, under a fresh issuerPid. */
  async receiveIssuanceRequest (pid: string, input: ReceivedRequestInput): Promise<IssuanceRequest> {
    const op = 'issuance.request.receive'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      this.#step(op, 'validate')
      const now = this.#iso()
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

  async findIssuanceRequest (pid: string, issuerPid: string): Promise<IssuanceRequest | undefined> {
    const p = await this.#record(pid)
    return await this.#json<IssuanceRequest>(orgKeys.issuanceRequest(p.participantId, issuerPid))
  }

  async listIssuanceRequests (pid: string): Promise<IssuanceRequest[]> {
    const p = await this.#record(pid)
    return await this.#list<IssuanceRequest>(orgKeys.issuanceRequestsPrefix(p.participantId))
  }

  /** RECEIVED → ISSUED | REJECTED, with what was delivered. A request is settled once (409 after). */
  async settleIssuanceRequest (pid: string, issuerPid: string, outcome: IssuanceOutcome): Promise<IssuanceRequest> {
    const op = 'issuance.request.settle'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const req = await this.#json<IssuanceRequest>(orgKeys.issuanceRequest(p.participantId, issuerPid))
      if (req === undefined) throw new NotFoundError(`participant "${pid}" has no issuance request ${issuerPid}`, { issuerPid })
      this.#step(op, 'transition')
      if (req.status !== 'RECEIVED') throw new ConflictError(`issuance request ${issuerPid} is already ${req.status}`, { status: req.status })
      if (outcome.status !== 'ISSUED' && outcome.status !== 'REJECTED') throw new BadRequestError('an issuance request settles as ISSUED or REJECTED')
      const next: IssuanceRequest = {
        ...req,
        status: outcome.status,
        delivered: outcome.delivered,
        ...(outcome.rejectionReason !== undefined ? { rejectionReason: outcome.rejectionReason } : {}),
        ...(outcome.credentialIds !== undefined ? { credentialIds: outcome.credentialIds } : {}),
        ...(outcome.deliveryError !== undefined ? { deliveryError: outcome.deliveryError } : {}),
        updatedAt: this.#iso()
      }
      tx.put(orgKeys.issuanceRequest(p.participantId, issuerPid), next)
      tx.events.push({ type: 'issuance.request.settled', participantId: p.participantId, issuerPid, status: outcome.status })
      return next
    })
  }

  // ── issuance: status lists ────────────────────────────────────────────

  /**
   * Record credentials about to be issued for a RECEIVED request, each with
   * the next free index of the issuer's current status list, in one batch:
   * the indices and the issued-credential records commit together, so an
   * index is never handed out twice nor recorded without its list. A full
   * list (or one made under another base URL) is left as it is and a new
   * one started. Called before signing, so every credential that may reach
   * a holder can be revoked; a credential whose delivery then fails keeps
   * its (harmless) record and index.
   */
  async recordIssuedCredentials (pid: string, issuerPid: string, input: IssuedCredentialsInput): Promise<IssuedCredential[]> {
    const op = 'issued-credential.record'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const req = await this.#json<IssuanceRequest>(orgKeys.issuanceRequest(p.participantId, issuerPid))
      if (req === undefined) throw new NotFoundError(`participant "${pid}" has no issuance request ${issuerPid}`, { issuerPid })
      const lists = await this.#list<StatusListRecord>(orgKeys.statusListsPrefix(p.participantId))

      this.#step(op, 'validate')
      if (req.status !== 'RECEIVED') throw new ConflictError(`issuance request ${issuerPid} is already ${req.status}`, { status: req.status })
      const base = checkStatusBaseUrl(input.statusBaseUrl)
      const listSize = checkListSize(input.listSize ?? MIN_BITSTRING_ENTRIES)
      const creds = Array.isArray(input.credentials) ? input.credentials : []
      if (creds.length === 0 || creds.length > MAX_REQUESTED_CREDENTIALS) throw new BadRequestError(`1…${MAX_REQUESTED_CREDENTIALS} credentials are recorded at once`)
      const ids = new Set<string>()
      for (const c of creds) {
        const id = checkForeignId(c.credentialId, 'credentialId')
        checkDefinitionId(c.definitionId)
        if (typeof c.credentialType !== 'string' || !CREDENTIAL_TYPE.test(c.credentialType)) throw new BadRequestError('credentialType must be a credential type name')
        if (ids.has(id) || await this.#kv.get(orgKeys.issuedCredential(p.participantId, id)) !== undefined) {
          throw new AlreadyExistsError(`credential ${id} is already recorded as issued`, { credentialId: id })
        }
        ids.add(id)
      }

      this.#step(op, 'allocate')
      const now = this.#iso()
      let current = lists.reduce<StatusListRecord | undefined>((a, l) => a === undefined || l.seq > a.seq ? l : a, undefined)
      let seq = current?.seq ?? 0
      const touched = new Map<string, StatusListRecord>()
      const out: IssuedCredential[] = []
      for (const c of creds) {
        if (current === undefined || current.next >= current.size || current.url !== statusListUrl(base, current.listId)) {
          const listId = randomUUID()
          current = {
            participantId: p.participantId,
            listId,
            seq: ++seq,
            url: statusListUrl(base, listId),
            statusPurpose: 'revocation',
            size: listSize,
            next: 0,
            encodedList: encodeBitstring(new Uint8Array(listSize / 8)),
            createdAt: now,
            updatedAt: now
          }
          tx.events.push({ type: 'status-list.created', participantId: p.participantId, listId, size: listSize })
        } else {
          // A copy: the records read are not changed unless the batch commits.
          current = touched.get(current.listId) ?? { ...current }
        }
        const index = current.next++
        current.updatedAt = now
        touched.set(current.listId, current)
        const ic: IssuedCredential = {
          participantId: p.participantId,
          credentialId: c.credentialId,
          issuerPid,
          holderDid: req.holderDid,
          definitionId: c.definitionId,
          credentialType: c.credentialType,
          listId: current.listId,
          index,
          statusListCredential: current.url,
          revoked: false,
          issuedAt: now
        }
        tx.put(orgKeys.issuedCredential(p.participantId, ic.credentialId), ic)
        tx.events.push({ type: 'issued-credential.recorded', participantId: p.participantId, credentialId: ic.credentialId, listId: ic.listId, index })
        out.push(ic)
      }
      for (const l of touched.values()) tx.put(orgKeys.statusList(p.participantId, l.listId), l)
      return out
    })
  }

  /** The credentials this participant issued with a status list entry. */
  async listIssuedCredentials (pid: string): Promise<IssuedCredential[]> {
    const p = await this.#record(pid)
    return await this.#list<IssuedCredential>(orgKeys.issuedCredentialsPrefix(p.participantId))
  }

  async findIssuedCredential (pid: string, credentialId: string): Promise<IssuedCredential | undefined> {
    const p = await this.#record(pid)
    return credentialId === '' ? undefined : await this.#json<IssuedCredential>(orgKeys.issuedCredential(p.participantId, credentialId))
  }

  /** The participant's status lists, oldest first. */
  async listStatusLists (pid: string): Promise<StatusListRecord[]> {
    const p = await this.#record(pid)
    return (await this.#list<StatusListRecord>(orgKeys.statusListsPrefix(p.participantId))).sort((a, b) => a.seq - b.seq)
  }

  /** One status list, or undefined (also for an id that cannot be one). */
  async findStatusList (pid: string, listId: string): Promise<StatusListRecord | undefined> {
    const p = await this.#record(pid)
    return STATUS_LIST_ID.test(listId) ? await this.#json<StatusListRecord>(orgKeys.statusList(p.participantId, listId)) : undefined
  }

  /**
   * Revoke a credential this participant issued: its bit in the status list
   * is set and its record marked, in one batch. Idempotent (revoking a
   * revoked credential changes nothing). Holders' checkers see it once their
   * cached copy of the list expires (≤ 5 minutes for this hub's checker).
   */
  async revokeIssuedCredential (pid: string, credentialId: string): Promise<IssuedCredential> {
    const op = 'issued-credential.revoke'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const ic = await this.findIssuedCredential(p.participantId, credentialId)
      if (ic === undefined) throw new NotFoundError(`participant "${pid}" issued no credential ${credentialId} with a status list entry`, { credentialId })
      const list = await this.#json<StatusListRecord>(orgKeys.statusList(p.participantId, ic.listId))
      if (list === undefined) throw new HubError('internal', `status list ${ic.listId} of issued credential ${credentialId} is missing`)
      this.#step(op, 'transition')
      if (ic.revoked) return ic
      const bits = decodeEncodedList('BitstringStatusList', list.encodedList, list.size / 8)
      setBit(bits, ic.index)
      const now = this.#iso()
      const next: IssuedCredential = { ...ic, revoked: true, revokedAt: now }
      tx.put(orgKeys.statusList(p.participantId, list.listId), { ...list, encodedList: encodeBitstring(bits), updatedAt: now })
      tx.put(orgKeys.issuedCredential(p.participantId, ic.credentialId), next)
      tx.events.push({ type: 'issued-credential.revoked', participantId: p.participantId, credentialId: ic.credentialId, listId: ic.listId, index: ic.index })
      return next
    })
  }

  // ── issuance: holder side ─────────────────────────────────────────────

  /** A request about to be sent to an issuer: REQUESTED, under a fresh holderPid. */
  async createHolderRequest (pid: string, input: HolderRequestInput): Promise<HolderCredentialRequest> {
    const op = 'credential-request.create'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      this.#step(op, 'validate')
      const now = this.#iso()
      const req: HolderCredentialRequest = {
        participantId: p.participantId,
        holderPid: randomUUID(),
        issuerDid: checkAnyDid(input.issuerDid, 'issuerDid'),
        credentials: checkRequestedIds(input.credentials),
        status: 'REQUESTED',
        createdAt: now,
        updatedAt: now
      }
      tx.put(orgKeys.holderRequest(p.participantId, req.holderPid), req)
      tx.events.push({ type: 'credential-request.created', participantId: p.participantId, holderPid: req.holderPid, issuerDid: req.issuerDid })
      return req
    })
  }

  async findHolderRequest (pid: string, holderPid: string): Promise<HolderCredentialRequest | undefined> {
    const p = await this.#record(pid)
    return await this.#json<HolderCredentialRequest>(orgKeys.holderRequest(p.participantId, holderPid))
  }

  async listHolderRequests (pid: string): Promise<HolderCredentialRequest[]> {
    const p = await this.#record(pid)
    return await this.#list<HolderCredentialRequest>(orgKeys.holderRequestsPrefix(p.participantId))
  }

  /**
   * Record the issuer's answer to the request. Only a REQUESTED record moves
   * (to RECEIVED or FAILED); one the issuer's CredentialMessage already
   * settled keeps its status and just learns the issuerPid.
   */
  async updateHolderRequest (pid: string, holderPid: string, update: HolderRequestUpdate): Promise<HolderCredentialRequest> {
    const op = 'credential-request.update'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const req = await this.#json<HolderCredentialRequest>(orgKeys.holderRequest(p.participantId, holderPid))
      if (req === undefined) throw new NotFoundError(`participant "${pid}" has no credential request ${holderPid}`, { holderPid })
      this.#step(op, 'transition')
      let next: HolderCredentialRequest
      if (update.status === 'RECEIVED') {
        const issuerPid = checkForeignId(update.issuerPid, 'issuerPid')
        next = { ...req, issuerPid, ...(req.status === 'REQUESTED' ? { status: 'RECEIVED' as const } : {}), updatedAt: this.#iso() }
      } else {
        if (req.status !== 'REQUESTED') return req
        next = { ...req, status: 'FAILED', reason: update.reason, updatedAt: this.#iso() }
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
  async acceptCredentialMessage (pid: string, m: { issuerDid: string, issuerPid: string, holderPid?: string, status: 'ISSUED' | 'REJECTED', rejectionReason?: string, jwts: string[] }): Promise<CredentialResource[]> {
    const pending = m.holderPid === undefined ? undefined : await this.findHolderRequest(pid, m.holderPid)
    const matches = pending !== undefined && !['ISSUED', 'REJECTED'].includes(pending.status) &&
      pending.issuerDid === canonicalDid(m.issuerDid) && (pending.issuerPid === undefined || pending.issuerPid === m.issuerPid)
    if (matches) {
      const { stored } = await this.completeHolderRequest(pid, pending.holderPid, {
        issuerDid: m.issuerDid, issuerPid: m.issuerPid, status: m.status, jwts: m.jwts,
        ...(m.rejectionReason !== undefined ? { rejectionReason: m.rejectionReason } : {})
      })
      return stored
    }
    return m.status === 'ISSUED' ? await this.storeCredentials(pid, m.jwts) : []
  }

  /**
   * The issuer's CredentialMessage for one of our requests: its credentials
   * are stored and the request settled in the same batch. Only the issuer
   * the request went to may settle it (and, once known, under its issuerPid);
   * a settled request is not settled again (409). FAILED can still settle:
   * the request may have reached the issuer although its answer did not
   * reach us.
   */
  async completeHolderRequest (pid: string, holderPid: string, c: HolderRequestCompletion): Promise<{ request: HolderCredentialRequest, stored: CredentialResource[] }> {
    const op = 'credential-request.complete'
    return await this.#mutate(op, async tx => {
      this.#step(op, 'load')
      const p = await this.#record(pid)
      const req = await this.#json<HolderCredentialRequest>(orgKeys.holderRequest(p.participantId, holderPid))
      if (req === undefined) throw new NotFoundError(`participant "${pid}" has no credential request ${holderPid}`, { holderPid })
      this.#step(op, 'validate')
      if (canonicalDid(c.issuerDid) !== req.issuerDid || (req.issuerPid !== undefined && req.issuerPid !== c.issuerPid)) {
        throw new PermissionsRequiredError(`credential request ${holderPid} was not sent to ${c.issuerDid} as ${c.issuerPid}`, { reason: 'wrong_issuer' })
      }
      const stored = c.status === 'ISSUED' ? await this.#stageCredentials(tx, p, c.jwts ?? []) : []
      this.#step(op, 'transition')
      if (req.status === 'ISSUED' || req.status === 'REJECTED') throw new ConflictError(`credential request ${holderPid} is already ${req.status}`, { status: req.status })
      const { reason: _old, ...rest } = req
      const next: HolderCredentialRequest = {
        ...rest,
        issuerPid: c.issuerPid,
        status: c.status,
        ...(c.status === 'REJECTED' && c.rejectionReason !== undefined ? { reason: c.rejectionReason.slice(0, 1000) } : {}),
        ...(stored.length > 0 ? { credentialIds: stored.map(x => x.credentialId) } : {}),
        updatedAt: this.#iso()
      }
      tx.put(orgKeys.holderRequest(p.participantId, holderPid), next)
      tx.events.push({ type: 'credential-request.updated', participantId: p.participantId, holderPid, status: c.status })
      return { request: next, stored }
    })
  }

  /** Every inconsistency among the organization records (invariants.ts); empty when sound. For `hub doctor`. */
  async check (): Promise<string[]> {
    await this.idle()
    return await checkInvariants(this.#kv, this.#vault)
  }

  /** Resolves once every operation queued so far has finished. */
  async idle (): Promise<void> {
    await this.#queue
  }
}

function nextKeyId (existing: KeyPairResource[]): string {
  let n = existing.length + 1
  while (existing.some(k => k.keyId === `key-${n}`)) n++
  return `key-${n}`
}
