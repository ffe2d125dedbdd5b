/**
 * A participant's DID document is a pure function of its DID, its key pairs
 * and its service endpoints, never stored: publishing, rotating or revoking
 * changes the inputs, and the served document can never drift from them.
 *
 * ACTIVATED and ROTATED keys are verification methods (a rotated key must
 * still verify what it signed); CREATED and REVOKED keys are not.
 */
import type { DidDocument } from '../identity/did-key.js'
import type { KeyPairResource, ServiceEndpoint } from './types.js'

export const DID_CONTEXTS = ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/suites/jws-2020/v1']

export function isVerificationMethod (k: KeyPairResource): boolean {
  return k.state === 'ACTIVATED' || k.state === 'ROTATED'
}

export function buildDidDocument (did: string, keys: readonly KeyPairResource[], services: readonly ServiceEndpoint[]): DidDocument {
  const methods = keys.filter(isVerificationMethod).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.keyId.localeCompare(b.keyId))
  const ids = methods.map(k => k.kid)
  return {
    '@context': DID_CONTEXTS,
    id: did,
    verificationMethod: methods.map(k => ({ id: k.kid, type: 'JsonWebKey2020', controller: did, publicKeyJwk: { ...k.publicKeyJwk } })),
    authentication: ids,
    assertionMethod: ids,
    service: services.map(s => ({ ...s }))
  }
}
