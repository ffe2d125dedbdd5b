/**
 * Per-client token buckets of the HTTP server: one for public routes, one
 * for x-api-key routes, one for failed x-api-key authentications (used by
 * auth.ts). Over a limit is a 429 `unavailable` with `Retry-After`.
 */
import { HubError } from '../errors.js'
import { PeerRateLimiter } from '../request/rate-limit.js'
import type { HttpLimits, HttpRateLimit } from './limits.js'
import type { Match } from './router.js'

/** 429: a client over one of its rate limits. */
export class RateLimitedError extends HubError {
  readonly retryAfterMs: number
  constructor (message: string, retryAfterMs: number) {
    super('unavailable', message, { reason: 'rate_limited', retryAfterMs })
    this.retryAfterMs = retryAfterMs
  }
}

export function bucket (limit: HttpRateLimit | false, maxPeers: number, clock: (() => number) | undefined): PeerRateLimiter | undefined {
  return limit === false ? undefined : new PeerRateLimiter({ ...limit, maxPeers, ...(clock !== undefined ? { now: clock } : {}) })
}

/** Whether a match is an x-api-key route (its own, larger bucket). */
export function isApiKeyRoute (match: Match | undefined): boolean {
  return match?.kind === 'route' && (match.route.auth === 'admin' || match.route.auth === 'participant')
}

export class RequestRateLimits {
  readonly #public: PeerRateLimiter | undefined
  readonly #apiKey: PeerRateLimiter | undefined

  constructor (limits: HttpLimits, clock?: () => number) {
    this.#public = bucket(limits.public, limits.maxTrackedClients, clock)
    this.#apiKey = bucket(limits.apiKey, limits.maxTrackedClients, clock)
  }

  /**
   * Take a token from the client's bucket for this request (x-api-key routes
   * or the rest: public routes, unknown paths, unparseable targets), or
   * throw 429.
   */
  admit (match: Match | undefined, client: string): void {
    const apiKey = isApiKeyRoute(match)
    const l = apiKey ? this.#apiKey : this.#public
    if (l === undefined || l.take(client)) return
    const wait = Math.max(1, l.retryAfterMs(client))
    throw new RateLimitedError(`rate limit: at most ${l.ratePerSecond} requests per second per client (burst ${l.burst}) on ${apiKey ? 'x-api-key' : 'public'} routes; retry in ${wait} ms`, wait)
  }
}
