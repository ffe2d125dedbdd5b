/**
 * The one rule for every request the hub makes to a URL that someone else
 * chose (did:web documents, issuers' status lists, DCP service endpoints):
 * HTTPS, except plain HTTP to a loopback host (a loopback connection cannot
 * be intercepted off-machine, and it is what local dataspaces and tests
 * use); no credentials in the URL; and answers read up to a cap, counting
 * the bytes that actually arrive (a declared length may lie or be absent).
 */
import { BadRequestError, TooLargeError } from '../errors.js'

/** `host` as in a URL's `host` (name or address, optional port, IPv6 in brackets), or a bare IPv6 address. */
export function isLoopbackHost (host: string): boolean {
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.split(':').length > 2 ? host : host.replace(/:\d+$/, '')
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)
}

/**
 * Whether outbound requests may go to loopback hosts. They are allowed by
 * default (local dataspaces, tests, the demos all live on 127.0.0.1), but a
 * hub reachable from outside should set `HUB_OUTBOUND_LOOPBACK=deny`:
 * otherwise anyone who can make it resolve a DID or follow a service
 * endpoint they wrote can make it send requests to services on its own
 * machine (SSRF).
 */
export function loopbackAllowed (): boolean {
  return process.env.HUB_OUTBOUND_LOOPBACK !== 'deny'
}

/**
 * Parse `raw` and refuse it (`bad_request`) unless it is HTTPS, or HTTP to
 * loopback, without user info. `what` names the URL in messages ("status
 * list URL", …); `reasons` are the `details.reason` of a malformed or
 * credential-carrying URL (`bad`) and of a non-HTTPS one (`insecure`).
 */
export function checkOutboundUrl (raw: string, what = 'URL', reasons: { bad: string, insecure: string } = { bad: 'bad_url', insecure: 'insecure_url' }): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new BadRequestError(`${what} ${raw} is not an absolute URL`, { reason: reasons.bad })
  }
  if (url.username !== '' || url.password !== '') throw new BadRequestError(`a ${what} must not carry credentials`, { reason: reasons.bad })
  if (isLoopbackHost(url.host) && !loopbackAllowed()) throw new BadRequestError(`${what} ${url.origin} is a loopback address (HUB_OUTBOUND_LOOPBACK=deny)`, { reason: reasons.insecure })
  if (url.protocol === 'https:') return url
  if (url.protocol === 'http:' && isLoopbackHost(url.host)) return url
  throw new BadRequestError(`${what} ${url.origin} must use HTTPS (plain HTTP only to loopback)`, { reason: reasons.insecure })
}

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
