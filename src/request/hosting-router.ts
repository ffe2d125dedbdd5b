/**
 * Requests to a hosting hub (issue 17): each token names its owner (`sub`,
 * `aud`); the router hands it to that owner's hub, where it is handled as
 * on a single-owner hub (request/handler.ts: replay, authorization, audit).
 *
 * What a caller learns about which owners are hosted: nothing beyond its
 * own relationship. A token whose signature does not verify is refused as
 * anywhere (authentication_failed). A verified token is answered with
 * `not_found` ("this hub does not serve that owner", what a single-owner
 * hub answers for another owner) unless the owner is hosted here AND the
 * caller is that owner, one of its devices, or the grantee of one of its
 * grants — so a stranger gets the same answer for a hosted owner as for a
 * DID nobody hosts. A hosted owner's refusals of strangers are still
 * written to that owner's audit log.
 *
 * Per-owner request quota (Quotas.requestsPerSecond): a token bucket per
 * owner, taken after the checks above; past it, `unavailable` with reason
 * `quota_exceeded`, quota `requests` (like the per-peer rate limit, a
 * "retry later"). With several processes the bucket is per process.
 *
 * Several processes (net/hosting/cluster.ts): a request that passed those
 * checks, for an owner another process writes, is performed by that
 * process (forwarded through the database) — replay cache, authorization,
 * audit and the write in one place; the caller sees the same answer.
 * A subscription there is accepted by that process (replay, authorization,
 * audit) and then served here, from the feed this process follows: its
 * events come a follow round (250 ms + a query) after the holder's commit.
 */
import { NotFoundError, UnavailableError } from '../errors.js'
import type { Hub } from '../hub.js'
import type { AuditEntry } from '../store/audit.js'
import type { HostedOwner } from '../net/hosting/owners.js'
import type { OwnerCounters } from '../net/hosting/node.js'
import { PeerRateLimiter } from './rate-limit.js'
import type { RequestRouter } from './server.js'
import { verifyRequest } from './token.js'

export interface HostingRouterComponents {
  owner: (did: string) => HostedOwner | undefined
  counters: (did: string) => OwnerCounters | undefined
  /** Resolves the callers' keys (did:key, did:web) — the hosting hub's resolver. */
  lookup: (kid: string) => Promise<Uint8Array>
  /**
   * Several processes: how to have the process that holds `did`'s writes
   * perform a request (through the database), or undefined when this
   * process holds them. Default: always here.
   */
  forwarder?: (did: string) => ((jws: string) => Promise<unknown>) | undefined
  /** Where a refusal is audited (the holder's log, with several processes). Default the owner's hub's log. */
  audit?: (owner: HostedOwner, entry: Omit<AuditEntry, 'seq' | 'time'>) => Promise<void>
}

const NOT_SERVED = 'this hub does not serve that owner'

/** Whether `caller` has anything to do with the owner of `hub`: the owner, a device, a grantee. */
function related (hub: Hub, caller: string): boolean {
  if (caller === hub.did) return true
  const reg = hub.store.registry
  return reg.device(caller) !== undefined || reg.grants().some(g => g.grantee === caller)
}

export function hostingRouter (c: HostingRouterComponents): RequestRouter {
  const limiters = new Map<number, PeerRateLimiter>()
  const limiterFor = (rate: number): PeerRateLimiter => {
    let l = limiters.get(rate)
    if (l === undefined) limiters.set(rate, l = new PeerRateLimiter({ ratePerSecond: rate, burst: Math.max(1, Math.ceil(rate)) }))
    return l
  }
  return async jws => {
    const claims = await verifyRequest(jws, c.lookup)
    const owner = c.owner(claims.sub)
    if (owner === undefined || claims.aud !== claims.sub || !related(owner.hub, claims.iss)) {
      if (owner !== undefined) {
        const counters = c.counters(claims.sub)
        if (counters !== undefined) counters.refusedRequests++
        const entry = { caller: claims.iss, interface: claims.interface, method: claims.method, target: 'hosted owner', decision: 'denied', code: 'not_found', reason: 'the caller is neither the owner, nor a device, nor a grantee' } as const
        if (c.audit !== undefined) await c.audit(owner, entry); else await owner.hub.audit.append(entry)
      }
      throw new NotFoundError(NOT_SERVED)
    }
    const counters = c.counters(claims.sub)
    const rate = owner.record.quotas.requestsPerSecond
    if (rate !== undefined && !limiterFor(rate).take(claims.sub)) {
      if (counters !== undefined) counters.refusedRequests++
      throw new UnavailableError(`the owner's requests quota is ${rate} per second; retry later`, { reason: 'quota_exceeded', quota: 'requests', limit: rate })
    }
    if (counters !== undefined) counters.requests++
    const forward = c.forwarder?.(claims.sub)
    if (forward === undefined) return owner.hub
    // Another process orders this owner's writes, its replay cache and audit log: it performs the request.
    // A subscription is accepted there (replay, authorization, audit) and streamed from here, from the
    // feed this process follows (net/hosting/node.ts tells its listeners what the follow brings).
    const forwarded = await forward(jws)
    if (claims.method === 'subscribe') return { acceptedElsewhere: owner.hub }
    return { forwarded }
  }
}
