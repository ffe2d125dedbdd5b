/**
 * Several hosting processes on one PostgreSQL serving the same owners
 * (issue 17; docs/hosting.md "Several processes"). The owners are split
 * into SHARDS shards by a hash of their DID; each shard has one write
 * lease (store/pg-lease.ts), kept by one LeaseKeeper per shard in every
 * process, so at any time one process at most orders the writes of every
 * owner in the shard, and its batches are fenced by that lease
 * (store/fenced-kv.ts). Per shard rather than per owner: the lease traffic
 * (renewals, take-over attempts) is SHARDS rows per renew interval
 * whatever the number of owners, and a take-over after a death is SHARDS
 * statements, not one per owner; the price is that one process orders all
 * the writes of a shard's owners (more shards than processes spread them).
 *
 * A shard becomes writable here only after a catch-up: every open owner of
 * it re-reads what the previous holder wrote (TenantStore.follow) before the
 * first write under the new lease. Until then, and whenever another
 * process holds it, writes for its owners are forwarded through the
 * database (inbox.ts). The holder drains its shards' inbox rows in order.
 * Owners this process does not hold are followed by polling their feed
 * heads (one statement for all open owners) every `followMs`.
 */
import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { toHubError } from '../../errors.js'
import type { Logger } from '../../log.js'
import type { Fence, PgKv } from '../../store/pg-kv.js'
import { LeaseKeeper, PgLeases, type Lease } from '../../store/pg-lease.js'
import { errorResult, PgInbox, type InboxItem, type InboxResult, type InboxRow } from './inbox.js'

export const SHARDS = 64

/** The shard of an owner: the first 4 bytes of SHA-256 of its DID, modulo `shards`. */
export function shardOf (owner: string, shards = SHARDS): number {
  return createHash('sha256').update(owner).digest().readUInt32BE(0) % shards
}

export const shardLeaseName = (shard: number): string => `hosting-shard-${shard}`

export interface ClusterOptions {
  /** Lease TTL (ms). Default 3000. */
  ttlMs?: number
  /** Renew / take-over interval (ms), at most a third of the TTL. Default 1000. */
  renewMs?: number
  /** How often owners held elsewhere are followed (feed heads polled), ms. Default 250. */
  followMs?: number
  /** How often the holder looks for forwarded writes, and a poster for their results, ms. Default 20. */
  inboxMs?: number
  /** How long a forwarded write may wait for a holder, ms. Default 30000. */
  forwardTimeoutMs?: number
  shards?: number
}

/** What the cluster asks of the hosting node. */
export interface ClusterHooks {
  /** Shard `shard` is now ours: make every open owner of it current (follow) before it is written. */
  catchUp: (shard: number) => Promise<void>
  /** Perform one forwarded write for `owner` (this process holds its shard). */
  perform: (owner: string, item: InboxItem) => Promise<InboxResult>
  /** One follow round: the owners in `notHeld` shards re-read what changed. */
  follow: (held: (owner: string) => boolean) => Promise<void>
}

interface ShardState { keeper: LeaseKeeper, lease?: Lease, ready: boolean }

export class HostingCluster {
  readonly holder: string
  readonly shards: number
  readonly kv: PgKv
  readonly #leases: PgLeases
  readonly #inbox: PgInbox
  readonly #state: ShardState[] = []
  readonly #log: Logger
  readonly #followMs: number
  readonly #inboxMs: number
  readonly #working = new Set<string>()
  #hooks: ClusterHooks | undefined
  #stop = new AbortController()
  #loops: Array<Promise<void>> = []

  private constructor (kv: PgKv, leases: PgLeases, inbox: PgInbox, opts: ClusterOptions, renewMs: number, log: Logger) {
    this.kv = kv
    this.#leases = leases
    this.#inbox = inbox
    this.holder = leases.holder
    this.shards = opts.shards ?? SHARDS
    this.#log = log
    this.#followMs = opts.followMs ?? 250
    this.#inboxMs = opts.inboxMs ?? 20
    for (let s = 0; s < this.shards; s++) {
      const state: ShardState = {
        ready: false,
        keeper: new LeaseKeeper({ leases, owner: shardLeaseName(s), renewMs, logger: log, onChange: lease => { this.#onLease(s, lease) } })
      }
      this.#state.push(state)
    }
  }

  /** Open the lease table and the inbox on `kv`'s pool and namespace; `holder` defaults to a fresh id of this process incarnation. */
  static async open (kv: PgKv, log: Logger, opts: ClusterOptions = {}, holder = `${process.pid}-${randomUUID()}`): Promise<HostingCluster> {
    const ttlMs = opts.ttlMs ?? 3000
    const renewMs = opts.renewMs ?? 1000
    const leases = await PgLeases.open({ pool: kv.pool, namespace: kv.namespace, holder, ttlMs, logger: log })
    const inbox = new PgInbox({ pool: kv.pool, namespace: kv.namespace, pollMs: opts.inboxMs ?? 20, timeoutMs: opts.forwardTimeoutMs ?? 30_000 })
    return new HostingCluster(kv, leases, inbox, opts, renewMs, log)
  }

  shardOf (owner: string): number { return shardOf(owner, this.shards) }

  /** Whether this process writes `owner` now: it holds the owner's shard and has caught up. */
  holds (owner: string): boolean {
    return this.#state[this.shardOf(owner)]?.ready === true
  }

  /** The fence for `owner`'s batches, while this process writes it. */
  fence (owner: string): Fence | undefined {
    const st = this.#state[this.shardOf(owner)]
    if (st?.ready !== true || st.lease === undefined) return undefined
    return { owner: st.lease.owner, holder: st.lease.holder, token: st.lease.token }
  }

  /** Shards this process writes now. */
  held (): number[] {
    return this.#state.flatMap((s, i) => s.ready ? [i] : [])
  }

  /** Forward a write for `owner` to its holder through the database (see inbox.ts). */
  async forward (owner: string, item: InboxItem, opts: { wait?: boolean } = {}): Promise<InboxResult> {
    return await this.#inbox.forward(owner, this.shardOf(owner), item, opts)
  }

  start (hooks: ClusterHooks): void {
    if (this.#hooks !== undefined) return
    this.#hooks = hooks
    for (const s of this.#state) s.keeper.start()
    this.#loops.push(this.#every(this.#inboxMs, async () => { await this.#drain() }))
    this.#loops.push(this.#every(this.#followMs, async () => { await hooks.follow(owner => this.holds(owner)) }))
    // Answers nobody collected (their poster died) go after 10 minutes.
    this.#loops.push(this.#every(60_000, async () => { if (this.held().length > 0) await this.#inbox.sweep(600_000) }))
  }

  /** Stop the loops and give up every lease held (another process takes over at once rather than after the TTL). */
  async stop (): Promise<void> {
    this.#stop.abort()
    this.#inbox.close()
    await Promise.allSettled(this.#loops)
    await Promise.allSettled(this.#state.map(async s => { s.ready = false; await s.keeper.stop() }))
    await this.#leases.close()
  }

  #onLease (shard: number, lease: Lease | undefined): void {
    const st = this.#state[shard] as ShardState
    st.ready = false
    st.lease = lease
    if (lease === undefined) { this.#log.info('write lease lost', { shard }); return }
    void (async () => {
      // Caught up under this lease only: a loss (or a newer take) during the catch-up wins.
      while (!this.#stop.signal.aborted && st.lease === lease) {
        try {
          await this.#hooks?.catchUp(shard)
          if (st.lease === lease) st.ready = true
          this.#log.info('write lease taken', { shard, token: lease.token.toString() })
          return
        } catch (err) {
          this.#log.warn('catching up a shard failed; retrying', { shard, reason: toHubError(err).message })
          await sleep(this.#followMs, undefined, { signal: this.#stop.signal }).catch(() => {})
        }
      }
    })()
  }

  async #every (ms: number, fn: () => Promise<void>): Promise<void> {
    while (!this.#stop.signal.aborted) {
      try {
        await fn()
      } catch (err) {
        this.#log.debug('hosting cluster round failed; retrying', { reason: toHubError(err).message })
      }
      await sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => {})
    }
  }

  /** Perform the forwarded writes of our shards: per owner in posting order, owners side by side. */
  async #drain (): Promise<void> {
    const hooks = this.#hooks
    if (hooks === undefined) return
    const rows = await this.#inbox.pending(this.held(), 128, this.#working)
    if (rows.length === 0) return
    const byOwner = new Map<string, InboxRow[]>()
    for (const r of rows) {
      this.#working.add(r.id)
      const list = byOwner.get(r.owner)
      if (list === undefined) byOwner.set(r.owner, [r]); else list.push(r)
    }
    await Promise.all([...byOwner.entries()].map(async ([owner, list]) => {
      for (const r of list) {
        try {
          if (!this.holds(owner)) return // lost meanwhile: the next holder takes the rest
          let result: InboxResult
          try {
            result = await hooks.perform(owner, r.item)
          } catch (err) {
            result = errorResult(toHubError(err))
          }
          // A write refused by the fence was not ours to make: leave the row to the next holder.
          if (!result.ok && result.error.details?.reason === 'lease_lost') return
          if (r.item.kind === 'peer' || r.item.kind === 'audit') await this.#inbox.remove(r.id)
          else await this.#inbox.complete(r.id, result)
        } finally {
          this.#working.delete(r.id)
        }
      }
    }))
    // Rows of an owner left after a return above are retaken on a later round (or by the next holder).
    for (const r of rows) this.#working.delete(r.id)
  }
}
