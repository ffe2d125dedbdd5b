/**
 * A hosting hub on the network (issue 17): ONE libp2p node — one key, one
 * peer id, one set of addresses — serving every owner in HostedOwners.
 * What a single-owner blind hub runs once (sync serving under the access
 * policy, replication from the owner's devices, the request protocol), it
 * runs here per owner, chosen by what each stream names:
 *  - a sync pull names its tenant: served from that owner's store under
 *    that owner's policy; a tenant not hosted gets the very refusal an
 *    unauthorized peer gets (sync/server.ts), so asking reveals nothing;
 *  - a connecting peer that is a device of a hosted owner is pulled from
 *    into that owner's store (its key is its own: at most one owner);
 *  - a request token names its owner: request/hosting-router.ts (injected,
 *    request/ sits above net/) routes it, or refuses as a single-owner hub
 *    refuses another owner's token.
 * No DHT announcement is made (a blind hub has no tenant secret, so it has
 * no discovery key: the same as a single-owner blind hub). Pairing is
 * served by no one here: the host redeems owners' invites (addOwner).
 * docs/architecture.md "Hosting".
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { parseCommit, verifyCommit, type VerifiedCommit } from '../../commits/commit.js'
import { AlreadyExistsError, AuthenticationError, HubError, toHubError } from '../../errors.js'
import { SerialQueue } from '../../serial.js'
import type { AuditEntry } from '../../store/audit.js'
import type { IngestResult, TenantStore } from '../../store/tenant-store.js'
import type { Ed25519KeyPair } from '../../identity/keys.js'
import { silentLogger, type Logger } from '../../log.js'
import { MAX_INBOUND_REQUEST_STREAMS, MAX_INBOUND_SYNC_STREAMS, RECONNECT_MIN_MS, REQUEST_PROTOCOL, SYNC_PROTOCOL } from '../constants.js'
import { createHubLibp2p, hubDidOfPeer, type HubLibp2p } from '../node.js'
import { decodeInvite, redeemInvite } from '../pair.js'
import { PeerTable, type PeerState } from '../peers.js'
import { Replication } from '../replication.js'
import { SyncAccessPolicy } from '../sync-access.js'
import { SyncServing, type ServedTenant } from '../sync-serving.js'
import type { HostingCluster } from './cluster.js'
import { errorResult, resultError, type InboxItem, type InboxResult } from './inbox.js'
import { HostedOwners, partitionOf, withFields, type HostedOwner, type Quotas } from './owners.js'

export interface HostingNodeOptions {
  /** Multiaddrs to listen on. Default: loopback TCP on an OS-chosen port. */
  listen?: string[]
  logger?: Logger
  /** Serve one inbound request stream (request/hosting-router.ts through compose.ts); without it the protocol is not served. */
  requests?: (stream: Stream, remotePeer: string) => Promise<void>
  reconnectMinMs?: number
  /**
   * Several processes on one PostgreSQL (cluster.ts; the same one HostedOwners
   * was opened with): writes of owners held elsewhere are forwarded, those
   * owners followed, forwarded writes of owners held here performed.
   */
  cluster?: HostingCluster
  /** Handle a request token forwarded by another process for `owner` (request/handler.ts, injected by compose.ts). */
  forwardedRequest?: (owner: HostedOwner, jws: string) => Promise<unknown>
  /** Connections held at once (default {@link HOSTING_MAX_CONNECTIONS}); past it libp2p prunes the least valuable. */
  maxConnections?: number
}

/**
 * A hosting hub holds one connection per online device of every owner, so
 * libp2p's default of 300 (sized for one owner's hub) would prune devices
 * of a few hundred owners in a loop: each pruned device reconnects and
 * pushes out another. 8,192 keeps well inside a typical 65,536 open-file
 * limit (each connection is one socket); raise both together for more.
 */
export const HOSTING_MAX_CONNECTIONS = 8192
/** Inbound handshakes in progress at once: many devices reconnect together after a take-over or restart (libp2p's default is 10). */
export const HOSTING_MAX_PENDING_CONNECTIONS = 128

/** Per owner: counters for metrics. */
export interface OwnerCounters { requests: number, refusedRequests: number, servedCommits: number }

interface OwnerNet {
  owner: HostedOwner
  log: Logger
  peers: PeerTable
  replication: Replication
  served: ServedTenant
  counters: OwnerCounters
  off: () => void
}

export interface OwnerMetrics {
  owner: string
  objects: number
  bytes: number
  requests: number
  refusedRequests: number
  servedCommits: number
  /** Per connected device: feed entries it has that we have not pulled yet (its head minus our watermark). */
  syncLag: number
  devicesConnected: number
}

export class HostingNode {
  readonly owners: HostedOwners
  readonly libp2p: HubLibp2p
  readonly hubDid: string
  readonly #log: Logger
  readonly #nets = new Map<string, OwnerNet>()
  readonly #serving: SyncServing
  readonly #minBackoffMs: number
  readonly #cluster: HostingCluster | undefined
  readonly #forwardedRequest: HostingNodeOptions['forwardedRequest']
  /** Follow rounds and shard catch-ups, one at a time: a follow must never move a store that has just become writable here. */
  readonly #coord = new SerialQueue()
  #followRound = 0
  #stopped = false

  private constructor (owners: HostedOwners, libp2p: HubLibp2p, hubDid: string, opts: HostingNodeOptions, log: Logger) {
    this.owners = owners
    this.libp2p = libp2p
    this.hubDid = hubDid
    this.#log = log
    this.#minBackoffMs = opts.reconnectMinMs ?? RECONNECT_MIN_MS
    this.#cluster = opts.cluster
    this.#forwardedRequest = opts.forwardedRequest
    this.#serving = new SyncServing({
      resolve: tenant => {
        const o = this.owners.get(tenant)
        return o === undefined ? undefined : this.#net(o).served
      },
      log
    })
  }

  static async start (owners: HostedOwners, hostKey: Ed25519KeyPair, opts: HostingNodeOptions = {}): Promise<HostingNode> {
    const log = (opts.logger ?? silentLogger).child('hosting')
    const libp2p = await createHubLibp2p(hostKey, opts.listen ?? ['/ip4/127.0.0.1/tcp/0'], {
      maxConnections: opts.maxConnections ?? HOSTING_MAX_CONNECTIONS,
      maxIncomingPendingConnections: HOSTING_MAX_PENDING_CONNECTIONS
    })
    const node = new HostingNode(owners, libp2p, hostKey.did, opts, log)
    await node.#init(opts)
    return node
  }

  async #init (opts: HostingNodeOptions): Promise<void> {
    const lp = this.libp2p
    await lp.handle(SYNC_PROTOCOL, this.#serving.handle, { maxInboundStreams: MAX_INBOUND_SYNC_STREAMS })
    const requests = opts.requests
    if (requests !== undefined) {
      await lp.handle(REQUEST_PROTOCOL, async (stream, connection) => { await requests(stream, connection.remotePeer.toString()) }, { maxInboundStreams: MAX_INBOUND_REQUEST_STREAMS })
    }
    lp.addEventListener('peer:connect', evt => { this.#onConnect(evt.detail) })
    lp.addEventListener('peer:disconnect', evt => { this.#onDisconnect(evt.detail) })
    lp.addEventListener('peer:identify', evt => {
      const { peerId, listenAddrs } = evt.detail
      void this.#learn(peerId, listenAddrs.map(a => a.toString()))
    })
    for (const o of this.owners.all()) {
      this.#net(o)
      // The devices we know: dial them once (they dial us too: an always-on host is what they reconnect to).
      for (const p of await o.hub.local.peers()) void this.#dial(p.peerId, p.addrs)
    }
    this.#cluster?.start({
      catchUp: async shard => { await this.#coord.run(async () => { await this.#catchUp(shard) }) },
      perform: async (owner, item) => await this.#perform(owner, item),
      follow: async held => { await this.#coord.run(async () => { await this.#follow(held) }) }
    })
    this.#log.info('hosting node started', { peerId: lp.peerId.toString(), owners: this.owners.size, addrs: this.multiaddrs() })
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  /** The counters of `owner` (for the request router and metrics), if hosted. */
  counters (owner: string): OwnerCounters | undefined {
    const o = this.owners.get(owner)
    return o === undefined ? undefined : this.#net(o).counters
  }

  /**
   * Host the owner whose device issued `inviteText` (`hub device invite
   * --role blind` on that device): redeem it from this node as a blind
   * device of that owner, then serve the owner. An owner already hosted is
   * refused before the invite is spent.
   */
  async addOwner (inviteText: string, quotas?: Quotas): Promise<HostedOwner> {
    const inv = decodeInvite(inviteText)
    if (Date.now() >= inv.exp) throw new AuthenticationError('invite has expired')
    if (this.owners.get(inv.owner) !== undefined) throw new AlreadyExistsError(`owner ${inv.owner} is already hosted here`, { reason: 'owner_hosted' })
    const welcome = await redeemInvite(this.libp2p, inv, { role: 'blind', name: 'hosting hub' })
    const owner = await this.owners.add(welcome, quotas)
    this.#net(owner)
    // The inviting device may have tried to pull from us before we hosted its owner (and been
    // refused, which ends its replicator): reconnect, so both sides start pulling afresh.
    const inviter = peerIdFromString(inv.peer)
    await this.libp2p.hangUp(inviter).catch(() => {})
    await this.#dial(inv.peer, welcome.peers.flatMap(p => p.addrs))
    for (const conn of this.libp2p.getConnections()) this.#onConnect(conn.remotePeer)
    this.#log.info('owner added', { tenant: owner.record.owner })
    return owner
  }

  /** Stop hosting `owner`: its replicators stop, its devices are hung up on, its partition is deleted. */
  async removeOwner (owner: string): Promise<number> {
    const net = this.#nets.get(owner)
    if (net !== undefined) {
      this.#nets.delete(owner)
      net.off()
      for (const s of net.peers.values()) {
        s.replicator?.abort()
        if (s.connected) await this.libp2p.hangUp(peerIdFromString(s.peerId)).catch(() => {})
      }
    }
    const n = await this.owners.remove(owner)
    this.#log.info('owner removed', { tenant: owner, keysDeleted: n })
    return n
  }

  metrics (): OwnerMetrics[] {
    return this.owners.all().map(o => {
      const net = this.#net(o)
      const peers = [...net.peers.values()].filter(s => s.connected)
      return {
        owner: o.record.owner,
        ...o.quota.usage,
        ...net.counters,
        syncLag: peers.reduce((n, s) => n + Math.max(0, s.head - s.watermark), 0),
        devicesConnected: peers.length
      }
    })
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const net of this.#nets.values()) {
      net.off()
      for (const s of net.peers.values()) s.replicator?.abort()
    }
    try {
      await this.libp2p.stop()
    } catch (err) {
      throw new HubError('internal', `stopping the hosting node failed: ${(err as Error).message}`)
    } finally {
      await this.#cluster?.stop()
    }
    this.#log.info('hosting node stopped')
  }

  /** Append to `owner`'s audit log: here if this process writes the owner, else through its holder (several processes). */
  async audit (owner: HostedOwner, entry: Omit<AuditEntry, 'seq' | 'time'>): Promise<void> {
    const cluster = this.#cluster
    if (cluster === undefined || cluster.holds(owner.record.owner)) { await owner.hub.audit.append(entry); return }
    await cluster.forward(owner.record.owner, { kind: 'audit', entry }, { wait: false })
  }

  /** Whether a request for `owner` must be forwarded to another process (it holds the owner's writes), and how. */
  forwarder (owner: string): ((jws: string) => Promise<unknown>) | undefined {
    const cluster = this.#cluster
    if (cluster === undefined || cluster.holds(owner)) return undefined
    return async jws => {
      const r = await cluster.forward(owner, { kind: 'request', jws })
      if (!r.ok) throw resultError(r.error)
      return r.value
    }
  }

  // ------------------------------------------------------ several processes

  /** Our shard `shard` was just taken: its open owners re-read what the previous holder wrote, before any write of ours. */
  async #catchUp (shard: number): Promise<void> {
    const cluster = this.#cluster as HostingCluster
    for (const o of this.owners.all()) {
      if (cluster.shardOf(o.record.owner) !== shard) continue
      await o.hub.store.idle()
      await o.hub.store.follow()
      // Tokens the previous holder accepted are on disk: read them before this process accepts any for the owner.
      o.hub.replay.reload()
      o.hub.dcpReplay.reload()
      await o.quota.recount()
    }
  }

  /** One follow round: owners added or removed elsewhere; the feed heads of owners held elsewhere, one statement for all. */
  async #follow (held: (owner: string) => boolean): Promise<void> {
    const cluster = this.#cluster as HostingCluster
    if (this.#followRound++ % 4 === 0) {
      const { opened, closed } = await this.owners.refresh()
      for (const did of closed) this.#dropNet(did)
      for (const did of opened) {
        const o = this.owners.get(did)
        if (o === undefined) continue
        this.#net(o)
        await this.#reconnectDevices(o)
      }
    }
    const followed = this.owners.all().filter(o => !held(o.record.owner))
    if (followed.length === 0) return
    const prefixes = followed.map(o => partitionOf(o.record.owner) + o.hub.store.layout.feedPrefix())
    const last = await cluster.kv.lastKeys(prefixes)
    let devicesChanged = false
    for (const [i, o] of followed.entries()) {
      const store = o.hub.store
      const key = last[i]
      const head = key === undefined ? 0 : Number(key.slice((prefixes[i] as string).length))
      if (head === store.durableSeq && head === store.seq) continue
      if (held(o.record.owner)) continue
      const version = store.registry.version
      const before = store.durableSeq
      await store.follow(head)
      if (store.registry.version !== version) devicesChanged = true
      if (head > before) await this.#announce(o, before, head)
    }
    if (devicesChanged) for (const conn of this.libp2p.getConnections()) this.#onConnect(conn.remotePeer)
  }

  /**
   * The feed entries (after, head] another process wrote, told to the
   * owner's commit listeners as the holder's store tells its own on each
   * write: a subscription served here (request/server.ts) sees writes made
   * through any process, a follow round after the holder's commit, and a
   * revocation among them ends it. Read in one feed scan and one envelope
   * read; each object's meta as it is now (what a subscriber is sent).
   */
  async #announce (o: HostedOwner, after: number, head: number): Promise<void> {
    const store = o.hub.store
    const entries: Array<{ seq: number, commitId: string }> = []
    for await (const e of store.feed(after, head - after)) { if (e.seq > head) break; entries.push(e) }
    const envs = await store.getEnvelopes(entries.map(e => e.commitId))
    for (const [i, e] of entries.entries()) {
      const env = envs[i]
      if (env === undefined) continue
      const commit = parseCommit(env, Infinity)
      const meta = await store.getMeta(commit.objectId)
      if (meta === undefined || store.isQuarantined(commit.id)) continue
      for (const l of o.hub.events.listeners('commit')) {
        try {
          l({ tenant: store.tenant, seq: e.seq, commit, meta })
        } catch (err) {
          this.#log.warn('commit listener failed', { tenant: o.record.owner, reason: (err as Error).message })
        }
      }
    }
  }

  /** Perform a write another process forwarded for `owner` (we hold its shard). */
  async #perform (did: string, item: InboxItem): Promise<InboxResult> {
    const wasOpen = this.owners.get(did) !== undefined
    const owner = await this.owners.ensure(did)
    if (owner === undefined) return errorResult(new HubError('not_found', 'this hub does not serve that owner'))
    if (this.#nets.get(did) === undefined) this.#net(owner)
    if (!wasOpen) await this.#reconnectDevices(owner)
    const hub = owner.hub
    switch (item.kind) {
      case 'ingest': {
        const lookup = async (kid: string): Promise<Uint8Array> => await hub.keys.resolveKey(kid)
        const checked = await Promise.all(item.envelopes.map(async env => {
          try { return await verifyCommit(parseCommit(env, hub.config.limits.maxCommitBytes), lookup) } catch (err) { return toHubError(err) }
        }))
        const verified = checked.filter((c): c is VerifiedCommit => !(c instanceof HubError))
        const allGood = verified.length === checked.length
        const settled = await hub.store.ingestMany(verified, {
          ...(allGood && item.watermark !== undefined ? { watermark: { peer: item.watermark.peer, seq: item.watermark.seq } } : {}),
          ...(typeof item.origin === 'string' ? { origin: item.origin } : {})
        })
        // A commit refused by the fence: this row is not ours any more; the next holder performs it.
        const lost = settled.find(r => r.status === 'rejected' && toHubError(r.reason).details?.reason === 'lease_lost')
        if (lost !== undefined && lost.status === 'rejected') throw lost.reason
        let j = 0
        const results: InboxResult[] = checked.map(c => {
          if (c instanceof HubError) return errorResult(c)
          const r = settled[j++] as PromiseSettledResult<IngestResult>
          return r.status === 'fulfilled' ? { ok: true, value: r.value } : errorResult(toHubError(r.reason))
        })
        return { ok: true, value: results }
      }
      case 'request': {
        const handle = this.#forwardedRequest
        if (handle === undefined) return errorResult(new HubError('unsupported', 'this process does not serve requests'))
        try { return { ok: true, value: await handle(owner, item.jws) } } catch (err) { return errorResult(toHubError(err)) }
      }
      case 'audit':
        await hub.audit.append(item.entry)
        return { ok: true, value: null }
      case 'peer':
        await hub.local.rememberPeer(item.peer)
        return { ok: true, value: null }
    }
  }

  /**
   * An owner added through another process is opened here only at a refresh:
   * a device of it that connected before and pulled was refused as for an
   * unknown tenant, which ends its replicator for this peer id until it
   * reconnects (net/replication.ts). Hang up on it, so it reconnects and
   * both sides pull afresh (as addOwner does for the inviting device).
   */
  async #reconnectDevices (o: HostedOwner): Promise<void> {
    for (const conn of this.libp2p.getConnections()) {
      let hubDid: string
      try { hubDid = hubDidOfPeer(conn.remotePeer) } catch { continue }
      if (hubDid === this.hubDid || o.hub.store.registry.device(hubDid) === undefined) continue
      await this.libp2p.hangUp(conn.remotePeer).catch(() => {})
    }
  }

  #dropNet (did: string): void {
    const net = this.#nets.get(did)
    if (net === undefined) return
    this.#nets.delete(did)
    net.off()
    for (const s of net.peers.values()) s.replicator?.abort()
  }

  // ----------------------------------------------------------------- per owner

  #net (o: HostedOwner): OwnerNet {
    const did = o.record.owner
    const existing = this.#nets.get(did)
    if (existing !== undefined && existing.owner.hub === o.hub) return existing
    const hub = o.hub
    const log = withFields(this.#log, { tenant: did })
    const lookup = async (kid: string): Promise<Uint8Array> => await hub.keys.resolveKey(kid)
    const peers = new PeerTable(this.#minBackoffMs)
    const isDevice = (hubDid: string): boolean => hubDid !== this.hubDid && hub.store.registry.device(hubDid) !== undefined
    const counters: OwnerCounters = { requests: 0, refusedRequests: 0, servedCommits: 0 }
    const cluster = this.#cluster
    const replication = new Replication({
      libp2p: this.libp2p, store: cluster === undefined ? hub.store : forwardingStore(hub.store, did, cluster), owner: did, hubDid: this.hubDid, lookup, maxCommitBytes: hub.config.limits.maxCommitBytes, peers, isDevice, stopped: () => this.#stopped || !this.#nets.has(did), log
    })
    const served: ServedTenant = {
      store: hub.store,
      policy: new SyncAccessPolicy({ lookup, ingest: async proof => await hub.ingest(proof), log }),
      // Forwarded entries get their sequence number from the holder: 0 here (sync serving only awaits the append).
      audit: cluster === undefined ? hub.audit : { append: async e => { await this.audit(o, e); return { ...e, seq: 0, time: new Date().toISOString() } } },
      onServed: n => { counters.servedCommits += n }
    }
    // A device added later (another device of the owner paired) is pulled from once its authorization arrives.
    const onCommit = (e: { commit: { header: { interface: string } } }): void => {
      if (e.commit.header.interface !== 'Permissions') return
      for (const conn of this.libp2p.getConnections()) this.#onConnect(conn.remotePeer)
    }
    hub.events.on('commit', onCommit)
    const net: OwnerNet = { owner: o, log, peers, replication, served, counters, off: () => { hub.events.off('commit', onCommit) } }
    this.#nets.set(did, net)
    return net
  }

  #onConnect (peerId: PeerId): void {
    let hubDid: string
    try { hubDid = hubDidOfPeer(peerId) } catch { return }
    const owner = this.owners.ownerOfDevice(hubDid)
    if (owner === undefined) return
    const net = this.#net(owner)
    const s = net.peers.ensure(peerId.toString(), hubDid)
    s.connected = true
    net.replication.start(s)
  }

  #onDisconnect (peerId: PeerId): void {
    for (const net of this.#nets.values()) {
      const s: PeerState | undefined = net.peers.get(peerId.toString())
      if (s === undefined) continue
      s.connected = false
      s.replicator?.abort()
    }
  }

  async #learn (peerId: PeerId, addrs: string[]): Promise<void> {
    let hubDid: string
    try { hubDid = hubDidOfPeer(peerId) } catch { return }
    const owner = this.owners.ownerOfDevice(hubDid)
    if (owner === undefined) return
    const s = this.#net(owner).peers.ensure(peerId.toString(), hubDid, addrs)
    const peer = { peerId: s.peerId, hubDid, addrs: s.addrs, lastSeen: new Date().toISOString() }
    const cluster = this.#cluster
    const remember = cluster === undefined || cluster.holds(owner.record.owner)
      ? owner.hub.local.rememberPeer(peer)
      : cluster.forward(owner.record.owner, { kind: 'peer', peer }, { wait: false })
    await remember.catch((err: unknown) => {
      this.#log.warn('cannot remember a device\'s addresses', { tenant: owner.record.owner, peer: hubDid, reason: (err as Error).message })
    })
  }

  async #dial (peerId: string, addrs: string[]): Promise<void> {
    if (addrs.length === 0) return
    try {
      await this.libp2p.dial(addrs.map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`)), { signal: AbortSignal.timeout(10_000) })
    } catch (err) {
      this.#log.debug('device not reachable now; it reconnects to us', { peer: peerId, reason: (err as Error).message })
    }
  }
}

/**
 * The store a replicator pulls into, for an owner this process may not
 * write (several processes): everything is the owner's store, except that
 * a page of pulled commits goes to the holder through the database while
 * another process holds the owner — the holder ingests it (and the
 * watermark behind it) in order, and the page's results are its results.
 */
function forwardingStore (store: TenantStore, owner: string, cluster: HostingCluster): TenantStore {
  const ingestMany: TenantStore['ingestMany'] = async (commits, opts = {}) => {
    if (cluster.holds(owner)) return await store.ingestMany(commits, opts)
    // The watermark without the poster's epoch (a count of this process's resets, meaningless at the holder; the hosting hub speaks sync 1.0, which never resets).
    const wm = opts.watermark
    const item: InboxItem = {
      kind: 'ingest',
      envelopes: commits.map(c => JSON.stringify(c.envelope)),
      ...(wm !== undefined ? { watermark: { peer: wm.peer, seq: wm.seq } } : {}),
      ...(opts.origin !== undefined ? { origin: opts.origin } : {})
    }
    const r = await cluster.forward(owner, item)
    if (!r.ok) return commits.map(() => ({ status: 'rejected' as const, reason: resultError(r.error) }))
    return (r.value as InboxResult[]).map(x => x.ok ? { status: 'fulfilled' as const, value: x.value as IngestResult } : { status: 'rejected' as const, reason: resultError(x.error) })
  }
  return new Proxy(store, {
    get (target, prop) {
      if (prop === 'ingestMany') return ingestMany
      const v: unknown = Reflect.get(target, prop, target)
      // Methods run on the store itself (its private fields are not the proxy's).
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}
