/**
 * What a hub's libp2p node is made of on this platform (the `#hub-net`
 * seam, used by net/node.ts). Under Node: TCP and WebSockets, listening
 * where it is told; mDNS when asked; a DHT server. See hub-net-web.ts.
 */
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type * as Mdns from '@libp2p/mdns'
import type { Libp2pOptions } from 'libp2p'
import type { ConnectionGater } from '@libp2p/interface'

export type HubTransports = NonNullable<Libp2pOptions['transports']>

/** `node` or `web`. */
export const HUB_NET_PLATFORM = 'node'

/** The transports a hub listens and dials on (circuit relay is added by node.ts). */
export function hubTransports (): HubTransports {
  return [tcp(), webSockets()]
}

/** The mDNS service (Node only), loaded only when a hub turns mDNS on (`network.mdns`; it is off by default). */
export async function mdnsService (): Promise<ReturnType<typeof Mdns.mdns>> {
  const { mdns } = await import('@libp2p/mdns')
  return mdns()
}

/** Whether the DHT runs as a client only (answers no queries). */
export const DHT_CLIENT_MODE = false

/** Gater entries this platform adds to the hub's own (none under Node: libp2p's default dials anything). */
export const platformGater: Partial<ConnectionGater> = {}
