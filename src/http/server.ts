/**
 * The hub's HTTP server (off by default; `hub start --http HOST:PORT`): the
 * Identity API, did:web hosting and the DCP endpoints. Routes come from one
 * table (router.ts); each request runs through the middleware below, one job
 * each, in this order:
 *
 *   errors        anything thrown → status + problem body (responses.ts)
 *   route         the target parsed and matched (router.ts)
 *   rate limit    the client's bucket for that route (rate-limit.ts)
 *   preconditions Host header, Expect, 404, 405
 *   authenticate  x-api-key (auth.ts)
 *   body          read with its size cap, depth-checked, parsed (body.ts)
 *   dispatch      the handler, its body checked against the published
 *                 schema when it reads it (request-schemas.ts)
 *
 * Under them, connections.ts owns the Node server: the per-address
 * connection cap, header limits, timeouts, and typed parser errors.
 *
 * Errors are `{"error":{"code","message"}}` with the status of their code
 * (the same codes as the CLI and the libp2p protocols).
 *
 * Limits (protocols/dcp.md "Limits"; defaults in DEFAULT_HTTP_LIMITS): per
 * client IP token buckets — public routes, x-api-key routes, and failed
 * x-api-key authentications — answered with 429 `unavailable` and
 * `Retry-After`; a cap on concurrent connections per client address (an
 * IPv4 address, an IPv6 /64), enforced as each connection is accepted,
 * before a byte of it is read, so that one client cannot take every slot of
 * the global cap, which stays as the last line; header size and count;
 * headers, request, keep-alive and idle timeouts (a connection that has not
 * sent a complete request head within headersTimeoutMs — also one that
 * sends nothing at all — gets a 408 and is closed); body size and JSON depth.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BadRequestError, HubError, NotFoundError } from '../errors.js'
import { silentLogger, type Logger } from '../log.js'
import type { OrgStore } from '../org/org-store.js'
import { ApiKeyAuth } from './auth.js'
import { defineBody, readJsonBody } from './body.js'
import { ConnectionGate, clientAddressKey, createLimitedServer } from './connections.js'
import { MAX_HTTP_BODY_BYTES, resolveLimits, type HttpLimits } from './limits.js'
import { API_VERSION, openApiDocument } from './openapi.js'
import { compose, type Context, type Middleware } from './pipeline.js'
import { RequestRateLimits, bucket } from './rate-limit.js'
import { requestBodyValidators, type BodyValidator } from './request-schemas.js'
import { errorAnswer, sendJson, sendText } from './responses.js'
import type { HttpRequest, HttpResponse, Router } from './router.js'

export { DEFAULT_HTTP_LIMITS, MAX_HTTP_BODY_BYTES, type HttpLimits, type HttpRateLimit } from './limits.js'
export { clientAddressKey } from './connections.js'
export { RateLimitedError } from './rate-limit.js'

export interface HttpServerOptions {
  router: Router
  org: OrgStore
  /** The admin API key (all participants). */
  adminKey: string
  logger?: Logger
  maxBodyBytes?: number
  /** Overrides of DEFAULT_HTTP_LIMITS. */
  limits?: Partial<HttpLimits>
  /**
   * The rate-limit key of a request. Default: its remote address
   * (clientAddressKey). Behind a reverse proxy every request comes from the
   * proxy: derive the key from the proxy's header here, or raise the limits.
   */
  clientKey?: (req: IncomingMessage) => string
  /** Monotonic clock of the rate limiter, in ms (tests). Default `performance.now`. */
  clock?: () => number
  /** Serves a web app's files for paths no route matched (static-app.ts, `--serve-app`); after the rate limit, before the 404. */
  staticApp?: Middleware
  /** Called when close() begins (the dashboard ends its sessions and event streams, so close need not wait for them). */
  onClose?: () => void
}

/**
 * The URL of a request target: origin-form (`/path?query`, taken as a path
 * even when it starts with `//`) or absolute-form (`http://host/path`).
 * Anything else is a bad_request (`new URL` would throw a TypeError: a 500).
 */
function requestUrl (target: string | undefined): URL {
  try {
    return target?.startsWith('/') === true ? new URL(`http://local${target}`) : new URL(target ?? '')
  } catch {
    throw new BadRequestError('malformed request target')
  }
}

export class HttpServer {
  readonly #server: Server
  readonly #log: Logger
  readonly #limits: HttpLimits
  readonly #gate: ConnectionGate
  readonly #pipeline: (ctx: Context) => Promise<void>
  readonly #clientKey: (req: IncomingMessage) => string
  readonly #onClose: (() => void) | undefined
  #inFlight = 0
  #url = ''

  constructor (opts: HttpServerOptions) {
    const limits = this.#limits = resolveLimits(opts.limits)
    const auth = new ApiKeyAuth({ adminKey: opts.adminKey, org: opts.org, failures: bucket(limits.authFailures, limits.maxTrackedClients, opts.clock) })
    this.#log = (opts.logger ?? silentLogger).child('http')
    this.#onClose = opts.onClose
    this.#clientKey = opts.clientKey ?? (req => clientAddressKey(req.socket.remoteAddress))
    this.#gate = new ConnectionGate(limits.maxConnectionsPerClient, this.#log)
    const rates = new RequestRateLimits(limits, opts.clock)
    // The schemas the OpenAPI document publishes for this very route table.
    const validators = requestBodyValidators(openApiDocument(opts.router.routes, API_VERSION))
    this.#pipeline = compose([
      this.#errors,
      route(opts.router, this.#clientKey),
      async (ctx, next) => { rates.admit(ctx.match, ctx.client); await next() },
      ...(opts.staticApp !== undefined ? [opts.staticApp] : []),
      preconditions,
      async (ctx, next) => {
        if (ctx.match?.kind === 'route') ctx.caller = await auth.authenticate(ctx.match.route, ctx.req.headers, ctx.match.params, ctx.client)
        await next()
      },
      async (ctx, next) => { ctx.body = await readJsonBody(ctx.req, opts.maxBodyBytes ?? MAX_HTTP_BODY_BYTES, limits.maxJsonDepth); await next() },
      dispatch(validators)
    ])
    this.#server = createLimitedServer(limits, this.#gate, (req, res, unmetExpectation) => {
      void this.#handle({ req, res, unmetExpectation, client: '', status: 500 })
    })
  }

  /** The limits in force (defaults merged with the options). */
  get limits (): Readonly<HttpLimits> {
    return this.#limits
  }

  /** Connections refused so far for exceeding maxConnectionsPerClient (diagnostics, tests). */
  get refusedConnections (): number {
    return this.#gate.refused
  }

  /** Open connections of one client address key (clientAddressKey), as counted for maxConnectionsPerClient. */
  connectionsOf (key: string): number {
    return this.#gate.connectionsOf(key)
  }

  /** Requests whose handling has not finished (diagnostics, tests: 0 once every request is done with). */
  get inFlight (): number {
    return this.#inFlight
  }

  /** Listen on `host:port` (port 0: the OS picks). Resolves with the base URL. */
  async listen (host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    const addr = this.#server.address() as AddressInfo
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
    this.#url = `http://${h}:${addr.port}`
    this.#log.info('http listening', { url: this.#url })
    return this.#url
  }

  get url (): string {
    return this.#url
  }

  async close (graceMs = 3000): Promise<void> {
    this.#onClose?.()
    if (!this.#server.listening) return
    const closed = new Promise<void>(resolve => this.#server.close(() => resolve()))
    this.#server.closeIdleConnections()
    const timer = setTimeout(() => this.#server.closeAllConnections(), graceMs)
    try {
      await closed
    } finally {
      clearTimeout(timer)
    }
  }

  async #handle (ctx: Context): Promise<void> {
    const started = Date.now()
    this.#inFlight++
    this.#gate.track(ctx.res)
    try {
      await this.#pipeline(ctx)
    } finally {
      this.#inFlight--
      this.#log.debug('http', { method: ctx.req.method, path: ctx.req.url?.split('?')[0], status: ctx.status, ms: Date.now() - started })
    }
  }

  /** Errors: anything thrown further on becomes its typed answer (or ends a response already started). */
  readonly #errors: Middleware = async (ctx, next) => {
    try {
      await next()
    } catch (e) {
      const answer = errorAnswer(e, ctx.req)
      ctx.status = answer.status
      if (answer.error.code === 'internal') this.#log.error('http request failed', { error: answer.error.message, stack: (e as Error).stack })
      if (!ctx.res.headersSent) {
        ctx.req.resume()
        sendJson(ctx.res, answer.status, answer.body, answer.headers)
      } else {
        ctx.res.destroy()
      }
    }
  }
}

/**
 * Route: parse the target and match it. A target that cannot be routed is
 * kept, not thrown, so it is rate-limited like any other request first.
 */
function route (router: Router, clientKey: (req: IncomingMessage) => string): Middleware {
  return async (ctx, next) => {
    ctx.client = clientKey(ctx.req)
    try {
      ctx.url = requestUrl(ctx.req.url)
      // HEAD is GET without the body (did:web clients probe with it).
      ctx.match = router.match(ctx.req.method === 'HEAD' ? 'GET' : ctx.req.method ?? 'GET', ctx.url.pathname)
    } catch (e) {
      ctx.unroutable = e
    }
    await next()
  }
}

/** Preconditions: a routable target, a Host header, no unmet Expect; then 404 or 405. */
const preconditions: Middleware = async (ctx, next) => {
  const { req, res, url, match } = ctx
  if (url === undefined || match === undefined) throw ctx.unroutable
  if (req.headers.host === undefined && req.httpVersion !== '1.0') throw new BadRequestError('an HTTP/1.1 request needs a Host header')
  if (ctx.unmetExpectation) {
    ctx.status = 417
    req.resume()
    sendJson(res, 417, { error: { code: 'bad_request', message: 'only "Expect: 100-continue" is supported' } })
    return
  }
  if (match.kind === 'none') throw new NotFoundError(`no route ${req.method ?? ''} ${url.pathname}`)
  if (match.kind === 'method-not-allowed') {
    ctx.status = 405
    sendJson(res, 405, { error: { code: 'bad_request', message: `${req.method ?? ''} is not allowed here (allowed: ${match.allowed.join(', ')})` } }, { allow: match.allowed.join(', ') })
    return
  }
  await next()
}

/** Dispatch: the route's handler with the request it is owed, and its answer written. */
function dispatch (validators: ReadonlyMap<string, BodyValidator>): Middleware {
  return async ctx => {
    const { url, match, caller } = ctx
    if (url === undefined || match?.kind !== 'route') throw new Error('dispatch without a route')
    const { route, params } = match
    const request = { method: route.method, path: url.pathname, params, query: url.searchParams, headers: ctx.req.headers, ...(caller !== undefined ? { caller } : {}) } as HttpRequest
    defineBody(request, ctx.body ?? { ok: true, body: undefined }, validators.get(route.operationId))
    const out: HttpResponse = await route.handler(request)
    ctx.status = out.status
    if (out.text !== undefined) sendText(ctx.res, out.status, out.text, out.headers)
    else sendJson(ctx.res, out.status, out.body, out.headers)
  }
}

/** Raised by handlers that are not implemented on purpose (e.g. DCP presentation definitions). */
export class NotImplementedError extends HubError {
  constructor (message: string) {
    super('unsupported', message)
  }
}
