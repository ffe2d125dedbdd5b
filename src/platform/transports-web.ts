/** The libp2p transports the SDK dials with in a browser: WebSockets only (@libp2p/tcp is Node-only). See transports-node.ts. */
import type { Libp2pOptions } from 'libp2p'

export type Transports = NonNullable<Libp2pOptions['transports']>

export async function clientTransports (): Promise<Transports> {
  const { webSockets } = await import('@libp2p/websockets')
  return [webSockets()]
}
