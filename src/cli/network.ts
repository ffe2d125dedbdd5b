/**
 * The network `hub start` runs: a libp2p HubNode wired by the composition
 * root (src/compose.ts). Imported lazily, so a command that is only
 * forwarded to a running daemon never loads libp2p.
 */
import type { StartNetwork } from '../daemon/daemon.js'
import type { HubNode } from '../net/hub-node.js'
import { startHosting as startHostingNetwork, startHubNode } from '../compose.js'

export { startHubNode }

export const startNetwork: StartNetwork<HubNode> = async (hub, opts) => {
  return await startHubNode(hub, { listen: opts.listen, bootstrap: opts.bootstrap, logger: opts.logger })
}

/** The network of a hosting hub (`hub hosting init`): one node for every owner it hosts. */
export const startHosting: StartNetwork = async (hub, opts) => {
  return await startHostingNetwork(hub, { listen: opts.listen, logger: opts.logger })
}
