/**
 * Writing responses: JSON and text bodies with the protective headers, and
 * the one mapping of an error to its HTTP status and problem body
 * `{"error":{"code","message","details"?}}`: the error's wire form
 * (errors.ts, HubError.toJSON; no details for `internal`) with the status
 * of its code, as everywhere (error-status.ts), but 429 for a rate limit,
 * with Retry-After.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadRequestError, toHubError, type ErrorCode, type HubError } from '../errors.js'
import { httpStatusOf } from '../error-status.js'
import { RateLimitedError } from './rate-limit.js'

export function sendJson (res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
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
export function sendText (res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers
  })
  res.end(res.req.method === 'HEAD' ? undefined : text)
}

export interface ErrorAnswer {
  error: HubError
  status: number
  /** The wire form of the error (HubError.toJSON), without details for `internal`. */
  body: { error: { code: ErrorCode, message: string, details?: Record<string, unknown> } }
  headers: Record<string, string> | undefined
}

/** What to answer for anything thrown while handling `req`. */
export function errorAnswer (thrown: unknown, req: IncomingMessage): ErrorAnswer {
  const err = thrown instanceof URIError ? new BadRequestError('malformed percent-encoding in the path') : toHubError(thrown)
  const status = err instanceof RateLimitedError ? 429 : httpStatusOf(err.code)
  // Details carry reasons (e.g. a DCP token check) but never secrets: see errors.ts.
  const body = { error: err.code === 'internal' ? { code: err.code, message: err.message } : err.toJSON() }
  const headers: Record<string, string> | undefined = err instanceof RateLimitedError
    ? { 'retry-after': String(Math.ceil(err.retryAfterMs / 1000)) }
    : status === 401 ? { 'www-authenticate': req.url?.startsWith('/api/identity/') === true ? 'x-api-key' : 'Bearer' } : undefined
  return { error: err, status, body, headers }
}
