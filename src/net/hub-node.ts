/**
 * A hub on the network: the composition of its parts on one libp2p node.
 *  - sync-serving.ts / sync-access.ts: serve /identity-hub/sync/1.0.0 under
 *    the access policy (who may pull what);
 *  - replication.ts: for every connected device of our owner, one live
 *    replicator pulling that peer's feed into our store;
 *  - connection-policy.ts: refuse blocked and revoked peers, keep trying to
 *    reach known devices and bootstrap addresses with backoff;
 *  - discovery.ts: find our owner's other hubs (DHT, DID document);
 *  - follows.ts / attestations.ts: pull what other owners share with ours;
 *  - sync-status.ts: what status and peers commands show.
 * This class only wires them to the Hub and to libp2p events. The request
 * protocol belongs to request/, a layer below net: it is injected
 * (`requests`, `askAttestation`), see src/cli/network.ts.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, Stream } from '@libp2p/interface'
import { HubError } from '../errors.js'
import type { Hub, HubRole } from '../hub.js'
import { checkMultiaddrs } from '../hub-config-core.js'
import type { Logger } from '../log.js'
import { ATTESTATION_LIFETIME_S } from '../permissions/attestation.js'
import { AttestationHolder, obtainAttestation } from './attestations.js'
import { PeerBlocklist, Reconnector, relaysOf } from './connection-policy.js'
import { DISCOVERY_INTERVAL_MS, MAX_INBOUND_REQUEST_STREAMS, MAX_INBOUND_SYNC_STREAMS, PAIR_PROTOCOL, RECONNECT_MAX_MS, RECONNECT_MIN_MS, REQUEST_PROTOCOL, SYNC_PROTOCOLS } from './constants.js'
import { DhtDiscovery, hubInstancesFromDidDocument } from './discovery.js'
import { Follows, type FollowStatus } from './follows.js'
import { createHubLibp2p, hubDidOfPeer, peerIdInAddr, type HubLibp2p } from './node.js'
import { multiaddr } from '@multiformats/multiaddr'
import { createInvite, servePair } from './pair.js'
import { PeerTable } from './peers.js'
import { Replication } from './replication.js'
import { SyncAccessPolicy } from './sync-access.js'
import { SyncServing } from './sync-serving.js'
import { peerViews, syncStatus, type PeerView, type SyncPeerStatus } from './sync-status.js'
import type { PullProgress, PullResult } from './sync/client.js'

export { hubInstancesFromDidDocument } from './discovery.js'
export { peerIdInAddr, peerIdOfHubDid } from './node.js'
export { blindMayHold } from './sync-access.js'
export type { FollowStatus } from './follows.js'
export type { PeerView, SyncPeerStatus } from './sync-status.js'

export interface HubNodeOptions {
  /** Multiaddrs to listen on. Default: loopback TCP and WebSockets on OS-chosen ports; `null`: listen nowhere, dial out only (a browser tab). */
  listen?: string[] | null
  /** Peers to dial at start and keep reconnecting to. Never public defaults. */
  bootstrap?: string[]
  logger?: Logger
  /** DHT announce/lookup period; 0 disables DHT discovery. Default 30 s. */
  discoveryIntervalMs?: number
  /** Reconnection backoff bounds. */
  reconnectMinMs?: number
  reconnectMaxMs?: number
  /** Peer ids never to connect with, in either direction. */
  blockedPeers?: string[]
  /** Observe every sync batch this hub serves, exactly as sent (diagnostics, tests). */
  onServedBatch?: (peerHubDid: string, json: string) => void
  /**
   * Lifetime of the device attestations this hub presents when it follows
   * another owner (signed here if it holds the owner key, else asked of an
   * owner hub, which issues at most ATTESTATION_LIFETIME_S). Default 1 h;
   * tests make it short. Below ~1 min, a waiting pull outlives its
   * attestation and the follow stream reconnects after each long poll.
   */
  attestationLifetimeS?: number
  /**
   * Serve one inbound /identity-hub/request/1.0.0 stream of `remotePeer`
   * (its peer id). The request protocol lives in request/, a layer below
   * net, so whoever starts the node injects it (startHubNode in
   * src/cli/network.ts passes request/server.ts). Without it the protocol
   * is not served.
   */
  requests?: (stream: Stream, remotePeer: string) => Promise<void>
  /**
   * Ask one of our owner's hubs, over a request stream this node opened to
   * it, for a device attestation of this hub (`Devices.attest`), and close
   * the stream. Injected for the same reason as `requests`; without it a
   * hub that lacks the owner key cannot obtain attestations to follow with.
   */
  askAttestation?: (stream: Stream, lifetimeS: number, signal: AbortSignal) => Promise<string>
  /**
   * Serve as a circuit relay (v2) for the owner's own devices (an
   * always-on hub: a home server, a blind cloud hub), so devices behind
   * NATs reach each other through it. Limits: RELAY_LIMITS in node.ts.
   */
  relay?: boolean
  /** Find the owner's devices on the local network with mDNS. Off by default. */
  mdns?: boolean
}

/** How long asking an owner hub for an attestation may take, dial included. */
const ASK_TIMEOUT_MS = 10_000
/** Reconnection tick; DHT discovery's first run after start. */
const RECONNECT_TICK_MS = 250
const FIRST_DISCOVERY_MS = 200
/** How long a revoked device's streams get to deliver the revocation before the node hangs up. */
const REVOCATION_NOTICE_MS = 3000

export class HubNode {
  readonly hub: Hub
  readonly libp2p: HubLibp2p
  readonly #log: Logger
  readonly #opts: HubNodeOptions
  readonly #peers: PeerTable
  readonly #blocklist: PeerBlocklist
  readonly #reconnector: Reconnector
  readonly #serving: SyncServing
  /** Peer ids named by bootstrap addresses. */
  readonly #bootstrapPeers: ReadonlySet<string>
  readonly #replication: Replication
  readonly #attestations: AttestationHolder
  readonly #follows: Follows
  readonly #discovery: DhtDiscovery
  #timers: NodeJS.Timeout[] = []
  #stopped = false

  private constructor (hub: Hub, libp2p: HubLibp2p, opts: HubNodeOptions, blocklist: PeerBlocklist) {
    this.hub = hub
    this.libp2p = libp2p
    this.#opts = opts
    this.#blocklist = blocklist
    const log = this.#log = (opts.logger ?? hub.log).child('net')
    const lookup = async (kid: string): Promise<Uint8Array> => await hub.keys.resolveKey(kid)
    const stopped = (): boolean => this.#stopped
    const isDevice = (hubDid: string): boolean => this.#isDevice(hubDid)
    const maxCommitBytes = hub.config.limits.maxCommitBytes
    const minBackoffMs = opts.reconnectMinMs ?? RECONNECT_MIN_MS
    const peers = this.#peers = new PeerTable(minBackoffMs)
    // Checked in start(): each parses and names a peer.
    this.#bootstrapPeers = new Set((opts.bootstrap ?? []).map(a => peerIdInAddr(multiaddr(a)) as string))
    this.#reconnector = new Reconnector({
      libp2p, peers, blocklist, peerId: hub.peerId, isDevice, bootstrap: opts.bootstrap ?? [], minBackoffMs, maxBackoffMs: opts.reconnectMaxMs ?? RECONNECT_MAX_MS,
      relays: () => relaysOf(this.multiaddrs())
    })
    this.#serving = new SyncServing({
      tenant: hub.did,
      store: hub.store,
      policy: new SyncAccessPolicy({ lookup, ingest: async proof => await hub.ingest(proof), log }),
      audit: hub.audit,
      log,
      ...(opts.onServedBatch !== undefined ? { onServedBatch: opts.onServedBatch } : {})
    })
    this.#replication = new Replication({ libp2p, store: hub.store, owner: hub.did, hubDid: hub.hubDid, lookup, maxCommitBytes, peers, isDevice, stopped, log })
    this.#attestations = new AttestationHolder({
      obtain: async () => await obtainAttestation({
        owner: hub.did,
        hubDid: hub.hubDid,
        ownerKey: hub.ownerKey,
        registry: hub.store.registry,
        peers,
        lookup,
        lifetimeS: opts.attestationLifetimeS ?? ATTESTATION_LIFETIME_S,
        ask: async (peerId, lifetimeS) => await this.#askAttestation(peerId, lifetimeS)
      }),
      wanted: () => !this.#stopped && this.#follows.size > 0
    })
    this.#follows = new Follows({
      libp2p, owner: hub.did, local: hub.local, tenant: async owner => await hub.tenant(owner), lookup, maxCommitBytes, peers, attestations: this.#attestations, stopped, log
    })
    this.#discovery = new DhtDiscovery({ libp2p, discoveryKey: () => hub.discoveryKey(), peers, log })
  }

  static async start (hub: Hub, opts: HubNodeOptions = {}): Promise<HubNode> {
    // Malformed bootstrap addresses are bad_request here, before anything
    // dials: a reconnect timer would otherwise meet them first, and crash.
    if (opts.bootstrap !== undefined) checkMultiaddrs('network.bootstrap', opts.bootstrap)
    // The blocklist exists before the node: it is the node's connection gater.
    const blocklist = new PeerBlocklist(opts.blockedPeers ?? [])
    const isOwnDevice = (peer: PeerId): boolean => {
      let hubDid: string
      try { hubDid = hubDidOfPeer(peer) } catch { return false }
      return hubDid !== hub.hubDid && hub.store.registry.device(hubDid) !== undefined
    }
    const libp2p = await createHubLibp2p(hub.hubKey, opts.listen === undefined ? [] : opts.listen, {
      blocked: blocklist, isOwnDevice, ...(opts.relay === true ? { relay: true } : {}), ...(opts.mdns === true ? { mdns: true } : {})
    })
    const node = new HubNode(hub, libp2p, opts, blocklist)
    await node.#init()
    return node
  }

  async #init (): Promise<void> {
    const lp = this.libp2p
    await lp.handle(SYNC_PROTOCOLS, this.#serving.handle, { maxInboundStreams: MAX_INBOUND_SYNC_STREAMS })
    const requests = this.#opts.requests
    if (requests !== undefined) {
      await lp.handle(REQUEST_PROTOCOL, async (stream, connection) => {
        await requests(stream, connection.remotePeer.toString())
      }, { maxInboundStreams: MAX_INBOUND_REQUEST_STREAMS })
    }
    await lp.handle(PAIR_PROTOCOL, async (stream, connection) => {
      await servePair({ hub: this.hub, addrs: () => this.multiaddrs(), log: this.#log }, stream, connection)
    }, { maxInboundStreams: 1 })

    lp.addEventListener('peer:connect', evt => { this.#onConnect(evt.detail) })
    lp.addEventListener('peer:disconnect', evt => { this.#onDisconnect(evt.detail) })
    // Peers found by mDNS or the DHT: our own devices become dial targets (nobody else does).
    lp.addEventListener('peer:discovery', evt => {
      const { id, multiaddrs } = evt.detail
      let hubDid: string
      try { hubDid = hubDidOfPeer(id) } catch { return }
      if (this.#isDevice(hubDid)) this.#peers.ensure(id.toString(), hubDid, multiaddrs.map(a => a.toString()))
    })
    lp.addEventListener('peer:identify', evt => {
      const { peerId, listenAddrs } = evt.detail
      void this.#learn(peerId, listenAddrs.map(a => a.toString()))
    })
    this.hub.events.on('commit', e => {
      if (e.commit.header.interface === 'Permissions') this.#onPermissionsChanged()
    })

    this.#blocklist.syncRevocations(this.hub.store.registry, this.hub.hubDid)
    for (const f of await this.hub.local.follows()) this.#follows.start(f)
    // Devices we already know, plus any listed in the owner's DID document.
    for (const p of await this.hub.local.peers()) {
      const s = this.#peers.ensure(p.peerId, p.hubDid, p.addrs)
      // What we already pulled from it survives a restart: status shows it, not zeros, until we reconnect.
      s.watermark = await this.hub.store.getWatermark(p.hubDid)
      s.head = Math.max(s.head, s.watermark)
    }
    try {
      const doc = await this.hub.keys.resolveDocument(this.hub.did)
      for (const a of hubInstancesFromDidDocument(doc)) this.#reconnector.candidate(a)
    } catch (err) {
      this.#log.debug('owner DID document not resolvable', { reason: (err as Error).message })
    }

    const reconnect = (): void => { if (!this.#stopped) this.#reconnector.tick() }
    this.#timers.push(setInterval(reconnect, RECONNECT_TICK_MS))
    reconnect()
    const every = this.#opts.discoveryIntervalMs ?? DISCOVERY_INTERVAL_MS
    if (every > 0 && this.hub.discoveryKey() !== undefined) {
      const discover = (): void => { if (!this.#stopped) void this.#discovery.tick() }
      this.#timers.push(setInterval(discover, every))
      setTimeout(discover, FIRST_DISCOVERY_MS).unref()
    }
    this.#log.info('node started', { peerId: this.hub.peerId, addrs: this.multiaddrs() })
  }

  /** Refuse a peer from now on and drop any connection to it. */
  async block (peerId: string): Promise<void> {
    this.#blocklist.block(peerId)
    await this.libp2p.hangUp(peerIdFromString(peerId)).catch(() => {})
  }

  unblock (peerId: string): void {
    this.#blocklist.unblock(peerId)
    this.#reconnector.retryNow(peerId)
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  /** Issue a one-time invite for a new device of this owner. */
  async createInvite (opts: { ttlMs?: number, role?: HubRole } = {}): Promise<{ invite: string, expiresAt: string }> {
    return await createInvite(this.hub, this.multiaddrs(), opts)
  }

  /**
   * Pull what another owner shares with ours from one of their hubs, now
   * and after every restart (the follow is remembered), into a separate
   * partition readable with `hub.sharedBy(owner)`.
   */
  async follow (owner: string, addrs: string[]): Promise<void> {
    await this.#follows.follow(owner, addrs)
  }

  /** Stop following `owner` (and forget it across restarts); false if it was not followed. */
  async unfollow (owner: string): Promise<boolean> {
    return await this.#follows.unfollow(owner)
  }

  /** Per followed owner: the stream, and the device attestation it presents. */
  followStatus (): FollowStatus[] {
    return this.#follows.status()
  }

  /** Connected peers. */
  peers (): PeerView[] {
    return peerViews(this.libp2p, this.hub.store.registry)
  }

  /** Per known device: connection and replication state. */
  syncStatus (): SyncPeerStatus[] {
    return syncStatus(this.hub.store.registry, this.hub.hubDid, this.#peers)
  }

  /** Total commits served to peers since start (for benchmarks). */
  get servedCommits (): number { return this.#serving.servedCommits }

  /**
   * One sync pass with a peer: connect, pull until caught up, return. Used by
   * `hub sync --peer`. Every commit is verified as in live sync.
   */
  async syncOnce (addr: string, onProgress?: (p: PullProgress) => void): Promise<PullResult & { peer: string }> {
    return await this.#replication.syncOnce(addr, onProgress)
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const t of this.#timers) clearInterval(t)
    for (const s of this.#peers.values()) s.replicator?.abort()
    this.#follows.stop()
    this.#attestations.stop()
    try {
      await this.libp2p.stop()
    } catch (err) {
      throw new HubError('internal', `stopping the node failed: ${(err as Error).message}`)
    }
    this.#log.info('node stopped')
  }

  // ------------------------------------------------------------ peer lifecycle

  #isDevice (hubDid: string): boolean {
    return hubDid !== this.hub.hubDid && this.hub.store.registry.device(hubDid) !== undefined
  }

  /** A peer identified itself: remember the addresses of our devices across restarts. */
  async #learn (peerId: PeerId, addrs: string[]): Promise<void> {
    let hubDid: string
    try { hubDid = hubDidOfPeer(peerId) } catch { return }
    if (!this.#isDevice(hubDid)) return
    const s = this.#peers.ensure(peerId.toString(), hubDid, addrs)
    try {
      await this.hub.local.rememberPeer({ peerId: s.peerId, hubDid, addrs: s.addrs, lastSeen: new Date().toISOString() })
    } catch (err) {
      // The connection is fine; only reconnecting after a restart is at risk.
      this.#log.warn('cannot remember a device\'s addresses: after a restart it is found only by discovery or its own dial', { peer: hubDid, reason: (err as Error).message })
    }
  }

  #onConnect (peerId: PeerId): void {
    let hubDid: string
    try { hubDid = hubDidOfPeer(peerId) } catch { return }
    const s = this.#peers.ensure(peerId.toString(), hubDid)
    s.connected = true
    this.#reconnector.connected(s.peerId)
    // Only proven devices of our owner are pulled from: a peer we do not know
    // as one gets nothing pulled (it could serve anything). A device paired
    // after us through another device makes itself known by presenting its
    // owner-signed authorization when it pulls from us (see SyncAccessPolicy);
    // from then on it is a device and #onPermissionsChanged starts pulling.
    if (this.#isDevice(hubDid)) this.#replication.start(s)
    // A peer the operator named (--bootstrap, network.bootstrap) that we do
    // not know yet: tell it who we are, so that it can tell us (a restored
    // owner hub starts with no devices in its store).
    else if (this.#bootstrapPeers.has(peerId.toString())) void this.#replication.introduce(s)
  }

  #onDisconnect (peerId: PeerId): void {
    const s = this.#peers.get(peerId.toString())
    if (s === undefined) return
    s.connected = false
    s.replicator?.abort()
    // Apps and strangers come and go: keep state only for devices and dial targets,
    // or every peer id ever seen would stay in memory.
    if (!this.#isDevice(s.hubDid) && s.addrs.length === 0) this.#peers.delete(peerId.toString())
    if (!this.#isDevice(s.hubDid)) void this.libp2p.peerStore.delete(peerId).catch(() => {})
  }

  #onPermissionsChanged (): void {
    this.#blocklist.syncRevocations(this.hub.store.registry, this.hub.hubDid)
    for (const s of this.#peers.values()) {
      if (!s.connected) continue
      if (this.#isDevice(s.hubDid)) {
        this.#replication.start(s)
      } else if (this.#blocklist.isRevoked(s.peerId)) {
        // A revoked device: stop pulling from it and hang up (the gater refuses it from now on).
        // Other peers (apps, other owners' hubs) are not devices and keep their connections.
        s.replicator?.abort()
        this.#log.info('device revoked; disconnecting', { peer: s.hubDid })
        // Its streams first send it the revocation (sync/server.ts); hang up once they have.
        void this.#serving.ended(s.hubDid, REVOCATION_NOTICE_MS)
          .then(async () => { await this.libp2p.hangUp(peerIdFromString(s.peerId)) })
          .catch(() => {})
      }
    }
  }

  /** One `Devices.attest` request to one of our owner's hubs, over the injected request protocol. */
  async #askAttestation (peerId: string, lifetimeS: number): Promise<string> {
    const ask = this.#opts.askAttestation
    if (ask === undefined) throw new HubError('unavailable', 'this node was started without the request protocol: it cannot ask for a device attestation')
    const signal = AbortSignal.timeout(ASK_TIMEOUT_MS)
    const stream = await this.libp2p.dialProtocol(peerIdFromString(peerId), REQUEST_PROTOCOL, { signal })
    return await ask(stream, lifetimeS, signal)
  }
}
