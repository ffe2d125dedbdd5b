/**
 * Per-owner write leases on PostgreSQL (issue 17): several hub processes on
 * one database serve the same owners, and each owner's writes are ordered
 * by exactly one of them at a time — the holder of the owner's lease.
 *
 *   hub_leases (ns, owner, holder, token bigint, expires_at timestamptz)
 *
 * - `acquire` takes a lease that is free, expired, or already this holder's,
 *   in one `INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`; every take
 *   increments the owner's fencing token (never reset: release expires the
 *   row instead of deleting it).
 * - `renew` pushes `expires_at` out while the token is still this holder's.
 * - The fence is in the data path, not here: `PgKv.batchFenced(ops, lease)`
 *   reads the lease row FOR SHARE in the batch's transaction and refuses
 *   (LeaseLostError, `details.reason = 'lease_lost'`) unless the token is
 *   current and unexpired. A holder that was paused past its expiry (GC,
 *   SIGSTOP, a partition) and wakes up after a take-over therefore writes
 *   nothing, whatever its own clock says.
 *
 * Every expiry is computed and compared by the database's clock (`now()`),
 * never a process's, so clock skew between hub machines does not matter.
 *
 * Take-over bound: a holder renews every `renewMs`; if it dies, its lease
 * runs out at most `ttlMs` after its last renewal, and a {@link LeaseKeeper}
 * waiting on it tries every `renewMs`, so another process holds the lease
 * within `ttlMs + renewMs` (plus a query's round trip) of the death.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { BadRequestError, UnavailableError } from '../errors.js'
import type { Logger } from '../log.js'
import { LeaseLostError, makePool, migrate, pgError } from './pg-kv.js'

export { LeaseLostError } from './pg-kv.js'

export interface Lease {
  owner: string
  holder: string
  /** The fencing token: strictly greater after every take-over of this owner. */
  token: bigint
  /** By the database's clock. */
  expiresAt: Date
}

export interface PgLeasesInit {
  url?: string
  pool?: pg.Pool
  /** The namespace of the PgKv whose batches these leases fence. */
  namespace: string
  /** This process's identity: unique per process incarnation (a restarted process must not reuse its old one). */
  holder: string
  /** How long a lease lasts after each acquire or renew, by the database's clock. 50 ms – 1 h. */
  ttlMs: number
  logger?: Logger
}

const NAMESPACE = /^[\x21-\x7e]{1,200}$/
const MAX_OWNER = 1024

function checkText (v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || [...v].some(c => c.charCodeAt(0) < 0x20)) {
    throw new BadRequestError(`${what} must be 1–${max} characters without control characters`, { reason: `bad_${what}` })
  }
  return v
}

interface LeaseRow { holder: string, token: string, expires_at: Date }

export class PgLeases {
  readonly namespace: string
  readonly holder: string
  readonly ttlMs: number
  readonly #pool: pg.Pool
  readonly #owns: boolean
  #closed = false

  private constructor (pool: pg.Pool, owns: boolean, namespace: string, holder: string, ttlMs: number) {
    this.#pool = pool
    this.#owns = owns
    this.namespace = namespace
    this.holder = holder
    this.ttlMs = ttlMs
  }

  static async open (init: PgLeasesInit): Promise<PgLeases> {
    if (typeof init.namespace !== 'string' || !NAMESPACE.test(init.namespace)) throw new BadRequestError('a namespace is 1–200 printable ASCII characters without spaces', { reason: 'bad_namespace' })
    const holder = checkText(init.holder, 'holder', 200)
    if (!Number.isSafeInteger(init.ttlMs) || init.ttlMs < 50 || init.ttlMs > 3_600_000) throw new BadRequestError('ttlMs must be an integer from 50 to 3600000', { reason: 'bad_ttl' })
    const { pool, owns } = makePool(init)
    try {
      await migrate(pool)
    } catch (err) {
      if (owns) await pool.end().catch(() => {})
      throw pgError(err, 'open leases')
    }
    return new PgLeases(pool, owns, init.namespace, holder, init.ttlMs)
  }

  /**
   * Take the owner's lease if it is free, expired or already ours (a new
   * token every time: our own older batches are fenced off too). Undefined
   * when another holder's lease is still running.
   */
  async acquire (owner: string): Promise<Lease | undefined> {
    checkText(owner, 'owner', MAX_OWNER)
    const rows = await this.#query<LeaseRow>('acquire',
      'INSERT INTO hub_leases AS l (ns, owner, holder, token, expires_at) VALUES ($1, $2, $3, 1, now() + $4::int8 * interval \'1 millisecond\') ' +
      'ON CONFLICT (ns, owner) DO UPDATE SET holder = EXCLUDED.holder, token = l.token + 1, expires_at = EXCLUDED.expires_at ' +
      'WHERE l.expires_at <= now() OR l.holder = EXCLUDED.holder ' +
      'RETURNING l.holder, l.token, l.expires_at',
      [this.namespace, owner, this.holder, this.ttlMs])
    const row = rows[0]
    return row === undefined ? undefined : toLease(owner, row)
  }

  /** Extend a lease we hold. Throws LeaseLostError when it was taken over (renewing an expired but untaken lease is fine: its token is still the newest). */
  async renew (lease: Lease): Promise<Lease> {
    const rows = await this.#query<LeaseRow>('renew',
      'UPDATE hub_leases SET expires_at = now() + $5::int8 * interval \'1 millisecond\' ' +
      'WHERE ns = $1 AND owner = $2 AND holder = $3 AND token = $4 RETURNING holder, token, expires_at',
      [this.namespace, lease.owner, this.holder, lease.token.toString(), this.ttlMs])
    const row = rows[0]
    if (row === undefined) throw new LeaseLostError(`the write lease on ${lease.owner} is no longer ours`, { owner: lease.owner, token: lease.token.toString() })
    return toLease(lease.owner, row)
  }

  /** Give a lease up now (expires it; the token stays, so the next take gets a greater one). A lease already lost is not an error. */
  async release (lease: Lease): Promise<void> {
    await this.#query('release',
      'UPDATE hub_leases SET expires_at = now() WHERE ns = $1 AND owner = $2 AND holder = $3 AND token = $4 AND expires_at > now()',
      [this.namespace, lease.owner, this.holder, lease.token.toString()])
  }

  /** The owner's lease as the database has it now (for forwarding writes to its holder), or undefined if none is live. */
  async holderOf (owner: string): Promise<Lease | undefined> {
    checkText(owner, 'owner', MAX_OWNER)
    const rows = await this.#query<LeaseRow>('holderOf',
      'SELECT holder, token, expires_at FROM hub_leases WHERE ns = $1 AND owner = $2 AND expires_at > now()', [this.namespace, owner])
    const row = rows[0]
    return row === undefined ? undefined : toLease(owner, row)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#owns) await this.#pool.end()
  }

  async #query<R extends pg.QueryResultRow> (op: string, sql: string, params: unknown[]): Promise<R[]> {
    if (this.#closed) throw new UnavailableError('the lease table is closed', { reason: 'closed' })
    try {
      return (await this.#pool.query<R>(sql, params)).rows
    } catch (err) {
      throw pgError(err, op)
    }
  }
}

function toLease (owner: string, row: LeaseRow): Lease {
  return { owner, holder: row.holder, token: BigInt(row.token), expiresAt: row.expires_at }
}

export interface LeaseKeeperInit {
  leases: PgLeases
  owner: string
  /** How often to renew while holding, and to try to take over while not. Must be well under the TTL (at most a third of it). */
  renewMs: number
  /** Told when the lease is taken (the new lease) and when it is lost or released (undefined); renewals are not changes. */
  onChange?: (lease: Lease | undefined) => void
  logger?: Logger
}

/**
 * Keeps one owner's lease: while it does not hold it, tries to take it every
 * `renewMs`; while it does, renews it every `renewMs`. A renewal that finds
 * the lease taken over drops it (onChange(undefined)); one that fails for
 * another reason (database unreachable) keeps it — the fence in the data
 * path is what makes that safe — and tries again on the next tick.
 */
export class LeaseKeeper {
  readonly #init: LeaseKeeperInit
  #lease: Lease | undefined
  #running: Promise<void> | undefined
  #stop = new AbortController()

  constructor (init: LeaseKeeperInit) {
    if (!Number.isSafeInteger(init.renewMs) || init.renewMs < 10 || init.renewMs * 3 > init.leases.ttlMs) {
      throw new BadRequestError('renewMs must be an integer of at least 10 and at most a third of the lease TTL', { reason: 'bad_renew_interval' })
    }
    this.#init = init
  }

  /** The lease as of the last acquire or renew, if held. Check it with the fence, not with a clock. */
  current (): Lease | undefined { return this.#lease }

  start (): void {
    this.#running ??= this.#loop()
  }

  /** Stops the loop and releases the lease if held. */
  async stop (): Promise<void> {
    this.#stop.abort()
    await this.#running
    const lease = this.#lease
    this.#lease = undefined
    if (lease !== undefined) {
      await this.#init.leases.release(lease).catch(() => {})
      this.#init.onChange?.(undefined)
    }
  }

  async #loop (): Promise<void> {
    const { leases, owner, renewMs } = this.#init
    while (!this.#stop.signal.aborted) {
      try {
        if (this.#lease === undefined) {
          const got = await leases.acquire(owner)
          if (got !== undefined) { this.#lease = got; this.#init.onChange?.(got) }
        } else {
          this.#lease = await leases.renew(this.#lease)
        }
      } catch (err) {
        if (err instanceof LeaseLostError) {
          this.#lease = undefined
          this.#init.onChange?.(undefined)
        } else {
          this.#init.logger?.warn('lease keeping failed; retrying', { owner, error: err instanceof Error ? err.message : String(err) })
        }
      }
      await sleep(renewMs, undefined, { signal: this.#stop.signal }).catch(() => {})
    }
  }
}
