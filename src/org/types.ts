/**
 * The organization side of the hub (the EDC Identity Hub feature set):
 * participant contexts, their key pairs, DID documents and credentials.
 * Plain JSON records; the resource modules OrgStore wires (org-store.ts) own their persistence and lifecycle.
 *
 * Organization state is local to one hub process (like a dataspace
 * connector's identity service), not replicated between an owner's devices:
 * it holds private signing keys for the organization's did:web, which must
 * live in exactly one place.
 */
import type { JWK } from 'jose'

/** CREATED → ACTIVATED ⇄ DEACTIVATED. Only ACTIVATED contexts are public (did:web, DCP). */
export type ParticipantState = 'CREATED' | 'ACTIVATED' | 'DEACTIVATED'

/**
 * CREATED: stored, not in the DID document, not used to sign.
 * ACTIVATED: a verification method, and a signing key if we hold the private key.
 * ROTATED: private key destroyed; the public key stays a verification method
 *   so what it signed still verifies.
 * REVOKED: private key destroyed and the verification method removed, so
 *   everything it signed stops verifying.
 */
export type KeyPairState = 'CREATED' | 'ACTIVATED' | 'ROTATED' | 'REVOKED'

export type DidState = 'UNPUBLISHED' | 'PUBLISHED'

export type CredentialState = 'ISSUED' | 'REVOKED'

export interface ParticipantContext {
  participantId: string
  did: string
  state: ParticipantState
  createdAt: string
  updatedAt: string
}

/** What is stored for a participant: the public record plus the API key hash. */
export interface ParticipantRecord extends ParticipantContext {
  /** SHA-256 (hex) of the participant's API key. The key itself is shown once and never stored. */
  apiKeyHash: string
}

export interface KeyPairResource {
  participantId: string
  keyId: string
  /** Verification method id: `<did>#<keyId>`. */
  kid: string
  publicKeyJwk: JWK
  state: KeyPairState
  /** The key the participant signs with (VPs, tokens) while it is ACTIVATED. */
  isDefault: boolean
  /** False for imported public keys, and once the private key has been destroyed. */
  hasPrivateKey: boolean
  createdAt: string
  activatedAt?: string
  rotatedAt?: string
  revokedAt?: string
  /** Set on a rotated key: the key that replaced it. */
  successor?: string
}

export interface ServiceEndpoint {
  id: string
  type: string
  serviceEndpoint: string
}

export interface DidResource {
  participantId: string
  did: string
  state: DidState
  services: ServiceEndpoint[]
  updatedAt: string
}

export interface CredentialResource {
  credentialId: string
  participantId: string
  format: 'jwt'
  types: string[]
  issuer: string
  subjectId?: string
  issuanceDate?: string
  expirationDate?: string
  state: CredentialState
  createdAt: string
  /** The credential as received (a compact JWT). */
  raw: string
}

/**
 * What a participant acting as an issuer offers (DCP issuance): one
 * credential type, how long its credentials live, extra claims, and who may
 * ask for it. `id` is the CredentialObject id in the issuer metadata and
 * what a CredentialRequestMessage names in `credentials[].id`.
 */
export interface CredentialDefinition {
  participantId: string
  id: string
  credentialType: string
  validitySeconds: number
  /** Extra `credentialSubject` claims (never `id`: that is the holder). */
  claims?: Record<string, unknown>
  /** Holder DIDs allowed to get it; when absent, every holder that authenticates. */
  holders?: string[]
  /** Advertised as the CredentialObject's `credentialSchema` (the metadata schema requires one; "" when not given). */
  credentialSchema?: string
  /**
   * Its credentials carry a `BitstringStatusListEntry` (purpose revocation)
   * into one of the issuer's own status lists, so the issuer can revoke
   * them. Absent: false (credentials without `credentialStatus`).
   */
  statusList?: boolean
  /** The VC Data Model its credentials follow: `1.1` (a `vc` claim, `typ: JWT`) or `2.0` (`vc+jwt`, claims = credential). Absent: 1.1. */
  dataModel?: '1.1' | '2.0'
  createdAt: string
}

/**
 * One of an issuer's own revocation lists (`org!sl!<pid>!<listId>`): a
 * Bitstring Status List of `size` entries, served as a signed list
 * credential at `url`. Entries are handed out in order (`next`); when the
 * list is full, a new one is started.
 */
export interface StatusListRecord {
  participantId: string
  /** A random UUID: never reused, so a list URL never comes to mean another list (not even after the participant is deleted and created again). */
  listId: string
  /** 1, 2, …: the order the participant's lists were started in; the highest is the one being filled. */
  seq: number
  /** The list credential's URL (`<IssuerService endpoint>/status/<listId>`), what its credentials name in `statusListCredential`. */
  url: string
  statusPurpose: 'revocation'
  /** Entries (bits), a multiple of 8. */
  size: number
  /** The next free index; `size` when the list is full. */
  next: number
  /** The bitstring as the list credential carries it: multibase base64url (`u…`) of its GZIP. */
  encodedList: string
  createdAt: string
  updatedAt: string
}

/**
 * A credential this participant issued with a status list entry
 * (`org!ic!<pid>!<credentialId>`), recorded before it is signed so that
 * everything that may have reached a holder can be revoked.
 */
export interface IssuedCredential {
  /** The issuer. */
  participantId: string
  /** `vc.id` / `jti` of the credential (`urn:uuid:…`). */
  credentialId: string
  /** The issuance request it was issued for. */
  issuerPid: string
  holderDid: string
  definitionId: string
  credentialType: string
  listId: string
  /** Its `statusListIndex`. */
  index: number
  /** Its `statusListCredential`: the list's URL. */
  statusListCredential: string
  revoked: boolean
  issuedAt: string
  revokedAt?: string
}

/** DCP CredentialStatus values. RECEIVED until the issuer has decided and tried to deliver. */
export type IssuanceStatus = 'RECEIVED' | 'ISSUED' | 'REJECTED'

/** Issuer side: one CredentialRequestMessage received (`org!ir!<pid>!<issuerPid>`). */
export interface IssuanceRequest {
  /** The issuer. */
  participantId: string
  issuerPid: string
  /** The holder's own id for the request, echoed in every message. */
  holderPid: string
  /** The authenticated requester (its ID token's `iss`): credentials are about it and go to it. */
  holderDid: string
  /** Requested credential definition ids. */
  credentials: string[]
  status: IssuanceStatus
  rejectionReason?: string
  /** Ids (`urn:uuid:…`) of the credentials issued and delivered. */
  credentialIds?: string[]
  /** Whether the final CredentialMessage reached the holder; absent while RECEIVED. */
  delivered?: boolean
  /** Why delivery failed, when it did. */
  deliveryError?: string
  createdAt: string
  updatedAt: string
}

/**
 * Holder side: one request this participant sent to an issuer
 * (`org!hr!<pid>!<holderPid>`). REQUESTED is written before the request
 * leaves (so a credential that comes back faster than the issuer's reply
 * still finds its record); FAILED when the issuer could not be reached or
 * refused the request.
 */
export type HolderRequestStatus = 'REQUESTED' | 'FAILED' | IssuanceStatus

export interface HolderCredentialRequest {
  participantId: string
  holderPid: string
  issuerDid: string
  /** From the issuer's `Location` once it answered 201. */
  issuerPid?: string
  /** Requested credential definition ids. */
  credentials: string[]
  status: HolderRequestStatus
  /** FAILED: what went wrong; REJECTED: the issuer's rejectionReason. */
  reason?: string
  /** Credentials stored from the issuer's CredentialMessage. */
  credentialIds?: string[]
  createdAt: string
  updatedAt: string
}

/** Typed lifecycle events, delivered after the change is durable. */
export type OrgEvent =
  | { type: 'participant.created', participantId: string, did: string }
  | { type: 'participant.activated', participantId: string }
  | { type: 'participant.deactivated', participantId: string }
  | { type: 'participant.deleted', participantId: string, did: string }
  | { type: 'participant.apikey.regenerated', participantId: string }
  | { type: 'keypair.created', participantId: string, keyId: string }
  | { type: 'keypair.activated', participantId: string, keyId: string }
  | { type: 'keypair.rotated', participantId: string, keyId: string, successor?: string }
  | { type: 'keypair.revoked', participantId: string, keyId: string }
  | { type: 'did.published', participantId: string, did: string }
  | { type: 'did.unpublished', participantId: string, did: string }
  | { type: 'did.service.added', participantId: string, serviceId: string }
  | { type: 'did.service.removed', participantId: string, serviceId: string }
  | { type: 'credential.stored', participantId: string, credentialId: string }
  | { type: 'credential.revoked', participantId: string, credentialId: string }
  | { type: 'credential.deleted', participantId: string, credentialId: string }
  | { type: 'issuance.definition.created', participantId: string, definitionId: string }
  | { type: 'issuance.definition.deleted', participantId: string, definitionId: string }
  | { type: 'issuance.request.received', participantId: string, issuerPid: string, holderDid: string }
  | { type: 'issuance.request.settled', participantId: string, issuerPid: string, status: 'ISSUED' | 'REJECTED' }
  | { type: 'status-list.created', participantId: string, listId: string, size: number }
  | { type: 'issued-credential.recorded', participantId: string, credentialId: string, listId: string, index: number }
  | { type: 'issued-credential.revoked', participantId: string, credentialId: string, listId: string, index: number }
  | { type: 'credential-request.created', participantId: string, holderPid: string, issuerDid: string }
  | { type: 'credential-request.updated', participantId: string, holderPid: string, status: HolderRequestStatus }
  | OfferEvent

export type OrgEventType = OrgEvent['type']

// ── Offers, polling and renewal (holder side) ───────────────────────────

/**
 * Holder side, what these add to a request record (declaration merging):
 * renewal, and the polling of a request the issuer acknowledged but has not
 * answered with a CredentialMessage yet (src/org/renewal.ts).
 */
export interface HolderCredentialRequest {
  /** A renewal: the id of the credential the credentials of this request replace (removed in the batch that stores them). */
  renews?: string
  /** The offer this request answers, if it came from one. */
  offerId?: string
  /** Polls of the issuer's status so far. */
  polls?: number
  /** Polls in a row that did not reach the issuer: the backoff grows with it. */
  pollFailures?: number
  /** Milliseconds since the epoch (the issuance service's clock): when to poll next. */
  nextPollAt?: number
  /** Polls in a row in which the issuer said ISSUED but no CredentialMessage had arrived. */
  deliveryMissing?: number
  /** FAILED because the issued credentials never arrived: the request sent again in its place. */
  retriedAs?: string
  /** This request is that second attempt, for the request named here (never retried again). */
  retryOf?: string
}

/**
 * What a participant does with credential offers (`org!hp!<pid>`): accept
 * `known` issuers (those it already holds a credential from or asked for
 * one, or lists in trustedIssuers), `any` issuer, or `none` (every offer is
 * DECLINED). Absent: known, no trusted issuers.
 */
export type OfferAcceptance = 'known' | 'any' | 'none'

export interface HolderPolicy {
  participantId: string
  accept: OfferAcceptance
  trustedIssuers: string[]
  /** Renew a credential this many seconds before it expires; absent: the hub's default (issuance.ts). */
  renewalLeadS?: number
  updatedAt: string
}

/**
 * PENDING: recorded, waiting for a hand (the policy did not accept it).
 * ACCEPTED: a credential request went out for it (`holderPid`).
 * DECLINED: refused by the `none` policy. FAILED: accepting it failed (`reason`); it can be accepted again.
 */
export type OfferStatus = 'PENDING' | 'ACCEPTED' | 'DECLINED' | 'FAILED'

/** One CredentialOfferMessage an issuer sent to this participant (`org!of!<pid>!<offerId>`). */
export interface CredentialOfferRecord {
  participantId: string
  /** Ours (a random UUID): DCP offers carry no id. */
  offerId: string
  /** The authenticated sender (its ID token's `iss`, equal to the message's `issuer`). */
  issuerDid: string
  /** The offered CredentialObject ids: what a request for the offer names. */
  credentials: string[]
  /** The offered CredentialObjects' credentialType, by index (may be absent). */
  credentialTypes?: string[]
  /** The first CredentialObject's offerReason, if any. */
  offerReason?: string
  status: OfferStatus
  holderPid?: string
  reason?: string
  createdAt: string
  updatedAt: string
}

export type OfferEvent =
  | { type: 'credential-offer.received', participantId: string, offerId: string, issuerDid: string, status: OfferStatus }
  | { type: 'credential-offer.updated', participantId: string, offerId: string, status: OfferStatus }
  | { type: 'holder-policy.set', participantId: string }
  | { type: 'credential.superseded', participantId: string, credentialId: string, by: string[] }
