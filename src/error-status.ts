/**
 * The HTTP status of each error code: one table for the hub's HTTP server
 * and the daemon's control channel (both answer `{"error":{"code",…}}` with
 * this status). Beside errors.ts, below every layer that speaks HTTP, so
 * neither has to import the other. The codes themselves, their classes and
 * their wire mapping live in errors.ts.
 */
import type { ErrorCode } from './errors.js'

/**
 * Total over ErrorCode at compile time: `satisfies Record<ErrorCode, …>`
 * rejects a missing code, and the object literal rejects one that is not a
 * code. (The HTTP server answers 429 instead for a rate limit: that is a
 * `reason` of `unavailable`, not a code; see http/responses.ts.)
 */
const STATUS = Object.freeze({
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
} as const satisfies Record<ErrorCode, number>)

export function httpStatusOf (code: ErrorCode): number {
  return STATUS[code]
}

// Moved to errors.ts with the list of codes; re-exported for the callers that import it from here.
export { isErrorCode } from './errors.js'
