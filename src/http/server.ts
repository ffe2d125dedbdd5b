/**
 * The hub's HTTP server (off by default; `hub start --http HOST:PORT`): the
 * Identity API, did:web hosting and the DCP endpoints. Routes come from one
 * table (router.ts); authentication, body parsing and the mapping of errors
 * to responses happen here and nowhere else.
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
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { AddressInfo, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { AuthenticationError, BadRequestError, HubError, NotFoundError, PermissionsRequiredError, toHubError } from '../errors.js'
import { httpStatusOf } from '../daemon/protocol.js'
import { silentLogger, type Logger } from '../log.js'
import type { OrgStore } from '../org/org-store.js'
import { PeerRateLimiter } from '../request/rate-limit.js'
import type { HttpRequest, HttpResponse, Match, Route, Router } from './router.js'
import { readBody } from './read-body.js'

/** Identity API bodies are small JSON documents; a credential message with a few JWT VCs fits easily. */
export const MAX_HTTP_BODY_BYTES = 1024 * 1024

/** A token bucket: `ratePerSecond` sustained, `burst` at once after being idle. */
export interface HttpRateLimit { ratePerSecond: number, burst: number }

export interface HttpLimits {
  /**
   * Per client, on the routes without x-api-key — DCP, did:web, the OpenAPI
   * document — and on unknown paths. `false`: no limit.
   */
  public: HttpRateLimit | false
  /** Per client, on the x-api-key routes (Identity API, STS). `false`: no limit. */
  apiKey: HttpRateLimit | false
  /**
   * Per client, failed x-api-key authentications (401). While this bucket
   * is empty every x-api-key request of that client is refused (429)
   * before its key is looked at. `false`: no limit.
   */
  authFailures: HttpRateLimit | false
  /** Clients remembered per bucket table; past it the ones first seen longest ago are forgotten. */
  maxTrackedClients: number
  /** Concurrent connections in all; more are closed at once by Node (`server.maxConnections`). The last line behind maxConnectionsPerClient. */
  maxConnections: number
  /**
   * Concurrent connections per client address (an IPv4 address, an IPv6
   * /64: clientAddressKey of the socket's remote address, never the
   * `clientKey` option, which needs a parsed request). A connection past it
   * is answered with a bare 503 `unavailable` (`details.reason`
   * too_many_connections) and closed as soon as it is accepted, before
   * anything it sent is read. `false`: no per-client cap (behind a reverse
   * proxy every connection comes from the proxy: raise this above the
   * proxy's connection pool, or turn it off and let the proxy limit clients).
   */
  maxConnectionsPerClient: number | false
  /** Request header bytes (Node's `maxHeaderSize`; larger: 431). */
  maxHeaderBytes: number
  /** Request headers kept (Node's `maxHeadersCount`; further ones are ignored). */
  maxHeadersCount: number
  /**
   * The request line and headers must arrive within this (slow loris); 408
   * and the connection closed. Also applies to a connection that sends
   * nothing at all, and to each further request on a keep-alive connection.
   */
  headersTimeoutMs: number
  /** The whole request, body included, must arrive within this; 408. */
  requestTimeoutMs: number
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number
  /** A connection with no traffic either way for this long is closed (e.g. a client that stops reading). */
  idleTimeoutMs: number
  /** Arrays/objects in a JSON body nested deeper than this: 400 (before parsing). */
  maxJsonDepth: number
}

/**
 * The defaults. Public routes: a DCP query costs ≈5 ms of CPU (signature
 * checks, a disk write), so 50/s keeps one client to a quarter of a core
 * while a burst of 200 covers any real verifier. x-api-key routes are the
 * operator's (loopback, scripts): ten times that. Failed authentications:
 * 10/s after a burst of 50 — typos and stale keys never get near it, a key
 * guesser is held to 10 guesses a second per address. Connections: 256 in
 * all, 32 per client address — far more than any browser (6 per origin) or
 * API client pool needs, while eight addresses are needed to fill the
 * server; request heads must arrive within 10 s.
 */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  public: { ratePerSecond: 50, burst: 200 },
  apiKey: { ratePerSecond: 500, burst: 1000 },
  authFailures: { ratePerSecond: 10, burst: 50 },
  maxTrackedClients: 16_384,
  maxConnections: 256,
  maxConnectionsPerClient: 32,
  maxHeaderBytes: 16 * 1024,
  maxHeadersCount: 100,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxJsonDepth: 64
})

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
}

/**
 * The rate-limit key of a remote address: an IPv4 address as is (also
 * IPv4-mapped IPv6), an IPv6 address by its /64 — one host usually holds a
 * whole /64, so keying by full address would give it 2^64 buckets.
 */
export function clientAddressKey (address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown'
  const a = address.toLowerCase().replace(/%.*$/, '')
  if (!a.includes(':')) return a
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)
  if (mapped !== null) return mapped[1] as string
  const groups = (s: string | undefined): string[] => s === undefined || s === '' ? [] : s.split(':').flatMap(g => g.includes('.') ? ['0', '0'] : [g])
  const [head, tail] = a.split('::')
  const h = groups(head)
  const t = groups(tail)
  const all = tail === undefined ? h : [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t]
  return `${all.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

/** 429: a client over one of its rate limits. */
export class RateLimitedError extends HubError {
  readonly retryAfterMs: number
  constructor (message: string, retryAfterMs: number) {
    super('unavailable', message, { reason: 'rate_limited', retryAfterMs })
    this.retryAfterMs = retryAfterMs
  }
}

const positiveInteger = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n > 0

/** Throws a RangeError naming the first limit that makes no sense. */
function checkLimits (l: HttpLimits): void {
  if (!positiveInteger(l.maxConnections)) throw new RangeError('maxConnections must be a positive integer')
  if (l.maxConnectionsPerClient !== false && !positiveInteger(l.maxConnectionsPerClient)) throw new RangeError('maxConnectionsPerClient must be a positive integer or false')
  if (!(l.headersTimeoutMs > 0 && l.headersTimeoutMs <= l.requestTimeoutMs)) throw new RangeError('headersTimeoutMs must be > 0 and ≤ requestTimeoutMs')
}

/** The answer to a connection past maxConnectionsPerClient: written in one piece as it is accepted. */
function tooManyConnections (max: number): string {
  const body = JSON.stringify({ error: { code: 'unavailable', message: `too many connections from this address: at most ${max} at once`, details: { reason: 'too_many_connections', maxConnectionsPerClient: max } } })
  return `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`
}

function limiter (limit: HttpRateLimit | false, maxPeers: number, clock: (() => number) | undefined): PeerRateLimiter | undefined {
  return limit === false ? undefined : new PeerRateLimiter({ ...limit, maxPeers, ...(clock !== undefined ? { now: clock } : {}) })
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

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

/**
 * Whether JSON text nests arrays/objects deeper than `max` (exact for valid
 * JSON; invalid JSON is refused by JSON.parse anyway). Checked before
 * parsing: code that walks a parsed body recursively (String() of an array,
 * JSON.stringify, validators) would overflow the stack on a nesting bomb —
 * a 500 — and no message of this API nests anywhere near the limit.
 */
function jsonDeeperThan (raw: Uint8Array, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped byte
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return false
}

function sha256 (s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest()
}

export class HttpServer {
  readonly #server: Server
  readonly #router: Router
  readonly #org: OrgStore
  readonly #adminHash: Buffer
  readonly #log: Logger
  readonly #maxBody: number
  readonly #limits: HttpLimits
  readonly #publicLimit: PeerRateLimiter | undefined
  readonly #apiKeyLimit: PeerRateLimiter | undefined
  readonly #authFailureLimit: PeerRateLimiter | undefined
  readonly #clientKey: (req: IncomingMessage) => string
  /** Requests in progress per connection: a parse error or timeout on it must not write into a started response. */
  readonly #open = new WeakMap<Duplex, Set<ServerResponse>>()
  /** Open connections per client address (maxConnectionsPerClient); a key leaves with its last connection. */
  readonly #connections = new Map<string, number>()
  #refusedConnections = 0
  #inFlight = 0
  #url = ''

  constructor (opts: HttpServerOptions) {
    if (opts.adminKey.length < 16) throw new TypeError('the admin API key must be at least 16 characters')
    this.#router = opts.router
    this.#org = opts.org
    this.#adminHash = sha256(opts.adminKey)
    this.#log = (opts.logger ?? silentLogger).child('http')
    this.#maxBody = opts.maxBodyBytes ?? MAX_HTTP_BODY_BYTES
    const given = Object.entries(opts.limits ?? {}).filter(([, v]) => v !== undefined)
    const limits = this.#limits = { ...DEFAULT_HTTP_LIMITS, ...Object.fromEntries(given) as Partial<HttpLimits> }
    checkLimits(limits)
    this.#publicLimit = limiter(limits.public, limits.maxTrackedClients, opts.clock)
    this.#apiKeyLimit = limiter(limits.apiKey, limits.maxTrackedClients, opts.clock)
    this.#authFailureLimit = limiter(limits.authFailures, limits.maxTrackedClients, opts.clock)
    this.#clientKey = opts.clientKey ?? (req => clientAddressKey(req.socket.remoteAddress))
    this.#server = createServer({
      // Pinned, so a --max-http-header-size or --insecure-http-parser given to node cannot loosen them.
      maxHeaderSize: limits.maxHeaderBytes,
      insecureHTTPParser: false,
      // Checked in #handle instead, so that the 400 is a typed one (Node's own has no body).
      requireHostHeader: false,
      // The timeouts below are enforced on this tick (Node's default, 30 s, would stretch them).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs
    }, (req, res) => { void this.#handle(req, res) })
    this.#server.maxConnections = limits.maxConnections
    this.#server.maxHeadersCount = limits.maxHeadersCount
    this.#server.timeout = limits.idleTimeoutMs
    // After Node's own listener has attached the parser, but in the same tick,
    // before any read: a refused socket is gone before a byte of it is parsed.
    this.#server.on('connection', (socket: Socket) => { this.#admitConnection(socket) })
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => { this.#clientError(err, socket) })
    // Node answers an Expect other than 100-continue with a bare 417 of its own: make it a typed one.
    this.#server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => { void this.#handle(req, res, true) })
  }

  /** The limits in force (defaults merged with the options). */
  get limits (): Readonly<HttpLimits> {
    return this.#limits
  }

  /** Connections refused so far for exceeding maxConnectionsPerClient (diagnostics, tests). */
  get refusedConnections (): number {
    return this.#refusedConnections
  }

  /** Open connections of one client address key (clientAddressKey), as counted for maxConnectionsPerClient. */
  connectionsOf (key: string): number {
    return this.#connections.get(key) ?? 0
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

  /**
   * Count a newly accepted connection against its address, or refuse it:
   * the 503 goes out in one write (a fresh socket's send buffer takes it at
   * once) and the socket is destroyed in the same tick, so nothing the
   * client sent is ever read or parsed.
   */
  #admitConnection (socket: Socket): void {
    const max = this.#limits.maxConnectionsPerClient
    if (max === false) return
    const key = clientAddressKey(socket.remoteAddress)
    const open = this.#connections.get(key) ?? 0
    if (open >= max) {
      this.#refusedConnections++
      this.#log.debug('connection refused: too many from this address', { client: key, max })
      socket.write(tooManyConnections(max))
      socket.destroy()
      return
    }
    this.#connections.set(key, open + 1)
    socket.once('close', () => {
      const left = (this.#connections.get(key) ?? 1) - 1
      if (left > 0) this.#connections.set(key, left)
      else this.#connections.delete(key)
    })
  }

  #isAdmin (key: string): boolean {
    return timingSafeEqual(sha256(key), this.#adminHash)
  }

  /** x-api-key checks for the Identity API. Bearer routes authenticate in their handler (DCP rules). */
  async #authorize (route: Route, req: IncomingMessage, params: Record<string, string>, client: string): Promise<HttpRequest['caller']> {
    if (route.auth === 'none' || route.auth === 'bearer') return undefined
    const failures = this.#authFailureLimit
    if (failures === undefined) return await this.#checkApiKey(route, req, params)
    // A client out of failed attempts may not try any key, right or wrong:
    // refusing only wrong ones would still tell a guesser which guess was right.
    const wait = failures.retryAfterMs(client)
    if (wait > 0) throw new RateLimitedError(`too many failed authentications: at most ${failures.ratePerSecond} per second per client (burst ${failures.burst}); retry in ${wait} ms`, wait)
    try {
      return await this.#checkApiKey(route, req, params)
    } catch (err) {
      // Debit, not take: attempts already in flight when the bucket ran dry are paid for too.
      if (err instanceof AuthenticationError) failures.debit(client)
      throw err
    }
  }

  async #checkApiKey (route: Route, req: IncomingMessage, params: Record<string, string>): Promise<HttpRequest['caller']> {
    const header = req.headers['x-api-key']
    const key = Array.isArray(header) ? header[0] : header
    if (key === undefined || key === '') throw new AuthenticationError('this endpoint needs an x-api-key header')
    if (this.#isAdmin(key)) return { admin: true }
    // Throws authentication_failed for a key that is nobody's.
    const who = await this.#org.authenticateApiKey(key)
    if (route.auth === 'admin') throw new PermissionsRequiredError('this endpoint needs the admin API key')
    if (params.participantId !== undefined && params.participantId !== who.participantId) {
      throw new PermissionsRequiredError(`this API key belongs to participant "${who.participantId}", not to "${params.participantId}"`)
    }
    return { admin: false, participantId: who.participantId }
  }

  /** Take a token from the client's bucket for this request, or throw 429. */
  #admit (match: Match | undefined, client: string): void {
    const apiKey = match?.kind === 'route' && (match.route.auth === 'admin' || match.route.auth === 'participant')
    const l = apiKey ? this.#apiKeyLimit : this.#publicLimit
    if (l === undefined || l.take(client)) return
    const wait = Math.max(1, l.retryAfterMs(client))
    throw new RateLimitedError(`rate limit: at most ${l.ratePerSecond} requests per second per client (burst ${l.burst}) on ${apiKey ? 'x-api-key' : 'public'} routes; retry in ${wait} ms`, wait)
  }

  async #handle (req: IncomingMessage, res: ServerResponse, unmetExpectation = false): Promise<void> {
    const started = Date.now()
    let status = 500
    this.#inFlight++
    const socket = req.socket
    const open = this.#open.get(socket) ?? new Set()
    this.#open.set(socket, open.add(res))
    res.once('close', () => { open.delete(res) })
    try {
      const client = this.#clientKey(req)
      let url: URL | undefined
      let match: Match | undefined
      let unparsed: unknown
      try {
        url = requestUrl(req.url)
        // HEAD is GET without the body (did:web clients probe with it).
        match = this.#router.match(req.method === 'HEAD' ? 'GET' : req.method ?? 'GET', url.pathname)
      } catch (e) {
        unparsed = e
      }
      // Before anything else is done for the request, unparseable ones included.
      this.#admit(match, client)
      if (url === undefined || match === undefined) throw unparsed
      if (req.headers.host === undefined && req.httpVersion !== '1.0') throw new BadRequestError('an HTTP/1.1 request needs a Host header')
      if (unmetExpectation) {
        status = 417
        req.resume()
        this.#send(res, 417, { error: { code: 'bad_request', message: 'only "Expect: 100-continue" is supported' } })
        return
      }
      if (match.kind === 'none') throw new NotFoundError(`no route ${req.method ?? ''} ${url.pathname}`)
      if (match.kind === 'method-not-allowed') {
        status = 405
        this.#send(res, 405, { error: { code: 'bad_request', message: `${req.method ?? ''} is not allowed here (allowed: ${match.allowed.join(', ')})` } }, { allow: match.allowed.join(', ') })
        return
      }
      const { route, params } = match
      const caller = await this.#authorize(route, req, params, client)
      let body: unknown
      let bodyError: BadRequestError | undefined
      if (req.method === 'POST' || req.method === 'PUT') {
        const raw = await readBody(req, this.#maxBody)
        if (raw.length > 0 && jsonDeeperThan(raw, this.#limits.maxJsonDepth)) {
          bodyError = new BadRequestError(`the request body is nested deeper than ${this.#limits.maxJsonDepth} levels`)
        } else if (raw.length > 0) {
          try {
            body = JSON.parse(utf8.decode(raw))
          } catch {
            bodyError = new BadRequestError('the request body is not valid UTF-8 JSON')
          }
        }
      }
      const request: HttpRequest = { method: route.method, path: url.pathname, params, query: url.searchParams, headers: req.headers, body, ...(caller !== undefined ? { caller } : {}) }
      // A malformed body is reported when the handler reads it, so a handler's
      // earlier checks (unknown participant → 404, no Bearer → 401) come first,
      // in the order its protocol documents.
      if (bodyError !== undefined) Object.defineProperty(request, 'body', { get: () => { throw bodyError } })
      const out: HttpResponse = await route.handler(request)
      status = out.status
      if (out.text !== undefined) this.#sendText(res, out.status, out.text, out.headers)
      else this.#send(res, out.status, out.body, out.headers)
    } catch (e) {
      const err = e instanceof URIError ? new BadRequestError('malformed percent-encoding in the path') : toHubError(e)
      status = err instanceof RateLimitedError ? 429 : httpStatusOf(err.code)
      if (err.code === 'internal') this.#log.error('http request failed', { error: err.message, stack: (e as Error).stack })
      // Details carry reasons (e.g. a DCP token check) but never secrets: see errors.ts.
      const body = { error: { code: err.code, message: err.message, ...(err.details !== undefined && err.code !== 'internal' ? { details: err.details } : {}) } }
      if (!res.headersSent) {
        req.resume()
        const headers: Record<string, string> | undefined = err instanceof RateLimitedError
          ? { 'retry-after': String(Math.ceil(err.retryAfterMs / 1000)) }
          : status === 401 ? { 'www-authenticate': req.url?.startsWith('/api/identity/') === true ? 'x-api-key' : 'Bearer' } : undefined
        this.#send(res, status, body, headers)
      } else {
        res.destroy()
      }
    } finally {
      this.#inFlight--
      this.#log.debug('http', { method: req.method, path: req.url?.split('?')[0], status, ms: Date.now() - started })
    }
  }

  /**
   * Requests Node's parser refuses (malformed, headers too large, too slow)
   * get the same typed error body as the rest, instead of Node's bare reply.
   */
  #clientError (err: NodeJS.ErrnoException, socket: Duplex): void {
    // Nothing to answer on a dead connection, nor in the middle of a response
    // (a request still waiting for its body gets the 408: it has sent nothing).
    if (err.code === 'ECONNRESET' || !socket.writable || [...this.#open.get(socket) ?? []].some(r => r.headersSent)) {
      socket.destroy()
      return
    }
    const [status, code, message] = err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'too_large', `the request headers exceed ${this.#limits.maxHeaderBytes} bytes`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'bad_request', 'the request did not arrive in time']
        : [400, 'bad_request', `malformed HTTP request (${err.code ?? 'parse error'})`]
    const body = JSON.stringify({ error: { code, message } })
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`, () => socket.destroy())
  }

  #send (res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
    if (body === undefined || status === 204 || res.req.method === 'HEAD') {
      res.writeHead(status, { 'cache-control': 'no-store', ...headers })
      res.end()
      return
    }
    const text = JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers
    })
    res.end(text)
  }

  /** A non-JSON body (HttpResponse.text), with the same protective headers. */
  #sendText (res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers
    })
    res.end(res.req.method === 'HEAD' ? undefined : text)
  }
}

/** Raised by handlers that are not implemented on purpose (e.g. DCP presentation definitions). */
export class NotImplementedError extends HubError {
  constructor (message: string) {
    super('unsupported', message)
  }
}
