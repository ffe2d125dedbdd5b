/**
 * The parties of a key envelope: a did:key's X25519 key-agreement key as a
 * recipient, and an Ed25519 key pair's as an opener.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { publicKeyFromDidKey, x25519MultibaseFromEd25519 } from '../identity/did-key.js'
import type { Ed25519KeyPair } from '../identity/keys.js'
import type { EnvelopeOpener, EnvelopeRecipient } from './jwe.js'

/** The key-agreement key of a did:key, as a key-envelope recipient. */
export function recipientOf (did: string): EnvelopeRecipient {
  const pub = publicKeyFromDidKey(did)
  return { kid: `${did}#${x25519MultibaseFromEd25519(pub)}`, x25519PublicKey: ed25519.utils.toMontgomery(pub) }
}

/** The key-agreement side of an Ed25519 key pair, for opening envelopes. */
export function openerOf (key: Ed25519KeyPair): EnvelopeOpener {
  return { kid: `${key.did}#${x25519MultibaseFromEd25519(key.publicKey)}`, x25519PrivateKey: key.x25519PrivateKey() }
}
