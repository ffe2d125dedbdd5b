/**
 * Per-peer request rate limit: one token bucket per remote peer id, shared
 * by all of that peer's connections and streams. A bucket holds at most
 * `burst` tokens and refills at `ratePerSecond`; every request takes one.
 * A request that finds the bucket empty is refused (the caller answers it
 * with `unavailable`) before anything is verified, so an over-eager peer
 * costs the hub one frame parse per refused request.
 *
 * Memory is bounded by the peers active within the last `burst /
 * ratePerSecond` seconds: a bucket that has refilled completely is the same
 * as no bucket, so such buckets are dropped whenever the map has doubled
 * since the last sweep (amortized O(1) per request). With `maxPeers` it is
 * also bounded outright: past that many peers, the ones first seen longest
 * ago are forgotten (their next request finds a full bucket), so a flood of
 * distinct peer keys costs leniency, never memory.
 *
 * Also used per client IP by the HTTP server (src/http/server.ts), where
 * `debit` counts failed authentications.
 */
import { performance } from 'node:perf_hooks'

export interface RateLimitOptions {
  /** Tokens added per second (the sustained request rate). */
  ratePerSecond: number
  /** Bucket size: requests a peer may make at once after being idle. */
  burst: number
  /** Monotonic clock in milliseconds (tests inject one). Default `performance.now`. */
  now?: () => number
  /** Most peers tracked at once; past it the peers first seen longest ago are forgotten. Default: unbounded. */
  maxPeers?: number
}

interface Bucket { tokens: number, at: number }

/** Buckets are swept no earlier than at this many peers. */
const SWEEP_MIN = 1024
/** `debit` can put a bucket this many seconds of refill into debt, no more. */
const MAX_DEBT_S = 60

export class PeerRateLimiter {
  readonly ratePerSecond: number
  readonly burst: number
  readonly maxPeers: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()
  #sweepAt = SWEEP_MIN
  #addedSinceSweep = 0

  constructor (opts: RateLimitOptions) {
    if (!(opts.ratePerSecond > 0) || !(opts.burst >= 1)) throw new RangeError('a rate limit needs ratePerSecond > 0 and burst >= 1')
    if (opts.maxPeers !== undefined && !(opts.maxPeers >= 1)) throw new RangeError('maxPeers must be at least 1')
    this.ratePerSecond = opts.ratePerSecond
    this.burst = opts.burst
    this.maxPeers = opts.maxPeers ?? Infinity
    this.#now = opts.now ?? (() => performance.now())
  }

  /** Take one token for `peer`. False: the peer is over its limit (nothing is taken). */
  take (peer: string): boolean {
    const b = this.#bucket(peer, this.#now())
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /**
   * Take one token for `peer` whether or not it has one: the bucket may go
   * into debt (down to a minute of refill), which later requests pay off.
   * For counting events after the fact (failed authentications): however
   * many were in flight when the bucket ran dry, each one is paid for.
   */
  debit (peer: string): void {
    const b = this.#bucket(peer, this.#now())
    b.tokens = Math.max(b.tokens - 1, -this.ratePerSecond * MAX_DEBT_S)
  }

  /** Milliseconds until `peer` may make its next request (0: now). */
  retryAfterMs (peer: string): number {
    const b = this.#buckets.get(peer)
    if (b === undefined) return 0
    this.#refill(b, this.#now())
    return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) * 1000) / this.ratePerSecond)
  }

  /** Peers currently tracked (diagnostics, tests). */
  get size (): number { return this.#buckets.size }

  /** The peer's bucket, refilled to `now` (a new one is full). */
  #bucket (peer: string, now: number): Bucket {
    let b = this.#buckets.get(peer)
    if (b !== undefined) {
      this.#refill(b, now)
      return b
    }
    const size = this.#buckets.size
    // At the cap, sweep at most once per maxPeers additions (amortized O(1)), else forget the oldest.
    if (size >= this.#sweepAt || (size >= this.maxPeers && this.#addedSinceSweep >= this.maxPeers)) this.#sweep(now)
    for (const oldest of this.#buckets.keys()) {
      if (this.#buckets.size < this.maxPeers) break
      this.#buckets.delete(oldest)
    }
    b = { tokens: this.burst, at: now }
    this.#buckets.set(peer, b)
    this.#addedSinceSweep++
    return b
  }

  #refill (b: Bucket, now: number): void {
    // A clock that went backwards adds nothing (and never takes anything away).
    const elapsed = Math.max(0, now - b.at)
    b.tokens = Math.min(this.burst, b.tokens + (elapsed * this.ratePerSecond) / 1000)
    b.at = Math.max(b.at, now)
  }

  /** Drop the buckets that have refilled: forgetting them changes nothing. */
  #sweep (now: number): void {
    for (const [peer, b] of this.#buckets) {
      this.#refill(b, now)
      if (b.tokens >= this.burst) this.#buckets.delete(peer)
    }
    this.#sweepAt = Math.max(SWEEP_MIN, this.#buckets.size * 2)
    this.#addedSinceSweep = 0
  }
}
