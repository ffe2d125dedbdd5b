/**
 * Participant contexts and everything they own: API key, key pairs (with
 * their sealed private keys), DID document state, stored credentials, and
 * the records of DCP issuance (credential definitions, requests received,
 * status lists and the credentials issued into them as an issuer,
 * credential requests sent as a holder; issuance.ts drives them).
 *
 * OrgStore is the facade callers use. It wires one transaction engine
 * (engine.ts: staging, one batch per operation, failpoints, serialized
 * operations; events after the batch is durable) into one module per
 * aggregate, and only delegates: the behaviour lives in those modules.
 *
 *   participants.ts          participant contexts: create, activate ⇄ deactivate, delete
 *   api-keys.ts              API keys: regenerate, authenticate
 *   key-pairs.ts             key pairs, sealed private keys, the signing key
 *   did-records.ts           DID records: published state, services, the served document
 *   credentials.ts           credentials held
 *   credential-definitions.ts what an issuer issues
 *   issuance-requests.ts     requests an issuer received
 *   issued-credentials.ts    an issuer's status lists and the credentials issued into them
 *   holder-requests.ts       requests a holder sent
 *   credential-offers.ts     offers a holder received, and its holder policy
 */
import type { JWK } from 'jose'
import type { DidDocument } from '../identity/did-key.js'
import type { KvStore } from '../store/kv.js'
import { silentLogger, type Logger } from '../log.js'
import { ApiKeys } from './api-keys.js'
import { CredentialDefinitions, type CredentialDefinitionInput } from './credential-definitions.js'
import { Credentials } from './credentials.js'
import { DidRecords } from './did-records.js'
import { OrgEngine } from './engine.js'
import { CredentialOffers, type HolderPolicyInput, type OfferInput, type OfferUpdate } from './credential-offers.js'
import { HolderRequests, type CredentialMessageInput, type HolderRequestCompletion, type HolderRequestInput, type HolderRequestPoll, type HolderRequestUpdate } from './holder-requests.js'
import { checkInvariants } from './invariants.js'
import { IssuanceRequests, type IssuanceOutcome, type ReceivedRequestInput } from './issuance-requests.js'
import { IssuedCredentials, type IssuedCredentialsInput } from './issued-credentials.js'
import { KeyPairs, type KeySpec, type SigningKey } from './key-pairs.js'
import { OrgEvents, type OrgListener } from './org-events.js'
import type { Failpoint } from './operations.js'
import { Participants, type CreatedParticipant, type CreateParticipantInput } from './participants.js'
import type { Vault } from './vault.js'
import type {
  CredentialDefinition, CredentialOfferRecord, CredentialResource, DidResource, HolderCredentialRequest, HolderPolicy, IssuanceRequest, IssuedCredential, KeyPairResource,
  OrgEventType, ParticipantContext, ServiceEndpoint, StatusListRecord
} from './types.js'

// What callers have always imported from here.
export { OPERATION_STEPS, InjectedFailure, type OrgOperation, type OrgStep } from './operations.js'
export { checkDid, canonicalDid, checkAnyDid } from './did-syntax.js'
export { checkForeignId, checkRequestedIds, MAX_REQUESTED_CREDENTIALS } from './id-checks.js'
export { CredentialSignatureError } from './credentials.js'
export { DEFAULT_VALIDITY_S, MAX_VALIDITY_S, MAX_CLAIMS_BYTES, type CredentialDefinitionInput } from './credential-definitions.js'
export type { KeySpec, SigningKey } from './key-pairs.js'
export type { CreateParticipantInput, CreatedParticipant } from './participants.js'
export type { IssuedCredentialsInput } from './issued-credentials.js'
export type { ReceivedRequestInput, IssuanceOutcome } from './issuance-requests.js'
export type { HolderRequestInput, HolderRequestUpdate, HolderRequestCompletion, HolderRequestPoll, CredentialMessageInput } from './holder-requests.js'
export { HOLDER_OPERATION_STEPS, type HolderOperation, type AnyOrgOperation } from './operations.js'
export { MAX_PENDING_OFFERS, MAX_DECLINED_OFFERS, type OfferInput, type OfferUpdate, type HolderPolicyInput } from './credential-offers.js'

export interface OrgStoreOptions {
  kv: KvStore
  vault: Vault
  logger?: Logger
  /** Called at every step of every operation; throwing aborts the operation. For tests. */
  failpoint?: Failpoint
  /**
   * Checks a credential's issuer signature before it is stored (the hub wires
   * DID resolution in). Throws to refuse. Without it, credentials are stored
   * unverified.
   */
  verifyCredential?: (jwt: string) => Promise<void>
  now?: () => number
}

export class OrgStore {
  readonly #kv: KvStore
  readonly #vault: Vault
  readonly #events: OrgEvents
  readonly #engine: OrgEngine
  readonly #participants: Participants
  readonly #apiKeys: ApiKeys
  readonly #keyPairs: KeyPairs
  readonly #dids: DidRecords
  readonly #credentials: Credentials
  readonly #definitions: CredentialDefinitions
  readonly #requests: IssuanceRequests
  readonly #issued: IssuedCredentials
  readonly #holderRequests: HolderRequests
  readonly #offers: CredentialOffers

  constructor (opts: OrgStoreOptions) {
    const logger = (opts.logger ?? silentLogger).child('org')
    this.#kv = opts.kv
    this.#vault = opts.vault
    this.#events = new OrgEvents({ logger })
    const engine = this.#engine = new OrgEngine({
      kv: opts.kv, events: this.#events, logger, now: opts.now ?? Date.now, ...(opts.failpoint !== undefined ? { failpoint: opts.failpoint } : {})
    })
    this.#keyPairs = new KeyPairs({ engine, vault: opts.vault })
    this.#participants = new Participants({ engine, keyPairs: this.#keyPairs })
    this.#apiKeys = new ApiKeys({ engine })
    this.#dids = new DidRecords({ engine })
    this.#credentials = new Credentials({ engine, ...(opts.verifyCredential !== undefined ? { verifyCredential: opts.verifyCredential } : {}) })
    this.#definitions = new CredentialDefinitions({ engine })
    this.#requests = new IssuanceRequests({ engine })
    this.#issued = new IssuedCredentials({ engine })
    this.#offers = new CredentialOffers({ engine })
    const offers = this.#offers
    this.#holderRequests = new HolderRequests({
      engine,
      credentials: this.#credentials,
      trusts: async (pid, issuerDid) => (await offers.policy(pid)).trustedIssuers.includes(issuerDid)
    })
  }

  // ── events ────────────────────────────────────────────────────────────

  /** Listen to one event type, or '*' for all. Returns the unsubscribe function. */
  on<T extends OrgEventType | '*'> (type: T, listener: OrgListener<T>): () => void {
    return this.#events.on(type, listener)
  }

  // ── participant contexts (participants.ts, api-keys.ts) ───────────────

  async createParticipant (input: CreateParticipantInput): Promise<CreatedParticipant> {
    return await this.#participants.create(input)
  }

  async getParticipant (pid: string): Promise<ParticipantContext> {
    return await this.#participants.get(pid)
  }

  async listParticipants (): Promise<ParticipantContext[]> {
    return await this.#participants.list()
  }

  /** The participant that owns `did`, if any. */
  async participantOfDid (did: string): Promise<string | undefined> {
    return await this.#dids.ownerOf(did)
  }

  /** CREATED or DEACTIVATED → ACTIVATED; publishes the DID document. Needs an ACTIVATED key pair. */
  async activateParticipant (pid: string): Promise<ParticipantContext> {
    return await this.#participants.transition(pid, 'ACTIVATED')
  }

  /** ACTIVATED → DEACTIVATED; unpublishes the DID document. */
  async deactivateParticipant (pid: string): Promise<ParticipantContext> {
    return await this.#participants.transition(pid, 'DEACTIVATED')
  }

  /**
   * Remove the context and everything it holds (keys and private keys, DID,
   * credentials, credential definitions, issuance and credential requests,
   * status lists and issued credentials) in one batch.
   */
  async deleteParticipant (pid: string): Promise<void> {
    await this.#participants.delete(pid)
  }

  /** A new API key; the old one stops working at once. */
  async regenerateApiKey (pid: string): Promise<string> {
    return await this.#apiKeys.regenerate(pid)
  }

  /** The participant a presented API key belongs to; every failure is the same `authentication_failed`. */
  async authenticateApiKey (apiKey: string): Promise<ParticipantContext> {
    return await this.#apiKeys.authenticate(apiKey)
  }

  // ── key pairs (key-pairs.ts) ──────────────────────────────────────────

  async listKeyPairs (pid: string): Promise<KeyPairResource[]> {
    return await this.#keyPairs.list(pid)
  }

  async getKeyPair (pid: string, keyId: string): Promise<KeyPairResource> {
    return await this.#keyPairs.get(pid, keyId)
  }

  /** Add a key pair (generated, or an imported public key). CREATED unless `activate`. */
  async createKeyPair (pid: string, spec: KeySpec = {}): Promise<KeyPairResource> {
    return await this.#keyPairs.create(pid, spec)
  }

  /** CREATED → ACTIVATED: the key becomes a verification method (and, if ours, usable for signing). */
  async activateKeyPair (pid: string, keyId: string): Promise<KeyPairResource> {
    return await this.#keyPairs.activate(pid, keyId)
  }

  /**
   * ACTIVATED → ROTATED: the private key is destroyed, the public key stays a
   * verification method. With `successor`, its replacement is created and
   * activated in the same batch (and inherits the default role).
   */
  async rotateKeyPair (pid: string, keyId: string, successor?: KeySpec): Promise<{ rotated: KeyPairResource, successor?: KeyPairResource }> {
    return await this.#keyPairs.rotate(pid, keyId, successor)
  }

  /** Any state → REVOKED: private key destroyed and verification method removed. */
  async revokeKeyPair (pid: string, keyId: string): Promise<KeyPairResource> {
    return await this.#keyPairs.revoke(pid, keyId)
  }

  /** The key the participant signs with: its default key if ACTIVATED and ours, else the newest ACTIVATED key we hold. */
  async signingKey (pid: string): Promise<SigningKey> {
    return await this.#keyPairs.signingKey(pid)
  }

  /** A public key of this participant that may still verify: ACTIVATED or ROTATED, never REVOKED. */
  async verificationKey (pid: string, kid: string): Promise<JWK | undefined> {
    return await this.#keyPairs.verificationKey(pid, kid)
  }

  // ── DID documents (did-records.ts) ────────────────────────────────────

  async getDid (pid: string): Promise<DidResource & { document: DidDocument }> {
    return await this.#dids.get(pid)
  }

  /** The document to serve for `did`, or undefined unless it is published and its participant ACTIVATED. */
  async servedDocument (did: string): Promise<DidDocument | undefined> {
    return await this.#dids.servedDocument(did)
  }

  /** Mark the document published (served while the participant is ACTIVATED). Idempotent. */
  async publishDid (pid: string): Promise<DidResource> {
    return await this.#dids.setPublished(pid, true)
  }

  async unpublishDid (pid: string): Promise<DidResource> {
    return await this.#dids.setPublished(pid, false)
  }

  async addService (pid: string, service: unknown): Promise<ServiceEndpoint> {
    return await this.#dids.addService(pid, service)
  }

  async removeService (pid: string, serviceId: string): Promise<void> {
    await this.#dids.removeService(pid, serviceId)
  }

  // ── credentials (credentials.ts) ──────────────────────────────────────

  /**
   * Store credentials (compact JWT VCs) for a participant, all or none. Each
   * must be a well-formed VC about this participant (or about no subject);
   * with a configured verifier, its issuer signature must verify.
   */
  async storeCredentials (pid: string, jwts: string[]): Promise<CredentialResource[]> {
    return await this.#credentials.store(pid, jwts)
  }

  async getCredential (pid: string, credentialId: string): Promise<CredentialResource> {
    return await this.#credentials.get(pid, credentialId)
  }

  /** All credentials of a participant, or those having `type`. */
  async listCredentials (pid: string, type?: string): Promise<CredentialResource[]> {
    return await this.#credentials.list(pid, type)
  }

  /** Mark a credential revoked: it is never presented again. */
  async revokeCredential (pid: string, credentialId: string): Promise<CredentialResource> {
    return await this.#credentials.revoke(pid, credentialId)
  }

  async deleteCredential (pid: string, credentialId: string): Promise<void> {
    await this.#credentials.delete(pid, credentialId)
  }

  // ── issuance: issuer side (credential-definitions.ts, issuance-requests.ts) ──

  /** Add a credential definition (what this participant issues, to whom). 409 if the id is taken. */
  async createDefinition (pid: string, input: CredentialDefinitionInput): Promise<CredentialDefinition> {
    return await this.#definitions.create(pid, input)
  }

  async listDefinitions (pid: string): Promise<CredentialDefinition[]> {
    return await this.#definitions.list(pid)
  }

  /** The definition, or undefined (an issuer rejects unknown ids rather than failing). */
  async findDefinition (pid: string, id: string): Promise<CredentialDefinition | undefined> {
    return await this.#definitions.find(pid, id)
  }

  /** Remove a definition. Requests already received that name it are rejected when processed. */
  async deleteDefinition (pid: string, id: string): Promise<void> {
    await this.#definitions.delete(pid, id)
  }

  /** Record a CredentialRequestMessage from an authenticated holder: RECEIVED, under a fresh issuerPid. */
  async receiveIssuanceRequest (pid: string, input: ReceivedRequestInput): Promise<IssuanceRequest> {
    return await this.#requests.receive(pid, input)
  }

  async findIssuanceRequest (pid: string, issuerPid: string): Promise<IssuanceRequest | undefined> {
    return await this.#requests.find(pid, issuerPid)
  }

  async listIssuanceRequests (pid: string): Promise<IssuanceRequest[]> {
    return await this.#requests.list(pid)
  }

  /** RECEIVED → ISSUED | REJECTED, with what was delivered. A request is settled once (409 after). */
  async settleIssuanceRequest (pid: string, issuerPid: string, outcome: IssuanceOutcome): Promise<IssuanceRequest> {
    return await this.#requests.settle(pid, issuerPid, outcome)
  }

  // ── issuance: status lists (issued-credentials.ts) ────────────────────

  /** Record credentials about to be issued for a RECEIVED request, each with a status list index, in one batch. */
  async recordIssuedCredentials (pid: string, issuerPid: string, input: IssuedCredentialsInput): Promise<IssuedCredential[]> {
    return await this.#issued.record(pid, issuerPid, input)
  }

  /** The credentials this participant issued with a status list entry. */
  async listIssuedCredentials (pid: string): Promise<IssuedCredential[]> {
    return await this.#issued.list(pid)
  }

  async findIssuedCredential (pid: string, credentialId: string): Promise<IssuedCredential | undefined> {
    return await this.#issued.find(pid, credentialId)
  }

  /** The participant's status lists, oldest first. */
  async listStatusLists (pid: string): Promise<StatusListRecord[]> {
    return await this.#issued.listStatusLists(pid)
  }

  /** One status list, or undefined (also for an id that cannot be one). */
  async findStatusList (pid: string, listId: string): Promise<StatusListRecord | undefined> {
    return await this.#issued.findStatusList(pid, listId)
  }

  /** Revoke a credential this participant issued: its status list bit and its record, in one batch. Idempotent. */
  async revokeIssuedCredential (pid: string, credentialId: string): Promise<IssuedCredential> {
    return await this.#issued.revoke(pid, credentialId)
  }

  // ── issuance: holder side (holder-requests.ts) ────────────────────────

  /** A request about to be sent to an issuer: REQUESTED, under a fresh holderPid. */
  async createHolderRequest (pid: string, input: HolderRequestInput): Promise<HolderCredentialRequest> {
    return await this.#holderRequests.create(pid, input)
  }

  async findHolderRequest (pid: string, holderPid: string): Promise<HolderCredentialRequest | undefined> {
    return await this.#holderRequests.find(pid, holderPid)
  }

  async listHolderRequests (pid: string): Promise<HolderCredentialRequest[]> {
    return await this.#holderRequests.list(pid)
  }

  /** Record the issuer's answer to the request (RECEIVED with its issuerPid, or FAILED). */
  async updateHolderRequest (pid: string, holderPid: string, update: HolderRequestUpdate): Promise<HolderCredentialRequest> {
    return await this.#holderRequests.update(pid, holderPid, update)
  }

  /** What the Storage API does with a CredentialMessage from an authenticated issuer. Returns the stored credentials. */
  async acceptCredentialMessage (pid: string, m: CredentialMessageInput): Promise<CredentialResource[]> {
    return await this.#holderRequests.acceptCredentialMessage(pid, m)
  }

  /** The issuer's CredentialMessage for one of our requests: credentials stored and request settled in one batch. */
  async completeHolderRequest (pid: string, holderPid: string, c: HolderRequestCompletion): Promise<{ request: HolderCredentialRequest, stored: CredentialResource[] }> {
    return await this.#holderRequests.complete(pid, holderPid, c)
  }

  /** One poll of the issuer's status for a RECEIVED request: counters and backoff, or FAILED (renewal.ts). */
  async recordHolderRequestPoll (pid: string, holderPid: string, poll: HolderRequestPoll): Promise<HolderCredentialRequest> {
    return await this.#holderRequests.recordPoll(pid, holderPid, poll)
  }

  // ── offers and holder policy (credential-offers.ts) ───────────────────

  /** Record an offer from an authenticated issuer (PENDING or DECLINED), under a fresh offerId. Bounded (too_many). */
  async receiveOffer (pid: string, input: OfferInput): Promise<CredentialOfferRecord> {
    return await this.#offers.receive(pid, input)
  }

  async findOffer (pid: string, offerId: string): Promise<CredentialOfferRecord | undefined> {
    return await this.#offers.find(pid, offerId)
  }

  async listOffers (pid: string): Promise<CredentialOfferRecord[]> {
    return await this.#offers.list(pid)
  }

  /** PENDING or FAILED → ACCEPTED (with its request) or FAILED. */
  async updateOffer (pid: string, offerId: string, update: OfferUpdate): Promise<CredentialOfferRecord> {
    return await this.#offers.update(pid, offerId, update)
  }

  /** The participant's holder policy (offers, renewal lead), or the default one. */
  async holderPolicy (pid: string): Promise<HolderPolicy> {
    return await this.#offers.policy(pid)
  }

  async setHolderPolicy (pid: string, input: HolderPolicyInput): Promise<HolderPolicy> {
    return await this.#offers.setPolicy(pid, input)
  }

  // ── whole store ───────────────────────────────────────────────────────

  /** Every inconsistency among the organization records (invariants.ts); empty when sound. For `hub doctor`. */
  async check (): Promise<string[]> {
    await this.idle()
    return await checkInvariants(this.#kv, this.#vault)
  }

  /** Resolves once every operation queued so far has finished. */
  async idle (): Promise<void> {
    await this.#engine.idle()
  }
}
