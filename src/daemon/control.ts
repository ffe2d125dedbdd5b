/**
 * The local control channel: an HTTP server on 127.0.0.1 (OS-assigned port)
 * through which CLI processes run commands inside the daemon, and the client
 * they use. Loopback alone is not a boundary (any local user, or a browser
 * page, can reach the port), so every request carries the bearer secret that
 * only the hub directory's owner can read (control.secret, 0600). Browsers
 * cannot attach that header cross-origin without a CORS preflight, which
 * this server never approves.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { AuthenticationError, BadRequestError, HubError, NotFoundError, TooLargeError, errorFromWire, toHubError } from '../errors.js'
import type { Logger } from '../log.js'
import { COMMAND_PATH, MAX_BODY_BYTES, errorBody, httpStatusOf, parseCommandRequest, type CommandRequest } from './protocol.js'
import { readDaemonInfo, readSecret, type DaemonInfo } from './files.js'
import { readBody } from '../http/read-body.js'

export type Dispatch = (command: string, params: Record<string, unknown>) => Promise<unknown>

export interface ControlServerOptions {
  secret: string
  dispatch: Dispatch
  logger: Logger
  maxBodyBytes?: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function send (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    // One request per connection: a CLI process sends one command, and
    // closing keeps shutdown from waiting on idle keep-alive sockets.
    connection: 'close',
    ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {})
  })
  res.end(text)
}

/**
 * Wait (at most `ms`) until the request body has been read to its end. An
 * error reply sent while the client is still uploading would close the
 * connection under it (we reply `connection: close`), and the client would
 * see EPIPE or a reset instead of our 401 or 413.
 */
async function drained (req: IncomingMessage, ms: number): Promise<void> {
  if (req.complete || req.destroyed) return
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(done, ms)
    req.once('end', done)
    req.once('close', done)
    req.resume()
  })
}

const DRAIN_MS = 2000

export class ControlServer {
  readonly #server: Server
  readonly #secret: Buffer
  readonly #dispatch: Dispatch
  readonly #log: Logger
  readonly #maxBody: number
  #url = ''

  private constructor (opts: ControlServerOptions) {
    this.#secret = Buffer.from(opts.secret, 'utf8')
    this.#dispatch = opts.dispatch
    this.#log = opts.logger
    this.#maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES
    this.#server = createServer((req, res) => { void this.#handle(req, res) })
  }

  /** Listen on 127.0.0.1 with an OS-assigned port. */
  static async listen (opts: ControlServerOptions): Promise<ControlServer> {
    const s = new ControlServer(opts)
    await new Promise<void>((resolve, reject) => {
      s.#server.once('error', reject)
      s.#server.listen(0, '127.0.0.1', () => {
        s.#server.off('error', reject)
        resolve()
      })
    })
    const { port } = s.#server.address() as AddressInfo
    s.#url = `http://127.0.0.1:${port}`
    return s
  }

  get url (): string {
    return this.#url
  }

  /**
   * Stop accepting connections and wait for in-flight commands to answer;
   * after `graceMs`, cut whatever is left.
   */
  async close (graceMs = 5000): Promise<void> {
    if (!this.#server.listening) return
    const closed = new Promise<void>(resolve => this.#server.close(() => resolve()))
    const timer = setTimeout(() => this.#server.closeAllConnections(), graceMs)
    try {
      await closed
    } finally {
      clearTimeout(timer)
    }
  }

  /** Constant-time check of `Bearer <secret>`; a different length is rejected without comparing. */
  #authorized (header: string | undefined): boolean {
    if (header === undefined || !header.startsWith('Bearer ')) return false
    const given = Buffer.from(header.slice('Bearer '.length), 'utf8')
    return given.length === this.#secret.length && timingSafeEqual(given, this.#secret)
  }

  async #handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // Authenticate before anything else, so unauthenticated callers learn nothing (not even the routes).
      if (!this.#authorized(req.headers.authorization)) throw new AuthenticationError('missing or wrong control secret')
      const path = (req.url ?? '').split('?')[0]
      if (path !== COMMAND_PATH) throw new NotFoundError(`no such route: ${path ?? ''}`)
      if (req.method !== 'POST') throw new BadRequestError(`${COMMAND_PATH} takes POST, not ${req.method ?? '?'}`)
      const body = await readBody(req, this.#maxBody)
      let json: unknown
      try {
        json = JSON.parse(utf8.decode(body))
      } catch {
        throw new BadRequestError('the request body is not valid UTF-8 JSON')
      }
      const { command, params } = parseCommandRequest(json)
      this.#log.debug('control command', { command })
      const result = await this.#dispatch(command, params)
      send(res, 200, { result: result === undefined ? null : result })
    } catch (e) {
      const err = toHubError(e)
      if (err.code === 'internal') this.#log.error('control command failed', { error: err.message, stack: (e as Error).stack })
      else this.#log.debug('control request rejected', { code: err.code, message: err.message })
      await drained(req, DRAIN_MS)
      if (!res.headersSent) send(res, httpStatusOf(err.code), errorBody(err))
      else res.destroy()
    }
  }
}

/**
 * The daemon did not receive the request (nothing listens at its control
 * URL, or its files are gone): the command did not run, so the caller may
 * safely fall back to opening the hub in-process.
 */
export class DaemonUnreachableError extends HubError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('unavailable', message, undefined, options)
  }
}

function isConnectionRefused (err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown, errors?: Array<{ code?: unknown }> } }).cause
  return cause?.code === 'ECONNREFUSED' || (cause?.errors?.some(e => e.code === 'ECONNREFUSED') ?? false)
}

export class ControlClient {
  readonly url: string
  readonly #secret: string

  constructor (url: string, secret: string) {
    this.url = url
    this.#secret = secret
  }

  /** A client for the daemon described by `dir`'s daemon.json and control.secret. */
  static async forDir (dir: string, info?: DaemonInfo): Promise<ControlClient> {
    const daemon = info ?? await readDaemonInfo(dir)
    const secret = await readSecret(dir)
    if (daemon === undefined || secret === undefined) throw new DaemonUnreachableError(`no hub daemon is running for ${dir}`)
    return new ControlClient(daemon.control.url, secret)
  }

  /**
   * Run one command in the daemon and return its result, or throw the
   * HubError it answered with (same code and message as in-process).
   */
  async call (command: string, params: Record<string, unknown> = {}, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    const request: CommandRequest = { command, params }
    const body = JSON.stringify(request)
    // Refuse here rather than upload megabytes only to be told 413.
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) throw new TooLargeError(`the command exceeds the control channel's ${MAX_BODY_BYTES} byte limit`)
    let res: Response
    let text: string
    try {
      res = await fetch(this.url + COMMAND_PATH, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.#secret}`, 'content-type': 'application/json' },
        body,
        ...(opts.timeoutMs !== undefined ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {})
      })
      text = await res.text()
    } catch (err) {
      if (isConnectionRefused(err)) throw new DaemonUnreachableError(`no hub daemon answers at ${this.url}`, { cause: err })
      const why = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message
      // The request may have reached the daemon: the command may or may not have run, so never retry it blindly.
      throw new HubError('unavailable', `lost the connection to the hub daemon at ${this.url} (${why}); the command may or may not have run`, undefined, { cause: err })
    }
    let reply: { result?: unknown, error?: { code?: unknown, message?: unknown } }
    try {
      reply = JSON.parse(text) as typeof reply
    } catch {
      throw new HubError('internal', `the hub daemon sent a malformed reply (HTTP ${res.status})`)
    }
    if (res.ok && typeof reply === 'object' && reply !== null && 'result' in reply) return reply.result
    const e = reply?.error
    if (typeof e?.code === 'string') throw errorFromWire({ code: e.code, message: typeof e.message === 'string' ? e.message : e.code })
    throw new HubError('internal', `the hub daemon sent an unexpected reply (HTTP ${res.status})`)
  }
}
