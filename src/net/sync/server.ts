/**
 * Serving side of /identity-hub/sync/1.0.0 and 1.1.0. A peer pulls batches of our
 * change feed after its watermark; when it is caught up it sends a waiting
 * pull, which we answer as soon as a new commit is durable (live push) or
 * after LONG_POLL_MS with an empty batch. Every pull is re-authorized, and a
 * waiting pull wakes on every commit — including the one that revokes the
 * peer — so revocation ends the stream at once.
 *
 * No echo: a commit this hub ingested from the pulling peer itself is not
 * sent back to it (it has it: it sent it); its watermark still moves past
 * it. See store/feed-origins.ts.
 *
 * 1.1 adds the restore check (feed-tag.ts): a pull whose `after` does not
 * name our feed as the puller saw it gets `reset`, and we pull everything
 * again ourselves; a pull with `echo`, or from a puller whose own feed is
 * shorter than our watermark on it, gets its own commits too.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { HubError, NotFoundError, PermissionsRequiredError, toHubError } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { TenantStore } from '../../store/tenant-store.js'
import { FrameChannel } from '../channel.js'
import { LONG_POLL_MS, MAX_BATCH_BYTES, MAX_FRAME_BYTES, REPLY_TIMEOUT_MS, SYNC_PROTOCOL_1_1 } from '../constants.js'
import { validatePull, validatePull11, type PullMessage } from '../messages.js'
import { entryAt, feedTag, selfReset } from './feed-tag.js'
import type { CommitHeader } from '../../commits/commit.js'
import { parseCommit } from '../../commits/commit.js'
import { originsOf } from '../../store/feed-origins.js'

/** What a peer may receive: everything, a filter (on a commit's header and id), or nothing. */
export type FeedAccess = { all: true } | { all: false, allows: (h: CommitHeader, commitId: string) => boolean }

export interface SyncServerContext {
  /** The tenant store for a DID this hub serves, if any. */
  store: (tenant: string) => TenantStore | undefined
  /**
   * Decide what the peer (a hub DID, possibly pulling on behalf of another
   * owner, see `as`) may pull from this tenant; undefined = nothing.
   */
  access: (tenant: TenantStore, peerHubDid: string, as: PullMessage['as']) => Promise<FeedAccess | undefined>
  /**
   * For a peer that access() refuses because its own authorization was
   * revoked: what it may still receive (the revocation itself), sent as a
   * last batch before the refusal. Undefined: nothing.
   */
  revocationNotice?: (tenant: TenantStore, peerHubDid: string) => FeedAccess | undefined
  peerHubDid: (connection: Connection) => string
  log: Logger
  /** Called once per stream with the first access decision (and on any refusal): the audit hook. */
  onAccess?: (tenant: TenantStore, peerHubDid: string, as: PullMessage['as'], allowed: boolean, reason?: string) => Promise<void>
  /** Every batch served, as sent (for status, benchmarks, and tests that inspect the wire). */
  onServed?: (peerHubDid: string, commits: number, json: string, store?: TenantStore) => void
  /**
   * How long the peer may take to send its next pull (a puller sends it as
   * soon as a batch arrives) or to take a batch we send; past it the stream
   * ends `unavailable`. Default REPLY_TIMEOUT_MS. For tests.
   */
  replyTimeoutMs?: number
  /** Refuse a tenant not served here exactly as an unauthorized pull of a served one (a hosting hub), instead of not_found. */
  hideUnknownTenants?: boolean
}

const NOT_AUTHORIZED = 'this peer is not authorized to sync this tenant'
/** How long a waiting pull may hold back an answer that only moves `last` past the puller's own commits (see serveSync). */
const SKIPPED_REPLY_MS = 1000

export async function serveSync (ctx: SyncServerContext, stream: Stream, connection: Connection): Promise<void> {
  const ch = new FrameChannel(stream, MAX_FRAME_BYTES)
  const peer = ctx.peerHubDid(connection)
  const closed = new AbortController()
  stream.addEventListener('close', () => closed.abort(), { once: true })
  let first = true
  const v11 = stream.protocol === SYNC_PROTOCOL_1_1
  /** 1.1: the puller's own feed is shorter than our watermark on it (it lost entries): send it its own commits too, for this stream. */
  let lost = false
  const deadlineMs = ctx.replyTimeoutMs ?? REPLY_TIMEOUT_MS
  /** A peer that stops pulling, or stops reading, does not hold the stream (and its slot) forever. */
  const bounded = async <T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const timeout = AbortSignal.timeout(deadlineMs)
    try {
      return await fn(AbortSignal.any([closed.signal, timeout]))
    } catch (err) {
      if (timeout.aborted && !closed.signal.aborted) throw new HubError('unavailable', `the peer did not ${what} within ${deadlineMs} ms`, { reason: 'timeout', timeoutMs: deadlineMs }, { cause: err })
      throw err
    }
  }
  /** A revoked device of ours gets the commit that revoked it, then the refusal. */
  const noticeRevocation = async (store: TenantStore, pull: PullMessage): Promise<void> => {
    const notice = ctx.revocationNotice?.(store, peer)
    if (notice === undefined) return
    // The revoking delete is somewhere after the peer's watermark: skip what it may not see.
    let batch = await readBatch(store, pull.after, pull.limit, notice, peer)
    while (batch.count === 0 && batch.last < store.durableSeq) batch = await readBatch(store, batch.last, pull.limit, notice, peer)
    if (batch.count > 0) await bounded('take our batch', async signal => { await ch.send({ raw: batch.json }, signal) })
  }
  try {
    for (;;) {
      const pull = await bounded('send its next pull', async signal => await ch.receive(v11 ? validatePull11 : validatePull, signal))
      if (pull === null) break
      const store = ctx.store(pull.tenant)
      if (store === undefined) {
        // A hosting hub gives the very refusal a served tenant gives a peer it does not
        // authorize: asking tells a peer nothing about which owners are hosted there.
        if (ctx.hideUnknownTenants === true) throw new PermissionsRequiredError(NOT_AUTHORIZED)
        throw new NotFoundError('this hub does not serve that tenant')
      }
      let access = await ctx.access(store, peer, pull.as)
      const firstPull = first
      if (first || access === undefined) await ctx.onAccess?.(store, peer, pull.as, access !== undefined)
      first = false
      if (access === undefined) {
        await noticeRevocation(store, pull)
        throw new PermissionsRequiredError(NOT_AUTHORIZED)
      }
      // 1.1, only once the peer is authorized: does `after` still name our feed as it saw it?
      let afterId: string | undefined
      if (v11 && pull.after > 0) {
        afterId = await entryAt(store, pull.after)
        if (afterId === undefined || (pull.afterTag !== undefined && pull.afterTag !== feedTag(peer, afterId))) {
          // Our feed lost what this peer saw at `after` (restored from an older copy, or replaced): it starts
          // again from 0, and we pull everything again, echo included, since we may have lost what we sent it.
          ctx.log.warn('a peer saw our feed otherwise: it pulls again from 0, and we from every peer', { peer, after: pull.after, head: store.durableSeq })
          if (await selfReset(store)) ctx.log.warn('our watermarks were reset: pulling everything again', { tenant: store.tenant })
          const reset = `{"t":"batch","commits":[],"last":0,"head":${store.durableSeq},"reset":true}`
          await bounded('take our batch', async signal => { await ch.send({ raw: reset }, signal) })
          ctx.onServed?.(peer, 0, reset, store)
          continue
        }
      }
      if (v11 && firstPull && pull.mine !== undefined) lost = await store.getWatermark(peer) > pull.mine
      // No echo, unless the puller lost what it sent us.
      const skipFor = v11 && (pull.echo === true || lost) ? undefined : peer
      let batch = await readBatch(store, pull.after, pull.limit, access, skipFor)
      if (batch.count === 0 && pull.wait) {
        // Nothing to send: wait for a commit. New entries that are all the
        // puller's own (skipped, no echo) are not worth a reply of their
        // own — one per page the puller sends us, each costing it a
        // watermark write — so keep waiting past them and answer, with
        // `last` past them, once there is a commit to send, or when woken
        // with nothing new (a nudge: permissions changed), or at the end of
        // the long poll.
        let until = Date.now() + LONG_POLL_MS
        let skipping = false
        for (;;) {
          // Skipped entries are answered within SKIPPED_REPLY_MS of the first, so the puller's watermark does not lag long behind our feed.
          if (!skipping && batch.last > pull.after) {
            skipping = true
            until = Math.min(until, Date.now() + SKIPPED_REPLY_MS)
          }
          await store.waitForFeed(batch.last, Math.max(0, until - Date.now()), closed.signal)
          if (closed.signal.aborted) break
          access = await ctx.access(store, peer, pull.as)
          if (access === undefined) {
            await ctx.onAccess?.(store, peer, pull.as, false, 'revoked')
            await noticeRevocation(store, pull)
            throw new PermissionsRequiredError('this peer\'s authorization was revoked')
          }
          const next = await readBatch(store, batch.last, pull.limit, access, skipFor)
          const woken = next.last > batch.last
          // A read that examined nothing new still ends at the entry the one before named.
          batch = next.lastId === undefined && batch.lastId !== undefined ? { ...next, lastId: batch.lastId } : next
          if (batch.count > 0 || !woken || Date.now() >= until) break
        }
        if (closed.signal.aborted) break
      }
      const lastId = batch.last === pull.after ? afterId : batch.lastId
      const json = v11 && lastId !== undefined ? `${batch.json.slice(0, -1)},"lastTag":"${feedTag(peer, lastId)}"}` : batch.json
      await bounded('take our batch', async signal => { await ch.send({ raw: json }, signal) })
      ctx.onServed?.(peer, batch.count, json, store)
    }
    await ch.close()
  } catch (err) {
    const e = toHubError(err)
    if (!closed.signal.aborted) {
      ctx.log.info('sync stream ended', { peer, code: e.code, reason: e.message })
      if (e instanceof HubError && e.code !== 'internal') await ch.fail(e)
      else ch.abort(e)
    }
  }
}

/** `lastId`: the commit id of the entry at `last`, when the batch examined any. */
interface Batch { json: string, count: number, last: number, lastId?: string }

/** A feed entry, with its envelope when it came from memory. */
interface FeedEntry { seq: number, commitId: string, envelope?: string }

/** How many pages of the puller's own entries one reply may read past (see readBatch). */
const SKIP_SCAN_PAGES = 8

/** Up to `limit` durable feed entries after `after`: from memory when it holds them (a live pull), else from the store. */
async function scanFeed (store: TenantStore, after: number, limit: number, head: number): Promise<FeedEntry[]> {
  const recent = store.recentFeed(after, limit)
  if (recent !== undefined) return recent
  const out: FeedEntry[] = []
  for await (const e of store.feed(after, limit)) {
    if (e.seq > head) break
    out.push(e)
  }
  return out
}

/**
 * Read feed entries after `after`, keeping those the peer may see, until
 * `limit` commits or MAX_BATCH_BYTES. `last` covers filtered-out entries
 * too, so the peer's watermark moves past them. Envelopes are stored as
 * compact JSON and spliced into the reply without re-parsing. Entries that
 * came from `peer` (the puller's hub DID) are skipped the same way: it sent
 * them to us. They do not use up the page — one reply reads past up to
 * SKIP_SCAN_PAGES pages of them — so "nothing new" stays one round trip
 * for a puller whose watermark lags behind its own commits.
 */
export async function readBatch (store: TenantStore, after: number, limit: number, access: FeedAccess, peer?: string): Promise<Batch> {
  const head = store.durableSeq
  const entries: FeedEntry[] = []
  /** Per entry: it came from `peer` (skipped, no echo). */
  const mine: boolean[] = []
  let cursor = after
  let others = 0
  // The puller's own entries cost it nothing, so they do not use up the
  // page: read on past them (up to SKIP_SCAN_PAGES pages), so that a
  // puller whose watermark lags behind a run of its own commits (it
  // restarted before our answer moved it) still catches up in one reply.
  for (let page = 0; page < SKIP_SCAN_PAGES; page++) {
    const chunk = await scanFeed(store, cursor, limit, head)
    const lastOfChunk = chunk[chunk.length - 1]
    if (lastOfChunk === undefined) break
    const from = peer === undefined ? [] : originsOf(await store.feedOrigins(cursor + 1, lastOfChunk.seq), chunk.map(e => e.seq))
    chunk.forEach((e, i) => {
      const skip = from[i] !== undefined && from[i] === peer
      entries.push(e)
      mine.push(skip)
      if (!skip) others++
    })
    cursor = lastOfChunk.seq
    if (chunk.length < limit || others >= limit || peer === undefined) break
  }
  const envs: string[] = []
  let bytes = 0
  let last = after
  let lastId: string | undefined
  const wanted = entries.filter((_, i) => mine[i] !== true)
  // One read for the whole batch (what memory does not hold): in a tab each get would be its own IndexedDB transaction, queued behind the writes.
  const missing = wanted.filter(e => e.envelope === undefined)
  const read = missing.length === 0 ? [] : await store.getEnvelopes(missing.map(e => e.commitId))
  let m = 0
  const raws = wanted.map(e => e.envelope ?? read[m++])
  let w = 0
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as FeedEntry
    if (mine[i] === true) {
      last = entry.seq
      lastId = entry.commitId
      continue
    }
    if (envs.length >= limit) break
    const env = raws[w++]
    if (env === undefined) break
    // Quarantined commits (cancelled by a revocation) are kept, never served.
    if (store.isQuarantined(entry.commitId)) {
      last = entry.seq
      lastId = entry.commitId
      continue
    }
    if (!access.all && !access.allows(parseCommit(env, Infinity).header, entry.commitId)) {
      last = entry.seq
      lastId = entry.commitId
      continue
    }
    if (envs.length > 0 && bytes + env.length > MAX_BATCH_BYTES) break
    envs.push(env)
    bytes += env.length
    last = entry.seq
    lastId = entry.commitId
  }
  return { json: `{"t":"batch","commits":[${envs.join(',')}],"last":${last},"head":${head}}`, count: envs.length, last, ...(lastId !== undefined ? { lastId } : {}) }
}
