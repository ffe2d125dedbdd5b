/**
 * A hub's libp2p identity. The hub key is an Ed25519 key whose public half
 * is both the libp2p PeerId and a did:key, so "which peer is this" and
 * "which hub DID signed this" are the same question.
 */
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'

/** The libp2p PeerId of a hub key (its hub DID is `didKeyFromPublicKey` of the same bytes). */
export function peerIdOf (publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString()
}
