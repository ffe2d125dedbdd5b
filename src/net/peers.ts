/**
 * The peer table: what this hub knows of each peer it dials or pulls from.
 * Reconnection, replication, discovery, follows and status all read and
 * write the same entries, so they share one table rather than each keeping
 * its own view of a peer.
 */
import type { PullProgress } from './sync/client.js'

export interface PeerState {
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
  /** The peer sent invalid data: not dialled nor pulled from before this time (ms since the epoch; backoff.ts VIOLATION_BACKOFF). */
  violationUntil?: number
  /** The current wait after a violation; cleared by a pull that ends well. */
  violationBackoffMs?: number
  /** The peer refused us once: present our DeviceAuthorization (it may not have heard of us). */
  presentProof?: boolean
}

/** Addresses kept per peer, newest first. */
export const MAX_PEER_ADDRS = 16

export class PeerTable {
  readonly #peers = new Map<string, PeerState>()
  /** The backoff a new entry starts with (the reconnection minimum). */
  readonly #initialBackoffMs: number

  constructor (initialBackoffMs: number) {
    this.#initialBackoffMs = initialBackoffMs
  }

  get (peerId: string): PeerState | undefined { return this.#peers.get(peerId) }
  values (): PeerState[] { return [...this.#peers.values()] }
  delete (peerId: string): void { this.#peers.delete(peerId) }

  /**
   * The entry of `peerId`, created on first sight. `addrs` are the freshest
   * news of where it listens: they move to the front, and only the newest
   * MAX_PEER_ADDRS are kept (a device that moved ports or networks would
   * otherwise drag every address it ever had into each reconnection attempt).
   */
  ensure (peerId: string, hubDid: string, addrs: string[] = []): PeerState {
    let s = this.#peers.get(peerId)
    if (s === undefined) {
      s = { peerId, hubDid, addrs: [], connected: false, head: 0, watermark: 0, received: 0, bytesReceived: 0, bytesSent: 0, streamBytes: newStream(), backoffMs: this.#initialBackoffMs, nextDialAt: 0, dialing: false }
      this.#peers.set(peerId, s)
    }
    if (addrs.length > 0) {
      const fresh = [...new Set(addrs)]
      s.addrs = [...fresh, ...s.addrs.filter(a => !fresh.includes(a))].slice(0, MAX_PEER_ADDRS)
    }
    return s
  }
}

/** The per-stream counters of a stream that has just opened. */
export function newStream (): PeerState['streamBytes'] {
  return { sent: 0, received: 0, stored: 0 }
}

/**
 * Fold a stream's running totals into the peer's counters. Each stream
 * reports totals since it opened, so only the growth since its last report
 * is added.
 */
export function foldProgress (s: PeerState, p: PullProgress): void {
  s.bytesReceived += p.bytesReceived - s.streamBytes.received
  s.bytesSent += p.bytesSent - s.streamBytes.sent
  s.received += p.stored - s.streamBytes.stored
  s.streamBytes = { sent: p.bytesSent, received: p.bytesReceived, stored: p.stored }
  s.lastSync = new Date().toISOString()
  s.head = p.head
  s.watermark = p.watermark
}
