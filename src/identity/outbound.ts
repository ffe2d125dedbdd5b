/**
 * The one rule for every request the hub makes to a URL that someone else
 * chose (did:web documents, issuers' status lists, DCP service endpoints):
 *
 *  - HTTPS, except plain HTTP to a loopback host (a loopback connection
 *    cannot be intercepted off-machine, and it is what local dataspaces and
 *    tests use); no credentials in the URL; no redirects followed;
 *  - the address connected to is allowed by the outbound policy
 *    ({@link outboundMode}): every address the host name resolves to is
 *    classified ({@link classifyAddress}), IPv4-mapped, -compatible, NAT64
 *    and 6to4 IPv6 forms by the IPv4 address inside them, and the
 *    connection is made to one of exactly those checked addresses (the
 *    lookup that vets them is the lookup the socket uses, so a DNS answer
 *    that changes between check and connect cannot slip through);
 *  - answers read up to a cap, counting the bytes that actually arrive (a
 *    declared length may lie or be absent).
 *
 * The policy has three modes (`HUB_OUTBOUND`):
 *
 *  - `deny`: public addresses only;
 *  - `loopback`: public and loopback addresses (the default while the hub's
 *    HTTP server listens on loopback only, or not at all);
 *  - `private`: also private networks (10/8, 172.16/12, 192.168/16,
 *    100.64/10, fc00::/7), for a hub inside an internal network.
 *
 * Never allowed in any mode: link-local addresses (169.254/16, fe80::/10 —
 * cloud metadata services live there) and the known metadata addresses,
 * unspecified (0.0.0.0, ::), multicast, broadcast and reserved ranges.
 * When a daemon's HTTP server listens beyond loopback the default becomes
 * `deny` ({@link restrictOutboundFor}) unless the operator chose a mode
 * (`HUB_OUTBOUND`, or the older `HUB_OUTBOUND_LOOPBACK=deny|allow`).
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP, isIPv6, type LookupFunction } from 'node:net'
import { BadRequestError, TooLargeError } from '../errors.js'

// ── address classification ──────────────────────────────────────────────

/**
 * What an IP address is, as far as outbound requests care. `private`
 * covers RFC 1918, CGNAT (100.64/10) and the deprecated IPv6 site-local
 * fec0::/10; `metadata` the cloud instance-metadata addresses (which would
 * otherwise count as link-local, private or unique-local); `reserved`
 * everything that is no destination on the internet (documentation and
 * benchmarking ranges, 0/8, 240/4, unallocated IPv6 outside 2000::/3).
 */
export type AddressKind =
  | 'public'
  | 'loopback'
  | 'private'
  | 'unique-local'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved'

/** [network, prefix length, kind]; the first match wins, so more specific entries come first. */
type Range = [number[], number, AddressKind]

const V4_RANGES: Range[] = [
  [[169, 254, 169, 254], 32, 'metadata'], // AWS, GCP, Azure, OpenStack, …
  [[169, 254, 170, 2], 32, 'metadata'], // AWS ECS task metadata
  [[100, 100, 100, 200], 32, 'metadata'], // Alibaba Cloud
  [[255, 255, 255, 255], 32, 'broadcast'],
  [[0, 0, 0, 0], 32, 'unspecified'],
  [[0, 0, 0, 0], 8, 'reserved'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[10, 0, 0, 0], 8, 'private'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 168, 0, 0], 16, 'private'],
  [[100, 64, 0, 0], 10, 'private'],
  [[169, 254, 0, 0], 16, 'link-local'],
  [[192, 0, 0, 0], 24, 'reserved'],
  [[192, 0, 2, 0], 24, 'reserved'],
  [[192, 88, 99, 0], 24, 'reserved'],
  [[198, 18, 0, 0], 15, 'reserved'],
  [[198, 51, 100, 0], 24, 'reserved'],
  [[203, 0, 113, 0], 24, 'reserved'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved']
]

const V6_RANGES: Range[] = [
  [[0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54], 128, 'metadata'], // fd00:ec2::254 (AWS)
  [[0xfe, 0x80], 10, 'link-local'],
  [[0xfe, 0xc0], 10, 'private'],
  [[0xfc], 7, 'unique-local'],
  [[0xff], 8, 'multicast'],
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64, 'reserved'], // 100::/64 discard
  [[0x20, 0x01, 0x0d, 0xb8], 32, 'reserved'], // documentation
  [[0x20], 3, 'public']
]

function inRange (bytes: readonly number[], net: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const mask = bits - i >= 8 ? 0xff : (0xff << (8 - (bits - i))) & 0xff
    if (((bytes[i / 8] ?? 0) & mask) !== ((net[i / 8] ?? 0) & mask)) return false
  }
  return true
}

function kindOf (bytes: readonly number[], ranges: Range[], fallback: AddressKind): AddressKind {
  for (const [net, bits, kind] of ranges) if (inRange(bytes, net, bits)) return kind
  return fallback
}

/**
 * An IPv4 address in any spelling `inet_aton` accepts: one to four parts,
 * each decimal, octal (leading 0) or hex (0x), the last filling the
 * remaining bytes (`127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`).
 * WHATWG URL parsing already turns these into dotted quads for http(s)
 * URLs; this is the fallback for anything that did not go through it.
 */
export function parseIPv4 (s: string): number[] | undefined {
  const parts = s.split('.')
  if (parts.length > 4 || parts.some(p => p === '')) return undefined
  const nums: number[] = []
  for (const p of parts) {
    if (!/^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$/i.test(p)) return undefined
    const n = /^0x/i.test(p) ? (p.length === 2 ? 0 : parseInt(p.slice(2), 16)) : p.length > 1 && p.startsWith('0') ? parseInt(p, 8) : Number(p)
    if (!Number.isSafeInteger(n)) return undefined
    nums.push(n)
  }
  const last = nums.pop() as number
  if (nums.some(n => n > 255) || last >= 2 ** (8 * (4 - nums.length))) return undefined
  const out = [...nums]
  for (let i = 3 - nums.length; i >= 0; i--) out.push(Math.floor(last / 2 ** (8 * i)) % 256)
  return out
}

/** The 16 bytes of an IPv6 address (zone id, brackets and an embedded dotted quad allowed), or undefined. */
export function parseIPv6 (s: string): number[] | undefined {
  const a = s.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '')
  if (!isIPv6(a)) return undefined
  const words = (part: string): number[] => {
    if (part === '') return []
    return part.split(':').flatMap(g => {
      if (!g.includes('.')) return [parseInt(g, 16)]
      const [w, x, y, z] = g.split('.').map(Number) as [number, number, number, number]
      return [(w << 8) | x, (y << 8) | z]
    })
  }
  const [head = '', tail] = a.split('::')
  const h = words(head)
  const t = tail === undefined ? [] : words(tail)
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t]
  return all.flatMap(w => [w >> 8, w & 0xff])
}

/**
 * The IPv4 address an IPv6 address stands for, if it is one of the forms
 * that carry one: IPv4-mapped `::ffff:a.b.c.d` (also written
 * `::ffff:7f00:1`), IPv4-translated `::ffff:0:a.b.c.d`, IPv4-compatible
 * `::a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`.
 */
export function embeddedIPv4 (b: readonly number[]): number[] | undefined {
  const zero = (from: number, to: number): boolean => b.slice(from, to).every(x => x === 0)
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12)
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return b.slice(12)
  if (zero(0, 12) && !zero(12, 15)) return b.slice(12) // ::a.b.c.d, not :: or ::1
  if (inRange(b, [0x00, 0x64, 0xff, 0x9b], 32) && zero(4, 12)) return b.slice(12)
  if (inRange(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48)) return b.slice(12)
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6)
  return undefined
}

/**
 * The kind of an IP address (IPv4 in any inet_aton spelling, IPv6 with or
 * without brackets and zone id), or undefined if `address` is not one (a
 * host name).
 */
export function classifyAddress (address: string): AddressKind | undefined {
  const v6 = parseIPv6(address)
  if (v6 !== undefined) {
    if (v6.every(x => x === 0)) return 'unspecified'
    if (v6.slice(0, 15).every(x => x === 0) && v6[15] === 1) return 'loopback'
    const v4 = embeddedIPv4(v6)
    if (v4 !== undefined) return kindOf(v4, V4_RANGES, 'public')
    return kindOf(v6, V6_RANGES, 'reserved')
  }
  if (isIP(address) === 0 && /[^0-9a-fx.]/i.test(address)) return undefined
  const v4 = parseIPv4(address)
  return v4 === undefined ? undefined : kindOf(v4, V4_RANGES, 'public')
}

/** `host` as in a URL's `host` (name or address, optional port, IPv6 in brackets), or a bare IPv6 address. */
function hostnameOf (host: string): string | undefined {
  if (isIPv6(host.replace(/%.*$/, ''))) return `[${host}]`
  try {
    return new URL(`http://${host}/`).hostname
  } catch {
    return undefined
  }
}

/** `localhost` and its subdomains (RFC 6761: always loopback). */
function isLocalhostName (hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '')
  return h === 'localhost' || h.endsWith('.localhost')
}

/**
 * Whether `host` (a URL's `host`: name or address, optional port, IPv6 in
 * brackets; or a bare IPv6 address) is loopback: `localhost`, 127/8, ::1,
 * and the IPv6 forms of 127/8 (`[::ffff:127.0.0.1]`, …).
 */
export function isLoopbackHost (host: string): boolean {
  const h = hostnameOf(host)
  if (h === undefined) return false
  return isLocalhostName(h) || classifyAddress(h) === 'loopback'
}

// ── the policy ──────────────────────────────────────────────────────────

export type OutboundMode = 'deny' | 'loopback' | 'private'
export const OUTBOUND_MODES: readonly OutboundMode[] = ['deny', 'loopback', 'private']

const ALLOWED: Record<OutboundMode, ReadonlySet<AddressKind>> = {
  deny: new Set(['public']),
  loopback: new Set(['public', 'loopback']),
  private: new Set(['public', 'loopback', 'private', 'unique-local'])
}

/** Whether the policy `mode` lets outbound requests reach an address of this kind. */
export function addressAllowed (kind: AddressKind, mode: OutboundMode = outboundMode()): boolean {
  return ALLOWED[mode].has(kind)
}

/**
 * The mode the operator chose, if any: `HUB_OUTBOUND` (deny, loopback,
 * private), else `HUB_OUTBOUND_LOOPBACK` (`deny` → deny, `allow` →
 * loopback). An unknown value counts as `deny` (fail closed; the daemon
 * refuses to start with one: {@link checkOutboundEnv}).
 */
export function chosenOutboundMode (env: NodeJS.ProcessEnv = process.env): OutboundMode | undefined {
  const mode = env.HUB_OUTBOUND
  if (mode !== undefined && mode !== '') return (OUTBOUND_MODES as readonly string[]).includes(mode) ? mode as OutboundMode : 'deny'
  const loopback = env.HUB_OUTBOUND_LOOPBACK
  if (loopback === undefined || loopback === '') return undefined
  return loopback === 'allow' ? 'loopback' : 'deny'
}

/** Throws `bad_request` for a `HUB_OUTBOUND` or `HUB_OUTBOUND_LOOPBACK` value that means nothing. */
export function checkOutboundEnv (env: NodeJS.ProcessEnv = process.env): void {
  const mode = env.HUB_OUTBOUND
  if (mode !== undefined && mode !== '' && !(OUTBOUND_MODES as readonly string[]).includes(mode)) {
    throw new BadRequestError(`HUB_OUTBOUND=${mode} is not a mode: use ${OUTBOUND_MODES.join(', ')}`, { reason: 'bad_outbound_mode' })
  }
  const loopback = env.HUB_OUTBOUND_LOOPBACK
  if (loopback !== undefined && loopback !== '' && loopback !== 'deny' && loopback !== 'allow') {
    throw new BadRequestError(`HUB_OUTBOUND_LOOPBACK=${loopback} means nothing: use deny or allow (or HUB_OUTBOUND=${OUTBOUND_MODES.join('|')})`, { reason: 'bad_outbound_mode' })
  }
}

/** HTTP servers of this process listening beyond loopback (restrictOutboundFor). */
let exposedListeners = 0

/**
 * The outbound policy in force: the operator's choice
 * ({@link chosenOutboundMode}), else `deny` while an HTTP server of this
 * process listens beyond loopback, else `loopback`.
 */
export function outboundMode (): OutboundMode {
  return chosenOutboundMode() ?? (exposedListeners > 0 ? 'deny' : 'loopback')
}

/**
 * Call before an HTTP server starts listening on `host`: beyond loopback
 * (0.0.0.0, ::, a LAN or public address, a host name that is not
 * localhost) the default mode becomes `deny` until the returned release
 * function is called (when that server has closed). On loopback it changes
 * nothing.
 */
export function restrictOutboundFor (host: string): () => void {
  if (isLoopbackHost(host)) return () => {}
  exposedListeners++
  let released = false
  return () => {
    if (released) return
    released = true
    exposedListeners--
  }
}

/** Whether outbound requests may go to loopback hosts (the policy allows loopback addresses). */
export function loopbackAllowed (): boolean {
  return addressAllowed('loopback')
}

/** A `details.reason` of its own for a target the policy refuses, whatever the caller's other reasons. */
export const FORBIDDEN_ADDRESS = 'forbidden_address'

function describeKind (kind: AddressKind): string {
  return kind === 'unique-local' ? 'a unique-local' : `a${/^[aeiou]/.test(kind) ? 'n' : ''} ${kind}`
}

/** Refusal of a target by the outbound policy (`bad_request`, `details.reason` forbidden_address). */
export class ForbiddenAddressError extends BadRequestError {
  constructor (what: string, target: string, kind: AddressKind, mode: OutboundMode) {
    super(`${what} ${target} is ${describeKind(kind)} address, which outbound requests may not reach (outbound policy ${mode}; see HUB_OUTBOUND)`, { reason: FORBIDDEN_ADDRESS, addressKind: kind, outboundMode: mode })
  }
}

/**
 * The kind of the host of a parsed URL when the URL names it directly (an
 * IP literal, or `localhost`), else undefined (a name, known only once
 * resolved).
 */
function literalKind (url: URL): AddressKind | undefined {
  if (isLocalhostName(url.hostname)) return 'loopback'
  return classifyAddress(url.hostname)
}

/**
 * Refuse (`bad_request`, reason forbidden_address) an http(s) URL whose
 * host is an address literal, or localhost, that the policy does not let
 * outbound requests reach — the check for URLs written into records
 * (service endpoints) before anyone fetches them. Host names are not
 * resolved here: they are checked when they are connected to.
 */
export function checkOutboundLiteral (url: URL, what = 'URL'): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return
  const kind = literalKind(url)
  const mode = outboundMode()
  if (kind !== undefined && !addressAllowed(kind, mode)) throw new ForbiddenAddressError(what, url.origin, kind, mode)
}

export interface OutboundReasons {
  /** A malformed or credential-carrying URL. */
  bad: string
  /** Not HTTPS (and not HTTP to loopback). */
  insecure: string
}

/**
 * Parse `raw` and refuse it (`bad_request`) unless it is HTTPS, or HTTP to
 * loopback (any host with `allowHttp`), without user info, and its host,
 * when an address literal or localhost, is one the policy allows. `what`
 * names the URL in messages ("status list URL", …); `reasons` are the
 * `details.reason` of a malformed or credential-carrying URL (`bad`) and of
 * a non-HTTPS one (`insecure`); a refused address is always
 * `forbidden_address`. Host names are checked when connected to
 * ({@link outboundFetch}).
 */
export function checkOutboundUrl (raw: string | URL, what = 'URL', reasons: OutboundReasons = { bad: 'bad_url', insecure: 'insecure_url' }, opts: { allowHttp?: boolean } = {}): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new BadRequestError(`${what} ${String(raw)} is not an absolute URL`, { reason: reasons.bad })
  }
  if (url.username !== '' || url.password !== '') throw new BadRequestError(`a ${what} must not carry credentials`, { reason: reasons.bad })
  const kind = literalKind(url)
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && (opts.allowHttp === true || kind === 'loopback'))
  if (!secure) throw new BadRequestError(`${what} ${url.origin} must use HTTPS (plain HTTP only to loopback)`, { reason: reasons.insecure })
  checkOutboundLiteral(url, what)
  return url
}

// ── the connection ──────────────────────────────────────────────────────

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

// ── reading the answer ──────────────────────────────────────────────────

/** The response body, refusing (and cancelling the transfer) past `max` bytes with `too_large`. */
export async function readCapped (res: Response, max: number, what = 'the answer'): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {})
    throw new TooLargeError(`${what} is larger than ${max} bytes`, { maxBytes: max })
  }
  if (res.body === null) return new Uint8Array()
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      throw new TooLargeError(`${what} is larger than ${max} bytes`, { maxBytes: max })
    }
    chunks.push(value)
  }
  return new Uint8Array(Buffer.concat(chunks))
}
