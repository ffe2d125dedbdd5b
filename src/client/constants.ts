/**
 * Constants of the app side of /identity-hub/request/1.0.0. The client may
 * not import src/net (which loads the hub's store-facing code), so the
 * protocol id is repeated here; src/net/constants.ts holds the same value
 * and a test keeps the two equal.
 */
export const REQUEST_PROTOCOL = '/identity-hub/request/1.0.0'

/** Largest frame either side reads on a request stream (protocols/request.md). */
export const MAX_REQUEST_FRAME_BYTES = 3 * 1024 * 1024

/** Largest request token the hub accepts (the `jws` maxLength of request.schema.json). */
export const MAX_REQUEST_JWS_CHARS = 2_200_000

/** How long a request waits for its reply by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000
