/**
 * x-api-key authentication of the Identity API routes: the admin key
 * (compared as a SHA-256 hash in constant time) or a participant's key
 * (OrgStore), with failed attempts counted per client. Bearer routes
 * authenticate in their handlers (DCP rules); 'none' routes not at all.
 *
 * A route naming a participant (`{participantId}`) answers 404 for one that
 * does not exist before anything else about the request is looked at: a
 * participant key proves its participant exists, and for the admin key it is
 * looked up here (so reading a body — and checking it against its schema —
 * never comes before the 404).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { AuthenticationError, PermissionsRequiredError } from '../errors.js'
import type { OrgStore } from '../org/org-store.js'
import type { PeerRateLimiter } from '../request/rate-limit.js'
import { RateLimitedError } from './rate-limit.js'
import type { HttpRequest, Route } from './router.js'

function sha256 (s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest()
}

/** Who a request's x-api-key is: what HttpRequest.caller holds. */
export type Caller = HttpRequest['caller']

export class ApiKeyAuth {
  readonly #adminHash: Buffer
  readonly #org: Pick<OrgStore, 'authenticateApiKey' | 'getParticipant'>
  readonly #failures: PeerRateLimiter | undefined

  constructor (opts: { adminKey: string, org: Pick<OrgStore, 'authenticateApiKey' | 'getParticipant'>, failures: PeerRateLimiter | undefined }) {
    if (opts.adminKey.length < 16) throw new TypeError('the admin API key must be at least 16 characters')
    this.#adminHash = sha256(opts.adminKey)
    this.#org = opts.org
    this.#failures = opts.failures
  }

  /** The caller of an x-api-key route (undefined for 'none' and 'bearer' routes), or throw 401/403/429. */
  async authenticate (route: Route, headers: IncomingHttpHeaders, params: Record<string, string>, client: string): Promise<Caller> {
    if (route.auth === 'none' || route.auth === 'bearer') return undefined
    const failures = this.#failures
    if (failures === undefined) return await this.#check(route, headers, params)
    // A client out of failed attempts may not try any key, right or wrong:
    // refusing only wrong ones would still tell a guesser which guess was right.
    const wait = failures.retryAfterMs(client)
    if (wait > 0) throw new RateLimitedError(`too many failed authentications: at most ${failures.ratePerSecond} per second per client (burst ${failures.burst}); retry in ${wait} ms`, wait)
    try {
      return await this.#check(route, headers, params)
    } catch (err) {
      // Debit, not take: attempts already in flight when the bucket ran dry are paid for too.
      if (err instanceof AuthenticationError) failures.debit(client)
      throw err
    }
  }

  async #check (route: Route, headers: IncomingHttpHeaders, params: Record<string, string>): Promise<Caller> {
    const header = headers['x-api-key']
    const key = Array.isArray(header) ? header[0] : header
    if (key === undefined || key === '') throw new AuthenticationError('this endpoint needs an x-api-key header')
    if (timingSafeEqual(sha256(key), this.#adminHash)) {
      // Throws not_found for an unknown participant (bad_request for an id that cannot be one).
      if (params.participantId !== undefined) await this.#org.getParticipant(params.participantId)
      return { admin: true }
    }
    // Throws authentication_failed for a key that is nobody's.
    const who = await this.#org.authenticateApiKey(key)
    if (route.auth === 'admin') throw new PermissionsRequiredError('this endpoint needs the admin API key')
    if (params.participantId !== undefined && params.participantId !== who.participantId) {
      throw new PermissionsRequiredError(`this API key belongs to participant "${who.participantId}", not to "${params.participantId}"`)
    }
    return { admin: false, participantId: who.participantId }
  }
}
