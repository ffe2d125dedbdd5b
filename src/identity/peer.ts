/**
 * A hub's libp2p identity. The hub key is an Ed25519 key whose public half
 * is both the libp2p PeerId and a did:key, so "which peer is this" and
 * "which hub DID signed this" are the same question.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { didKeyFromPublicKey } from './did-key.js'
import type { Did } from '../ids.js'

export function peerIdOf (publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString()
}

export function hubDidOf (publicKey: Uint8Array): Did {
  return didKeyFromPublicKey(publicKey)
}
