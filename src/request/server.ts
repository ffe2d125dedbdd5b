/**
 * Serving /identity-hub/request/1.0.0: one stream per client, many
 * requests multiplexed by id. Requests run concurrently (bounded per
 * stream); replies are written one frame at a time. Subscriptions stay
 * registered until cancelled, the stream closes, or their authorization
 * lapses — re-checked on every change they would deliver and on every
 * Permissions change.
 */
import type { Stream } from '@libp2p/interface'
import { BadRequestError, HubError, PermissionsRequiredError, TooLargeError, toHubError } from '../errors.js'
import type { Hub } from '../hub.js'
import type { Logger } from '../log.js'
import { SerialQueue } from '../serial.js'
import type { CommitEvent } from '../store/tenant-store.js'
import type { Filter } from '../store/query.js'
import { toView } from '../interfaces/views.js'
import { FrameChannel } from '../net/channel.js'
import { REQUEST_BURST, REQUEST_RATE_PER_SECOND } from '../net/constants.js'
import { PeerRateLimiter } from './rate-limit.js'
import { admitAccepted, decide, handleRequest, perform, subscriptionMatches, type AcceptedRequest, type Target } from './handler.js'
import { validateClientMessage, type ServerMessage } from './token.js'

/** Largest request or reply frame. A 1 MiB commit, base64url in a JWS, fits. */
export const MAX_REQUEST_FRAME_BYTES = 3 * 1024 * 1024
/** Requests one stream may have in flight; more are answered with `unavailable`. */
export const MAX_IN_FLIGHT = 32
/** Subscriptions one stream may hold. */
export const MAX_SUBSCRIPTIONS = 16
/**
 * How long one reply may wait for the client to take it. A client that
 * sends requests and stops reading would otherwise hold every reply (and
 * the memory behind them) forever; past this the stream is reset.
 */
export const REPLY_SEND_TIMEOUT_MS = 30_000

export interface ServeRequestsOptions {
  /** Default REPLY_SEND_TIMEOUT_MS; for tests. */
  replyTimeoutMs?: number
}

interface Subscription { id: number, accepted: AcceptedRequest, target: Target, where: Filter[], stop: () => void }

/** One request rate limiter per hub, shared by every stream and connection of a peer. */
const limiters = new WeakMap<Hub | RequestRouter, PeerRateLimiter>()
function limiterOf (hub: Hub | RequestRouter): PeerRateLimiter {
  let l = limiters.get(hub)
  if (l === undefined) {
    l = new PeerRateLimiter({ ratePerSecond: REQUEST_RATE_PER_SECOND, burst: REQUEST_BURST })
    limiters.set(hub, l)
  }
  return l
}

/**
 * Which hub answers a request: a hosting hub serves many owners on one
 * stream, each request going to the hub of the owner its token names
 * (src/request/hosting-router.ts). It throws the refusal itself when no
 * hosted owner may answer (the same not_found a single-owner hub gives a
 * token for another owner).
 */
export type RequestRouter = (jws: string) => Promise<Hub | ForwardedRequest | AcceptedElsewhere>

/** A request the router had another process perform (a hosting hub of several processes): its result, already there. */
export interface ForwardedRequest { forwarded: unknown }

/** A subscription the owner's write holder accepted (replay, authorization, audit): served here, from `hub` (see admitAccepted). */
export interface AcceptedElsewhere { acceptedElsewhere: Hub }

/**
 * Serve one request stream of `remotePeer` (its libp2p peer id: the key of
 * its rate limit). `limiter` is shared by every stream of the node; default
 * one per hub at REQUEST_RATE_PER_SECOND / REQUEST_BURST. `hubOrRouter`:
 * the hub, or a router choosing one per request (a hosting hub; then pass
 * the node's limiter).
 */
export async function serveRequests (hubOrRouter: Hub | RequestRouter, log: Logger, stream: Stream, remotePeer: string, limiter: PeerRateLimiter = limiterOf(hubOrRouter), opts: ServeRequestsOptions = {}): Promise<void> {
  const route: RequestRouter = typeof hubOrRouter === 'function' ? hubOrRouter : async () => hubOrRouter
  const ch = new FrameChannel(stream, MAX_REQUEST_FRAME_BYTES)
  const replyTimeoutMs = opts.replyTimeoutMs ?? REPLY_SEND_TIMEOUT_MS
  /** Replies go out one at a time, in the order they were made. */
  const sending = new SerialQueue()
  /**
   * A reply over the frame limit (e.g. a query page of large objects) is
   * not sent; the client gets `too_large` for that request (or the end of
   * that subscription) instead of waiting for a reply that never comes.
   */
  const write = async (m: ServerMessage): Promise<void> => {
    // Replies go out one at a time (`sending`), so one timer at a time guards them: a plain timer per
    // reply aborting one per-stream signal, not an AbortSignal.timeout + AbortSignal.any per reply
    // (those showed in the hub's profile under request load).
    const timer = setTimeout(() => { stuck.abort() }, replyTimeoutMs)
    try {
      await ch.send(m, sendSignal)
    } catch (err) {
      if (stuck.signal.aborted && !closed.signal.aborted) {
        log.info('request stream reset: the client does not take its replies', { peer: remotePeer, timeoutMs: replyTimeoutMs })
        ch.abort(new HubError('unavailable', `the client did not take a reply within ${replyTimeoutMs} ms`))
        return
      }
      if (!(err instanceof TooLargeError) || !('id' in m)) throw err
      if (m.t === 'response') {
        await ch.send({ t: 'error', id: m.id, code: 'too_large', message: `the reply is over ${MAX_REQUEST_FRAME_BYTES} bytes: ask for fewer objects (a smaller limit)` })
      } else if (m.t === 'event') {
        endSub(m.id, new TooLargeError(`a subscription event is over ${MAX_REQUEST_FRAME_BYTES} bytes`))
      } else {
        throw err
      }
    } finally {
      clearTimeout(timer)
    }
  }
  const send = (m: ServerMessage): Promise<void> => {
    // Past `write`, a send fails only when the stream is gone (reset, closed,
    // peer away): the read loop then ends on its own, and the chain must stay
    // usable for the replies still in flight, so the failure stops here.
    return sending.run(async () => { await write(m) }).catch(() => {})
  }
  const subs = new Map<number, Subscription>()
  let inFlight = 0
  const running = new Set<Promise<void>>()
  const closed = new AbortController()
  stream.addEventListener('close', () => closed.abort(), { once: true })
  /** Aborted when a reply waited longer than replyTimeoutMs for the client: the stream is then reset. */
  const stuck = new AbortController()
  const sendSignal = AbortSignal.any([closed.signal, stuck.signal])

  const endSub = (id: number, err?: HubError): void => {
    const sub = subs.get(id)
    if (sub === undefined) return
    subs.delete(id)
    sub.stop()
    void send({ t: 'end', id, ...(err !== undefined ? { code: err.code, message: err.message } : {}) })
  }

  const subscribe = async (hub: Hub, id: number, accepted: AcceptedRequest, target: Target): Promise<void> => {
    if (subs.size >= MAX_SUBSCRIPTIONS) throw new HubError('unavailable', `at most ${MAX_SUBSCRIPTIONS} subscriptions per stream`)
    const params = accepted.claims.params
    if (params.where !== undefined && !Array.isArray(params.where)) throw new BadRequestError('params.where must be a list of filters')
    const where = (params.where ?? []) as Filter[]
    const initial = await perform(hub, { ...accepted, claims: { ...accepted.claims, method: 'query' } }, target, undefined)
    const stillAllowed = (): boolean => decide(hub, accepted.caller, 'Collections', target).allowed
    const onCommit = (e: CommitEvent): void => {
      if (!subs.has(id)) return
      if (e.commit.header.interface === 'Permissions') {
        if (!stillAllowed()) endSub(id, new PermissionsRequiredError('the grant this subscription relied on was revoked'))
        return
      }
      const view = toView(e.meta)
      if (!subscriptionMatches(view, target, where)) return
      if (!stillAllowed()) { endSub(id, new PermissionsRequiredError('the grant this subscription relied on is no longer valid')); return }
      void send({ t: 'event', id, event: { kind: e.meta.deleted ? 'deleted' : 'changed', object: view } })
    }
    hub.events.on('commit', onCommit)
    subs.set(id, { id, accepted, target, where, stop: () => { hub.events.off('commit', onCommit) } })
    await send({ t: 'response', id, result: initial })
  }

  const run = async (id: number, jws: string): Promise<void> => {
    try {
      const hub = await route(jws)
      if ('forwarded' in hub) { await send({ t: 'response', id, result: hub.forwarded ?? null }); return }
      if ('acceptedElsewhere' in hub) {
        const { accepted, target } = await admitAccepted(hub.acceptedElsewhere, jws)
        await subscribe(hub.acceptedElsewhere, id, accepted, target)
        return
      }
      const { accepted, target, result } = await handleRequest(hub, jws)
      if (accepted.claims.method === 'subscribe') await subscribe(hub, id, accepted, target)
      else await send({ t: 'response', id, result: result ?? null })
    } catch (err) {
      const e = toHubError(err)
      if (e.code === 'internal') log.error('request failed', { reason: e.message })
      await send({ t: 'error', id, code: e.code, message: e.message.slice(0, 1024) })
    } finally {
      inFlight--
    }
  }

  try {
    for (;;) {
      const msg = await ch.receive(validateClientMessage, closed.signal)
      if (msg === null) break
      if (msg.t === 'cancel') { endSub(msg.id); continue }
      if (!limiter.take(remotePeer)) {
        // Refused before any verification. Awaited, so a peer that floods
        // without reading its replies stops being read instead of queueing them.
        await send({ t: 'error', id: msg.id, code: 'unavailable', message: `rate limit: at most ${limiter.ratePerSecond} requests per second per peer (burst ${limiter.burst}); retry in ${limiter.retryAfterMs(remotePeer)} ms` })
        continue
      }
      if (inFlight >= MAX_IN_FLIGHT) {
        void send({ t: 'error', id: msg.id, code: 'unavailable', message: `at most ${MAX_IN_FLIGHT} requests in flight per stream` })
        continue
      }
      inFlight++
      const p = run(msg.id, msg.jws)
      running.add(p)
      void p.finally(() => running.delete(p))
    }
    // The client closed its side: answer what is in flight, then close ours,
    // which frees the stream's slot on the connection.
    await Promise.allSettled([...running])
    await sending.idle()
    if (subs.size === 0) await ch.close()
  } catch (err) {
    const e = toHubError(err)
    if (!closed.signal.aborted) {
      log.info('request stream closed on bad input', { code: e.code, reason: e.message })
      ch.abort(e)
    }
  } finally {
    for (const id of [...subs.keys()]) {
      const s = subs.get(id)
      subs.delete(id)
      s?.stop()
    }
    await sending.idle()
  }
}
