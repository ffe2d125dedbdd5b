/**
 * The libp2p node of a hub: TCP and WebSockets (a browser tab: WebSockets
 * only, dialing out; hub-net-*.ts), Noise, Yamux, identify,
 * ping and a Kademlia DHT on our private protocol id. It listens on loopback
 * unless told otherwise and never dials anything it was not given: no
 * public bootstrap list, and mDNS only when asked for.
 *
 * Circuit relay v2 and DCUtR are always there as a client: a hub behind a
 * NAT listens through a relay when its listen addresses include
 * `/p2p-circuit`, and upgrades relayed connections to direct ones where
 * hole punching works. Serving as a relay is opt-in, and only for the
 * owner's own devices: the gater refuses every reservation and every
 * relayed connection that is not between two of them.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper, type KadDHT } from '@libp2p/kad-dht'
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { DHT_CLIENT_MODE, hubTransports, mdnsService, platformGater } from '#hub-net'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { didKeyFromPublicKey, publicKeyFromDidKey } from '../identity/did-key.js'
import type { Ed25519KeyPair } from '../identity/keys.js'
import { DHT_PROTOCOL } from './constants.js'
import { AuthenticationError } from '../errors.js'

export type HubLibp2p = Libp2p<{ identify: Identify, ping: Ping, dht: KadDHT }>

export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
/** New inbound connections accepted per second from one host. */
export const INBOUND_CONNECTIONS_PER_SECOND = 100

/** Relayed connections through this hub or to it: only between the owner's own live devices. */
export const RELAY_LIMITS = {
  /** Devices that may hold a reservation on this hub at once. */
  maxReservations: 64,
  /** A reservation lasts this long; the device renews it before it ends. */
  reservationTtlMs: 60 * 60 * 1000,
  /** Concurrent relayed streams being set up. */
  maxHopStreams: 64
} as const

export interface HubLibp2pOptions {
  /** Peer ids refused in both directions (operator blocklist; partition tests). */
  blocked?: { has: (peerId: string) => boolean }
  /**
   * Is this peer a live device of our owner (other than us)? Relayed
   * connections are allowed only between such peers. Without it no
   * relayed connection is accepted and no reservation granted.
   */
  isOwnDevice?: (peerId: PeerId) => boolean
  /** Serve as a circuit relay (v2) for the owner's devices. */
  relay?: boolean
  /** Find peers on the local network with mDNS (DNS-SD multicast). */
  mdns?: boolean
  /**
   * Connections held at once before libp2p prunes the least valuable
   * (libp2p's default, 300, suits one owner's hub; a hosting hub holds a
   * connection per online device of every owner) and inbound handshakes in
   * progress at once (libp2p's default 10).
   */
  maxConnections?: number
  maxIncomingPendingConnections?: number
}

/**
 * `listen`: addresses to listen on; empty = loopback defaults; `null` =
 * dial-only (pairing client).
 */
export async function createHubLibp2p (hubKey: Ed25519KeyPair, listen: string[] | null, opts: HubLibp2pOptions = {}): Promise<HubLibp2p> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', hubKey.exportSeed())
  const blocked = opts.blocked ?? new Set<string>()
  const own = (peer: PeerId): boolean => !blocked.has(peer.toString()) && (opts.isOwnDevice?.(peer) ?? false)
  return await createLibp2p({
    privateKey,
    connectionManager: {
      // libp2p's default (5 new inbound connections per second per host)
      // turns away apps on one machine, or behind one NAT, and every client
      // reconnecting at once after a hub restart.
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_SECOND,
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.maxIncomingPendingConnections !== undefined ? { maxIncomingPendingConnections: opts.maxIncomingPendingConnections } : {})
    },
    connectionGater: {
      ...platformGater,
      denyDialPeer: (peer: PeerId) => blocked.has(peer.toString()),
      denyInboundEncryptedConnection: (peer: PeerId) => blocked.has(peer.toString()),
      denyOutboundEncryptedConnection: (peer: PeerId) => blocked.has(peer.toString()),
      // Relays carry only the owner's own traffic: a stranger can neither park on ours nor reach us through one.
      denyInboundRelayReservation: (source: PeerId) => !own(source),
      denyOutboundRelayedConnection: (source: PeerId, destination: PeerId) => !own(source) || !own(destination),
      denyInboundRelayedConnection: (_relay: PeerId, remote: PeerId) => !own(remote)
    },
    addresses: { listen: listen === null ? [] : listen.length > 0 ? listen : DEFAULT_LISTEN },
    transports: [...hubTransports(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      dcutr: dcutr(),
      ...(opts.relay === true
        ? {
            relay: circuitRelayServer({
              maxInboundHopStreams: RELAY_LIMITS.maxHopStreams,
              reservations: {
                maxReservations: RELAY_LIMITS.maxReservations,
                reservationTtl: RELAY_LIMITS.reservationTtlMs,
                // Own devices only (the gater): a sync over the relay is not cut at libp2p's 128 KiB / 2 min default.
                applyDefaultLimit: false
              }
            })
          }
        : {}),
      ...(opts.mdns === true ? { mdns: await mdnsService() } : {}),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: DHT_CLIENT_MODE,
        // Hubs run on loopback and private networks; the default mapper
        // would drop exactly those addresses and leave the table empty.
        peerInfoMapper: passthroughMapper,
        initialQuerySelfInterval: 0
      })
    }
  }) as HubLibp2p
}

/** The hub DID of a peer: its Ed25519 PeerId key as a did:key. Noise proved the peer holds it. */
export function hubDidOfPeer (peerId: PeerId): string {
  if (peerId.type !== 'Ed25519' || peerId.publicKey === undefined) throw new AuthenticationError('peer key is not Ed25519')
  return didKeyFromPublicKey(peerId.publicKey.raw)
}

/** The PeerId of a hub DID (the inverse of hubDidOfPeer). */
export function peerIdOfHubDid (hubDid: string): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKeyFromDidKey(hubDid)))
}

/** The `/p2p/<id>` of a multiaddr, if it names one (multiaddr 13 dropped getPeerId()). */
export function peerIdInAddr (ma: Multiaddr): string | null {
  const c = ma.getComponents().findLast(x => x.name === 'p2p')
  return c?.value ?? null
}
