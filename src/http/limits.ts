/**
 * What the HTTP server enforces, and the defaults (protocols/dcp.md
 * "Limits"): rate limits, connection caps, header and body sizes, timeouts.
 */

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

const positiveInteger = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n > 0

/** Throws a RangeError naming the first limit that makes no sense. */
export function checkLimits (l: HttpLimits): void {
  if (!positiveInteger(l.maxConnections)) throw new RangeError('maxConnections must be a positive integer')
  if (l.maxConnectionsPerClient !== false && !positiveInteger(l.maxConnectionsPerClient)) throw new RangeError('maxConnectionsPerClient must be a positive integer or false')
  if (!(l.headersTimeoutMs > 0 && l.headersTimeoutMs <= l.requestTimeoutMs)) throw new RangeError('headersTimeoutMs must be > 0 and ≤ requestTimeoutMs')
}

/** DEFAULT_HTTP_LIMITS with the given overrides (undefined ones ignored), checked. */
export function resolveLimits (overrides: Partial<HttpLimits> | undefined): HttpLimits {
  const given = Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined)
  const limits = { ...DEFAULT_HTTP_LIMITS, ...Object.fromEntries(given) as Partial<HttpLimits> }
  checkLimits(limits)
  return limits
}
