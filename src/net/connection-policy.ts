/**
 * Which peers this hub connects with, and how it keeps reaching the ones it
 * wants: the blocklist the connection gater consults (peers blocked by the
 * operator, devices whose authorization was revoked) and the reconnection
 * loop that dials known devices and bootstrap addresses with exponential
 * backoff.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { GrantRegistry } from '../permissions/registry.js'
import { hubDidOfPeer, peerIdInAddr, peerIdOfHubDid, type HubLibp2p } from './node.js'
import type { PeerTable } from './peers.js'
import { nextBackoff } from './backoff.js'

/** How long one dial attempt may take. */
const DIAL_TIMEOUT_MS = 5000

/**
 * Peer ids never to connect with, in either direction. Built before the
 * libp2p node, whose gater it is.
 */
export class PeerBlocklist {
  readonly #blocked: Set<string>
  /** Peer ids of revoked devices. */
  readonly #revoked = new Set<string>()

  constructor (blocked: Iterable<string> = []) {
    this.#blocked = new Set(blocked)
  }

  /** The gater's question: refuse this peer? */
  has (peerId: string): boolean { return this.#blocked.has(peerId) || this.#revoked.has(peerId) }
  isRevoked (peerId: string): boolean { return this.#revoked.has(peerId) }
  isBlocked (peerId: string): boolean { return this.#blocked.has(peerId) }
  block (peerId: string): void { this.#blocked.add(peerId) }
  unblock (peerId: string): void { this.#blocked.delete(peerId) }

  /** Revoked devices may not connect at all, unless authorized again: follow the registry. */
  syncRevocations (registry: Pick<GrantRegistry, 'devices' | 'device'>, ownHubDid: string): void {
    for (const d of registry.devices()) {
      if (d.device === ownHubDid) continue
      const id = peerIdOfHubDid(d.device).toString()
      if (registry.device(d.device) === undefined) this.#revoked.add(id)
      else this.#revoked.delete(id)
    }
  }
}

export interface ReconnectorComponents {
  libp2p: Pick<HubLibp2p, 'dial' | 'getConnections'>
  peers: PeerTable
  blocklist: PeerBlocklist
  /** Our own peer id: never a dial target. */
  peerId: string
  /** Is this hub DID a live device of our owner (other than us)? Only those, and bootstrap peers, are redialled. */
  isDevice: (hubDid: string) => boolean
  /** Addresses to dial at start and keep reconnecting to. */
  bootstrap: string[]
  /**
   * Relays we hold a reservation on (`…/p2p/<relay>`, from our own
   * `/p2p-circuit` addresses). A device we cannot reach directly is also
   * dialled through each of them: two devices behind NATs meet there.
   */
  relays?: () => string[]
  minBackoffMs: number
  maxBackoffMs: number
}

export class Reconnector {
  readonly #c: ReconnectorComponents
  readonly #bootstrap: Multiaddr[]

  constructor (components: ReconnectorComponents) {
    this.#c = components
    this.#bootstrap = components.bootstrap.map(a => multiaddr(a))
  }

  /** A connection to the peer was made (by either side): its next failure starts from the minimum backoff. */
  connected (peerId: string): void {
    const s = this.#c.peers.get(peerId)
    if (s !== undefined) s.backoffMs = this.#c.minBackoffMs
  }

  /** Dial an unblocked peer again at the next tick. */
  retryNow (peerId: string): void {
    const s = this.#c.peers.get(peerId)
    if (s !== undefined) { s.nextDialAt = 0; s.backoffMs = this.#c.minBackoffMs }
  }

  /**
   * An address of a peer whose id we may not know yet (bootstrap, DID
   * document): one without `/p2p/` is dialled as a bootstrap address.
   */
  candidate (addr: string): void {
    const ma = multiaddr(addr)
    const id = peerIdInAddr(ma)
    if (id === null) {
      if (!this.#bootstrap.some(b => b.equals(ma))) this.#bootstrap.push(ma)
      return
    }
    if (id === this.#c.peerId) return
    this.#c.peers.ensure(id, hubDidOfPeer(peerIdFromString(id)), [addr])
  }

  /** One pass: dial every disconnected device and bootstrap address whose backoff has passed. */
  tick (): void {
    const { libp2p, peers, blocklist, minBackoffMs, maxBackoffMs } = this.#c
    const now = Date.now()
    for (const s of peers.values()) {
      if (s.connected || s.dialing || now < s.nextDialAt || blocklist.has(s.peerId)) continue
      if (s.addrs.length === 0 && (this.#c.relays?.() ?? []).length === 0) continue
      if (!this.#c.isDevice(s.hubDid) && !this.#bootstrap.some(b => peerIdInAddr(b) === s.peerId)) continue
      s.dialing = true
      const addrs = dialAddrs(s.addrs, s.peerId, this.#c.relays?.() ?? [])
      libp2p.dial(addrs, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).then(() => {
        s.backoffMs = minBackoffMs
      }, (err: Error) => {
        s.lastError = `unreachable: ${err.message}`
        s.nextDialAt = Date.now() + s.backoffMs
        s.backoffMs = nextBackoff(s.backoffMs, { minMs: minBackoffMs, maxMs: maxBackoffMs })
      }).finally(() => { s.dialing = false })
    }
    for (const b of this.#bootstrap) {
      const id = peerIdInAddr(b)
      if (id !== null && libp2p.getConnections(peerIdFromString(id)).length > 0) continue
      // Bootstrap addresses have their own backoff entry, keyed by address: the peer id may be unknown.
      const key = `bootstrap:${b.toString()}`
      const s = peers.get(key) ?? peers.ensure(key, '', [])
      if (s.dialing || now < s.nextDialAt) continue
      s.dialing = true
      libp2p.dial(b, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).then(conn => {
        s.backoffMs = minBackoffMs
        // Connected: look again only after the longest backoff (the peer is now tracked by its id).
        s.nextDialAt = Date.now() + maxBackoffMs
        peers.ensure(conn.remotePeer.toString(), hubDidOfPeer(conn.remotePeer), [b.toString()])
      }, () => {
        s.nextDialAt = Date.now() + s.backoffMs
        s.backoffMs = nextBackoff(s.backoffMs, { minMs: minBackoffMs, maxMs: maxBackoffMs })
      }).finally(() => { s.dialing = false })
    }
  }
}

/**
 * What to dial for a peer: its known addresses (with its `/p2p/` id), then
 * a circuit through each of our relays that is not the peer itself.
 */
export function dialAddrs (known: string[], peerId: string, relays: string[]): Multiaddr[] {
  const out = known.map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`))
  for (const r of relays) {
    if (r.endsWith(`/p2p/${peerId}`)) continue
    const circuit = multiaddr(`${r}/p2p-circuit/p2p/${peerId}`)
    if (!out.some(a => a.equals(circuit))) out.push(circuit)
  }
  return out
}

/** The relays in a hub's own addresses: `<relay addr>/p2p/<relay>` of each `…/p2p-circuit…` address. */
export function relaysOf (ownAddrs: string[]): string[] {
  const out = new Set<string>()
  for (const a of ownAddrs) {
    const i = a.indexOf('/p2p-circuit')
    if (i > 0 && a.slice(0, i).includes('/p2p/')) out.add(a.slice(0, i))
  }
  return [...out]
}
