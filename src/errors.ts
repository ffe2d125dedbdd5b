/**
 * Errors with stable codes. Every failure a caller can act on is one of
 * these classes; the `code` is part of the public contract (CLI `--json`
 * output, protocol error replies, HTTP problem bodies) and never changes
 * meaning once released. Messages are for humans and may change.
 *
 * This module is the one home of the codes: the closed list
 * ({@link ERROR_CODES}, the `ErrorCode` union derived from it), the class of
 * each code ({@link ERROR_CLASSES}) and the wire mapping both ways
 * ({@link HubError.toJSON} out, {@link errorFromWire} back in). The HTTP
 * status of each code is in error-status.ts; the table a reader sees is
 * protocols/errors.md. A test (test/error-codes.test.ts) keeps the four in
 * step.
 *
 * Secrets (private keys, API keys) must never be placed in a message or in
 * `details`.
 */

/** Every error code, closed: a code not listed here never goes on the wire. */
export const ERROR_CODES = Object.freeze([
  'bad_request',
  'not_found',
  'authentication_failed',
  'permissions_required',
  'conflict',
  'too_large',
  'wrong_owner',
  'missing_deps',
  'already_exists',
  'unsupported',
  'unavailable',
  'internal'
] as const)

export type ErrorCode = typeof ERROR_CODES[number]

const CODES: ReadonlySet<string> = new Set(ERROR_CODES)

export function isErrorCode (v: unknown): v is ErrorCode {
  return typeof v === 'string' && CODES.has(v)
}

/** An error as it crosses a wire: `{ code, message, details? }` (HubError.toJSON). */
export interface WireError {
  code: string
  message: string
  details?: Record<string, unknown>
}

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
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('conflict', message, details, options)
  }
}

export class TooLargeError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('too_large', message, details, options)
  }
}

/** A commit addressed to a tenant other than the one it was offered to. */
export class WrongOwnerError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('wrong_owner', message, details, options)
  }
}

/** A commit whose parents this hub does not have (yet). Sync retries these. */
export class MissingDepsError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('missing_deps', message, details, options)
  }
}

export class AlreadyExistsError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('already_exists', message, details, options)
  }
}

/** An operation or protocol this hub (or the hub it talks to) does not implement. */
export class UnsupportedError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('unsupported', message, details, options)
  }
}

/** Not now: the hub, a peer or a resource is unreachable, closed or over a limit. Worth retrying later. */
export class UnavailableError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('unavailable', message, details, options)
  }
}

/** A bug or a broken invariant on the answering side; nothing the caller can fix. */
export class InternalError extends HubError {
  constructor (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super('internal', message, details, options)
  }
}

export type HubErrorClass = new (message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) => HubError

/** The class of each code; total over ErrorCode (a missing or extra code does not compile). */
export const ERROR_CLASSES: Readonly<Record<ErrorCode, HubErrorClass>> = Object.freeze({
  bad_request: BadRequestError,
  not_found: NotFoundError,
  authentication_failed: AuthenticationError,
  permissions_required: PermissionsRequiredError,
  conflict: ConflictError,
  too_large: TooLargeError,
  wrong_owner: WrongOwnerError,
  missing_deps: MissingDepsError,
  already_exists: AlreadyExistsError,
  unsupported: UnsupportedError,
  unavailable: UnavailableError,
  internal: InternalError
})

/**
 * An error received from a wire (a libp2p `{t:'error'}` frame, an HTTP or
 * control-channel `{"error":{…}}` body), rebuilt as the class of its code
 * with the same message and details. `details` is kept only when it is a
 * JSON object.
 *
 * A code this version does not know (a newer hub's, or garbage) becomes an
 * {@link InternalError} that keeps the code it carried as `details.hubCode`.
 * It is not kept as the code itself: `ErrorCode` is closed so that every
 * caller's switch (retry on `missing_deps`, exit status 70 on `internal`,
 * the HTTP status table) is total, and a code nobody here can act on is,
 * to this side, an error it cannot explain. This is what the SDK did
 * before this function existed (`hubError`, `hubCode`), and the sync and
 * pairing clients already mapped unknown codes to `internal`.
 */
export function errorFromWire (wire: { code: string, message: string, details?: unknown }): HubError {
  const details = isPlainObject(wire.details) ? wire.details : undefined
  if (isErrorCode(wire.code)) return new ERROR_CLASSES[wire.code](wire.message, details)
  return new InternalError(wire.message, { ...details, hubCode: wire.code })
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Wrap anything thrown into a HubError without leaking internals. */
export function toHubError (err: unknown): HubError {
  if (err instanceof HubError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new InternalError(message, undefined, { cause: err })
}
