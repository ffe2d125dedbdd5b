/**
 * Errors with stable codes. Every failure a caller can act on is one of
 * these classes; the `code` is part of the public contract (CLI `--json`
 * output, protocol error replies, HTTP problem bodies) and never changes
 * meaning once released. Messages are for humans and may change.
 *
 * Secrets (private keys, API keys) must never be placed in a message or in
 * `details`.
 */
export type ErrorCode =
  | 'bad_request'
  | 'not_found'
  | 'authentication_failed'
  | 'permissions_required'
  | 'conflict'
  | 'too_large'
  | 'wrong_owner'
  | 'missing_deps'
  | 'already_exists'
  | 'unsupported'
  | 'unavailable'
  | 'internal'

export class HubError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown> | undefined

  constructor (code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.details = details
  }

  /** The wire form used by the CLI and the protocols. */
  toJSON (): { code: ErrorCode, message: string, details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }
}

/** Malformed input: bad JSON, schema violations, unparseable bytes. */
export class BadRequestError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('bad_request', message, details, options)
  }
}

export class NotFoundError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('not_found', message, details, options)
  }
}

/** A signature or token did not verify, or the signer could not be resolved. */
export class AuthenticationError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('authentication_failed', message, details, options)
  }
}

/** The caller is authenticated but holds no grant for this operation. */
export class PermissionsRequiredError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('permissions_required', message, details, options)
  }
}

/** The operation contradicts current state (e.g. updating a deleted object). */
export class ConflictError extends HubError {
  constructor (message: string, details?: Record<string, unknown>) {
    super('conflict', message, details)
  }
}

export class TooLargeError extends HubError {
  constructor (message: string, details?: Record<string, unknown>) {
    super('too_large', message, details)
  }
}

/** A commit addressed to a tenant other than the one it was offered to. */
export class WrongOwnerError extends HubError {
  constructor (message: string, details?: Record<string, unknown>) {
    super('wrong_owner', message, details)
  }
}

/** A commit whose parents this hub does not have (yet). Sync retries these. */
export class MissingDepsError extends HubError {
  constructor (message: string, details?: Record<string, unknown>) {
    super('missing_deps', message, details)
  }
}

export class AlreadyExistsError extends HubError {
  constructor (message: string, details?: Record<string, unknown>) {
    super('already_exists', message, details)
  }
}

/** Wrap anything thrown into a HubError without leaking internals. */
export function toHubError (err: unknown): HubError {
  if (err instanceof HubError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new HubError('internal', message, undefined, { cause: err })
}
