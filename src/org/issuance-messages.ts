/**
 * What an issuer signs and says, as pure functions: the JWT VCs it issues
 * (VCDM 1.1, or VCDM 2.0 `vc+jwt` when a definition asks for it), their status list entries, the status list credential it serves,
 * its IssuerMetadata, and the checked DCP messages of the Issuer Service.
 * No store and no network here, so the HTTP routes and the issuance queue
 * build byte-for-byte the same things.
 */
import { randomUUID } from 'node:crypto'
import { signJwt, type JwtSigner } from './jwt.js'
import { checkForeignId, checkRequestedIds } from './id-checks.js'
import { VC_V1_CONTEXT, VC_V2_CONTEXT, type DataModel } from './vc.js'
import {
  DCP_CONTEXT, validateCredentialRequest, validateCredentialStatus, validateIssuerMetadata,
  type CredentialRequestMessage, type CredentialStatusMessage, type IssuerMetadata
} from './dcp/schemas.js'
import type { CredentialDefinition, IssuanceRequest, IssuedCredential, StatusListRecord } from './types.js'

/** DCP 1.0 profile of what we issue by default: VCDM 1.1 credentials as JWTs. */
export const ISSUANCE_PROFILE = 'vc11-sl2021/jwt'
/** DCP 1.0 profile of a `dataModel: '2.0'` definition: VCDM 2.0 `vc+jwt`, Bitstring Status List. */
export const ISSUANCE_PROFILE_V2 = 'vc20-bssl/jwt'
/** Holders are identified (and their credentials bound) by did:web DIDs. */
export const BINDING_METHODS = ['did:web']
/** The metadata schema requires an offerReason; DCP defines none for metadata. */
export const METADATA_OFFER_REASON = 'issuance'
/**
 * Lifetime of a served status list credential. Short, because it is signed
 * afresh on every fetch and a verifier should come back for revocations;
 * this hub's own checker keeps a list at most 5 minutes anyway.
 */
export const STATUS_LIST_VALIDITY_S = 3600
/**
 * `nbf` of a served list is this far in the past: a verifier whose clock is
 * a little behind ours would otherwise find the list "not yet valid" and,
 * failing closed, drop every credential in it.
 */
export const STATUS_LIST_CLOCK_SKEW_S = 60
/** Reasons are stored and sent to holders: bounded. */
const MAX_REASON = 500

export interface VcOptions {
  issuerDid: string
  holderDid: string
  credentialType: string
  claims?: Record<string, unknown>
  validitySeconds: number
  /** Seconds since the epoch. */
  now: number
  id?: string
  /** The credential's `credentialStatus` (a status list entry), if it has one. */
  credentialStatus?: Record<string, unknown>
  /** Default `1.1`. */
  dataModel?: DataModel
}

function iso (seconds: number): string {
  return new Date(seconds * 1000).toISOString()
}

/** A reason as stored and sent: at most {@link MAX_REASON} characters. */
export function clipReason (s: string): string {
  return s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 1)}…` : s
}

/**
 * A JWT VC in the definition's data model.
 *
 * VCDM 1.1: the JWT claims and the `vc` properties say the same thing twice
 * (iss/issuer, sub/credentialSubject.id, jti/id, nbf/issuanceDate,
 * exp/expirationDate) because verifiers read either.
 *
 * VCDM 2.0 (VC-JOSE-COSE): `typ: vc+jwt`, the payload *is* the credential
 * (`validFrom`/`validUntil`, never the 1.1 date properties), with the
 * registered JWT claims mirroring it so JWT libraries check issuer, subject
 * and validity without knowing the data model.
 */
export function createVcJwt (signer: JwtSigner, o: VcOptions): { id: string, jwt: string } {
  const id = o.id ?? `urn:uuid:${randomUUID()}`
  const nbf = Math.floor(o.now)
  const exp = nbf + o.validitySeconds
  const claims = { iss: o.issuerDid, sub: o.holderDid, jti: id, iat: nbf, nbf, exp }
  const types = ['VerifiableCredential', o.credentialType]
  // id last: the subject is the holder, whatever the claims say (definitions refuse an id claim anyway).
  const credentialSubject = { ...o.claims, id: o.holderDid }
  const status = o.credentialStatus !== undefined ? { credentialStatus: o.credentialStatus } : {}
  if (o.dataModel === '2.0') {
    const jwt = signJwt(signer, {
      '@context': [VC_V2_CONTEXT],
      id,
      type: types,
      issuer: o.issuerDid,
      validFrom: iso(nbf),
      validUntil: iso(exp),
      credentialSubject,
      ...status,
      ...claims
    }, { typ: 'vc+jwt' })
    return { id, jwt }
  }
  const jwt = signJwt(signer, {
    ...claims,
    vc: {
      '@context': [VC_V1_CONTEXT],
      id,
      type: types,
      issuer: o.issuerDid,
      issuanceDate: iso(nbf),
      expirationDate: iso(exp),
      credentialSubject,
      ...status
    }
  })
  return { id, jwt }
}

/** The `credentialStatus` of a credential issued into a status list (W3C Bitstring Status List v1.0). */
export function statusListEntry (c: Pick<IssuedCredential, 'statusListCredential' | 'index'>): Record<string, unknown> {
  return {
    id: `${c.statusListCredential}#${c.index}`,
    type: 'BitstringStatusListEntry',
    statusPurpose: 'revocation',
    statusListIndex: String(c.index),
    statusListCredential: c.statusListCredential
  }
}

/**
 * A status list as the credential the holders' checkers fetch: a VCDM 1.1
 * JWT VC (`BitstringStatusListCredential`) whose `id`/`jti` is the list's
 * URL — the checker refuses a list that names another URL than the one it
 * asked for — signed by the issuer, valid for {@link STATUS_LIST_VALIDITY_S}.
 */
export function createStatusListJwt (signer: JwtSigner, o: { issuerDid: string, list: StatusListRecord, now: number }): string {
  const iat = Math.floor(o.now)
  const nbf = iat - STATUS_LIST_CLOCK_SKEW_S
  const exp = iat + STATUS_LIST_VALIDITY_S
  const url = o.list.url
  return signJwt(signer, {
    iss: o.issuerDid,
    jti: url,
    iat,
    nbf,
    exp,
    vc: {
      '@context': [VC_V1_CONTEXT],
      id: url,
      type: ['VerifiableCredential', 'BitstringStatusListCredential'],
      issuer: o.issuerDid,
      issuanceDate: iso(nbf),
      expirationDate: iso(exp),
      credentialSubject: { id: `${url}#list`, type: 'BitstringStatusList', statusPurpose: o.list.statusPurpose, encodedList: o.list.encodedList }
    }
  })
}

/** The IssuerMetadata for a participant's definitions, checked against the official schema. */
export function issuerMetadata (issuerDid: string, defs: readonly CredentialDefinition[]): IssuerMetadata {
  return validateIssuerMetadata({
    '@context': [DCP_CONTEXT],
    type: 'IssuerMetadata',
    issuer: issuerDid,
    credentialsSupported: defs.map(d => ({
      id: d.id,
      type: 'CredentialObject',
      credentialType: d.credentialType,
      credentialSchema: d.credentialSchema ?? '',
      offerReason: METADATA_OFFER_REASON,
      bindingMethods: [...BINDING_METHODS],
      profile: d.dataModel === '2.0' ? ISSUANCE_PROFILE_V2 : ISSUANCE_PROFILE
    }))
  })
}

/**
 * A CredentialRequestMessage as the Issuer Service accepts it: the official
 * schema, plus our bounds (a holderPid of at most 256 characters, 1…16
 * distinct credential ids). Throws BadRequestError; checked before the
 * caller's token, so a refused message never consumes its jti.
 */
export function parseCredentialRequest (body: unknown): CredentialRequestMessage {
  const msg = validateCredentialRequest(body)
  checkForeignId(msg.holderPid, 'holderPid')
  checkRequestedIds(msg.credentials.map(c => c.id))
  return msg
}

/** The CredentialStatus of a request, checked against the official schema. */
export function credentialStatus (r: IssuanceRequest): CredentialStatusMessage {
  return validateCredentialStatus({ '@context': [DCP_CONTEXT], type: 'CredentialStatus', issuerPid: r.issuerPid, holderPid: r.holderPid, status: r.status })
}
