/**
 * Writes forwarded through the database to the process that holds an
 * owner's write lease (issue 17, several hosting processes on one
 * PostgreSQL; docs/hosting.md "Several processes"). A process that does not
 * hold the owner's shard posts the write as one row of `hub_inbox`; the
 * holder takes the rows of its shards in order, performs each through its
 * ordinary path (ingest, request handling, audit), and writes the result
 * into the row; the poster reads the result, deletes the row and only then
 * answers its caller. No new network trust: the processes share the
 * database, nothing else. Polling only (no LISTEN/NOTIFY), plain SQL that
 * CockroachDB and YugabyteDB run too.
 */
import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { HubError, UnavailableError, type ErrorCode } from '../../errors.js'
import type { AuditEntry } from '../../store/audit.js'
import type { KnownPeer } from '../../store/local-state.js'
import { pgError } from '../../store/pg-kv.js'

/** What one forwarded write asks the holder to do. */
export type InboxItem =
  /**
   * Ingest these verified-elsewhere commits in order (the holder verifies
   * again); with `watermark`, write the peer's watermark behind them; with
   * `origin`, the device (hub DID) they were pulled from, recorded as their
   * origin so that no process serves them back to it (no echo, feed-origins.ts).
   */
  | { kind: 'ingest', envelopes: string[], watermark?: { peer: string, seq: number }, origin?: string }
  /** Handle one request token as if it had arrived at the holder. */
  | { kind: 'request', jws: string }
  | { kind: 'audit', entry: Omit<AuditEntry, 'seq' | 'time'> }
  | { kind: 'peer', peer: KnownPeer }

export interface WireError { code: ErrorCode, message: string, details?: Record<string, unknown> }
export type InboxResult = { ok: true, value: unknown } | { ok: false, error: WireError }

export interface InboxRow { id: string, owner: string, shard: number, item: InboxItem }

export function errorResult (err: HubError): InboxResult {
  return { ok: false, error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) } }
}

/** The error a forwarded write ended with, rethrown on the poster's side with its code and details. */
export function resultError (e: WireError): HubError {
  return new HubError(e.code, e.message, e.details)
}

const enc = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8')
const dec = <T>(b: Buffer): T => JSON.parse(b.toString('utf8')) as T

export interface PgInboxInit {
  pool: pg.Pool
  namespace: string
  /** How often a poster looks for its results. */
  pollMs: number
  /** How long a poster waits for the holder before answering unavailable (outcome unknown). */
  timeoutMs: number
}

export class PgInbox {
  readonly #c: PgInboxInit
  readonly #waiting = new Map<string, { resolve: (r: InboxResult) => void, deadline: number }>()
  #timer: NodeJS.Timeout | undefined
  #polling = false
  #closed = false

  constructor (init: PgInboxInit) {
    this.#c = init
  }

  /**
   * Forward `item` for `owner` (in `shard`) and wait for the holder's result.
   * With `wait: false`, only post it (what the holder makes of it is not
   * the caller's business: remembered addresses, an audit entry).
   */
  async forward (owner: string, shard: number, item: InboxItem, opts: { wait?: boolean } = {}): Promise<InboxResult> {
    if (this.#closed) throw new UnavailableError('the hosting inbox is closed', { reason: 'closed' })
    const id = randomUUID()
    await this.#query('post', 'INSERT INTO hub_inbox (ns, id, shard, owner, body) VALUES ($1, $2, $3, $4, $5)', [this.#c.namespace, id, shard, owner, enc(item)])
    if (opts.wait === false) return { ok: true, value: null }
    return await new Promise<InboxResult>(resolve => {
      this.#waiting.set(id, { resolve, deadline: Date.now() + this.#c.timeoutMs })
      this.#schedule()
    })
  }

  /** The oldest rows of `shards` nobody has answered yet, at most `limit`, in the order they were posted. */
  async pending (shards: number[], limit: number, skip: ReadonlySet<string>): Promise<InboxRow[]> {
    if (shards.length === 0) return []
    const rows = await this.#query<{ id: string, owner: string, shard: number, body: Buffer }>('pending',
      'SELECT id, owner, shard, body FROM hub_inbox WHERE ns = $1 AND shard = ANY($2::int[]) AND result IS NULL ORDER BY created_at, id LIMIT $3',
      [this.#c.namespace, shards, limit + skip.size])
    return rows.filter(r => !skip.has(r.id)).slice(0, limit).map(r => ({ id: r.id, owner: r.owner, shard: r.shard, item: dec<InboxItem>(r.body) }))
  }

  /** The holder's answer to row `id` (a row its poster no longer waits for is deleted instead). */
  async complete (id: string, result: InboxResult): Promise<void> {
    await this.#query('complete', 'UPDATE hub_inbox SET result = $3 WHERE ns = $1 AND id = $2', [this.#c.namespace, id, enc(result)])
  }

  /** Rows posted with `wait: false` are deleted by the holder once done. */
  async remove (id: string): Promise<void> {
    await this.#query('remove', 'DELETE FROM hub_inbox WHERE ns = $1 AND id = $2', [this.#c.namespace, id])
  }

  /** Answered rows whose poster never came back for them (it died): deleted once `olderThanMs` old. */
  async sweep (olderThanMs: number): Promise<number> {
    const rows = await this.#query<{ id: string }>('sweep',
      'DELETE FROM hub_inbox WHERE ns = $1 AND result IS NOT NULL AND created_at < now() - $2::int8 * interval \'1 millisecond\' RETURNING id', [this.#c.namespace, olderThanMs])
    return rows.length
  }

  close (): void {
    this.#closed = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    for (const [id, w] of this.#waiting) {
      this.#waiting.delete(id)
      w.resolve(errorResult(new UnavailableError('the hosting process stopped before the write\'s holder answered; it may or may not have been applied', { reason: 'closed', outcome: 'unknown' })))
    }
  }

  #schedule (): void {
    if (this.#timer !== undefined || this.#closed || this.#waiting.size === 0) return
    this.#timer = setTimeout(() => { this.#timer = undefined; void this.#poll() }, this.#c.pollMs)
  }

  async #poll (): Promise<void> {
    if (this.#polling) return
    this.#polling = true
    try {
      const ids = [...this.#waiting.keys()]
      const rows = await this.#query<{ id: string, result: Buffer }>('results',
        'SELECT id, result FROM hub_inbox WHERE ns = $1 AND id = ANY($2::text[]) AND result IS NOT NULL', [this.#c.namespace, ids])
      const done = rows.map(r => r.id)
      if (done.length > 0) await this.#query('results', 'DELETE FROM hub_inbox WHERE ns = $1 AND id = ANY($2::text[])', [this.#c.namespace, done])
      for (const r of rows) {
        const w = this.#waiting.get(r.id)
        this.#waiting.delete(r.id)
        w?.resolve(dec<InboxResult>(r.result))
      }
    } catch {
      // The database is unreachable now: the waiters keep waiting until their deadline.
    }
    try {
      const now = Date.now()
      for (const [id, w] of this.#waiting) {
        if (w.deadline > now) continue
        this.#waiting.delete(id)
        // Withdrawn if still untaken; a holder working on it may still apply it, hence "unknown".
        await this.#query('withdraw', 'DELETE FROM hub_inbox WHERE ns = $1 AND id = $2', [this.#c.namespace, id]).catch(() => {})
        w.resolve(errorResult(new UnavailableError(`no process holding this owner's write lease answered within ${this.#c.timeoutMs} ms; retry later`, { reason: 'no_write_holder', outcome: 'unknown' })))
      }
    } finally {
      this.#polling = false
      this.#schedule()
    }
  }

  async #query<R extends pg.QueryResultRow> (op: string, sql: string, params: unknown[]): Promise<R[]> {
    try {
      return (await this.#c.pool.query<R>(sql, params)).rows
    } catch (err) {
      throw pgError(err, `inbox ${op}`)
    }
  }
}
