/**
 * PgKv on a real PostgreSQL (a throwaway cluster this file starts, see
 * pg-harness.ts): the KvStore conformance suite, then what PostgreSQL adds —
 * transactions that fail whole, concurrent writers and their retries, large
 * values, paging of long scans, namespaces, concurrent migration, close.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { runKvConformance } from '../src/store/kv-conformance.js'
import { prefixEnd, type KvOp, type KvRange, type KvStore } from '../src/store/kv.js'
import { MIGRATIONS, PgKv } from '../src/store/pg-kv.js'
import { mulberry32 } from './faults/prng.js'
import { freshDatabase, freshNamespace, startPostgres } from './pg-harness.js'

const started = await startPostgres()
const cluster = started.cluster
if (cluster === undefined) process.stderr.write(`test/pg-kv.test.ts: PostgreSQL tests skipped: ${started.reason}\n`)
const opened: PgKv[] = []
afterAll(async () => {
  await Promise.allSettled(opened.splice(0).map(async kv => { await kv.close() }))
  await cluster?.stop()
})

const b = (s: string): Uint8Array => new TextEncoder().encode(s)
const s = (u: Uint8Array | undefined): string | undefined => u === undefined ? undefined : new TextDecoder().decode(u)

async function open (opts: { url?: string, namespace?: string, pageSize?: number } = {}): Promise<PgKv> {
  if (cluster === undefined) throw new Error('no cluster')
  const kv = await PgKv.open({ url: opts.url ?? cluster.url, namespace: opts.namespace ?? freshNamespace(), maxConnections: 4, ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}) })
  opened.push(kv)
  return kv
}

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

async function dump (kv: KvStore): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for await (const [k, v] of kv.entries({})) out[k] = Buffer.from(v).toString('hex')
  return out
}

async function sql (url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try { return await c.query(text, params) } finally { await c.end() }
}

const cmp = (x: string, y: string): number => Buffer.compare(Buffer.from(x), Buffer.from(y))

const name = cluster === undefined ? `PgKv (skipped: ${started.reason})` : 'PgKv on PostgreSQL'

describe.skipIf(cluster === undefined)(name, () => {
  runKvConformance('PgKv', async () => await open())
  // Pages of 7 rows: every range of more than one page takes the snapshot-transaction path.
  runKvConformance('PgKv, small pages', async () => await open({ pageSize: 7 }))

  describe('batches are transactions', () => {
    it('applies nothing of a batch whose put fails part-way, and keeps what was there', async () => {
      const url = await freshDatabase(cluster!)
      const kv = await open({ url })
      await kv.batch([{ type: 'put', key: 'old', value: b('before') }, { type: 'put', key: 'gone', value: b('still') }])
      // A real server-side failure on the third row of the upsert (a test-only
      // trigger; the product schema has none).
      // (Row triggers on INSERT have no OLD and on DELETE no NEW: one each.)
      await sql(url, "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$ LANGUAGE plpgsql")
      await sql(url, "CREATE TRIGGER boom_ins BEFORE INSERT OR UPDATE ON hub_kv FOR EACH ROW WHEN (NEW.key = '\\x626f6f6d'::bytea) EXECUTE FUNCTION boom()")
      await sql(url, "CREATE TRIGGER boom_del BEFORE DELETE ON hub_kv FOR EACH ROW WHEN (OLD.key = '\\x626f6f6d'::bytea) EXECUTE FUNCTION boom()")
      const before = await dump(kv)
      const err = await kv.batch([
        { type: 'put', key: 'a', value: b('1') },
        { type: 'put', key: 'old', value: b('after') },
        { type: 'del', key: 'gone' },
        { type: 'put', key: 'boom', value: b('x') },
        { type: 'put', key: 'z', value: b('26') }
      ]).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'internal', details: { op: 'batch', sqlstate: 'P0001' } })
      expect(await dump(kv)).toEqual(before)
      // The same when the failure is in the delete, after every put ran.
      await sql(url, 'DROP TRIGGER boom_ins ON hub_kv')
      await kv.batch([{ type: 'put', key: 'boom', value: b('y') }])
      const before2 = await dump(kv)
      await expect(kv.batch([{ type: 'put', key: 'new', value: b('n') }, { type: 'del', key: 'old' }, { type: 'del', key: 'boom' }])).rejects.toMatchObject({ code: 'internal' })
      expect(await dump(kv)).toEqual(before2)
      // And the store is fine afterwards.
      await kv.batch([{ type: 'put', key: 'after', value: b('ok') }])
      expect(s(await kv.get('after'))).toBe('ok')
    })

    it('refuses a malformed op before writing anything', async () => {
      const kv = await open()
      await kv.batch([{ type: 'put', key: 'keep', value: b('1') }])
      const hostile = [
        [{ type: 'put', key: 'a', value: b('1') }, { type: 'put', key: 'b', value: 'not bytes' }],
        [{ type: 'put', key: 'a', value: b('1') }, { type: 'drop', key: 'keep' }],
        [{ type: 'del', key: 42 }],
        [null]
      ] as unknown as KvOp[][]
      for (const ops of hostile) {
        await expect(kv.batch(ops)).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'bad_op' } })
      }
      expect(await dump(kv)).toEqual({ keep: Buffer.from('1').toString('hex') })
    })

    it('stores keys that look like SQL as plain data', async () => {
      const kv = await open()
      const keys = ["'; DROP TABLE hub_kv; --", 'x\\x00', '$1', 'a\u0000b', '%_*']
      await kv.batch(keys.map(k => ({ type: 'put' as const, key: k, value: b(k) })))
      for (const k of keys) expect(s(await kv.get(k))).toBe(k)
      expect(await collect(kv.keys({}))).toEqual([...keys].sort(cmp))
    })
  })

  describe('concurrent writers', () => {
    it('retries a batch the server aborted as a deadlock victim, and applies it', async () => {
      const url = await freshDatabase(cluster!)
      await sql(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET deadlock_timeout = '50ms'`)
      const kv = await open({ url })
      await kv.batch([{ type: 'put', key: 'k1', value: b('0') }, { type: 'put', key: 'k2', value: b('0') }])
      const rival = new pg.Client({ connectionString: url })
      await rival.connect()
      try {
        await rival.query('BEGIN')
        await rival.query('SELECT 1 FROM hub_kv WHERE ns = $1 AND key = $2 FOR UPDATE', [kv.namespace, Buffer.from('k2')])
        // The store's batch locks k1 (rows in key order), then waits for k2.
        const write = kv.batch([{ type: 'put', key: 'k2', value: b('store') }, { type: 'put', key: 'k1', value: b('store') }])
        for (;;) {
          const { rows } = await sql(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
          if (rows[0].n > 0) break
          await new Promise(resolve => setImmediate(resolve))
        }
        // Now the rival wants k1: a cycle. The store has waited longer, so its
        // deadlock check fires first and the server aborts its transaction.
        const rivalLock = rival.query('SELECT 1 FROM hub_kv WHERE ns = $1 AND key = $2 FOR UPDATE', [kv.namespace, Buffer.from('k1')])
        await rivalLock
        await rival.query("UPDATE hub_kv SET value = '\\x726976616c' WHERE ns = $1", [kv.namespace])
        await rival.query('COMMIT')
        await write
      } finally {
        await rival.end()
      }
      expect(kv.retries).toBeGreaterThanOrEqual(1)
      expect(s(await kv.get('k1'))).toBe('store')
      expect(s(await kv.get('k2'))).toBe('store')
    })

    it('loses no batch when two pools write the same keys at once on a serializable database', async () => {
      const url = await freshDatabase(cluster!)
      // SERIALIZABLE is what CockroachDB runs: contention shows as 40001, which must be retried.
      await sql(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET default_transaction_isolation = 'serializable'`)
      const namespace = freshNamespace()
      const [x, y] = await Promise.all([open({ url, namespace }), open({ url, namespace })])
      const N = 40
      const writes = [x, y].flatMap((kv, w) => Array.from({ length: N }, async (_, i) => {
        await kv.batch([
          ...Array.from({ length: 5 }, (_, j) => ({ type: 'put' as const, key: `hot!${j}`, value: b(`${w}:${i}`) })),
          { type: 'put' as const, key: `own!${w}!${String(i).padStart(3, '0')}`, value: b('1') }
        ])
      }))
      const results = await Promise.allSettled(writes)
      expect(results.filter(r => r.status === 'rejected')).toEqual([])
      const own = await collect(x.keys({ gte: 'own!', lt: prefixEnd('own!') }))
      expect(own).toHaveLength(2 * N)
      // Each hot key holds some writer's batch value, and all five hold the same one: batches did not interleave.
      const hot = (await x.getMany(Array.from({ length: 5 }, (_, j) => `hot!${j}`))).map(s)
      expect(new Set(hot).size).toBe(1)
      expect(hot[0]).toMatch(/^[01]:\d+$/)
    })
  })

  it('round-trips large values byte for byte', async () => {
    const kv = await open()
    const big = randomBytes(16 << 20)
    const many = Array.from({ length: 100 }, () => randomBytes(64 << 10))
    await kv.batch([{ type: 'put', key: 'big', value: big }, ...many.map((v, i) => ({ type: 'put' as const, key: `m!${i}`, value: v }))])
    const hash = (u: Uint8Array | undefined): string => createHash('sha256').update(u ?? new Uint8Array()).digest('hex')
    const got = await kv.get('big')
    expect(got?.byteLength).toBe(big.byteLength)
    expect(hash(got)).toBe(hash(big))
    expect(got instanceof Uint8Array && !Buffer.isBuffer(got)).toBe(true)
    const back = await kv.getMany(many.map((_, i) => `m!${i}`))
    expect(back.map(hash)).toEqual(many.map(hash))
  }, 60_000)

  describe('range scans page with keyset pagination', () => {
    const alphabet = ['a', 'b', 'z', '!', '~', '\u00e9', '\u4e2d', '\uffff', '0']
    const keys = new Set<string>()
    const rnd = mulberry32(7)
    while (keys.size < 10_000) keys.add(Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join(''))
    const sorted = [...keys].sort(cmp)
    let kv: PgKv

    const expected = (r: KvRange): string[] => {
      let out = sorted.filter(k => (r.gt === undefined || cmp(k, r.gt) > 0) && (r.gte === undefined || cmp(k, r.gte) >= 0) &&
        (r.lt === undefined || cmp(k, r.lt) < 0) && (r.lte === undefined || cmp(k, r.lte) <= 0))
      if (r.reverse === true) out = out.reverse()
      return r.limit === undefined ? out : out.slice(0, r.limit)
    }

    it('writes 10,000 keys in one batch', async () => {
      kv = await open({ pageSize: 97 })
      await kv.batch(sorted.map(k => ({ type: 'put' as const, key: k, value: b(k) })))
      expect(await collect(kv.keys({}))).toEqual(sorted)
    }, 60_000)

    const ranges: KvRange[] = [
      { reverse: true },
      { limit: 1234 },
      { limit: 1234, reverse: true },
      { limit: 97 },
      { limit: 98, reverse: true },
      { gt: 'b', lte: '\u00e9' },
      { gte: 'b', lt: '\u00e9', reverse: true, limit: 500 },
      { gte: 'z', lt: prefixEnd('z') },
      { gt: '\u4e2d', reverse: true },
      { gt: 'zzzzzzz' },
      { limit: 0 },
      { limit: -1, lt: '0' }
    ]
    for (const r of ranges) {
      it(`entries and keys of ${JSON.stringify(r)}`, async () => {
        const want = expected(r.limit === -1 ? { ...r, limit: undefined } : r)
        const got = await collect(kv.entries(r))
        expect(got.map(([k]) => k)).toEqual(want)
        expect(got.every(([k, v]) => s(v) === k)).toBe(true)
        expect(await collect(kv.keys(r))).toEqual(want)
      })
    }

    it('reads a range of many pages as one snapshot: writes landing mid-scan are not seen, and are not blocked', async () => {
      const seen: string[] = []
      const late = ['z!', 'z\u4e2d\u4e2d\u4e2d\u4e2d\u4e2d\u4e2d\u4e2d']
      for await (const k of kv.keys({ gte: 'z', lt: prefixEnd('z') })) {
        // Ahead of the cursor, and a delete of the range's last key: a reader
        // that is not a snapshot would see the first and miss the second.
        if (seen.length === 0) await kv.batch([...late.map(key => ({ type: 'put' as const, key, value: b('late') })), { type: 'del', key: expected({ gte: 'z', lt: prefixEnd('z') }).at(-1)! }])
        seen.push(k)
      }
      expect(seen).toEqual(expected({ gte: 'z', lt: prefixEnd('z') }))
      expect(seen.length).toBeGreaterThan(97 * 3)
      expect(s(await kv.get(late[1]!))).toBe('late')
      const after = await collect(kv.keys({ gte: 'z', lt: prefixEnd('z') }))
      expect(after).toContain(late[1])
      expect(after).not.toContain(seen.at(-1))
    })
  })

  describe('multi-page scans hold one connection only while they run', () => {
    it('gives it back when the consumer stops early', async () => {
      const kv = await PgKv.open({ url: cluster!.url, namespace: freshNamespace(), pageSize: 5, maxConnections: 1 })
      opened.push(kv)
      await kv.batch(Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(2, '0')}`, value: b(String(i)) })))
      for (let round = 0; round < 3; round++) {
        for await (const k of kv.keys({})) if (k === 'k12') break
      }
      // With a pool of one, this would wait for ever had a scan kept its connection.
      expect(s(await kv.get('k49'))).toBe('49')
      await kv.batch([{ type: 'put', key: 'k50', value: b('50') }])
    })

    it('is cut by close() when its consumer never finishes it', async () => {
      const kv = await PgKv.open({ url: cluster!.url, namespace: freshNamespace(), pageSize: 5 })
      await kv.batch(Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(2, '0')}`, value: b(String(i)) })))
      const it = kv.entries({})[Symbol.asyncIterator]()
      expect((await it.next()).value?.[0]).toBe('k00')
      await kv.close()
      const pulls: unknown[] = []
      for (let i = 0; i < 5; i++) pulls.push(await it.next().catch((e: unknown) => e))
      expect(pulls.some(p => (p as { details?: { reason?: string } }).details?.reason === 'closed')).toBe(true)
    })
  })

  it('keeps namespaces apart in one database', async () => {
    const url = await freshDatabase(cluster!)
    const [one, two] = await Promise.all([open({ url, namespace: 'hub-one' }), open({ url, namespace: 'hub-two' })])
    await one.batch([{ type: 'put', key: 'k', value: b('one') }, { type: 'put', key: 'only-one', value: b('1') }])
    await two.batch([{ type: 'put', key: 'k', value: b('two') }])
    expect(s(await one.get('k'))).toBe('one')
    expect(s(await two.get('k'))).toBe('two')
    expect(await two.get('only-one')).toBeUndefined()
    expect((await two.getMany(['k', 'only-one'])).map(s)).toEqual(['two', undefined])
    expect(await collect(two.keys({}))).toEqual(['k'])
    await two.batch([{ type: 'del', key: 'k' }, { type: 'del', key: 'only-one' }])
    expect(await collect(one.keys({}))).toEqual(['k', 'only-one'])
    // A namespace that is a prefix of another is still its own.
    const pre = await open({ url, namespace: 'hub-on' })
    expect(await collect(pre.keys({}))).toEqual([])
  })

  describe('schema migrations', () => {
    it('run once when several processes open a fresh database at the same moment', async () => {
      const url = await freshDatabase(cluster!)
      const stores = await Promise.all(Array.from({ length: 8 }, async () => await open({ url })))
      const appliedBy = new Map<number, number>()
      for (const st of stores) for (const v of st.migrationsApplied) appliedBy.set(v, (appliedBy.get(v) ?? 0) + 1)
      expect(Object.fromEntries(appliedBy)).toEqual({ 1: 1, 2: 1, 3: 1 })
      const { rows } = await sql(url, 'SELECT version FROM hub_schema_migrations ORDER BY version')
      expect(rows.map(r => r.version)).toEqual([1, 2, 3])
      // Every one of them works on the same tables.
      await Promise.all(stores.map(async (st, i) => { await st.batch([{ type: 'put', key: 'k', value: b(String(i)) }]) }))
      // A later open applies nothing.
      expect((await open({ url })).migrationsApplied).toEqual([])
    })

    it('a database of the previous release (schema 2) opens: the inbox table is added, the data kept', async () => {
      const url = await freshDatabase(cluster!)
      // What the previous release made: migrations 1 and 2 only, with data.
      await sql(url, 'CREATE TABLE hub_schema_migrations (version INT PRIMARY KEY, name TEXT NOT NULL, applied_by TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())')
      for (const m of MIGRATIONS.filter(x => x.version <= 2)) {
        for (const stmt of m.sql) await sql(url, stmt)
        await sql(url, 'INSERT INTO hub_schema_migrations (version, name, applied_by) VALUES ($1, $2, $3)', [m.version, m.name, 'previous-release'])
      }
      await sql(url, 'INSERT INTO hub_kv (ns, key, value) VALUES ($1, $2, $3)', ['old', Buffer.from('k'), Buffer.from('v')])
      const st = await open({ url, namespace: 'old' })
      expect(st.migrationsApplied).toEqual([3])
      expect(s(await st.get('k'))).toBe('v')
      const { rows } = await sql(url, "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'hub_inbox'")
      expect(rows[0].n).toBe(1)
    })

    it('refuses a database a newer hub migrated', async () => {
      const url = await freshDatabase(cluster!)
      await open({ url })
      await sql(url, "INSERT INTO hub_schema_migrations (version, name, applied_by) VALUES (99, 'future', 'newer-hub')")
      await expect(PgKv.open({ url, namespace: 'x' })).rejects.toMatchObject({ code: 'unsupported', details: { reason: 'schema_too_new', version: 99 } })
    })
  })

  describe('refusals', () => {
    it('refuses every call once closed, after letting the calls in flight finish', async () => {
      const kv = await PgKv.open({ url: cluster!.url, namespace: freshNamespace() })
      const inflight = kv.batch([{ type: 'put', key: 'a', value: b('1') }])
      const closing = kv.close()
      await inflight
      await closing
      const closed = { code: 'unavailable', details: { reason: 'closed' } }
      await expect(kv.get('a')).rejects.toMatchObject(closed)
      await expect(kv.getMany(['a'])).rejects.toMatchObject(closed)
      await expect(kv.batch([{ type: 'put', key: 'b', value: b('1') }])).rejects.toMatchObject(closed)
      await expect(kv.batch([])).rejects.toMatchObject(closed)
      await expect(collect(kv.entries({}))).rejects.toMatchObject(closed)
      await expect(collect(kv.keys({}))).rejects.toMatchObject(closed)
      await kv.close()
      const again = await open()
      expect(await again.get('a')).toBeUndefined()
    })

    it('refuses bad options and an unreachable server with typed errors', async () => {
      for (const namespace of ['', 'has space', 'x'.repeat(201), 'tab\t', 42]) {
        await expect(PgKv.open({ url: cluster!.url, namespace: namespace as string })).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'bad_namespace' } })
      }
      await expect(PgKv.open({ namespace: 'x' })).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'bad_connection' } })
      const pool = new pg.Pool({ connectionString: cluster!.url })
      await expect(PgKv.open({ url: cluster!.url, pool, namespace: 'x' })).rejects.toMatchObject({ details: { reason: 'bad_connection' } })
      await pool.end()
      await expect(PgKv.open({ url: cluster!.url, namespace: 'x', pageSize: 0 })).rejects.toMatchObject({ details: { reason: 'bad_page_size' } })
      const port = await new Promise<number>(resolve => { const srv = createServer().listen(0, '127.0.0.1', () => { const a = srv.address(); srv.close(() => { resolve(typeof a === 'object' && a !== null ? a.port : 1) }) }) })
      await expect(PgKv.open({ url: `postgres://hub@127.0.0.1:${port}/postgres`, namespace: 'x' })).rejects.toMatchObject({ code: 'unavailable', details: { reason: 'database_unavailable' } })
    })

    it('shares a caller-owned pool and leaves it open on close', async () => {
      const pool = new pg.Pool({ connectionString: cluster!.url, max: 2 })
      try {
        const one = await PgKv.open({ pool, namespace: freshNamespace() })
        const two = await PgKv.open({ pool, namespace: freshNamespace() })
        await one.batch([{ type: 'put', key: 'k', value: b('1') }])
        await one.close()
        await two.batch([{ type: 'put', key: 'k', value: b('2') }])
        expect(s(await two.get('k'))).toBe('2')
        await two.close()
        expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1)
      } finally {
        await pool.end()
      }
    })
  })
})
