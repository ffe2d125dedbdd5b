/**
 * Identity Hub on the network (`identity-hub/net`): kept apart from the
 * package root so that embedding only the store never loads libp2p.
 *
 * `HubNode.start` here is the composed one (src/compose.ts): it serves the
 * request protocol and can ask for device attestations, as this export
 * always did. The bare node of src/net serves only what it is given.
 */
import './shim.js'
import { HubNode as BareHubNode, type HubNodeOptions } from './net/hub-node.js'
import type { Hub } from './hub.js'
import { startHubNode } from './compose.js'

export * from './net/index.js'
export { startHubNode }

export const HubNode: { start: (hub: Hub, opts?: HubNodeOptions) => Promise<BareHubNode> } = {
  start: async (hub, opts = {}) => await startHubNode(hub, opts)
}
export type HubNode = BareHubNode
