/**
 * Following another owner: pulling what they share with ours from one of
 * their hubs, now and after every restart (the follow is remembered), into
 * a separate partition readable with `hub.sharedBy(owner)`. Each pull
 * presents the short-lived device attestation current when it is sent.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { KeyLookup } from '../commits/commit.js'
import { HubError, toHubError } from '../errors.js'
import type { Logger } from '../log.js'
import type { FollowRecord, LocalState } from '../store/local-state.js'
import type { TenantStore } from '../store/tenant-store.js'
import type { AttestationHolder } from './attestations.js'
import { SYNC_PROTOCOL } from './constants.js'
import { hubDidOfPeer, type HubLibp2p } from './node.js'
import { foldProgress, newStream, type PeerTable } from './peers.js'
import { pullFrom, type Puller } from './sync/client.js'
import { FOLLOW_BACKOFF, nextBackoff } from './backoff.js'

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

/** Addresses remembered per follow. */
const MAX_FOLLOW_ADDRS = 16
const OPEN_TIMEOUT_MS = 10_000
/** Pause after a pass over every address: doubles up to the maximum, back to the minimum once a batch arrives. */
const RETRY_MIN_MS = FOLLOW_BACKOFF.minMs

export interface FollowsComponents {
  libp2p: Pick<HubLibp2p, 'dial'>
  /** Our owner's DID (who we pull for) — never followed. */
  owner: string
  local: Pick<LocalState, 'putFollow' | 'deleteFollow'>
  /** The partition holding what `owner` shares with us. */
  tenant: (owner: string) => Promise<TenantStore>
  lookup: KeyLookup
  maxCommitBytes: number
  peers: PeerTable
  attestations: AttestationHolder
  stopped: () => boolean
  log: Logger
  /** The puller; a seam for tests. Default pullFrom. */
  pull?: Puller
}

export class Follows {
  readonly #c: FollowsComponents
  readonly #pull: NonNullable<FollowsComponents['pull']>
  readonly #running = new Map<string, AbortController>()
  readonly #state = new Map<string, FollowState>()

  constructor (components: FollowsComponents) {
    this.#c = components
    this.#pull = components.pull ?? pullFrom
  }

  /** How many owners are followed: renewal of the attestation is wanted only while there is one. */
  get size (): number { return this.#running.size }

  /** Follow `owner` at `addrs` from now on, remembered across restarts. */
  async follow (owner: string, addrs: string[]): Promise<void> {
    if (owner === this.#c.owner) throw new HubError('bad_request', 'a hub does not follow its own owner: pair it as a device instead')
    const f: FollowRecord = { owner, addrs: [...new Set(addrs)].slice(0, MAX_FOLLOW_ADDRS) }
    await this.#c.local.putFollow(f)
    this.start(f)
  }

  /** Run the pull loop of a follow (restarting it if it runs). */
  start (f: FollowRecord): void {
    const c = this.#c
    this.#running.get(f.owner)?.abort()
    const ctrl = new AbortController()
    this.#running.set(f.owner, ctrl)
    const st: FollowState = { streaming: false }
    this.#state.set(f.owner, st)
    void (async () => {
      let delay = RETRY_MIN_MS
      while (!ctrl.signal.aborted && !c.stopped()) {
        for (const addr of f.addrs) {
          if (ctrl.signal.aborted || c.stopped()) break
          try {
            // Fail before dialling if we cannot prove anything; the holder
            // renews in the background while the stream lasts.
            await c.attestations.get()
            const conn = await c.libp2p.dial(multiaddr(addr), { signal: AbortSignal.any([ctrl.signal, AbortSignal.timeout(OPEN_TIMEOUT_MS)]) })
            const peerHubDid = hubDidOfPeer(conn.remotePeer)
            const stream = await conn.newStream(SYNC_PROTOCOL, { signal: AbortSignal.any([ctrl.signal, AbortSignal.timeout(OPEN_TIMEOUT_MS)]) })
            const s = c.peers.ensure(conn.remotePeer.toString(), peerHubDid, [addr])
            s.streamBytes = newStream()
            st.peer = peerHubDid
            st.streaming = true
            await this.#pull(stream, {
              store: await c.tenant(f.owner),
              peer: peerHubDid,
              lookup: c.lookup,
              maxCommitBytes: c.maxCommitBytes,
              live: true,
              signal: ctrl.signal,
              as: this.#as(),
              // A stream that delivered a batch was working: its end does not grow the backoff.
              onProgress: p => { foldProgress(s, p); st.lastSync = s.lastSync; delay = RETRY_MIN_MS }
            })
            delay = RETRY_MIN_MS
          } catch (err) {
            if (ctrl.signal.aborted || c.stopped()) break
            const e = toHubError(err)
            st.lastError = `${e.code}: ${e.message}`
            c.log.debug('follow stream ended', { owner: f.owner, addr, reason: (err as Error).message })
          } finally {
            st.streaming = false
          }
        }
        await new Promise(resolve => setTimeout(resolve, delay))
        delay = nextBackoff(delay, FOLLOW_BACKOFF)
      }
    })()
  }

  /**
   * The `as` of a follow's pulls. pullFrom serializes it for every pull it
   * sends, so the getter hands each pull the attestation current then.
   */
  #as (): { did: string, attestation: string } {
    const holder = this.#c.attestations
    return { did: this.#c.owner, get attestation () { return holder.current?.attestation ?? '' } }
  }

  /** Per followed owner: the stream, and the device attestation it presents. */
  status (): FollowStatus[] {
    const a = this.#c.attestations.current
    const attestationError = this.#c.attestations.error ?? null
    return [...this.#state.entries()].map(([owner, st]) => ({
      owner,
      peer: st.peer ?? null,
      streaming: st.streaming,
      lastSync: st.lastSync ?? null,
      lastError: st.lastError ?? null,
      attestation: a === undefined ? null : { issuedAt: new Date(a.issuedAt).toISOString(), expiresAt: new Date(a.expiresAt).toISOString() },
      attestationError
    }))
  }

  /**
   * Stop following `owner` and forget the follow (it is not resumed at the
   * next start). What was pulled stays readable with `hub shared`.
   * Returns false when `owner` was not followed.
   */
  async unfollow (owner: string): Promise<boolean> {
    const ctrl = this.#running.get(owner)
    await this.#c.local.deleteFollow(owner)
    if (ctrl === undefined) return false
    ctrl.abort()
    this.#running.delete(owner)
    this.#state.delete(owner)
    return true
  }

  stop (): void {
    for (const c of this.#running.values()) c.abort()
  }
}
