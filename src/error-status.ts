/**
 * The HTTP status of each error code: one table for the hub's HTTP server
 * and the daemon's control channel (both answer `{"error":{"code",…}}` with
 * this status). Beside errors.ts, below every layer that speaks HTTP, so
 * neither has to import the other.
 */
import type { ErrorCode } from './errors.js'

const STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  bad_request: 400,
  authentication_failed: 401,
  permissions_required: 403,
  not_found: 404,
  conflict: 409,
  already_exists: 409,
  too_large: 413,
  wrong_owner: 422,
  missing_deps: 422,
  unsupported: 501,
  unavailable: 503,
  internal: 500
})

export function httpStatusOf (code: ErrorCode): number {
  return STATUS[code]
}

export function isErrorCode (v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.hasOwn(STATUS, v)
}
