/**
 * Replication from our owner's other devices: per connected device, one
 * live puller (sync/client.ts) that reopens its stream with backoff until
 * the peer disconnects, stops being a device, or breaks the protocol; and
 * the one-shot pass `hub sync --peer` runs.
 *
 * Our DeviceAuthorization (the proof a device that has not heard of us
 * needs) is presented only after the peer refused us, and pullFrom sends
 * it only with the first pull of that stream: a device that knows us —
 * the usual case, every reconnect — never reads that 1 KiB.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { CommitEnvelope, KeyLookup } from '../commits/commit.js'
import { HubError, toHubError } from '../errors.js'
import type { Logger } from '../log.js'
import type { TenantStore } from '../store/tenant-store.js'
import { SYNC_PROTOCOL, SYNC_PROTOCOLS } from './constants.js'
import { hubDidOfPeer, type HubLibp2p } from './node.js'
import { foldProgress, newStream, type PeerState, type PeerTable } from './peers.js'
import { blindMayHold } from './sync-access.js'
import { ProtocolViolation, introduce, pullFrom, type PullOptions, type PullProgress, type PullResult, type Puller } from './sync/client.js'
import { REFUSED_REPLICATION_BACKOFF, REPLICATION_BACKOFF, VIOLATION_BACKOFF, nextBackoff } from './backoff.js'

/** How long opening a stream (or a one-shot dial) may take. */
const OPEN_TIMEOUT_MS = 10_000
/** Pause between a replicator's streams: doubles per failure up to the maximum, back to the minimum after a good stream. */
const RETRY_MIN_MS = REPLICATION_BACKOFF.minMs

export interface ReplicationComponents {
  libp2p: Pick<HubLibp2p, 'dial' | 'dialProtocol' | 'hangUp'>
  /** Our owner's store: what we pull into, and where our own authorization lives. */
  store: TenantStore
  /** Our owner's DID and our hub DID. */
  owner: string
  hubDid: string
  lookup: KeyLookup
  maxCommitBytes: number
  peers: PeerTable
  /** Is this hub DID a live device of our owner (other than us)? Only those are pulled from. */
  isDevice: (hubDid: string) => boolean
  stopped: () => boolean
  log: Logger
  /** The puller; a seam for tests. Default pullFrom. */
  pull?: Puller
}

export class Replication {
  readonly #c: ReplicationComponents
  readonly #pull: NonNullable<ReplicationComponents['pull']>

  constructor (components: ReplicationComponents) {
    this.#c = components
    this.#pull = components.pull ?? pullFrom
  }

  /** Our owner's signed authorization of this hub: the proof we present to a device that has not heard of us. */
  async ownProof (): Promise<CommitEnvelope | undefined> {
    const { store, hubDid } = this.#c
    const mine = store.registry.devices().find(d => d.device === hubDid && d.revokedAt === undefined)
    if (mine === undefined) return undefined
    const env = await store.getEnvelope(mine.objectId)
    return env === undefined ? undefined : JSON.parse(env) as CommitEnvelope
  }

  /** The options of a pull from `peer` (a device of our owner) into our store. */
  #pullOptions (peer: string, proof: CommitEnvelope | undefined, rest: Pick<PullOptions, 'live' | 'signal' | 'onProgress'>): PullOptions {
    const { store, owner, lookup, maxCommitBytes } = this.#c
    const role = store.registry.device(peer)?.role
    return {
      ...(proof !== undefined ? { as: { did: owner, proof } } : {}),
      // A blind peer can only hold what sync gives a blind hub; anything else it serves is forged or stolen.
      ...(role === 'blind' ? { accepts: blindMayHold } : {}),
      store,
      peer,
      lookup,
      maxCommitBytes,
      ...rest
    }
  }

  /**
   * Introduce ourselves to a connected peer we do not know as a device (a
   * bootstrap peer): present our authorization once; see sync/client.ts
   * `introduce`. Failures are expected (a peer of another owner refuses)
   * and only logged.
   */
  async introduce (s: PeerState): Promise<void> {
    const c = this.#c
    const proof = await this.ownProof()
    if (proof === undefined || c.stopped()) return
    try {
      // 1.0: an introduction is one pull whose reply is dropped; nothing of 1.1 applies.
      const stream = await c.libp2p.dialProtocol(peerIdFromString(s.peerId), SYNC_PROTOCOL, { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS) })
      await introduce(stream, { tenant: c.owner, as: { did: c.owner, proof } })
      c.log.debug('introduced ourselves', { peer: s.hubDid })
    } catch (err) {
      const e = toHubError(err)
      c.log.debug('introduction refused', { peer: s.hubDid, code: e.code, reason: e.message })
    }
  }

  /** Start the live replicator of a connected device, unless one runs. */
  start (s: PeerState): void {
    const c = this.#c
    // An aborted replicator may still be unwinding (e.g. a dial in flight
    // when its connection dropped); it must not block a new one.
    if ((s.replicator !== undefined && !s.replicator.signal.aborted) || c.stopped()) return
    const ctrl = new AbortController()
    s.replicator = ctrl
    void (async () => {
      let delay = RETRY_MIN_MS
      let refusedDelay = 0
      // It sent invalid data lately: not even when it connects to us (VIOLATION_BACKOFF).
      const hold = (s.violationUntil ?? 0) - Date.now()
      if (hold > 0) await abortableWait(hold, ctrl.signal)
      while (!ctrl.signal.aborted && !c.stopped() && s.connected && c.isDevice(s.hubDid)) {
        try {
          const stream = await c.libp2p.dialProtocol(peerIdFromString(s.peerId), SYNC_PROTOCOLS, { signal: AbortSignal.any([ctrl.signal, AbortSignal.timeout(OPEN_TIMEOUT_MS)]) })
          s.streamBytes = newStream()
          const proof = s.presentProof === true ? await this.ownProof() : undefined
          await this.#pull(stream, this.#pullOptions(s.hubDid, proof, { live: true, signal: ctrl.signal, onProgress: p => { foldProgress(s, p) } }))
          delay = RETRY_MIN_MS
          refusedDelay = 0
          s.presentProof = false
          delete s.violationBackoffMs
        } catch (err) {
          if (ctrl.signal.aborted || c.stopped()) break
          const e = toHubError(err)
          s.lastError = `${e.code}: ${e.message}`
          if (err instanceof ProtocolViolation) {
            s.violationBackoffMs = s.violationBackoffMs === undefined ? VIOLATION_BACKOFF.minMs : nextBackoff(s.violationBackoffMs, VIOLATION_BACKOFF)
            s.violationUntil = Date.now() + s.violationBackoffMs
            s.nextDialAt = Math.max(s.nextDialAt, s.violationUntil)
            c.log.warn('peer sent invalid data; disconnecting', { peer: s.hubDid, code: e.code, reason: e.message, retryInMs: s.violationBackoffMs })
            await c.libp2p.hangUp(peerIdFromString(s.peerId)).catch(() => {})
            break
          }
          if (e.code === 'permissions_required' && s.presentProof !== true && await this.ownProof() !== undefined) {
            s.presentProof = true
            continue // at once, with the proof
          }
          if ((err as Error).name === 'UnsupportedProtocolError') {
            c.log.debug('peer does not speak sync', { peer: s.hubDid })
            break
          }
          if (e.code === 'permissions_required' || e.code === 'not_found') {
            // Not for good: it may serve us later on this very connection (REFUSED_REPLICATION_BACKOFF says when).
            refusedDelay = refusedDelay === 0 ? REFUSED_REPLICATION_BACKOFF.minMs : nextBackoff(refusedDelay, REFUSED_REPLICATION_BACKOFF)
            c.log.debug('peer does not sync with us; asking again later', { peer: s.hubDid, code: e.code, inMs: refusedDelay })
            await abortableWait(refusedDelay, ctrl.signal)
            continue
          }
          c.log.debug('sync stream ended; retrying', { peer: s.hubDid, reason: e.message })
        }
        await new Promise(resolve => setTimeout(resolve, delay))
        delay = nextBackoff(delay, REPLICATION_BACKOFF)
      }
      if (s.replicator === ctrl) delete s.replicator
    })()
  }

  /**
   * One sync pass with a peer: connect, pull until caught up, return. Every
   * commit is verified as in live sync, and the same rules hold: only a
   * proven device of our owner is pulled from, and our authorization is
   * presented only if the peer has not heard of us.
   */
  async syncOnce (addr: string, onProgress?: (p: PullProgress) => void): Promise<PullResult & { peer: string }> {
    const c = this.#c
    const conn = await c.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS) })
    const hubDid = hubDidOfPeer(conn.remotePeer)
    if (c.store.registry.device(hubDid) === undefined || hubDid === c.hubDid) throw new HubError('permissions_required', 'that peer is not a device of this owner (pair it first)')
    const pull = async (proof: CommitEnvelope | undefined): Promise<PullResult> => await this.#pull(
      await conn.newStream(SYNC_PROTOCOLS, { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS) }),
      this.#pullOptions(hubDid, proof, { live: false, ...(onProgress !== undefined ? { onProgress } : {}) })
    )
    let result: PullResult
    try {
      result = await pull(undefined)
    } catch (err) {
      const proof = toHubError(err).code === 'permissions_required' ? await this.ownProof() : undefined
      if (proof === undefined) throw err
      result = await pull(proof)
    }
    const st = c.peers.ensure(conn.remotePeer.toString(), hubDid)
    st.streamBytes = newStream()
    foldProgress(st, result)
    st.streamBytes = newStream()
    return { ...result, peer: hubDid }
  }
}

/** Wait `ms`, or less if `signal` aborts first (a refused peer is asked again after minutes; stopping must not wait for that). */
async function abortableWait (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const t = setTimeout(done, ms)
    function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
    signal.addEventListener('abort', done, { once: true })
  })
}
