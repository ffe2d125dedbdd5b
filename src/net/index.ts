/**
 * Identity Hub on the network (`identity-hub/net`): kept apart from the
 * package root so that embedding only the store never loads libp2p.
 * The shim must stay the first import.
 */
import '../shim.js'

export { HubNode, hubInstancesFromDidDocument, type HubNodeOptions, type PeerView, type SyncPeerStatus } from './hub-node.js'
export { joinHub, createInvite, decodeInvite, type JoinOptions } from './pair.js'
export type { PullProgress, PullResult } from './sync/client.js'
export { SYNC_PROTOCOL, PAIR_PROTOCOL, REQUEST_PROTOCOL, DHT_PROTOCOL } from './constants.js'
