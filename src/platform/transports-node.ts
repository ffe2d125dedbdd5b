/**
 * The libp2p transports the SDK dials with (the `#platform/transports`
 * seam): under Node, TCP and WebSockets. Loaded on demand, so importing the
 * SDK does not load the network stack.
 */
import type { Libp2pOptions } from 'libp2p'

export type Transports = NonNullable<Libp2pOptions['transports']>

export async function clientTransports (): Promise<Transports> {
  const [{ tcp }, { webSockets }] = await Promise.all([import('@libp2p/tcp'), import('@libp2p/websockets')])
  return [tcp(), webSockets()]
}
