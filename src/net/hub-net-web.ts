/**
 * A hub's libp2p node in a browser (see hub-net-node.ts): WebSockets only,
 * dialing out (a page cannot listen), no mDNS (no multicast in a page), the
 * DHT as a client only (a tab comes and goes; it must not hold records for
 * others).
 *
 * The gater: libp2p's browser default refuses to dial private addresses
 * and plain `ws://`, which is exactly where an owner's home hub and a
 * developer's loopback hub are. A tab dials only its owner's devices (the
 * peers pairing named, and those they introduce), so it allows them; the
 * browser still applies its own rules (mixed content: a page served over
 * https can only reach `wss://`).
 */
import { webSockets } from '@libp2p/websockets'
import type { Libp2pOptions } from 'libp2p'
import type { ConnectionGater } from '@libp2p/interface'
import { UnsupportedError } from '../errors.js'

export type HubTransports = NonNullable<Libp2pOptions['transports']>

export const HUB_NET_PLATFORM = 'web'

export function hubTransports (): HubTransports {
  return [webSockets()]
}

export function mdnsService (): never {
  throw new UnsupportedError('mDNS needs multicast, which a browser page cannot send', { reason: 'no_mdns_in_browser' })
}

export const DHT_CLIENT_MODE = true

export const platformGater: Partial<ConnectionGater> = {
  denyDialMultiaddr: () => false
}
