/**
 * What `hub status` and `hub peers` show of the network: per known device,
 * its connection and replication state; per connected peer, its addresses
 * and whether it is one of our devices. Pure views over the registry, the
 * peer table and the connections.
 */
import type { HubRole } from '../hub.js'
import type { GrantRegistry } from '../permissions/registry.js'
import { hubDidOfPeer, peerIdOfHubDid, type HubLibp2p } from './node.js'
import type { PeerTable } from './peers.js'

export interface PeerView {
  peerId: string
  hubDid: string
  addrs: string[]
  /** Role if the peer is an authorized device of our owner. */
  device: HubRole | null
}

export interface SyncPeerStatus {
  hubDid: string
  peerId: string
  name: string | null
  role: HubRole
  connected: boolean
  replicating: boolean
  lastSync: string | null
  /** Position in the peer's feed we have ingested up to. */
  watermark: number
  /** The peer's feed head when we last heard from it. */
  head: number
  /** Commits in the peer's feed we have not pulled yet (as of lastSync). */
  behind: number
  /** New commits stored from this peer since start. */
  received: number
  /** Bytes on the wire of our pulls from this peer since start (frames incl. length prefixes). */
  bytesReceived: number
  bytesSent: number
  lastError: string | null
}

/** Per live device of our owner other than us: connection and replication state. */
export function syncStatus (registry: Pick<GrantRegistry, 'devices'>, ownHubDid: string, peers: PeerTable): SyncPeerStatus[] {
  const out: SyncPeerStatus[] = []
  for (const d of registry.devices()) {
    if (d.device === ownHubDid || d.revokedAt !== undefined) continue
    const peerId = peerIdOfHubDid(d.device).toString()
    const s = peers.get(peerId)
    out.push({
      hubDid: d.device,
      peerId,
      name: d.name ?? null,
      role: d.role,
      connected: s?.connected ?? false,
      replicating: s?.replicator !== undefined,
      lastSync: s?.lastSync ?? null,
      watermark: s?.watermark ?? 0,
      head: s?.head ?? 0,
      behind: s === undefined ? 0 : Math.max(0, s.head - s.watermark),
      received: s?.received ?? 0,
      bytesReceived: s?.bytesReceived ?? 0,
      bytesSent: s?.bytesSent ?? 0,
      lastError: s?.lastError ?? null
    })
  }
  return out
}

/** Connected peers, one entry per peer with every address it is connected on. */
export function peerViews (libp2p: Pick<HubLibp2p, 'getConnections'>, registry: Pick<GrantRegistry, 'device'>): PeerView[] {
  const out = new Map<string, PeerView>()
  for (const c of libp2p.getConnections()) {
    const id = c.remotePeer.toString()
    let hubDid = ''
    try { hubDid = hubDidOfPeer(c.remotePeer) } catch { /* not an Ed25519 peer */ }
    const v = out.get(id) ?? { peerId: id, hubDid, addrs: [], device: registry.device(hubDid)?.role ?? null }
    v.addrs.push(c.remoteAddr.toString())
    out.set(id, v)
  }
  return [...out.values()]
}
