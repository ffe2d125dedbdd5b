/**
 * The connection half of the outbound rule (outbound.ts): a `fetch` over
 * node:http(s) whose sockets resolve names through a lookup that vets every
 * address against the policy and connects only to those vetted addresses
 * (check and connect share one DNS answer), and reading an answer up to a
 * cap.
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { type LookupFunction } from 'node:net'
import { BadRequestError } from '../errors.js'
import { classifyAddress, isLocalhostName } from './outbound-address.js'
import { FORBIDDEN_ADDRESS, ForbiddenAddressError, addressAllowed, checkOutboundUrl, literalKind, outboundMode } from './outbound-policy.js'

/** Every address of a host name, as `dns.lookup(name, { all: true })` gives them. */
export type HostLookup = (hostname: string) => Promise<Array<{ address: string, family: number }>>

const systemLookup: HostLookup = async hostname => await dnsLookup(hostname, { all: true, verbatim: true })
let hostLookup: HostLookup = systemLookup

/**
 * Replace the name resolution of outbound requests (tests, or an embedder
 * with its own resolver); `undefined` restores the system's. Whatever it
 * answers is checked like any DNS answer.
 */
export function setOutboundLookup (lookup: HostLookup | undefined): void {
  hostLookup = lookup ?? systemLookup
}

/**
 * A `lookup` for net/tls sockets that resolves the name, refuses the
 * connection unless every address is allowed (and, for plain HTTP, every
 * one is loopback), and hands the socket exactly those addresses: the
 * check and the connection use the same answer.
 */
function vettedLookup (what: string, origin: string, loopbackOnly: boolean): LookupFunction {
  return (hostname, options, callback) => {
    void (async () => {
      const mode = outboundMode()
      let found: Array<{ address: string, family: number }>
      try {
        found = await hostLookup(hostname)
      } catch (err) {
        callback(err as NodeJS.ErrnoException, '', 0)
        return
      }
      if (found.length === 0) {
        callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0)
        return
      }
      for (const { address } of found) {
        const kind = classifyAddress(address) ?? 'reserved'
        if (!addressAllowed(kind, mode)) {
          callback(new ForbiddenAddressError(what, `${origin} (${address})`, kind, mode) as unknown as NodeJS.ErrnoException, '', 0)
          return
        }
        if (loopbackOnly && kind !== 'loopback') {
          callback(new BadRequestError(`${what} ${origin} resolves to ${address}, not loopback: plain HTTP is allowed only to loopback`, { reason: FORBIDDEN_ADDRESS, addressKind: kind }) as unknown as NodeJS.ErrnoException, '', 0)
          return
        }
      }
      const family = typeof options.family === 'number' ? options.family : 0
      const usable = family === 4 || family === 6 ? found.filter(a => a.family === family) : found
      if (usable.length === 0) {
        callback(Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }), '', 0)
        return
      }
      if (options.all === true) (callback as unknown as (err: null, addresses: Array<{ address: string, family: number }>) => void)(null, usable)
      else callback(null, (usable[0] as { address: string }).address, (usable[0] as { family: number }).family)
    })()
  }
}

export interface OutboundFetchOptions {
  /** Plain HTTP to any host (the did:web resolver's `insecureHttp`); the address policy still applies. */
  allowInsecureHttp?: boolean
  /** Names the URL in refusals. Default "URL". */
  what?: string
}

const NULL_BODY = new Set([101, 204, 205, 304])

function responseBody (res: IncomingMessage): ReadableStream<Uint8Array> {
  let done = false
  return new ReadableStream<Uint8Array>({
    start (controller) {
      res.on('data', (chunk: Buffer) => {
        if (done) return
        controller.enqueue(new Uint8Array(chunk))
        if ((controller.desiredSize ?? 1) <= 0) res.pause()
      })
      res.once('end', () => {
        if (done) return
        done = true
        controller.close()
      })
      const fail = (err: Error): void => {
        if (done) return
        done = true
        controller.error(err)
      }
      res.once('error', fail)
      res.once('close', () => { fail(new Error('the connection closed before the answer was complete')) })
    },
    pull () {
      res.resume()
    },
    cancel () {
      done = true
      res.destroy()
    }
  }, { highWaterMark: 4 })
}

/**
 * A `fetch` for URLs other parties chose, over node:http(s) so that the
 * socket connects only to addresses the policy allows (see the module
 * comment). Supports what the hub's outbound calls use: string/URL input;
 * `method`, `headers`, a string or byte `body`, `signal`; `redirect`
 * `'manual'` (a 3xx is returned as is) or anything else, which refuses a
 * redirect (rejects with a TypeError) — redirects are never followed.
 * Refused targets reject with {@link ForbiddenAddressError} (or another
 * `bad_request`) before any connection is attempted; network failures
 * reject with a TypeError like fetch's.
 */
export function createOutboundFetch (opts: OutboundFetchOptions = {}): typeof fetch {
  const what = opts.what ?? 'URL'
  return async (input, init = {}) => {
    if (typeof input !== 'string' && !(input instanceof URL)) throw new TypeError('outbound fetch takes a URL, not a Request')
    const url = checkOutboundUrl(input, what, undefined, { allowHttp: opts.allowInsecureHttp === true })
    const body = init.body === undefined || init.body === null
      ? undefined
      : typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : init.body instanceof Uint8Array ? Buffer.from(init.body) : undefined
    if (init.body !== undefined && init.body !== null && body === undefined) throw new TypeError('outbound fetch sends only string or byte bodies')
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((v, k) => { headers[k] = v })
    if (body !== undefined) headers['content-length'] = String(body.byteLength)
    const method = (init.method ?? 'GET').toUpperCase()
    const signal = init.signal ?? undefined
    signal?.throwIfAborted()
    const https = url.protocol === 'https:'
    const literal = literalKind(url) !== undefined && !isLocalhostName(url.hostname)
    const options: RequestOptions = {
      method,
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (https ? 443 : 80) : Number(url.port),
      path: url.pathname + url.search,
      headers,
      agent: false,
      // Address literals were checked above and are connected to without a lookup.
      ...(literal ? {} : { lookup: vettedLookup(what, url.origin, !https && opts.allowInsecureHttp !== true) }),
      ...(signal !== undefined ? { signal } : {})
    }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(options, resolve)
      req.once('error', (err: Error) => {
        if (err instanceof BadRequestError || err.name === 'AbortError') reject(err)
        else reject(new TypeError(`fetch failed: ${err.message}`, { cause: err }))
      })
      req.end(body)
    })
    const status = res.statusCode ?? 0
    const redirect = status >= 300 && status < 400 && res.headers.location !== undefined
    if (redirect && init.redirect !== 'manual') {
      res.destroy()
      throw new TypeError(`fetch failed: ${url.origin} answered with a redirect (HTTP ${status}), which outbound requests never follow`)
    }
    if (status < 200 || status > 599) {
      res.destroy()
      throw new TypeError(`fetch failed: ${url.origin} answered with HTTP status ${status}`)
    }
    const h = new Headers()
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
      try {
        h.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string)
      } catch {
        // A header value fetch would not represent: left out.
      }
    }
    const empty = NULL_BODY.has(status) || method === 'HEAD'
    if (empty) res.resume()
    if (signal !== undefined && !empty) signal.addEventListener('abort', () => { res.destroy(signal.reason as Error) }, { once: true })
    return new Response(empty ? null : responseBody(res), { status, statusText: res.statusMessage ?? '', headers: h })
  }
}

/** {@link createOutboundFetch} with the defaults: what the status-list checker and issuance delivery use. */
export const outboundFetch: typeof fetch = createOutboundFetch()
