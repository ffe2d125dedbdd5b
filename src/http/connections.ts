/**
 * The connection layer under the HTTP pipeline: the Node server with every
 * size limit and timeout pinned (header size and count, headers / request /
 * keep-alive / idle timeouts, the global connection cap), the per-address
 * connection cap enforced as each connection is accepted, and typed answers
 * to what Node's parser refuses (slow or oversized heads, malformed requests).
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Logger } from '../log.js'
import type { HttpLimits } from './limits.js'

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

/** The answer to a connection past maxConnectionsPerClient: written in one piece as it is accepted. */
function tooManyConnections (max: number): string {
  const body = JSON.stringify({ error: { code: 'unavailable', message: `too many connections from this address: at most ${max} at once`, details: { reason: 'too_many_connections', maxConnectionsPerClient: max } } })
  return `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`
}

/**
 * Connection bookkeeping: the per-address cap, and the responses in progress
 * on each connection (a parse error or timeout on a connection must not
 * write into a response already started on it).
 */
export class ConnectionGate {
  readonly #max: number | false
  readonly #log: Logger
  /** Open connections per client address; a key leaves with its last connection. */
  readonly #connections = new Map<string, number>()
  readonly #open = new WeakMap<Duplex, Set<ServerResponse>>()
  #refused = 0

  constructor (maxConnectionsPerClient: number | false, log: Logger) {
    this.#max = maxConnectionsPerClient
    this.#log = log
  }

  get refused (): number {
    return this.#refused
  }

  connectionsOf (key: string): number {
    return this.#connections.get(key) ?? 0
  }

  /**
   * Count a newly accepted connection against its address, or refuse it:
   * the 503 goes out in one write (a fresh socket's send buffer takes it at
   * once) and the socket is destroyed in the same tick, so nothing the
   * client sent is ever read or parsed.
   */
  admit (socket: Socket): void {
    const max = this.#max
    if (max === false) return
    const key = clientAddressKey(socket.remoteAddress)
    const open = this.#connections.get(key) ?? 0
    if (open >= max) {
      this.#refused++
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

  /** Remember a response in progress on its connection until it closes. */
  track (res: ServerResponse): void {
    const socket = res.req.socket
    const open = this.#open.get(socket) ?? new Set()
    this.#open.set(socket, open.add(res))
    res.once('close', () => { open.delete(res) })
  }

  /** Whether a response has started on this connection. */
  responding (socket: Duplex): boolean {
    return [...this.#open.get(socket) ?? []].some(r => r.headersSent)
  }
}

/**
 * Requests Node's parser refuses (malformed, headers too large, too slow)
 * get the same typed error body as the rest, instead of Node's bare reply.
 */
function answerClientError (err: NodeJS.ErrnoException, socket: Duplex, gate: ConnectionGate, maxHeaderBytes: number): void {
  // Nothing to answer on a dead connection, nor in the middle of a response
  // (a request still waiting for its body gets the 408: it has sent nothing).
  if (err.code === 'ECONNRESET' || !socket.writable || gate.responding(socket)) {
    socket.destroy()
    return
  }
  const [status, code, message] = err.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'too_large', `the request headers exceed ${maxHeaderBytes} bytes`]
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'bad_request', 'the request did not arrive in time']
      : [400, 'bad_request', `malformed HTTP request (${err.code ?? 'parse error'})`]
  const body = JSON.stringify({ error: { code, message } })
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`, () => socket.destroy())
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse, unmetExpectation: boolean) => void

/** The Node server: limits pinned, the gate on every connection, parser errors answered typed. */
export function createLimitedServer (limits: HttpLimits, gate: ConnectionGate, onRequest: RequestListener): Server {
  const server = createServer({
    // Pinned, so a --max-http-header-size or --insecure-http-parser given to node cannot loosen them.
    maxHeaderSize: limits.maxHeaderBytes,
    insecureHTTPParser: false,
    // Checked by the pipeline instead, so that the 400 is a typed one (Node's own has no body).
    requireHostHeader: false,
    // The timeouts below are enforced on this tick (Node's default, 30 s, would stretch them).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs
  }, (req, res) => { onRequest(req, res, false) })
  server.maxConnections = limits.maxConnections
  server.maxHeadersCount = limits.maxHeadersCount
  server.timeout = limits.idleTimeoutMs
  // After Node's own listener has attached the parser, but in the same tick,
  // before any read: a refused socket is gone before a byte of it is parsed.
  server.on('connection', (socket: Socket) => { gate.admit(socket) })
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => { answerClientError(err, socket, gate, limits.maxHeaderBytes) })
  // Node answers an Expect other than 100-continue with a bare 417 of its own: make it a typed one.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => { onRequest(req, res, true) })
  return server
}
