/**
 * The network `hub start` runs: a libp2p HubNode. Imported lazily, so a
 * command that is only forwarded to a running daemon never loads libp2p.
 */
import type { StartNetwork } from '../daemon/daemon.js'
import type { HubNode } from '../net/hub-node.js'

export const startNetwork: StartNetwork<HubNode> = async (hub, opts) => {
  const { HubNode } = await import('../net/hub-node.js')
  return await HubNode.start(hub, { listen: opts.listen, bootstrap: opts.bootstrap, logger: opts.logger })
}
