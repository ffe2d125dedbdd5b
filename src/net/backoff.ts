/**
 * How the network layer waits before trying again: one rule (double the
 * wait after each failure, from `minMs` up to `maxMs`; back to `minMs` after
 * a success) and the bounds of each loop that uses it, side by side so they
 * can be compared and tuned in one place.
 */
export interface BackoffPolicy {
  readonly minMs: number
  readonly maxMs: number
}

/** Dialling known devices and bootstrap addresses (connection-policy.ts). */
export const RECONNECT_BACKOFF: BackoffPolicy = { minMs: 500, maxMs: 60_000 }
/** Reopening a sync stream to a connected device (replication.ts). */
export const REPLICATION_BACKOFF: BackoffPolicy = { minMs: 200, maxMs: 10_000 }
/**
 * Asking a connected device again after it refused to sync with us
 * (permissions_required, not_found): it may serve us later without the
 * connection dropping — our authorization reaches it, or a hosting process
 * opens an owner that another process added — so the replicator keeps
 * asking, slowly (replication.ts).
 */
export const REFUSED_REPLICATION_BACKOFF: BackoffPolicy = { minMs: 2_000, maxMs: 120_000 }
/**
 * A device that sent us invalid data (a forged or undecryptable commit, a
 * broken stream): we hang up, and neither dial it nor pull from it again
 * until this wait has passed — doubling per violation, cleared by a pull
 * that ends well. Without it a device that keeps failing the same way is
 * reconnected at once, forever, ~5 times a second (seen in the issue-17
 * scenario before the keyring fix): its connection succeeding resets the
 * dial backoff each time.
 */
export const VIOLATION_BACKOFF: BackoffPolicy = { minMs: 2_000, maxMs: 300_000 }
/** Reopening a follow of another owner's hub (follows.ts). */
export const FOLLOW_BACKOFF: BackoffPolicy = { minMs: 250, maxMs: 30_000 }

/** The wait after one more failure, given the current one. */
export function nextBackoff (currentMs: number, policy: BackoffPolicy): number {
  return Math.min(Math.max(currentMs, policy.minMs) * 2, policy.maxMs)
}
