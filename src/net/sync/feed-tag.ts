/**
 * Sync 1.1's check that a puller's watermark still names our feed
 * (protocols/sync.md, Restored hubs). With each batch the server names the
 * entry at `last` by a tag; the puller keeps it with its watermark and
 * sends it back as `afterTag`. A server whose entry at `after` is missing
 * or carries another tag has lost entries that puller saw (it was restored
 * from an older copy of its directory): it tells the puller to start again
 * from 0, and pulls everything again itself, echo included.
 *
 * The tag is a hash of the entry's commit id bound to the puller, not the
 * id: `last` may be an entry the puller may not see (another owner's
 * filter), and its id would tell it which commit that is.
 */
import { sha256Hex } from '../../identity/encoding.js'
import type { TenantStore } from '../../store/tenant-store.js'

/** The tag of our feed entry holding `commitId`, for the puller `peer` (its hub DID). */
export function feedTag (peer: string, commitId: string): string {
  return sha256Hex(`identity-hub sync feed tag\n${peer}\n${commitId}`).slice(0, 32)
}

/** The commit id of our durable feed entry at `seq`, if there is one. */
export async function entryAt (store: TenantStore, seq: number): Promise<string | undefined> {
  if (seq < 1 || seq > store.durableSeq) return undefined
  const recent = store.recentFeed(seq - 1, 1)
  if (recent !== undefined) return recent[0]?.seq === seq ? recent[0].commitId : undefined
  for await (const e of store.feed(seq - 1, 1)) return e.seq === seq ? e.commitId : undefined
  return undefined
}

/**
 * At most one self-reset per store per this long. A peer may lie about what
 * it saw; believing it costs a full re-pull from every peer, so a peer
 * claiming divergence on every pull could otherwise keep us re-pulling
 * forever. A hub really restored needs one reset (its first divergence
 * report after the restore resets every watermark), and a restore is a
 * restart, which starts with none spent.
 */
export const SELF_RESET_INTERVAL_MS = 10 * 60_000

const lastReset = new WeakMap<TenantStore, number>()

/** Reset our own watermarks (echo) unless that was done less than SELF_RESET_INTERVAL_MS ago; true if done now. */
export async function selfReset (store: TenantStore, now = Date.now()): Promise<boolean> {
  const last = lastReset.get(store)
  if (last !== undefined && now - last < SELF_RESET_INTERVAL_MS) return false
  lastReset.set(store, now)
  await store.resetWatermarks()
  return true
}
