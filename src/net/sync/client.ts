/**
 * Pulling side of /identity-hub/sync/1.0.0 and 1.1.0 (whichever the stream
 * negotiated): fetch the peer's feed after our
 * watermark for it, verify and ingest each batch in order, persist the
 * watermark behind the ingests, and — in live mode — keep a waiting pull
 * open so new commits arrive as soon as they are written.
 *
 * The next pull is sent before the current batch is ingested, so the
 * network and the store work in parallel, and a batch is checked (parsed,
 * signatures verified) while the one before it is still being written —
 * in a tab that write is an IndexedDB commit in the browser's storage
 * process, during which the page would otherwise sit idle. The server never
 * sends more than was asked for, so memory stays bounded by three batches
 * (one being written, one being checked, one on the wire).
 *
 * 1.1 (protocols/sync.md, Restored hubs): the watermark keeps the server's
 * tag of the entry it names, sent back as `afterTag`; a `reset` answer
 * (the server's feed is not the one we saw) starts the pull again from 0.
 * Our own feed head goes with the first pull (`mine`), and while our
 * watermark carries `echo` (we reset ourselves: we lost entries) our pulls
 * ask for our own commits too, until the pass reaches the server's head.
 */
import type { Stream } from '@libp2p/interface'
import { BadRequestError, HubError, PermissionsRequiredError } from '../../errors.js'
import { parseCommit, verifyCommit, verifyCommits, type Commit, type CommitEnvelope, type CommitHeader, type KeyLookup, type VerifiedCommit } from '../../commits/commit.js'
import type { TenantStore } from '../../store/tenant-store.js'
import { FrameChannel, remoteError } from '../channel.js'
import { BATCH_COMMITS, MAX_FRAME_BYTES, REPLY_TIMEOUT_MS, SYNC_PROTOCOL_1_1 } from '../constants.js'
import { validateSyncServerMessage, validateSyncServerMessage11 } from '../messages.js'

export interface PullProgress {
  /** Frames' bytes on this stream so far (payload + length prefix), both ways. */
  bytesSent: number
  bytesReceived: number
  roundTrips: number
  received: number
  stored: number
  watermark: number
  head: number
  behind: number
  caughtUp: boolean
}

export interface PullOptions {
  store: TenantStore
  /** Hub DID of the peer: the watermark is kept per peer. */
  peer: string
  lookup: KeyLookup
  maxCommitBytes: number
  /** Keep pulling live after catching up (until the signal fires or the stream ends). */
  live: boolean
  signal?: AbortSignal
  batchSize?: number
  /**
   * Who we pull for: our owner DID and our proof (see PullMessage). Sent with
   * every pull as it is at that moment, so a caller may renew `attestation`
   * while the stream lasts; a `proof` (~1 KiB) only with the first pull,
   * which is when the serving hub learns it.
   */
  as?: { did: string, proof?: CommitEnvelope, attestation?: string }
  onProgress?: (p: PullProgress) => void
  /** What this peer may hold at all (a blind peer: no plaintext Collections commit); anything else is a violation. */
  accepts?: (h: CommitHeader) => boolean
  /**
   * How long one send, or the wait for one reply, may take before the pull
   * fails `unavailable` (and the stream is reset). Default REPLY_TIMEOUT_MS,
   * which covers a waiting pull (answered within LONG_POLL_MS). For tests.
   */
  replyTimeoutMs?: number
}

export type PullResult = PullProgress

/** What pulls one stream: pullFrom, or a stand-in in tests. */
export type Puller = (stream: Stream, opts: PullOptions) => Promise<PullResult>

/** A peer broke the protocol or sent an invalid commit: disconnect it. */
export class ProtocolViolation extends HubError {
  constructor (cause: HubError) {
    super(cause.code, `peer sent invalid data: ${cause.message}`, cause.details, { cause })
  }
}

export async function pullFrom (stream: Stream, opts: PullOptions): Promise<PullResult> {
  const ch = new FrameChannel(stream, MAX_FRAME_BYTES)
  const limit = opts.batchSize ?? BATCH_COMMITS
  const tenant = opts.store.tenant
  const deadlineMs = opts.replyTimeoutMs ?? REPLY_TIMEOUT_MS
  const v11 = stream.protocol === SYNC_PROTOCOL_1_1
  /** A resetWatermarks since this pull began: its watermark writes are void (the store drops them). */
  let epoch = opts.store.watermarkEpoch
  let mark = await opts.store.getWatermarkMark(opts.peer)
  let watermark = mark.seq
  /** 1.1: the tag of the entry at the last `last` seen, and whether this pass asks for our own commits too. */
  let tag = mark.tag
  let echo = mark.echo === true
  const extra = (first: boolean): { afterTag?: string, echo?: boolean, mine?: number } => !v11
    ? {}
    : { ...(tag !== undefined ? { afterTag: tag } : {}), ...(echo ? { echo: true } : {}), ...(first ? { mine: opts.store.durableSeq } : {}) }
  // A live pull may be waiting long on the server; a reset of our watermarks ends it, and the replicator reopens from the new mark.
  const restart = new AbortController()
  const unsubscribe = opts.live ? opts.store.onWatermarksReset(() => { restart.abort() }) : () => {}
  const progress: PullProgress = { bytesSent: 0, bytesReceived: 0, roundTrips: 1, received: 0, stored: 0, watermark, head: watermark, behind: 0, caughtUp: false }
  const as = (first: boolean): { as?: NonNullable<PullOptions['as']> } => {
    if (opts.as === undefined) return {}
    const { proof, ...rest } = opts.as
    return { as: first && proof !== undefined ? { ...rest, proof } : rest }
  }
  /** Every wait on the peer has a deadline: a peer that stops answering fails the pull `unavailable`. */
  const bounded = async <T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const timeout = AbortSignal.timeout(deadlineMs)
    try {
      return await fn(AbortSignal.any([timeout, restart.signal, ...(opts.signal !== undefined ? [opts.signal] : [])]))
    } catch (err) {
      if (restart.signal.aborted && opts.signal?.aborted !== true) {
        throw new HubError('unavailable', 'our watermarks were reset: pulling again', { reason: 'watermarks_reset' }, { cause: err })
      }
      if (timeout.aborted && opts.signal?.aborted !== true) {
        throw new HubError('unavailable', `the peer did not ${what} within ${deadlineMs} ms`, { reason: 'timeout', timeoutMs: deadlineMs }, { cause: err })
      }
      throw err
    }
  }
  const send = async (pull: object): Promise<void> => { await bounded('take our pull', async signal => { await ch.send(pull, signal) }) }
  /** The previous batch, being written (its commits and the watermark after them); settled before the next is written. */
  let writing: Promise<void> | undefined
  /** The last batch received (the watermark may still be a batch behind it). */
  let seen = watermark
  const settle = async (): Promise<void> => {
    const w = writing
    writing = undefined
    await w
  }
  try {
    await send({ t: 'pull', v: 1, tenant, after: watermark, limit, wait: false, ...as(true), ...extra(true) })
    for (;;) {
      const msg = await bounded('reply', async signal => await ch.receive(v11 ? validateSyncServerMessage11 : validateSyncServerMessage, signal))
      if (msg === null) break
      if (msg.t === 'error') throw remoteError(msg)
      if (msg.reset === true) {
        // The server's feed is not the one we saw (it was restored, or replaced): start again from 0.
        // What we have stays; the pull from 0 drops it cheaply as duplicates.
        if (msg.commits.length > 0 || msg.last !== 0 || seen === 0) throw new ProtocolViolation(new BadRequestError('a reset must be empty, and cannot answer a pull after 0'))
        await settle()
        await opts.store.setWatermark(opts.peer, { seq: 0, ...(echo ? { echo: true } : {}) }, epoch)
        watermark = seen = 0
        tag = undefined
        await send({ t: 'pull', v: 1, tenant, after: 0, limit, wait: false, ...as(false), ...extra(false) })
        progress.roundTrips++
        continue
      }
      if (epoch !== opts.store.watermarkEpoch) {
        // We reset our own watermarks meanwhile (a peer saw our feed otherwise): drop this reply, start from the new mark.
        await settle()
        epoch = opts.store.watermarkEpoch
        mark = await opts.store.getWatermarkMark(opts.peer)
        watermark = seen = mark.seq
        tag = mark.tag
        echo = mark.echo === true
        await send({ t: 'pull', v: 1, tenant, after: watermark, limit, wait: false, ...as(false), ...extra(false) })
        progress.roundTrips++
        continue
      }
      if (msg.last < seen) throw new ProtocolViolation(new BadRequestError('batch goes backwards'))
      seen = msg.last
      tag = msg.last === 0 ? undefined : msg.lastTag
      const caughtUp = msg.last >= msg.head
      const more = opts.live || !caughtUp
      // An echo pass ends once it reached the server's head.
      const wasEcho = echo
      if (caughtUp) echo = false
      const markOf = { ...(tag !== undefined ? { tag } : {}), ...(echo ? { echo: true } : {}) }
      // The next pull goes out while this batch is ingested. A batch that
      // arrived is ingested even when that send fails: the last batch a
      // revoked device gets carries its revocation, and the serving hub
      // closes the stream right after it.
      const sending = more ? send({ t: 'pull', v: 1, tenant, after: msg.last, limit, wait: caughtUp, ...as(false), ...extra(false) }) : undefined
      sending?.catch(() => {})
      // Checked while the previous batch is still being written; written
      // only once that one is (in feed order, and not at all if it failed).
      const checked = await checkBatch(msg.commits, opts)
      await settle()
      const last = msg.last
      const head = msg.head
      // Written when it moves, or when it gains what 1.1 keeps beside it (a tag, the end of an echo pass).
      const moved = last > watermark || (v11 && (wasEcho !== echo || (tag !== undefined && tag !== mark.tag)))
      const wrote = epoch
      const write = async (): Promise<void> => {
        const stored = await storeBatch(checked, moved ? { peer: opts.peer, seq: last, mark: markOf, epoch: wrote } : undefined, opts)
        if (moved) mark = { seq: last, ...markOf }
        progress.stored += stored
        progress.received += msg.commits.length
        if (last > watermark) watermark = last
        if (sending !== undefined) {
          await sending
          progress.roundTrips++
        }
        Object.assign(progress, { watermark, head, behind: Math.max(0, head - watermark), caughtUp, bytesSent: ch.bytesSent, bytesReceived: ch.bytesReceived })
        opts.onProgress?.({ ...progress })
      }
      writing = write()
      writing.catch(() => {})
      // Caught up: the next reply may be a long wait, so finish this batch now.
      if (caughtUp || !more) await settle()
      if (!more) break
    }
    await settle()
    await ch.close()
    unsubscribe()
  } catch (err) {
    unsubscribe()
    // A batch that arrived is written even when the stream then fails (the
    // last batch a revoked device gets carries its revocation, and the
    // serving hub ends the stream right after it); its own failure, being
    // earlier in the feed, is the one reported.
    let first = err
    try { await settle() } catch (writeErr) { first = writeErr }
    ch.abort(first as Error)
    throw first
  }
  return { ...progress, bytesSent: ch.bytesSent, bytesReceived: ch.bytesReceived }
}

/**
 * Present our owner-signed authorization to a peer we were told to reach
 * (a bootstrap address) but do not know as a device, and that does not
 * know us: one pull carrying the proof, whose reply is read and dropped —
 * nothing is taken from a peer that has not proved itself. If the peer is
 * a device of our owner it stores the proof and starts pulling from us,
 * presenting its own authorization as it does; from then on we know it
 * and pull from it too. A restored owner hub (new hub DID, empty store)
 * finds its old devices this way.
 */
export async function introduce (stream: Stream, opts: { tenant: string, as: { did: string, proof: CommitEnvelope }, signal?: AbortSignal, replyTimeoutMs?: number }): Promise<void> {
  const ch = new FrameChannel(stream, MAX_FRAME_BYTES)
  const timeout = AbortSignal.timeout(opts.replyTimeoutMs ?? REPLY_TIMEOUT_MS)
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout])
  try {
    await ch.send({ t: 'pull', v: 1, tenant: opts.tenant, after: 0, limit: 1, wait: false, as: opts.as }, signal)
    const reply = await ch.receive(validateSyncServerMessage, signal)
    if (reply?.t === 'error') throw remoteError(reply)
    await ch.close()
  } catch (err) {
    ch.abort(err as Error)
    throw err
  }
}

/** Pages smaller than this are verified while their existence read is out (see checkBatch). */
const VERIFY_EARLY_BELOW = 4

/** A checked batch: its new commits, verified, and what the store already has of them and their deps (read once, reused by the ingest). */
interface CheckedBatch { verified: VerifiedCommit[], known: Set<string> }

/**
 * Parse every commit of a batch once (schema, id), read which of them and
 * of their deps the store has with ONE read — the ingest reuses it — and
 * verify only the new ones: a commit we already have (from another device)
 * costs no signature check. (A commit of the batch still being written
 * counts as known once its item ran; one not yet run is ingested again and
 * reported a duplicate.)
 */
async function checkBatch (envelopes: unknown[], opts: PullOptions): Promise<CheckedBatch> {
  if (envelopes.length === 0) return { verified: [], known: new Set() }
  let commits: Commit[]
  try {
    commits = envelopes.map(e => parseCommit(e, opts.maxCommitBytes))
  } catch (err) {
    throw new ProtocolViolation(err instanceof HubError ? err : new BadRequestError(String(err)))
  }
  // A live page of a commit or two: verify while the existence read is out
  // (the read is a thread-pool round trip; W4 waits for both). A verdict on
  // a commit we turn out to have is dropped, as if never computed.
  const early = commits.length < VERIFY_EARLY_BELOW
    ? commits.map(async c => await verifyCommit(c, opts.lookup).then(v => ({ v }), (err: unknown) => ({ err })))
    : undefined
  const known = await opts.store.existing([...new Set(commits.flatMap(c => [c.id, ...c.header.deps]))])
  const fresh = commits.filter(c => !known.has(c.id))
  if (fresh.length === 0) return { verified: [], known }
  let verified: VerifiedCommit[]
  try {
    const foreign = opts.accepts === undefined ? undefined : fresh.find(c => !(opts.accepts as (h: CommitHeader) => boolean)(c.header))
    if (foreign !== undefined) throw new PermissionsRequiredError(`this peer may not hold commit ${foreign.id}`, { commitId: foreign.id })
    if (early === undefined) {
      verified = await verifyCommits(fresh, opts.lookup)
    } else {
      verified = []
      for (let i = 0; i < commits.length; i++) {
        if (known.has((commits[i] as Commit).id)) continue
        const r = await (early[i] as Promise<{ v: VerifiedCommit } | { err: unknown }>)
        if ('err' in r) throw r.err
        verified.push(r.v)
      }
    }
  } catch (err) {
    throw blame(err, 'peer')
  }
  return { verified, known }
}

/**
 * What a failure checking or storing a page says about the peer: invalid
 * data is a violation (hang up, hold it off: replication.ts); our own side
 * failing — the store unreachable or closed, a lost lease, a key lookup
 * that could not be made, a bug (unavailable, internal) — is not its
 * doing, and stays a plain error the replicator retries with backoff.
 * An untyped error is the peer's while checking its data (`untyped:
 * 'peer'`: the code ran on its bytes) and ours while storing it (the
 * engine's own I/O errors are untyped). Before, a page our store could not
 * write made a legitimate device a violator: hung up on and held off for
 * 2 s doubling to 5 min (test/attacks-2026-12-04.test.ts).
 */
function blame (err: unknown, untyped: 'peer' | 'ours'): Error {
  if (!(err instanceof HubError)) return untyped === 'peer' ? new ProtocolViolation(new BadRequestError(String(err))) : err instanceof Error ? err : new Error(String(err))
  return err.code === 'unavailable' || err.code === 'internal' ? err : new ProtocolViolation(err)
}

/**
 * Ingest a checked batch in feed order, and the watermark behind it (in the
 * same write when they fit one; not at all unless every commit was stored).
 * Returns how many were new.
 */
async function storeBatch (checked: CheckedBatch, watermark: { peer: string, seq: number, mark?: { tag?: string, echo?: boolean }, epoch?: number } | undefined, opts: PullOptions): Promise<number> {
  if (checked.verified.length === 0 && watermark === undefined) return 0
  // Enqueued in feed order, with the existence read checkBatch made; the
  // peer is recorded as their origin, so we never serve them back to it.
  const results = await opts.store.ingestMany(checked.verified, { known: checked.known, origin: opts.peer, ...(watermark !== undefined ? { watermark } : {}) })
  let stored = 0
  for (const r of results) {
    if (r.status === 'rejected') throw blame(r.reason, 'ours')
    if (r.value.stored) stored++
  }
  return stored
}
