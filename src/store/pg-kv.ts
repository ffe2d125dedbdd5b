/**
 * PostgreSQL implementation of KvStore (issue 17), through `pg` (node-postgres).
 *
 * One table holds every store of a database, each under its own namespace,
 * so several hubs (or a hosting hub's tenants) can share one database:
 *
 *   hub_kv (ns text, key bytea, value bytea, PRIMARY KEY (ns, key))
 *
 * `bytea` compares bytewise (memcmp, then length), which is exactly
 * LevelDB's order of UTF-8 keys, so a range scan is an index range scan in
 * the order the store above expects.
 *
 * The schema is versioned in `hub_schema_migrations` ({@link migrate}); the
 * lease table of pg-lease.ts is migration 2 of the same schema.
 *
 * Portability rule: the SQL stays within what CockroachDB and YugabyteDB
 * also run, so an operator can move to a distributed engine — no advisory
 * locks, no LISTEN/NOTIFY, no sequences or SERIAL, no triggers; only
 * transactions, `INSERT … ON CONFLICT … DO UPDATE`, `SELECT … FOR SHARE`,
 * `unnest` of arrays and `now()`. Serialization failures (40001, the normal
 * outcome of contention on a serializable engine) and deadlocks (40P01) are
 * retried. This is tested on PostgreSQL 15 only.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { BadRequestError, HubError, InternalError, TooLargeError, UnavailableError, UnsupportedError } from '../errors.js'
import type { Logger } from '../log.js'
import { StoreClosedError, type KvOp, type KvRange, type KvStore } from './kv.js'

/** The batch of a process whose lease on the owner was taken over (or expired, or never held): nothing was written. */
export class LeaseLostError extends UnavailableError {
  constructor (message: string, details: { owner: string, token: string, currentToken?: string, expired?: boolean }) {
    super(message, { reason: 'lease_lost', ...details })
  }
}

export interface PgKvInit {
  /** A connection string; the store makes its own pool and ends it on close(). */
  url?: string
  /** Or a pool the caller owns (shared by several stores): close() waits for this store's calls and leaves the pool open. */
  pool?: pg.Pool
  /** This store's partition of the database (1–200 printable characters). Stores with different namespaces never see each other's keys. */
  namespace: string
  /** Rows fetched per round trip of a range scan. Default 512. */
  pageSize?: number
  /** Tries of a batch that meets a serialization failure or deadlock. Default 8. */
  maxAttempts?: number
  /**
   * How long a batch's transaction may sit idle (its process stalled
   * between statements) before the server aborts it and frees its locks.
   * Default 5000 ms. Keep it at or under the lease TTL: it bounds how long a
   * stalled holder's open batch can delay a take-over.
   */
  txIdleTimeoutMs?: number
  /** Size of the pool the store makes from `url`. Default 10. */
  maxConnections?: number
  logger?: Logger
}

/** Who holds an owner's write lease, as {@link PgKv.batchFenced} checks it. */
export interface Fence {
  owner: string
  holder: string
  token: bigint
}

const DEFAULT_PAGE = 512
const DEFAULT_ATTEMPTS = 8
const DEFAULT_TX_IDLE_MS = 5000
/** Rows per statement of a batch: bounds one statement's size, not the batch's. */
const ROWS_PER_STATEMENT = 1000
const NAMESPACE = /^[\x21-\x7e]{1,200}$/
const RETRYABLE = new Set(['40001', '40P01'])
/** How long a multi-page scan may sit between pulls before the server ends it (ms). */
const SCAN_IDLE_MS = 300_000
/** How long opening a connection (or waiting for a free one in the pool) may take (ms). */
const CONNECT_TIMEOUT_MS = 30_000

interface Migration { version: number, name: string, sql: string[] }

/**
 * The schema, in order. Never edit a released migration: add the next one.
 * Every statement is idempotent as well (IF NOT EXISTS), in case an engine
 * commits DDL outside the transaction that records it.
 */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: 'kv',
    sql: ['CREATE TABLE IF NOT EXISTS hub_kv (ns TEXT NOT NULL, key BYTEA NOT NULL, value BYTEA NOT NULL, PRIMARY KEY (ns, key))']
  },
  {
    version: 2,
    name: 'leases',
    sql: ['CREATE TABLE IF NOT EXISTS hub_leases (ns TEXT NOT NULL, owner TEXT NOT NULL, holder TEXT NOT NULL, token BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (ns, owner))']
  },
  {
    // Writes a hosting process forwards to the holder of the owner's lease (net/hosting/inbox.ts).
    version: 3,
    name: 'inbox',
    sql: [
      'CREATE TABLE IF NOT EXISTS hub_inbox (ns TEXT NOT NULL, id TEXT NOT NULL, shard INT NOT NULL, owner TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(), body BYTEA NOT NULL, result BYTEA, PRIMARY KEY (ns, id))',
      'CREATE INDEX IF NOT EXISTS hub_inbox_pending ON hub_inbox (ns, shard, created_at)'
    ]
  }
])

const noop = (): void => {}
const quietLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => quietLogger }

/** The server's SQLSTATE of an error, if the server sent one (a socket error's `code` is not one). */
function sqlstate (err: unknown): string | undefined {
  return err instanceof pg.DatabaseError && typeof err.code === 'string' ? err.code : undefined
}

/** Full jitter, doubling from 4 ms, at most 250 ms. */
async function backoff (attempt: number): Promise<void> {
  await sleep(Math.random() * Math.min(250, 4 * 2 ** attempt))
}

/**
 * What a driver or server error means to a caller: a HubError with a stable
 * code. Connection trouble is `unavailable` (retry later); `during` says
 * when the batch's COMMIT was in flight, whose outcome is then unknown.
 */
export function pgError (err: unknown, op: string, during?: 'commit'): HubError {
  if (err instanceof HubError) return err
  const state = sqlstate(err)
  const message = err instanceof Error ? err.message : String(err)
  const sys = (err as { code?: unknown }).code
  const connection = (state !== undefined && (state.startsWith('08') || state.startsWith('57P') || state.startsWith('53'))) ||
    (typeof sys === 'string' && /^E[A-Z]+$/.test(sys)) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)
  const details: Record<string, unknown> = { op, ...(state !== undefined ? { sqlstate: state } : {}) }
  if (connection) {
    return new UnavailableError(`PostgreSQL unavailable during ${op}: ${message}`, { ...details, reason: 'database_unavailable', ...(during === 'commit' ? { outcome: 'unknown' } : {}) }, { cause: err })
  }
  if (state !== undefined && RETRYABLE.has(state)) {
    // Outside a batch's own retries: e.g. a long scan a serializable engine aborted mid-range (it cannot be resumed transparently once rows were yielded).
    return new UnavailableError(`PostgreSQL aborted ${op} on a conflict; try again`, { ...details, reason: 'conflict_retry' }, { cause: err })
  }
  if (state !== undefined && state.startsWith('54')) return new TooLargeError(`PostgreSQL refused ${op}: ${message}`, { ...details, reason: 'program_limit' }, { cause: err })
  return new InternalError(`PostgreSQL failed ${op}: ${message}`, details, { cause: err })
}

/**
 * Bring the database's schema up to date, once, however many processes open
 * it at the same moment. Each pending migration runs in one transaction that
 * first inserts its row into hub_schema_migrations (ON CONFLICT DO NOTHING):
 * a second opener's insert waits on the first's uncommitted row and then
 * finds it, so it skips the DDL. The bootstrap CREATE of the migrations
 * table itself can race on PostgreSQL's catalog (23505 / 42P07 / 42710); that is
 * retried, after which IF NOT EXISTS sees the table. Returns the versions
 * THIS call applied. Refuses a database migrated by a newer hub.
 */
export async function migrate (pool: pg.Pool, maxAttempts = DEFAULT_ATTEMPTS): Promise<number[]> {
  const bootstrap = 'CREATE TABLE IF NOT EXISTS hub_schema_migrations (version INT PRIMARY KEY, name TEXT NOT NULL, applied_by TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())'
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query(bootstrap)
      break
    } catch (err) {
      const state = sqlstate(err)
      // 42710: the table's row type raced into pg_type first ("type … already exists").
      if (attempt >= maxAttempts || state === undefined || !['23505', '42P07', '42710', '40001', '40P01'].includes(state)) throw pgError(err, 'migrate')
      await backoff(attempt)
    }
  }
  const me = randomUUID()
  const applied: number[] = []
  const known = Math.max(...MIGRATIONS.map(m => m.version))
  const { rows } = await pool.query<{ v: number | null }>('SELECT max(version) AS v FROM hub_schema_migrations').catch((err: unknown) => { throw pgError(err, 'migrate') })
  const current = rows[0]?.v ?? 0
  if (current > known) {
    throw new UnsupportedError(`the database's hub schema is version ${current}, newer than this hub knows (${known}): upgrade the hub`, { reason: 'schema_too_new', version: current, known })
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue
    for (let attempt = 1; ; attempt++) {
      const held = await Held.take(pool).catch((err: unknown) => { throw pgError(err, 'migrate') })
      const client = held.client
      try {
        await client.query('BEGIN')
        const ins = await client.query('INSERT INTO hub_schema_migrations (version, name, applied_by) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING RETURNING version', [m.version, m.name, me])
        if (ins.rowCount === 1) {
          for (const stmt of m.sql) await client.query(stmt)
        }
        await client.query('COMMIT')
        if (ins.rowCount === 1) applied.push(m.version)
        break
      } catch (err) {
        await held.rollback()
        const state = sqlstate(err)
        if (attempt >= maxAttempts || state === undefined || !['23505', '42P07', '42710', '40001', '40P01'].includes(state)) throw pgError(err, 'migrate')
        await backoff(attempt)
      } finally {
        held.release()
      }
    }
  }
  return applied
}

/**
 * A pooled connection held across statements (a transaction, a scan). An
 * error the server sends while no query of it is running (it ended the
 * session: the idle-in-transaction timeout, an admin shutdown) is emitted
 * on the client, and unheard it would crash the process. Heard here, it
 * marks the connection broken, so release() drops it instead of pooling it.
 */
class Held {
  readonly client: pg.PoolClient
  broken: Error | undefined
  #released = false
  readonly #onError = (err: Error): void => { this.broken ??= err }

  private constructor (client: pg.PoolClient) {
    this.client = client
    client.on('error', this.#onError)
  }

  static async take (pool: pg.Pool): Promise<Held> {
    return new Held(await pool.connect())
  }

  /** Roll back whatever is open; a failure to do so breaks the connection. */
  async rollback (): Promise<void> {
    if (this.broken !== undefined) return
    await this.client.query('ROLLBACK').catch((e: Error) => { this.broken ??= e })
  }

  release (err?: Error): void {
    if (this.#released) return
    this.#released = true
    this.client.off('error', this.#onError)
    this.client.release(err ?? this.broken)
  }
}

function keyBytes (key: string): Buffer {
  return Buffer.from(key, 'utf8')
}

/** The least byte string above every one starting with `prefix` (a prefix ending in 0xff bytes is rejected). */
function upperOf (prefix: Buffer): Buffer {
  const out = Buffer.from(prefix)
  for (let i = out.length - 1; i >= 0; i--) {
    if ((out[i] as number) < 0xff) { out[i] = (out[i] as number) + 1; return out.subarray(0, i + 1) }
  }
  throw new BadRequestError('a prefix of only 0xff bytes has no upper bound', { reason: 'bad_prefix' })
}

/** A fresh Uint8Array (not a Buffer, not a view into the driver's pooled memory). */
function ownBytes (b: Buffer): Uint8Array {
  return new Uint8Array(b)
}

/** The net effect of a batch: the last op on each key wins (ops on different keys commute). */
function collapse (ops: KvOp[]): { puts: Array<[Buffer, Buffer]>, dels: Buffer[] } {
  const last = new Map<string, KvOp>()
  for (const [i, op] of ops.entries()) {
    const ok = op !== null && typeof op === 'object' && typeof op.key === 'string' &&
      (op.type === 'del' || (op.type === 'put' && op.value instanceof Uint8Array))
    if (!ok) throw new BadRequestError(`batch op ${i} is not a put of bytes or a del of a string key`, { reason: 'bad_op', index: i })
    last.delete(op.key)
    last.set(op.key, op)
  }
  const puts: Array<[Buffer, Buffer]> = []
  const dels: Buffer[] = []
  for (const op of last.values()) {
    if (op.type === 'put') puts.push([keyBytes(op.key), Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength)])
    else dels.push(keyBytes(op.key))
  }
  // One order for every batch: two batches on the same keys lock their rows
  // in the same order, which keeps deadlocks (retried anyway) rare.
  puts.sort((a, b) => Buffer.compare(a[0], b[0]))
  dels.sort(Buffer.compare)
  return { puts, dels }
}

export class PgKv implements KvStore {
  readonly namespace: string
  /** Schema versions this open applied (empty when another process, or an earlier open, had). */
  readonly migrationsApplied: readonly number[]
  readonly #pool: pg.Pool
  readonly #ownsPool: boolean
  readonly #pageSize: number
  readonly #maxAttempts: number
  readonly #txIdleMs: number
  readonly #inflight = new Set<Promise<unknown>>()
  /** Connections held by multi-page scans in progress (released by close() if their consumers never finish). */
  readonly #scans = new Set<Held>()
  #closed = false
  #closing: Promise<void> | undefined
  #retries = 0

  private constructor (args: { pool: pg.Pool, ownsPool: boolean, namespace: string, pageSize: number, maxAttempts: number, txIdleMs: number, applied: number[] }) {
    this.#pool = args.pool
    this.#ownsPool = args.ownsPool
    this.namespace = args.namespace
    this.#pageSize = args.pageSize
    this.#maxAttempts = args.maxAttempts
    this.#txIdleMs = args.txIdleMs
    this.migrationsApplied = Object.freeze(args.applied)
  }

  /** Batch attempts retried so far after a serialization failure or deadlock (for metrics and tests). */
  get retries (): number { return this.#retries }

  /** The pool this store works through (the lease table and the hosting inbox share it). */
  get pool (): pg.Pool { return this.#pool }

  /**
   * The greatest key under each of `prefixes` (undefined where none), in one
   * statement: how a hosting process follows every open owner's feed head
   * with one round trip per poll (net/hosting/cluster.ts). Each is an
   * index range scan of one row.
   */
  async lastKeys (prefixes: string[]): Promise<Array<string | undefined>> {
    if (prefixes.length === 0) return []
    return await this.#track('lastKeys', async () => {
      const lo = prefixes.map(keyBytes)
      const hi = lo.map(upperOf)
      const { rows } = await this.#pool.query<{ i: string, key: Buffer | null }>(
        'SELECT t.i, (SELECT key FROM hub_kv WHERE ns = $1 AND key >= t.lo AND key < t.hi ORDER BY key DESC LIMIT 1) AS key ' +
        'FROM unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY AS t(lo, hi, i)', [this.namespace, lo, hi])
      const out: Array<string | undefined> = new Array(prefixes.length).fill(undefined)
      for (const r of rows) if (r.key !== null) out[Number(r.i) - 1] = r.key.toString('utf8')
      return out
    })
  }

  /** Connect (or take `pool`), migrate the schema, and open the store of `namespace`. */
  static async open (init: PgKvInit): Promise<PgKv> {
    const namespace = checkNamespace(init.namespace)
    const pageSize = init.pageSize ?? DEFAULT_PAGE
    const maxAttempts = init.maxAttempts ?? DEFAULT_ATTEMPTS
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 100_000) throw new BadRequestError('pageSize must be an integer from 1 to 100000', { reason: 'bad_page_size' })
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) throw new BadRequestError('maxAttempts must be an integer from 1 to 100', { reason: 'bad_max_attempts' })
    const txIdleMs = init.txIdleTimeoutMs ?? DEFAULT_TX_IDLE_MS
    if (!Number.isSafeInteger(txIdleMs) || txIdleMs < 50 || txIdleMs > 3_600_000) throw new BadRequestError('txIdleTimeoutMs must be an integer from 50 to 3600000', { reason: 'bad_tx_idle_timeout' })
    const { pool, owns } = makePool(init)
    try {
      const applied = await migrate(pool, maxAttempts)
      return new PgKv({ pool, ownsPool: owns, namespace, pageSize, maxAttempts, txIdleMs, applied })
    } catch (err) {
      if (owns) await pool.end().catch(() => {})
      throw pgError(err, 'open')
    }
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    return await this.#track('get', async () => {
      const { rows } = await this.#pool.query<{ value: Buffer }>('SELECT value FROM hub_kv WHERE ns = $1 AND key = $2', [this.namespace, keyBytes(key)])
      const row = rows[0]
      return row === undefined ? undefined : ownBytes(row.value)
    })
  }

  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return []
    return await this.#track('getMany', async () => {
      const found = new Map<string, Uint8Array>()
      const unique = [...new Set(keys)]
      for (let i = 0; i < unique.length; i += ROWS_PER_STATEMENT) {
        const chunk = unique.slice(i, i + ROWS_PER_STATEMENT).map(keyBytes)
        const { rows } = await this.#pool.query<{ key: Buffer, value: Buffer }>('SELECT key, value FROM hub_kv WHERE ns = $1 AND key = ANY($2::bytea[])', [this.namespace, chunk])
        for (const r of rows) found.set(r.key.toString('utf8'), ownBytes(r.value))
      }
      return keys.map(k => found.get(k))
    })
  }

  /** One transaction; retried whole on a serialization failure or deadlock. */
  async batch (ops: KvOp[]): Promise<void> {
    if (ops.length === 0) { this.#checkOpen(); return }
    const net = collapse(ops)
    await this.#track('batch', async () => { await this.#transact(net, undefined) })
  }

  /**
   * A batch that commits only while `fence` is the owner's current lease:
   * the lease row is read FOR SHARE in the batch's own transaction, so a
   * take-over (which updates that row) either commits before — and this
   * batch sees the new token and writes nothing ({@link LeaseLostError}) —
   * or waits until this batch has committed. FOR SHARE, not FOR UPDATE:
   * batches of different owners under one lease (a shard of a hosting
   * hub's owners) do not wait for each other, only a take-over or renewal
   * waits for them. "Current" is by the database's
   * clock: same token and `expires_at > now()`. With no ops it only checks.
   */
  async batchFenced (ops: KvOp[], fence: Fence): Promise<void> {
    if (typeof fence?.owner !== 'string' || typeof fence.holder !== 'string' || typeof fence.token !== 'bigint') throw new BadRequestError('a fence is { owner: string, holder: string, token: bigint }', { reason: 'bad_fence' })
    const net = collapse(ops)
    await this.#track('batch', async () => { await this.#transact(net, fence) })
  }

  // Every range read is ONE snapshot, as a LevelDB iterator is: the store
  // relies on it (docs/architecture.md, "Range reads are snapshots"; the
  // conformance suite has the case). Keyset pagination bounds memory to a
  // page: a range that fits in one page is one statement (a snapshot by
  // itself, no connection held between pulls); a longer one re-reads from
  // its start inside a REPEATABLE READ READ ONLY transaction, which holds
  // one pooled connection and no locks until the scan ends or is abandoned
  // (return/break), and never blocks writers. See #scan.
  async * entries (range: KvRange): AsyncIterable<[string, Uint8Array]> {
    for await (const row of this.#scan(range, true)) yield [row.key.toString('utf8'), ownBytes(row.value as Buffer)]
  }

  async * keys (range: KvRange): AsyncIterable<string> {
    for await (const row of this.#scan(range, false)) yield row.key.toString('utf8')
  }

  /** Waits for this store's calls in flight, then ends the pool if the store made it. Later calls throw {@link StoreClosedError}. */
  async close (): Promise<void> {
    this.#closed = true
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inflight])
      // A scan left suspended mid-range: drop its connection (its next pull
      // throws StoreClosedError), or the pool could never end.
      for (const held of this.#scans) held.release(new Error('store closed during a scan'))
      this.#scans.clear()
      if (this.#ownsPool) await this.#pool.end()
    })()
    await this.#closing
  }

  #checkOpen (): void {
    if (this.#closed) throw new StoreClosedError('PostgreSQL')
  }

  async #track<T> (op: string, fn: () => Promise<T>): Promise<T> {
    this.#checkOpen()
    const p = fn().catch((err: unknown) => { throw pgError(err, op) })
    this.#inflight.add(p)
    try {
      return await p
    } finally {
      this.#inflight.delete(p)
    }
  }

  async #transact (net: { puts: Array<[Buffer, Buffer]>, dels: Buffer[] }, fence: Fence | undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const held = await Held.take(this.#pool)
      const client = held.client
      let step: 'work' | 'commit' = 'work'
      try {
        // One round trip. A client that stalls inside its transaction (a
        // paused or partitioned process) would hold its row locks — with a
        // fence, the lease row, blocking every take-over — until it woke: the
        // server ends such a session after the idle timeout instead.
        await client.query(`BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${this.#txIdleMs}`)
        if (fence !== undefined) await this.#checkFence(client, fence)
        for (let i = 0; i < net.puts.length; i += ROWS_PER_STATEMENT) {
          const chunk = net.puts.slice(i, i + ROWS_PER_STATEMENT)
          await client.query(
            'INSERT INTO hub_kv (ns, key, value) SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS t(k, v) ' +
            'ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value',
            [this.namespace, chunk.map(p => p[0]), chunk.map(p => p[1])])
        }
        for (let i = 0; i < net.dels.length; i += ROWS_PER_STATEMENT) {
          await client.query('DELETE FROM hub_kv WHERE ns = $1 AND key = ANY($2::bytea[])', [this.namespace, net.dels.slice(i, i + ROWS_PER_STATEMENT)])
        }
        step = 'commit'
        await client.query('COMMIT')
        return
      } catch (err) {
        await held.rollback()
        const state = sqlstate(err)
        if (state !== undefined && RETRYABLE.has(state) && attempt < this.#maxAttempts) {
          this.#retries++
          await backoff(attempt)
          continue
        }
        if (state !== undefined && RETRYABLE.has(state)) {
          throw new UnavailableError(`batch still conflicting after ${attempt} tries`, { reason: 'retries_exhausted', sqlstate: state, attempts: attempt }, { cause: err })
        }
        throw pgError(err, 'batch', step === 'commit' ? 'commit' : undefined)
      } finally {
        held.release()
      }
    }
  }

  async #checkFence (client: pg.PoolClient, fence: Fence): Promise<void> {
    const { rows } = await client.query<{ holder: string, token: string, live: boolean }>(
      'SELECT holder, token, expires_at > now() AS live FROM hub_leases WHERE ns = $1 AND owner = $2 FOR SHARE',
      [this.namespace, fence.owner])
    const row = rows[0]
    const token = fence.token.toString()
    if (row === undefined) throw new LeaseLostError(`no write lease on ${fence.owner} exists`, { owner: fence.owner, token })
    if (row.token !== token || row.holder !== fence.holder) throw new LeaseLostError(`the write lease on ${fence.owner} was taken over (token ${row.token}, this batch has ${token})`, { owner: fence.owner, token, currentToken: row.token })
    if (!row.live) throw new LeaseLostError(`the write lease on ${fence.owner} has expired`, { owner: fence.owner, token, expired: true })
  }

  async * #scan (range: KvRange, withValues: boolean): AsyncIterable<{ key: Buffer, value?: Buffer }> {
    this.#checkOpen()
    const reverse = range.reverse === true
    // Level's convention: no limit, or a negative one, means all.
    const limit = range.limit === undefined || range.limit < 0 ? Infinity : range.limit
    if (limit === 0) return
    const where: string[] = ['ns = $1']
    const params: unknown[] = [this.namespace]
    const bound = (op: string, key: string | undefined): void => {
      if (key === undefined) return
      params.push(keyBytes(key))
      where.push(`key ${op} $${params.length}`)
    }
    bound('>', range.gt); bound('>=', range.gte); bound('<', range.lt); bound('<=', range.lte)
    const cols = withValues ? 'key, value' : 'key'
    const order = reverse ? 'DESC' : 'ASC'
    const page = (cursor: Buffer | undefined, n: number): [string, unknown[]] => {
      const p = [...params]
      const w = [...where]
      if (cursor !== undefined) { p.push(cursor); w.push(`key ${reverse ? '<' : '>'} $${p.length}`) }
      p.push(n)
      return [`SELECT ${cols} FROM hub_kv WHERE ${w.join(' AND ')} ORDER BY key ${order} LIMIT $${p.length}`, p]
    }
    type Row = { key: Buffer, value?: Buffer }

    // One page and one row more: if the range ends within the page, this one
    // statement was the whole (consistent) read.
    const first = Math.min(this.#pageSize, limit)
    const probe = await this.#track('scan', async () => (await this.#pool.query<Row>(...page(undefined, first + (limit > first ? 1 : 0)))).rows)
    if (probe.length <= first) {
      yield * probe
      return
    }

    // Longer: page through one snapshot from the start again.
    const held = await this.#track('scan', async () => await Held.take(this.#pool))
    const session = held.client
    this.#scans.add(held)
    let failed: Error | undefined
    try {
      await this.#track('scan', async () => {
        await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        // A scan whose consumer stopped pulling without ending it would hold
        // its connection and snapshot for ever: the server cuts it instead.
        await session.query(`SET LOCAL idle_in_transaction_session_timeout = ${SCAN_IDLE_MS}`)
      })
      let remaining = limit
      let cursor: Buffer | undefined
      while (remaining > 0) {
        const n = Math.min(this.#pageSize, remaining)
        const rows = await this.#track('scan', async () => (await session.query<Row>(...page(cursor, n))).rows)
        yield * rows
        remaining -= rows.length
        const last = rows[rows.length - 1]
        if (rows.length < n || last === undefined) break
        cursor = last.key
      }
    } catch (err) {
      failed = err instanceof Error ? err : new Error(String(err))
      throw err
    } finally {
      if (this.#scans.delete(held)) {
        if (failed === undefined && held.broken === undefined) await session.query('COMMIT').catch((e: Error) => { held.broken ??= e })
        held.release(failed)
      }
    }
  }
}

function checkNamespace (ns: unknown): string {
  if (typeof ns !== 'string' || !NAMESPACE.test(ns)) throw new BadRequestError('a namespace is 1–200 printable ASCII characters without spaces', { reason: 'bad_namespace' })
  return ns
}

/** The pool a store or lease table works through: the caller's, or one made from `url` (then owned). */
export function makePool (init: { url?: string, pool?: pg.Pool, maxConnections?: number, logger?: Logger }): { pool: pg.Pool, owns: boolean } {
  if ((init.url === undefined) === (init.pool === undefined)) throw new BadRequestError('give exactly one of url and pool', { reason: 'bad_connection' })
  if (init.pool !== undefined) return { pool: init.pool, owns: false }
  const logger = init.logger ?? quietLogger
  // A connect that never completes (a blackholed host) must end as database_unavailable, not hang a start for ever.
  const pool = new pg.Pool({ connectionString: init.url, max: init.maxConnections ?? 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS })
  // An idle connection that fails (server restart, network) is dropped by
  // the pool; without a listener the 'error' event would crash the process.
  pool.on('error', err => { logger.warn('idle PostgreSQL connection failed', { error: err.message }) })
  return { pool, owns: true }
}
