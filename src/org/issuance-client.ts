/**
 * Outbound DCP calls for issuance: finding a counter-party's service
 * endpoint in its DID document, and POSTing a message to it with a
 * self-issued ID token.
 *
 * The URL comes from a DID document someone else controls, so it is held to
 * the outbound rule (identity/outbound.ts): HTTPS, except plain HTTP to a
 * loopback host; only to addresses the outbound policy allows (checked on
 * the resolved address the request connects to); no credentials in the
 * URL; no redirects (a redirect could move the
 * request, Bearer and all, somewhere the document did not name); a timeout;
 * and the answer is read up to a small cap.
 */
import { BadRequestError, HubError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { checkOutboundUrl, outboundFetch, readCapped } from '../identity/outbound.js'
import { utf8d } from '../identity/encoding.js'

/** One outbound request, headers to end of body. */
export const OUTBOUND_TIMEOUT_MS = 5000
/** The answers we read are small JSON documents (a status, an error). */
export const MAX_OUTBOUND_RESPONSE_BYTES = 64 * 1024

/** DID document service types (DCP 1.0 §"Service endpoints"). */
export const ISSUER_SERVICE = 'IssuerService'
export const CREDENTIAL_SERVICE = 'CredentialService'

/**
 * A call to another party failed: unreachable, timed out, refused or
 * answered unexpectedly (`unavailable`, HTTP 503). `details.reason` is
 * `unreachable` (no HTTP answer) or `refused` (an HTTP error status, in
 * `details.status`, with the other side's error in `details.remote`).
 */
export class OutboundError extends HubError {
  constructor (message: string, details: Record<string, unknown>, options?: { cause?: unknown }) {
    super('unavailable', message, details, options)
  }
}

/**
 * Refuse a service endpoint that is not HTTPS (or HTTP to loopback), that
 * carries credentials, or whose address literal the outbound policy refuses
 * (`forbidden_address`).
 */
export function checkServiceEndpoint (raw: string): URL {
  return checkOutboundUrl(raw, 'service endpoint', { bad: 'bad_endpoint', insecure: 'insecure_endpoint' })
}

/**
 * The first `type` service endpoint of a DID document as a URL string, or
 * undefined. `serviceEndpoint` may be a string or (DID Core) a list whose
 * first string entry counts.
 */
export function findServiceEndpoint (doc: DidDocument, type: string): string | undefined {
  for (const s of doc.service ?? []) {
    const types = Array.isArray(s.type) ? s.type as unknown[] : [s.type]
    if (!types.includes(type)) continue
    const ep = s.serviceEndpoint
    if (typeof ep === 'string') return ep
    if (Array.isArray(ep)) {
      const first = ep.find((x): x is string => typeof x === 'string')
      if (first !== undefined) return first
    }
  }
  return undefined
}

/** `<base>/<segment>` whether or not the base ends with a slash (DCP endpoints are relative to the service URL). */
export function endpointUrl (base: string, segment: string): string {
  return `${base.replace(/\/+$/, '')}/${segment}`
}

export interface OutboundReply {
  status: number
  /** The `Location` header resolved against the request URL, when there is one. */
  location?: string
  /** Parsed JSON, or undefined for an empty or non-JSON body. */
  body: unknown
}

export interface OutboundOptions {
  timeoutMs?: number
  /** Largest answer read (default {@link MAX_OUTBOUND_RESPONSE_BYTES}); a presentation answer carries VPs and needs more. */
  maxResponseBytes?: number
  /** Aborts the request (the hub is shutting down). */
  signal?: AbortSignal
}

/** A short description of the other side's error body, for logs and records (never the whole body). */
function remoteError (body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const e = (body as { error?: unknown }).error
  if (typeof e !== 'object' || e === null) return undefined
  const { code, message } = e as { code?: unknown, message?: unknown }
  return {
    ...(typeof code === 'string' ? { code: code.slice(0, 100) } : {}),
    ...(typeof message === 'string' ? { message: message.slice(0, 500) } : {})
  }
}

/**
 * POST `body` as JSON to `url` with `Authorization: Bearer <bearer>`.
 * Resolves with any 2xx answer; throws {@link OutboundError} for no answer
 * or a non-2xx one, and {@link BadRequestError} for a URL the outbound rule
 * refuses (before anything is sent), including a host name that resolves
 * to an address the policy refuses (`forbidden_address`, no connection made).
 */
export async function postDcp (url: string, body: unknown, bearer: string, opts: OutboundOptions = {}): Promise<OutboundReply> {
  return await callDcp('POST', url, bearer, opts, body)
}

/**
 * GET `url` (JSON) with `Authorization: Bearer <bearer>`, under the same
 * outbound rules as {@link postDcp} (the DCP status of a request, which the
 * holder polls). Resolves with a 2xx answer; throws {@link OutboundError}
 * otherwise and {@link BadRequestError} for a URL the rule refuses.
 */
export async function getDcp (url: string, bearer: string, opts: OutboundOptions = {}): Promise<OutboundReply> {
  return await callDcp('GET', url, bearer, opts)
}

/** One outbound DCP call: the outbound rule, a timeout, no redirects, a capped answer. */
async function callDcp (method: 'GET' | 'POST', url: string, bearer: string, opts: OutboundOptions, body?: unknown): Promise<OutboundReply> {
  const target = checkServiceEndpoint(url)
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? OUTBOUND_TIMEOUT_MS)
  const signal = opts.signal !== undefined ? AbortSignal.any([timeout, opts.signal]) : timeout
  const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${bearer}` }
  if (method === 'POST') headers['content-type'] = 'application/json'
  let res: Response
  let text: string
  try {
    res = await outboundFetch(target, { method, headers, ...(method === 'POST' ? { body: JSON.stringify(body) } : {}), redirect: 'manual', signal })
    text = utf8d.decode(await readCapped(res, opts.maxResponseBytes ?? MAX_OUTBOUND_RESPONSE_BYTES))
  } catch (err) {
    if (err instanceof BadRequestError) throw err
    const why = signal.aborted ? (opts.signal?.aborted === true ? 'aborted' : 'timed out') : (err as Error).message
    throw new OutboundError(`${method} ${target.origin}${target.pathname} failed: ${why}`, { reason: 'unreachable', url: target.href }, { cause: err })
  }
  let parsed: unknown
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    parsed = undefined
  }
  // redirect: 'manual' hands 3xx back to us; following one is not allowed, so it is a refusal like any other non-2xx.
  if (res.status < 200 || res.status >= 300) {
    const remote = remoteError(parsed)
    throw new OutboundError(`${method} ${target.origin}${target.pathname} answered HTTP ${res.status}${remote?.message !== undefined ? `: ${String(remote.message)}` : ''}`, {
      reason: 'refused', status: res.status, url: target.href, ...(remote !== undefined ? { remote } : {})
    })
  }
  const location = res.headers.get('location')
  let resolved: string | undefined
  if (location !== null) {
    try {
      resolved = new URL(location, target).href
    } catch {
      resolved = undefined
    }
  }
  return { status: res.status, ...(resolved !== undefined ? { location: resolved } : {}), body: parsed }
}
