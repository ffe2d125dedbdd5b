/**
 * The hub's HTTP server (off by default; `hub start --http HOST:PORT`): the
 * Identity API, did:web hosting and the DCP endpoints. Routes come from one
 * table (router.ts); authentication, body parsing and the mapping of errors
 * to responses happen here and nowhere else.
 *
 * Errors are `{"error":{"code","message"}}` with the status of their code
 * (the same codes as the CLI and the libp2p protocols).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { AuthenticationError, BadRequestError, HubError, NotFoundError, PermissionsRequiredError, toHubError } from '../errors.js'
import { httpStatusOf } from '../daemon/protocol.js'
import { silentLogger, type Logger } from '../log.js'
import type { OrgStore } from '../org/org-store.js'
import type { HttpRequest, HttpResponse, Route, Router } from './router.js'
import { readBody } from './read-body.js'

/** Identity API bodies are small JSON documents; a credential message with a few JWT VCs fits easily. */
export const MAX_HTTP_BODY_BYTES = 1024 * 1024

export interface HttpServerOptions {
  router: Router
  org: OrgStore
  /** The admin API key (all participants). */
  adminKey: string
  logger?: Logger
  maxBodyBytes?: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

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
  #url = ''

  constructor (opts: HttpServerOptions) {
    if (opts.adminKey.length < 16) throw new TypeError('the admin API key must be at least 16 characters')
    this.#router = opts.router
    this.#org = opts.org
    this.#adminHash = sha256(opts.adminKey)
    this.#log = (opts.logger ?? silentLogger).child('http')
    this.#maxBody = opts.maxBodyBytes ?? MAX_HTTP_BODY_BYTES
    this.#server = createServer((req, res) => { void this.#handle(req, res) })
    // Slow-loris bounds: a client must send its headers and body promptly.
    this.#server.headersTimeout = 10_000
    this.#server.requestTimeout = 30_000
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

  #isAdmin (key: string): boolean {
    return timingSafeEqual(sha256(key), this.#adminHash)
  }

  /** x-api-key checks for the Identity API. Bearer routes authenticate in their handler (DCP rules). */
  async #authorize (route: Route, req: IncomingMessage, params: Record<string, string>): Promise<HttpRequest['caller']> {
    if (route.auth === 'none' || route.auth === 'bearer') return undefined
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

  async #handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now()
    let status = 500
    try {
      const url = new URL(req.url ?? '/', 'http://local')
      // HEAD is GET without the body (did:web clients probe with it).
      const match = this.#router.match(req.method === 'HEAD' ? 'GET' : req.method ?? 'GET', url.pathname)
      if (match.kind === 'none') throw new NotFoundError(`no route ${req.method ?? ''} ${url.pathname}`)
      if (match.kind === 'method-not-allowed') {
        status = 405
        this.#send(res, 405, { error: { code: 'bad_request', message: `${req.method ?? ''} is not allowed here (allowed: ${match.allowed.join(', ')})` } }, { allow: match.allowed.join(', ') })
        return
      }
      const { route, params } = match
      const caller = await this.#authorize(route, req, params)
      let body: unknown
      let bodyError: BadRequestError | undefined
      if (req.method === 'POST' || req.method === 'PUT') {
        const raw = await readBody(req, this.#maxBody)
        if (raw.length > 0) {
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
      this.#send(res, out.status, out.body, out.headers)
    } catch (e) {
      const err = e instanceof URIError ? new BadRequestError('malformed percent-encoding in the path') : toHubError(e)
      status = httpStatusOf(err.code)
      if (err.code === 'internal') this.#log.error('http request failed', { error: err.message, stack: (e as Error).stack })
      // Details carry reasons (e.g. a DCP token check) but never secrets: see errors.ts.
      const body = { error: { code: err.code, message: err.message, ...(err.details !== undefined && err.code !== 'internal' ? { details: err.details } : {}) } }
      if (!res.headersSent) {
        req.resume()
        this.#send(res, status, body, status === 401 ? { 'www-authenticate': req.url?.startsWith('/api/identity/') === true ? 'x-api-key' : 'Bearer' } : undefined)
      } else {
        res.destroy()
      }
    } finally {
      this.#log.debug('http', { method: req.method, path: req.url?.split('?')[0], status, ms: Date.now() - started })
    }
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
}

/** Raised by handlers that are not implemented on purpose (e.g. DCP presentation definitions). */
export class NotImplementedError extends HubError {
  constructor (message: string) {
    super('unsupported', message)
  }
}
