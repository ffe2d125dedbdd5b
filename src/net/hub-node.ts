/**
 * A hub on the network. Wires an open Hub to a libp2p node:
 *  - serves /identity-hub/sync/1.0.0 and /identity-hub/pair/1.0.0;
 *  - for every connected peer that is an authorized device of our owner,
 *    runs one live replicator pulling that peer's feed into our store;
 *  - keeps trying to reach known devices (pairing, identify, DHT, DID
 *    document, bootstrap) with exponential backoff;
 *  - drops peers whose authorization is revoked.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString, peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { BadRequestError, HubError, PermissionsRequiredError, toHubError } from '../errors.js'
import type { Hub, HubRole } from '../hub.js'
import type { Logger } from '../log.js'
import { publicKeyFromDidKey, type DidDocument } from '../identity/did-key.js'
import { DISCOVERY_INTERVAL_MS, MAX_INBOUND_REQUEST_STREAMS, MAX_INBOUND_SYNC_STREAMS, PAIR_PROTOCOL, RECONNECT_MAX_MS, RECONNECT_MIN_MS, REQUEST_PROTOCOL, SYNC_PROTOCOL } from './constants.js'
import { MAX_REQUEST_FRAME_BYTES, serveRequests } from '../request/server.js'
import { signRequest, validateServerMessage } from '../request/token.js'
import { ATTESTATION_LIFETIME_S, AttestationError, signAttestation, verifyAttestation } from '../permissions/attestation.js'
import { FrameChannel, remoteError } from './channel.js'
import { createHubLibp2p, hubDidOfPeer, type HubLibp2p } from './node.js'
import { createInvite, servePair } from './pair.js'
import { serveSync, type FeedAccess } from './sync/server.js'
import { ProtocolViolation, pullFrom, type PullProgress, type PullResult } from './sync/client.js'
import type { TenantStore } from '../store/tenant-store.js'
import { parseCommit, verifyCommit, type CommitEnvelope, type CommitHeader } from '../commits/commit.js'
import { authorize, type Grant } from '../permissions/authorize.js'
import { DEVICE_TYPE, GRANT_TYPE } from '../permissions/registry.js'
import { utf8d } from '../identity/encoding.js'
import type { PullMessage } from './messages.js'
import type { FollowRecord } from '../store/local-state.js'
import { asDid, asObjectId } from '../ids.js'

export interface HubNodeOptions {
  /** Multiaddrs to listen on. Default: loopback TCP and WebSockets on OS-chosen ports. */
  listen?: string[]
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
}

/** One followed owner, as `followStatus()` reports it. */
export interface FollowStatus {
  owner: string
  /** Hub DID of the followed owner's hub last reached. */
  peer: string | null
  /** A pull stream is open. */
  streaming: boolean
  lastSync: string | null
  lastError: string | null
  /** This hub's current device attestation (shared by every follow), if it has one; it may have expired. */
  attestation: { issuedAt: string, expiresAt: string } | null
  /** Why the last attempt to obtain or renew it failed, if it did. */
  attestationError: string | null
}

interface FollowState { peer?: string, streaming: boolean, lastSync?: string, lastError?: string }

/** A device attestation this hub holds (ms since the epoch). */
interface Attested { attestation: string, issuedAt: number, expiresAt: number, renewAt: number }

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

interface PeerState {
  peerId: string
  hubDid: string
  addrs: string[]
  connected: boolean
  replicator?: AbortController
  lastSync?: string
  head: number
  watermark: number
  received: number
  bytesReceived: number
  bytesSent: number
  /** Byte counters of the current stream, folded in when it ends. */
  streamBytes: { sent: number, received: number, stored: number }
  lastError?: string
  backoffMs: number
  nextDialAt: number
  dialing: boolean
  /** The peer refused us once: present our DeviceAuthorization (it may not have heard of us). */
  presentProof?: boolean
}

/** The `/p2p/<id>` of a multiaddr, if it names one (multiaddr 13 dropped getPeerId()). */
export function peerIdInAddr (ma: Multiaddr): string | null {
  const c = ma.getComponents().findLast(x => x.name === 'p2p')
  return c?.value ?? null
}

export function peerIdOfHubDid (hubDid: string): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKeyFromDidKey(hubDid)))
}

/** `IdentityHub` service instances listed in a DID document. */
export function hubInstancesFromDidDocument (doc: DidDocument): string[] {
  const out: string[] = []
  for (const s of doc.service ?? []) {
    if (s.type !== 'IdentityHub') continue
    const ep = s.serviceEndpoint as { instances?: unknown } | string | undefined
    if (typeof ep === 'object' && ep !== null && Array.isArray(ep.instances)) {
      for (const i of ep.instances) if (typeof i === 'string') out.push(i)
    }
  }
  return out
}

/** What a blind hub may hold (and so serve): anything but a plaintext Collections commit. */
export function blindMayHold (h: CommitHeader): boolean {
  return h.interface !== 'Collections' || h.enc !== undefined
}

interface ProvenDevice { owner: string, role: HubRole }

export class HubNode {
  readonly hub: Hub
  readonly libp2p: HubLibp2p
  readonly #log: Logger
  readonly #opts: HubNodeOptions
  readonly #peers = new Map<string, PeerState>()
  readonly #bootstrap: Multiaddr[]
  readonly #blocked: Set<string>
  /** Peer ids of revoked devices: part of the blocklist the gater consults. */
  readonly #revoked: Set<string>
  #timers: NodeJS.Timeout[] = []
  #stopped = false
  #servedCommits = 0

  private constructor (hub: Hub, libp2p: HubLibp2p, opts: HubNodeOptions, blocked: Set<string>, revoked: Set<string>) {
    this.#blocked = blocked
    this.#revoked = revoked
    this.hub = hub
    this.libp2p = libp2p
    this.#opts = opts
    this.#log = (opts.logger ?? hub.log).child('net')
    this.#bootstrap = (opts.bootstrap ?? []).map(a => multiaddr(a))
  }

  static async start (hub: Hub, opts: HubNodeOptions = {}): Promise<HubNode> {
    const blocked = new Set(opts.blockedPeers ?? [])
    const revoked = new Set<string>()
    const refused = { has: (id: string) => blocked.has(id) || revoked.has(id) }
    const libp2p = await createHubLibp2p(hub.hubKey, opts.listen ?? [], refused)
    const node = new HubNode(hub, libp2p, opts, blocked, revoked)
    await node.#init()
    return node
  }

  async #init (): Promise<void> {
    const lp = this.libp2p
    await lp.handle(SYNC_PROTOCOL, async (stream, connection) => {
      await serveSync({
        store: tenant => tenant === this.hub.did ? this.hub.store : undefined,
        access: async (store, peer, as) => await this.#access(store, peer, as),
        peerHubDid: c => hubDidOfPeer(c.remotePeer),
        log: this.#log,
        onServed: (peer, n, json) => {
          this.#servedCommits += n
          this.#opts.onServedBatch?.(peer, json)
        },
        onAccess: async (store, peer, as, allowed, reason) => {
          // Our own devices are not audited (they act as the owner); everyone else is.
          if (store.registry.device(peer) !== undefined) return
          // The owner sees why #access refused (the peer only got permissions_required).
          const why = allowed || as === undefined ? undefined : this.#refusals.get(as)
          const detail = [reason, why].filter(x => x !== undefined).join(': ').slice(0, 300)
          await this.hub.audit.append({
            caller: as?.did ?? peer, interface: 'Sync', method: 'pull', target: `hub ${peer}`,
            decision: allowed ? 'allowed' : 'denied', ...(allowed ? {} : { code: 'permissions_required' }), ...(detail !== '' ? { reason: detail } : {})
          })
        }
      }, stream, connection)
    }, { maxInboundStreams: MAX_INBOUND_SYNC_STREAMS })
    await lp.handle(REQUEST_PROTOCOL, async (stream, connection) => {
      await serveRequests(this.hub, this.#log.child('request'), stream, connection.remotePeer.toString())
    }, { maxInboundStreams: MAX_INBOUND_REQUEST_STREAMS })
    await lp.handle(PAIR_PROTOCOL, async (stream, connection) => {
      await servePair({ hub: this.hub, addrs: () => this.multiaddrs(), log: this.#log }, stream, connection)
    }, { maxInboundStreams: 1 })

    lp.addEventListener('peer:connect', evt => { this.#onConnect(evt.detail) })
    lp.addEventListener('peer:disconnect', evt => { this.#onDisconnect(evt.detail) })
    lp.addEventListener('peer:identify', evt => {
      const { peerId, listenAddrs } = evt.detail
      void this.#learn(peerId, listenAddrs.map(a => a.toString()))
    })
    this.hub.events.on('commit', e => {
      if (e.commit.header.interface === 'Permissions') this.#onPermissionsChanged()
    })

    this.#syncRevocations()
    for (const f of await this.hub.local.follows()) this.#startFollow(f)
    // Devices we already know, plus any listed in the owner's DID document.
    for (const p of await this.hub.local.peers()) this.#state(p.peerId, p.hubDid, p.addrs)
    try {
      const doc = await this.hub.keys.resolveDocument(this.hub.did)
      for (const a of hubInstancesFromDidDocument(doc)) this.#candidate(a)
    } catch (err) {
      this.#log.debug('owner DID document not resolvable', { reason: (err as Error).message })
    }

    this.#timers.push(setInterval(() => { void this.#reconnectTick() }, 250))
    void this.#reconnectTick()
    const every = this.#opts.discoveryIntervalMs ?? DISCOVERY_INTERVAL_MS
    if (every > 0 && this.hub.discoveryKey() !== undefined) {
      this.#timers.push(setInterval(() => { void this.#discover() }, every))
      setTimeout(() => { void this.#discover() }, 200).unref()
    }
    this.#log.info('node started', { peerId: this.hub.peerId, addrs: this.multiaddrs() })
  }

  /** Refuse a peer from now on and drop any connection to it. */
  async block (peerId: string): Promise<void> {
    this.#blocked.add(peerId)
    await this.libp2p.hangUp(peerIdFromString(peerId)).catch(() => {})
  }

  unblock (peerId: string): void {
    this.#blocked.delete(peerId)
    const s = this.#peers.get(peerId)
    if (s !== undefined) { s.nextDialAt = 0; s.backoffMs = this.#opts.reconnectMinMs ?? RECONNECT_MIN_MS }
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  /** Issue a one-time invite for a new device of this owner. */
  async createInvite (opts: { ttlMs?: number, role?: HubRole } = {}): Promise<{ invite: string, expiresAt: string }> {
    return await createInvite(this.hub, this.multiaddrs(), opts)
  }

  /**
   * What `peer` may pull from `store`. Our owner's devices get everything.
   * A hub pulling for another owner (`as`, with a valid device attestation
   * of the hub by that owner) gets the commits that owner's live
   * grants let it read — decided by authorize(), like every request — plus
   * the Permissions objects it needs to validate them: device
   * authorizations, and the grants of collections it can read.
   */
  async #access (store: TenantStore, peer: string, as: PullMessage['as']): Promise<FeedAccess | undefined> {
    let device = store.registry.device(peer)
    // A device of our owner we have not heard of yet (paired through another
    // device) proves itself with its owner-signed authorization. Only owner
    // signatures make a device, so storing that commit is safe whoever sends
    // it; a revoked authorization stays revoked (we already hold its delete).
    if (device === undefined && as?.proof !== undefined && as.did === store.tenant) {
      const proof = as.proof
      if (await this.#provenDevice(peer, { did: as.did, proof }) !== undefined) {
        await this.hub.ingest(proof).catch(err => { this.#log.debug('device proof not stored', { peer, reason: (err as Error).message }) })
        device = store.registry.device(peer)
      }
    }
    // A blind hub gets ciphertext and metadata only: never a plaintext Collections commit.
    if (device !== undefined) return device.role === 'blind' ? { all: false, allows: blindMayHold } : { all: true }
    if (as === undefined || as.did === store.tenant) return undefined
    // Another owner's hub proves it is a device of that owner *now*, with a
    // short-lived attestation by that owner — never with its
    // DeviceAuthorization, which never expires and whose revocation this
    // hub would never hear of. Checked on every pull (the server calls us
    // again after each waiting pull), so it lapses mid-stream.
    const grantee = await this.#attestedOwner(peer, as)
    if (grantee === undefined) return undefined
    const owner = store.tenant
    const grants = (): Grant[] => store.registry.liveGrants().filter(g => g.grantee === grantee)
    const canRead = (context: string, type: string, objectId?: string): boolean => authorize({
      caller: asDid(grantee), owner, action: 'read', interface: 'Collections', context, type, ...(objectId !== undefined ? { objectId: asObjectId(objectId) } : {}), now: Date.now()
    }, grants()).allowed
    if (!grants().some(g => g.allow[1] === 'R' && canRead(g.context, g.type, g.objectId))) {
      this.#refusals.set(as, `no live grant lets ${grantee} read`)
      return undefined
    }
    return {
      all: false,
      allows: (h, id) => {
        if (h.interface === 'Permissions') {
          if (h.type === DEVICE_TYPE) return true
          if (h.type !== GRANT_TYPE) return false
          const g = store.registry.liveGrants().find(x => x.id === (h.object_id ?? id))
          return g !== undefined && canRead(g.context, g.type)
        }
        return h.interface === 'Collections' && h.context !== undefined && h.type !== undefined && canRead(h.context, h.type, h.object_id ?? id)
      }
    }
  }

  readonly #proofs = new Map<string, ProvenDevice | undefined>()

  /**
   * What `peer` proves with `as`: a create DeviceAuthorization, signed by
   * `as.did`, naming `peer` as a device of that owner, with its role. Only
   * ever trusted for our own owner, whose revocations we hold.
   */
  async #provenDevice (peer: string, as: { did: string, proof: CommitEnvelope }): Promise<ProvenDevice | undefined> {
    let commit
    try {
      commit = parseCommit(as.proof, 64 * 1024)
    } catch {
      return undefined
    }
    const key = `${peer}|${as.did}|${commit.id}`
    if (this.#proofs.has(key)) return this.#proofs.get(key)
    let result: ProvenDevice | undefined
    try {
      const h = commit.header
      await verifyCommit(commit, async kid => await this.hub.keys.resolveKey(kid))
      const v = JSON.parse(utf8d.decode(commit.payload)) as Record<string, unknown>
      const ok = h.interface === 'Permissions' && h.type === DEVICE_TYPE && h.operation === 'create' && h.commit_strategy === 'lww' &&
        commit.signer === as.did && h.sub === as.did && v.owner === as.did && v.device === peer && (v.role === 'owner-device' || v.role === 'blind')
      result = ok ? { owner: as.did, role: v.role as HubRole } : undefined
    } catch {
      result = undefined
    }
    if (this.#proofs.size > 1000) this.#proofs.clear()
    this.#proofs.set(key, result)
    return result
  }

  /** Why #access refused a pull's `as`, for the audit log (the peer is told only permissions_required). */
  readonly #refusals = new WeakMap<object, string>()

  /**
   * The owner `peer` pulls for, if `as` carries a valid, unexpired device
   * attestation by `as.did` naming `peer` (permissions/attestation.ts).
   * Verified afresh on every pull: nothing is cached, so expiry is exact.
   */
  async #attestedOwner (peer: string, as: NonNullable<PullMessage['as']>): Promise<string | undefined> {
    if (as.attestation === undefined) {
      this.#refusals.set(as, 'no device attestation (a DeviceAuthorization proves nothing to another owner)')
      return undefined
    }
    try {
      return (await verifyAttestation(as.attestation, { owner: as.did, device: peer, lookup: async kid => await this.hub.keys.resolveKey(kid) })).iss
    } catch (err) {
      const e = err instanceof AttestationError ? err : new AttestationError('malformed', (err as Error).message)
      this.#refusals.set(as, `attestation ${e.reason}: ${e.message}`)
      return undefined
    }
  }

  /** Our owner's signed authorization of this hub: the proof we present when pulling for our owner. */
  async #ownProof (): Promise<CommitEnvelope | undefined> {
    const mine = this.hub.store.registry.devices().find(d => d.device === this.hub.hubDid && d.revokedAt === undefined)
    if (mine === undefined) return undefined
    const env = await this.hub.store.getEnvelope(mine.objectId)
    return env === undefined ? undefined : JSON.parse(env) as CommitEnvelope
  }

  /**
   * Pull what another owner shares with ours from one of their hubs, now
   * and after every restart (the follow is remembered), into a separate
   * partition readable with `hub.sharedBy(owner)`.
   */
  async follow (owner: string, addrs: string[]): Promise<void> {
    if (owner === this.hub.did) throw new HubError('bad_request', 'a hub does not follow its own owner: pair it as a device instead')
    const f: FollowRecord = { owner, addrs: [...new Set(addrs)].slice(0, 16) }
    await this.hub.local.putFollow(f)
    this.#startFollow(f)
  }

  readonly #follows = new Map<string, AbortController>()

  #startFollow (f: FollowRecord): void {
    this.#follows.get(f.owner)?.abort()
    const ctrl = new AbortController()
    this.#follows.set(f.owner, ctrl)
    const st: FollowState = { streaming: false }
    this.#followState.set(f.owner, st)
    void (async () => {
      let delay = 250
      while (!ctrl.signal.aborted && !this.#stopped) {
        for (const addr of f.addrs) {
          if (ctrl.signal.aborted || this.#stopped) break
          try {
            // What we present: a fresh device attestation by our owner (our
            // DeviceAuthorization never expires, so another owner's hub must
            // not take it as proof). Renewed in the background while the
            // stream lasts; each pull carries the one current when it is sent.
            await this.#attestation()
            const conn = await this.libp2p.dial(multiaddr(addr), { signal: AbortSignal.any([ctrl.signal, AbortSignal.timeout(10_000)]) })
            const peerHubDid = hubDidOfPeer(conn.remotePeer)
            const stream = await conn.newStream(SYNC_PROTOCOL, { signal: AbortSignal.any([ctrl.signal, AbortSignal.timeout(10_000)]) })
            const s = this.#state(conn.remotePeer.toString(), peerHubDid, [addr])
            s.streamBytes = { sent: 0, received: 0, stored: 0 }
            st.peer = peerHubDid
            st.streaming = true
            await pullFrom(stream, {
              store: await this.hub.tenant(f.owner),
              peer: peerHubDid,
              lookup: async kid => await this.hub.keys.resolveKey(kid),
              maxCommitBytes: this.hub.config.limits.maxCommitBytes,
              live: true,
              signal: ctrl.signal,
              as: this.#followAs(),
              // A stream that delivered a batch was working: its end does not grow the backoff.
              onProgress: p => { this.#progress(s, p); st.lastSync = s.lastSync; delay = 250 }
            })
            delay = 250
          } catch (err) {
            if (ctrl.signal.aborted || this.#stopped) break
            const e = toHubError(err)
            st.lastError = `${e.code}: ${e.message}`
            this.#log.debug('follow stream ended', { owner: f.owner, addr, reason: (err as Error).message })
          } finally {
            st.streaming = false
          }
        }
        await new Promise(resolve => setTimeout(resolve, delay))
        delay = Math.min(delay * 2, 30_000)
      }
    })()
  }

  readonly #followState = new Map<string, FollowState>()

  /** Per followed owner: the stream, and the device attestation it presents. */
  followStatus (): FollowStatus[] {
    const a = this.#attested
    return [...this.#followState.entries()].map(([owner, st]) => ({
      owner,
      peer: st.peer ?? null,
      streaming: st.streaming,
      lastSync: st.lastSync ?? null,
      lastError: st.lastError ?? null,
      attestation: a === undefined ? null : { issuedAt: new Date(a.issuedAt).toISOString(), expiresAt: new Date(a.expiresAt).toISOString() },
      attestationError: this.#attestError ?? null
    }))
  }

  /**
   * The `as` of a follow's pulls. pullFrom serializes it for every pull it
   * sends, so the getter hands each pull the attestation current then.
   */
  #followAs (): { did: string, attestation: string } {
    const current = (): string => this.#attested?.attestation ?? ''
    return { did: this.hub.did, get attestation () { return current() } }
  }

  #attested: Attested | undefined
  #attesting: Promise<Attested> | undefined
  #attestError: string | undefined
  #renewTimer: NodeJS.Timeout | undefined

  /**
   * A device attestation of this hub by our owner: the one held, until half
   * its remaining lifetime (when it was obtained) has passed; then a new one.
   * If renewal fails, the one held is still used until it expires, and
   * renewal is retried meanwhile; after that this throws.
   */
  async #attestation (renew = false): Promise<Attested> {
    const held = this.#attested
    if (!renew && held !== undefined && Date.now() < held.renewAt) return held
    this.#attesting ??= this.#obtainAttestation().finally(() => { this.#attesting = undefined })
    try {
      const a = await this.#attesting
      this.#attested = a
      this.#attestError = undefined
      this.#scheduleRenewal(a.renewAt)
      return a
    } catch (err) {
      const e = toHubError(err)
      this.#attestError = `${e.code}: ${e.message}`
      const now = Date.now()
      const still = this.#attested
      if (still === undefined || now >= still.expiresAt) throw e
      this.#scheduleRenewal(now + Math.min(5000, Math.max(250, (still.expiresAt - now) / 4)))
      return still
    }
  }

  #scheduleRenewal (at: number): void {
    clearTimeout(this.#renewTimer)
    if (this.#stopped || this.#follows.size === 0) return
    this.#renewTimer = setTimeout(() => { void this.#attestation(true).catch(() => {}) }, Math.max(0, at - Date.now()))
    this.#renewTimer.unref()
  }

  /**
   * A new attestation: signed here if this hub holds the owner key and its
   * own authorization is live; otherwise asked, over the request protocol
   * (`Devices.attest`), of each connected live owner device in turn — those
   * without the owner key answer `unavailable`. Verified before it is used.
   */
  async #obtainAttestation (): Promise<Attested> {
    const lifetimeS = this.#opts.attestationLifetimeS ?? ATTESTATION_LIFETIME_S
    const held = async (jws: string): Promise<Attested> => {
      const c = await verifyAttestation(jws, { owner: this.hub.did, device: this.hub.hubDid, lookup: async kid => await this.hub.keys.resolveKey(kid) })
      const now = Date.now()
      return { attestation: jws, issuedAt: c.iat * 1000, expiresAt: c.exp * 1000, renewAt: now + (c.exp * 1000 - now) / 2 }
    }
    const registry = this.hub.store.registry
    if (this.hub.ownerKey !== undefined) {
      if (registry.device(this.hub.hubDid)?.role !== 'owner-device') throw new PermissionsRequiredError('this hub is not a live owner device of its owner')
      return await held(signAttestation(this.hub.ownerKey, { device: this.hub.hubDid, lifetimeS }).attestation)
    }
    const failures: string[] = []
    for (const s of [...this.#peers.values()]) {
      if (!s.connected || s.hubDid === this.hub.hubDid || registry.device(s.hubDid)?.role !== 'owner-device') continue
      try {
        return await held(await this.#askAttestation(s.peerId, Math.min(lifetimeS, ATTESTATION_LIFETIME_S)))
      } catch (err) {
        failures.push(`${s.hubDid}: ${toHubError(err).code}`)
      }
    }
    throw new HubError('unavailable', failures.length === 0
      ? 'no hub of our owner is connected to issue a device attestation'
      : `no hub of our owner issued a device attestation (${failures.join(', ').slice(0, 500)})`)
  }

  /** One `Devices.attest` request to one of our owner's hubs, signed with our hub key. */
  async #askAttestation (peerId: string, lifetimeS: number): Promise<string> {
    const signal = AbortSignal.timeout(10_000)
    const stream = await this.libp2p.dialProtocol(peerIdFromString(peerId), REQUEST_PROTOCOL, { signal })
    const ch = new FrameChannel(stream, MAX_REQUEST_FRAME_BYTES)
    try {
      await ch.send({ t: 'request', id: 1, jws: signRequest(this.hub.hubKey, this.hub.did, 'Devices', 'attest', { lifetimeS }) }, signal)
      const reply = await ch.receive(validateServerMessage, signal)
      if (reply === null) throw new HubError('unavailable', 'the hub closed the request stream')
      if (reply.t === 'error') throw remoteError(reply)
      const result = reply.t === 'response' && reply.id === 1 ? reply.result as { attestation?: unknown } | null : undefined
      if (typeof result?.attestation !== 'string') throw new BadRequestError('the hub did not answer Devices.attest with an attestation')
      return result.attestation
    } finally {
      await ch.close().catch(() => { ch.abort(new Error('closing')) })
    }
  }

  #isDevice (hubDid: string): boolean {
    return hubDid !== this.hub.hubDid && this.hub.store.registry.device(hubDid) !== undefined
  }

  #state (peerId: string, hubDid: string, addrs: string[] = []): PeerState {
    let s = this.#peers.get(peerId)
    if (s === undefined) {
      s = { peerId, hubDid, addrs: [], connected: false, head: 0, watermark: 0, received: 0, bytesReceived: 0, bytesSent: 0, streamBytes: { sent: 0, received: 0, stored: 0 }, backoffMs: this.#opts.reconnectMinMs ?? RECONNECT_MIN_MS, nextDialAt: 0, dialing: false }
      this.#peers.set(peerId, s)
    }
    for (const a of addrs) if (!s.addrs.includes(a)) s.addrs.push(a)
    return s
  }

  /** An address of a peer whose id we may not know yet (bootstrap, DID document). */
  #candidate (addr: string): void {
    const ma = multiaddr(addr)
    const id = peerIdInAddr(ma)
    if (id === null) {
      if (!this.#bootstrap.some(b => b.equals(ma))) this.#bootstrap.push(ma)
      return
    }
    if (id === this.hub.peerId) return
    this.#state(id, hubDidOfPeer(peerIdFromString(id)), [addr])
  }

  async #learn (peerId: PeerId, addrs: string[]): Promise<void> {
    let hubDid: string
    try { hubDid = hubDidOfPeer(peerId) } catch { return }
    if (!this.#isDevice(hubDid)) return
    const s = this.#state(peerId.toString(), hubDid, addrs)
    await this.hub.local.rememberPeer({ peerId: s.peerId, hubDid, addrs: s.addrs, lastSeen: new Date().toISOString() }).catch(() => {})
  }

  #onConnect (peerId: PeerId): void {
    let hubDid: string
    try { hubDid = hubDidOfPeer(peerId) } catch { return }
    const s = this.#state(peerId.toString(), hubDid)
    s.connected = true
    s.backoffMs = this.#opts.reconnectMinMs ?? RECONNECT_MIN_MS
    // Only proven devices of our owner are pulled from: a peer we do not know
    // as one gets nothing pulled (it could serve anything). A device paired
    // after us through another device makes itself known by presenting its
    // owner-signed authorization when it pulls from us (see #access); from
    // then on it is a device and #onPermissionsChanged starts pulling.
    if (this.#isDevice(hubDid)) this.#startReplicator(s)
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

  /** Revoked devices may not connect at all (the gater refuses them), unless authorized again. */
  #syncRevocations (): void {
    for (const d of this.hub.store.registry.devices()) {
      if (d.device === this.hub.hubDid) continue
      const id = peerIdOfHubDid(d.device).toString()
      if (this.hub.store.registry.device(d.device) === undefined) this.#revoked.add(id)
      else this.#revoked.delete(id)
    }
  }

  #onPermissionsChanged (): void {
    this.#syncRevocations()
    for (const s of this.#peers.values()) {
      if (!s.connected) continue
      if (this.#isDevice(s.hubDid)) {
        this.#startReplicator(s)
      } else if (this.#revoked.has(s.peerId)) {
        // A revoked device: stop pulling from it and hang up (the gater refuses it from now on).
        // Other peers (apps, other owners' hubs) are not devices and keep their connections.
        s.replicator?.abort()
        this.#log.info('device revoked; disconnecting', { peer: s.hubDid })
        void this.libp2p.hangUp(peerIdFromString(s.peerId)).catch(() => {})
      }
    }
  }

  #startReplicator (s: PeerState): void {
    // An aborted replicator may still be unwinding (e.g. a dial in flight
    // when its connection dropped); it must not block a new one.
    if ((s.replicator !== undefined && !s.replicator.signal.aborted) || this.#stopped) return
    const ctrl = new AbortController()
    s.replicator = ctrl
    void (async () => {
      let delay = 200
      while (!ctrl.signal.aborted && !this.#stopped && s.connected && this.#isDevice(s.hubDid)) {
        try {
          const stream = await this.libp2p.dialProtocol(peerIdFromString(s.peerId), SYNC_PROTOCOL, { signal: AbortSignal.any([ctrl.signal, AbortSignal.timeout(10_000)]) })
          s.streamBytes = { sent: 0, received: 0, stored: 0 }
          // Our own authorization, so a device that has not heard of us yet
          // learns who we are — only after it refused us once: a device that
          // knows us (the usual case, every reconnect) need not read 1 KiB.
          const proof = s.presentProof === true ? await this.#ownProof() : undefined
          const role = this.hub.store.registry.device(s.hubDid)?.role
          await pullFrom(stream, {
            ...(proof !== undefined ? { as: { did: this.hub.did, proof } } : {}),
            // A blind peer can only hold what sync gives a blind hub; anything else it serves is forged or stolen.
            ...(role === 'blind' ? { accepts: blindMayHold } : {}),
            store: this.hub.store,
            peer: s.hubDid,
            lookup: async kid => await this.hub.keys.resolveKey(kid),
            maxCommitBytes: this.hub.config.limits.maxCommitBytes,
            live: true,
            signal: ctrl.signal,
            onProgress: p => this.#progress(s, p)
          })
          delay = 200
          s.presentProof = false
        } catch (err) {
          if (ctrl.signal.aborted || this.#stopped) break
          const e = toHubError(err)
          s.lastError = `${e.code}: ${e.message}`
          if (err instanceof ProtocolViolation) {
            this.#log.warn('peer sent invalid data; disconnecting', { peer: s.hubDid, code: e.code, reason: e.message })
            await this.libp2p.hangUp(peerIdFromString(s.peerId)).catch(() => {})
            break
          }
          if (e.code === 'permissions_required' && s.presentProof !== true && await this.#ownProof() !== undefined) {
            s.presentProof = true
            continue // at once, with the proof
          }
          if (e.code === 'permissions_required' || e.code === 'not_found' || (err as Error).name === 'UnsupportedProtocolError') {
            this.#log.debug('peer does not sync with us', { peer: s.hubDid, code: e.code })
            break
          }
          this.#log.debug('sync stream ended; retrying', { peer: s.hubDid, reason: e.message })
        }
        await new Promise(resolve => setTimeout(resolve, delay))
        delay = Math.min(delay * 2, 10_000)
      }
      if (s.replicator === ctrl) delete s.replicator
    })()
  }

  /** Fold a stream's running totals into the peer's counters (each stream reports totals since it opened). */
  #progress (s: PeerState, p: PullProgress): void {
    s.bytesReceived += p.bytesReceived - s.streamBytes.received
    s.bytesSent += p.bytesSent - s.streamBytes.sent
    s.received += p.stored - s.streamBytes.stored
    s.streamBytes = { sent: p.bytesSent, received: p.bytesReceived, stored: p.stored }
    s.lastSync = new Date().toISOString()
    s.head = p.head
    s.watermark = p.watermark
  }

  async #reconnectTick (): Promise<void> {
    if (this.#stopped) return
    const now = Date.now()
    for (const s of this.#peers.values()) {
      if (s.connected || s.dialing || now < s.nextDialAt || s.addrs.length === 0 || this.#revoked.has(s.peerId) || this.#blocked.has(s.peerId)) continue
      if (!this.#isDevice(s.hubDid) && !this.#bootstrap.some(b => peerIdInAddr(b) === s.peerId)) continue
      s.dialing = true
      const addrs = s.addrs.map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${s.peerId}`))
      this.libp2p.dial(addrs, { signal: AbortSignal.timeout(5000) }).then(() => {
        s.backoffMs = this.#opts.reconnectMinMs ?? RECONNECT_MIN_MS
      }, (err: Error) => {
        s.lastError = `unreachable: ${err.message}`
        s.nextDialAt = Date.now() + s.backoffMs
        s.backoffMs = Math.min(s.backoffMs * 2, this.#opts.reconnectMaxMs ?? RECONNECT_MAX_MS)
      }).finally(() => { s.dialing = false })
    }
    for (const b of this.#bootstrap) {
      const id = peerIdInAddr(b)
      if (id !== null && this.libp2p.getConnections(peerIdFromString(id)).length > 0) continue
      const key = `bootstrap:${b.toString()}`
      const s = this.#peers.get(key) ?? this.#state(key, '', [])
      if (s.dialing || now < s.nextDialAt) continue
      s.dialing = true
      this.libp2p.dial(b, { signal: AbortSignal.timeout(5000) }).then(conn => {
        s.backoffMs = this.#opts.reconnectMinMs ?? RECONNECT_MIN_MS
        s.nextDialAt = Date.now() + (this.#opts.reconnectMaxMs ?? RECONNECT_MAX_MS)
        this.#state(conn.remotePeer.toString(), hubDidOfPeer(conn.remotePeer), [b.toString()])
      }, () => {
        s.nextDialAt = Date.now() + s.backoffMs
        s.backoffMs = Math.min(s.backoffMs * 2, this.#opts.reconnectMaxMs ?? RECONNECT_MAX_MS)
      }).finally(() => { s.dialing = false })
    }
  }

  /** Announce ourselves under the owner's private DHT key and look for the others. */
  async #discover (): Promise<void> {
    const key = this.hub.discoveryKey()
    if (key === undefined || this.#stopped || this.libp2p.getConnections().length === 0) return
    const cid = CID.createV1(raw.code, await sha256.digest(key))
    try {
      await this.libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(10_000) })
    } catch (err) {
      this.#log.debug('DHT provide failed', { reason: (err as Error).message })
    }
    try {
      for await (const p of this.libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(10_000) })) {
        if (p.id.equals(this.libp2p.peerId)) continue
        let hubDid: string
        try { hubDid = hubDidOfPeer(p.id) } catch { continue }
        const s = this.#state(p.id.toString(), hubDid, p.multiaddrs.map(a => a.toString()))
        if (!s.connected) s.nextDialAt = 0
      }
    } catch (err) {
      this.#log.debug('DHT lookup failed', { reason: (err as Error).message })
    }
  }

  /** Connected peers. */
  peers (): PeerView[] {
    const out = new Map<string, PeerView>()
    for (const c of this.libp2p.getConnections()) {
      const id = c.remotePeer.toString()
      let hubDid = ''
      try { hubDid = hubDidOfPeer(c.remotePeer) } catch { /* not an Ed25519 peer */ }
      const v = out.get(id) ?? { peerId: id, hubDid, addrs: [], device: this.hub.store.registry.device(hubDid)?.role ?? null }
      v.addrs.push(c.remoteAddr.toString())
      out.set(id, v)
    }
    return [...out.values()]
  }

  /** Per known device: connection and replication state. */
  syncStatus (): SyncPeerStatus[] {
    const out: SyncPeerStatus[] = []
    for (const d of this.hub.store.registry.devices()) {
      if (d.device === this.hub.hubDid || d.revokedAt !== undefined) continue
      const peerId = peerIdOfHubDid(d.device).toString()
      const s = this.#peers.get(peerId)
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

  /** Total commits served to peers since start (for benchmarks). */
  get servedCommits (): number { return this.#servedCommits }

  /**
   * One sync pass with a peer: connect, pull until caught up, return. Used by
   * `hub sync --peer`. Every commit is verified as in live sync.
   */
  async syncOnce (addr: string, onProgress?: (p: PullProgress) => void): Promise<PullResult & { peer: string }> {
    const ma = multiaddr(addr)
    const conn = await this.libp2p.dial(ma, { signal: AbortSignal.timeout(10_000) })
    const hubDid = hubDidOfPeer(conn.remotePeer)
    // The same rule as live replication: only a proven device of our owner is pulled from.
    const role = this.hub.store.registry.device(hubDid)?.role
    if (role === undefined || hubDid === this.hub.hubDid) throw new HubError('permissions_required', 'that peer is not a device of this owner (pair it first)')
    const pull = async (proof: CommitEnvelope | undefined): Promise<PullResult> => await pullFrom(await conn.newStream(SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) }), {
      ...(proof !== undefined ? { as: { did: this.hub.did, proof } } : {}),
      ...(role === 'blind' ? { accepts: blindMayHold } : {}),
      store: this.hub.store,
      peer: hubDid,
      lookup: async kid => await this.hub.keys.resolveKey(kid),
      maxCommitBytes: this.hub.config.limits.maxCommitBytes,
      live: false,
      ...(onProgress !== undefined ? { onProgress } : {})
    })
    // As in live replication: our authorization only if the peer has not heard of us.
    let result: PullResult
    try {
      result = await pull(undefined)
    } catch (err) {
      const proof = toHubError(err).code === 'permissions_required' ? await this.#ownProof() : undefined
      if (proof === undefined) throw err
      result = await pull(proof)
    }
    const st = this.#state(conn.remotePeer.toString(), hubDid)
    st.streamBytes = { sent: 0, received: 0, stored: 0 }
    this.#progress(st, result)
    st.streamBytes = { sent: 0, received: 0, stored: 0 }
    return { ...result, peer: hubDid }
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const t of this.#timers) clearInterval(t)
    for (const s of this.#peers.values()) s.replicator?.abort()
    for (const c of this.#follows.values()) c.abort()
    clearTimeout(this.#renewTimer)
    try {
      await this.libp2p.stop()
    } catch (err) {
      throw new HubError('internal', `stopping the node failed: ${(err as Error).message}`)
    }
    this.#log.info('node stopped')
  }
}
