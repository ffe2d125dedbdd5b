/**
 * The did:key method for Ed25519 (multicodec 0xed) with the X25519
 * key-agreement key (multicodec 0xec) the method derives from it.
 * Pure functions: no I/O.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { asDid, type Did } from '../ids.js'
import { nativeMayJudge } from '../platform/ed25519-rule.js'
import { concat, multibaseDecode, multibaseEncode } from './encoding.js'

const ED25519_PUB = new Uint8Array([0xed, 0x01])
const X25519_PUB = new Uint8Array([0xec, 0x01])

export function didKeyFromPublicKey (publicKey: Uint8Array): Did {
  if (publicKey.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes')
  return asDid(`did:key:${multibaseEncode(concat(ED25519_PUB, publicKey))}`)
}

/** The method-specific id, which is also the key fragment: `did:key:z6Mk…#z6Mk…`. */
export function didKeyFragment (did: string): string {
  return did.slice('did:key:'.length)
}

/** Returns the raw Ed25519 public key, or throws a TypeError for anything else. */
export function publicKeyFromDidKey (did: string): Uint8Array {
  if (!did.startsWith('did:key:z')) throw new TypeError('not a base58btc did:key')
  let bytes: Uint8Array
  try {
    bytes = multibaseDecode(didKeyFragment(did))
  } catch {
    throw new TypeError('did:key is not valid base58btc')
  }
  if (bytes.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) {
    throw new TypeError('did:key is not an Ed25519 key')
  }
  const key = bytes.subarray(2)
  // A key of small order, or one encoded non-canonically, verifies no signature under the hub's rule
  // (platform/ed25519-rule.ts) and has no X25519 counterpart: no use as an identity, so no did:key.
  if (!nativeMayJudge(key)) throw new TypeError('did:key is not a usable Ed25519 key (small order or non-canonical)')
  return key
}

export function x25519MultibaseFromEd25519 (publicKey: Uint8Array): string {
  return multibaseEncode(concat(X25519_PUB, ed25519.utils.toMontgomery(publicKey)))
}

/** Decode a `z6LS…` X25519 multibase key. */
export function x25519FromMultibase (mb: string): Uint8Array {
  const bytes = multibaseDecode(mb)
  if (bytes.length !== 34 || bytes[0] !== 0xec || bytes[1] !== 0x01) throw new TypeError('not an X25519 multikey')
  return bytes.subarray(2)
}

export interface VerificationMethod {
  id: string
  type: string
  controller: string
  publicKeyMultibase?: string
  publicKeyJwk?: Record<string, unknown>
}

export interface ServiceEndpoint {
  id: string
  type: string
  serviceEndpoint: unknown
}

export interface DidDocument {
  '@context': string | string[]
  id: string
  verificationMethod?: VerificationMethod[]
  authentication?: Array<string | VerificationMethod>
  assertionMethod?: Array<string | VerificationMethod>
  capabilityDelegation?: Array<string | VerificationMethod>
  capabilityInvocation?: Array<string | VerificationMethod>
  keyAgreement?: Array<string | VerificationMethod>
  service?: ServiceEndpoint[]
}

/** The DID document did:key defines for an Ed25519 key (did:key spec §3.1.2). */
export function didKeyDocument (did: string): DidDocument {
  const pub = publicKeyFromDidKey(did)
  const fragment = didKeyFragment(did)
  const signingId = `${did}#${fragment}`
  const xmb = x25519MultibaseFromEd25519(pub)
  const agreementId = `${did}#${xmb}`
  return {
    '@context': [
      'https://www.w3.org/ns/did/v1',
      'https://w3id.org/security/suites/ed25519-2020/v1',
      'https://w3id.org/security/suites/x25519-2020/v1'
    ],
    id: did,
    verificationMethod: [
      { id: signingId, type: 'Ed25519VerificationKey2020', controller: did, publicKeyMultibase: fragment }
    ],
    authentication: [signingId],
    assertionMethod: [signingId],
    capabilityDelegation: [signingId],
    capabilityInvocation: [signingId],
    keyAgreement: [
      { id: agreementId, type: 'X25519KeyAgreementKey2020', controller: did, publicKeyMultibase: xmb }
    ]
  }
}
