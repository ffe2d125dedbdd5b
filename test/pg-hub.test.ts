/**
 * A whole hub on PostgreSQL (issue 17): `hub init --store postgres://…`
 * records the store in hub.json without its password, the hub keeps no
 * LevelDB directory, `hub start --store` overrides, `hub status --json`
 * names the engine (password redacted), `hub doctor` runs on it, and an
 * unreachable database is `unavailable` / `database_unavailable` with a
 * non-zero exit. Runs on the throwaway cluster of test/pg-harness.ts (the
 * CLI cases drive the built binary), skipped with the reason without one.
 */
import { readFile, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { doctor } from '../src/store/doctor.js'
import { fails, hub, killAll, ok, running, startDaemon } from './cli-helpers.js'
import { cleanup, playlist, tempDir, tempHub } from './helpers.js'
import { ON_POSTGRES } from './test-kv.js'
import { freshNamespace, startPostgres } from './pg-harness.js'

const started = await startPostgres()
const cluster = started.cluster
if (cluster === undefined) process.stderr.write(`test/pg-hub.test.ts: PostgreSQL tests skipped: ${started.reason}\n`)
afterEach(async () => { await killAll(); running.clear(); await cleanup() })
afterAll(async () => { await cluster?.stop() })

const SECRET = 'not-a-real-password-7f3a'

/** The cluster's URL with a password in it (trust auth ignores it; what is under test is that it never shows). */
function urlWithPassword (): string {
  const u = new URL(cluster?.url ?? 'postgres://x@127.0.0.1/postgres')
  u.password = SECRET
  return u.toString()
}

async function closedPort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address()
      const port = typeof a === 'object' && a !== null ? a.port : 0
      srv.close(() => { resolve(port) })
    })
  })
}

async function rowsIn (ns: string): Promise<number> {
  const c = new pg.Client({ connectionString: cluster?.url })
  await c.connect()
  try {
    const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM hub_kv WHERE ns = $1', [ns])
    return Number(rows[0]?.n)
  } finally { await c.end() }
}

const exists = async (p: string): Promise<boolean> => await stat(p).then(() => true, () => false)

const name = cluster === undefined ? `a hub on PostgreSQL (skipped: ${started.reason})` : 'a hub on PostgreSQL'

describe.skipIf(cluster === undefined)(name, () => {
  it('Hub.init with a store keeps the data in its namespace, no LevelDB directory, the password apart in keys/ (0600)', async () => {
    const dir = join(await tempDir(), 'hub')
    const ns = freshNamespace('init')
    const created = await Hub.init(dir, { store: { url: urlWithPassword(), namespace: ns } })
    expect(created.store).toMatchObject({ engine: 'postgres', namespace: ns })
    expect(created.store.url).not.toContain(SECRET)
    const config = await readFile(join(dir, 'hub.json'), 'utf8')
    expect(config).not.toContain(SECRET)
    expect(JSON.parse(config).store).toEqual({ engine: 'postgres', url: cluster?.url, namespace: ns })
    expect(await exists(join(dir, 'store'))).toBe(false)
    const pw = await stat(join(dir, 'keys', 'store-password.json'))
    expect(pw.mode & 0o777).toBe(0o600)
    expect(await rowsIn(ns)).toBeGreaterThan(0)

    const h = await Hub.open(dir)
    try {
      expect(h.storeInfo).toMatchObject({ engine: 'postgres', namespace: ns })
      const { objectId } = await h.collections.create(playlist('On PostgreSQL'))
      await h.store.idle()
      const report = await doctor(h, {})
      expect(report.clean).toBe(true)
      expect(report.tenants[0]?.objects).toBeGreaterThanOrEqual(1)
      await h.close()
      const again = await Hub.open(dir)
      try {
        expect((await again.collections.read(objectId)).value?.name).toBe('On PostgreSQL')
      } finally { await again.close() }
    } finally { await h.close() }
    expect(await exists(join(dir, 'store'))).toBe(false)
  })

  it('refuses a bad URL or namespace before creating anything, and a namespace that already holds data', async () => {
    const base = await tempDir()
    for (const [url, namespace, reason] of [
      ['http://db.example/hubs', undefined, 'bad_store_url'],
      ['not a url', undefined, 'bad_store_url'],
      [cluster?.url ?? '', 'has space', 'bad_namespace'],
      [cluster?.url ?? '', 'x'.repeat(201), 'bad_namespace']
    ] as const) {
      const dir = join(base, `bad-${reason}-${Math.random().toString(36).slice(2)}`)
      await expect(Hub.init(dir, { store: { url, ...(namespace !== undefined ? { namespace } : {}) } })).rejects.toMatchObject({ code: 'bad_request', details: { reason } })
      expect(await exists(dir)).toBe(false)
    }
    const ns = freshNamespace('taken')
    await Hub.init(join(base, 'first'), { store: { url: cluster?.url ?? '', namespace: ns } })
    const before = await rowsIn(ns)
    await expect(Hub.init(join(base, 'second'), { store: { url: cluster?.url ?? '', namespace: ns } })).rejects.toMatchObject({ code: 'already_exists', details: { reason: 'store_not_empty' } })
    expect(await rowsIn(ns)).toBe(before)
  })

  it('an unreachable database: Hub.open is unavailable / database_unavailable, naming the store without its password', async () => {
    const dir = join(await tempDir(), 'hub')
    await Hub.init(dir, { store: { url: cluster?.url ?? '', namespace: freshNamespace('gone') } })
    const port = await closedPort()
    const err = await Hub.open(dir, { store: { url: `postgres://hub:${SECRET}@127.0.0.1:${port}/postgres` } }).catch((e: unknown) => e) as { code?: string, message?: string, details?: Record<string, unknown> }
    expect(err).toMatchObject({ code: 'unavailable', details: { reason: 'database_unavailable' } })
    expect(err.message).toContain(`127.0.0.1:${port}`)
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain(SECRET)
  })

  it('CLI: init --store records it (password never printed), start serves it, status names the engine, doctor is clean', async () => {
    const dir = join(await tempDir(), 'hub')
    const ns = freshNamespace('cli')
    const pwFile = join(await tempDir(), 'pw')
    await (await import('node:fs/promises')).writeFile(pwFile, `${SECRET}\n`)
    const init = await hub(['init', '--dir', dir, '--store', cluster?.url ?? '', '--store-namespace', ns, '--store-password-file', pwFile, '--json'])
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout + init.stderr).not.toContain(SECRET)
    expect(JSON.parse(init.stdout)).toMatchObject({ store: { engine: 'postgres', namespace: ns } })
    expect(await exists(join(dir, 'store'))).toBe(false)
    // The password from the file is kept in keys/, not hub.json.
    expect(await readFile(join(dir, 'hub.json'), 'utf8')).not.toContain(SECRET)

    const d = await startDaemon(dir)
    expect(d.info.store).toMatchObject({ engine: 'postgres', namespace: ns })
    const status = await ok(['status', '--dir', dir])
    expect(status).toMatchObject({ running: true, store: { engine: 'postgres', namespace: ns } })
    const human = await hub(['status', '--dir', dir])
    expect(human.stdout).toContain(`postgres ${cluster?.url ?? ''} (namespace ${ns})`)
    const w = await ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist('CLI on PG')) })
    expect(typeof w.objectId).toBe('string')
    const doc = await ok(['doctor', '--dir', dir])
    expect(doc.clean).toBe(true)
    await ok(['stop', '--dir', dir])
    expect(d.stderr()).not.toContain(SECRET)
    expect(await exists(join(dir, 'store'))).toBe(false)
  })

  it('CLI: start --store on an unreachable database exits non-zero with unavailable / database_unavailable, password redacted', async () => {
    const dir = join(await tempDir(), 'hub')
    expect((await hub(['init', '--dir', dir, '--store', cluster?.url ?? '', '--json'])).code).toBe(0)
    const port = await closedPort()
    const url = `postgres://hub:${SECRET}@127.0.0.1:${port}/postgres`
    const r = await hub(['start', '--dir', dir, '--store', url, '--json'])
    expect(r.code).not.toBe(0)
    expect(r.stdout + r.stderr).not.toContain(SECRET)
    // The CLI prints code and message (src/cli/main.ts); details.reason is database_unavailable, as the Hub.open test shows.
    const body = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '{}') as { error?: { code?: string, message?: string } }
    expect(body.error?.code).toBe('unavailable')
    expect(body.error?.message).toContain(`cannot reach the hub's PostgreSQL store at postgres://hub@127.0.0.1:${port}/postgres`)
    expect(await exists(join(dir, 'daemon.json'))).toBe(false)
  })

  it('CLI: a bad --store is bad_request before anything is created; the store options go together', async () => {
    const base = await tempDir()
    await fails(['init', '--dir', join(base, 'a'), '--store', 'mysql://db/x'], 'bad_request')
    expect(await exists(join(base, 'a'))).toBe(false)
    await fails(['init', '--dir', join(base, 'b'), '--store-namespace', 'x'], 'bad_request')
    expect(await exists(join(base, 'b'))).toBe(false)
  })
})

describe.skipIf(!ON_POSTGRES)('tempHub under HUB_TEST_STORE=postgres', () => {
  it('puts the hub on PostgreSQL (so the suites of npm run test:pg really run there)', async () => {
    const h = await tempHub()
    expect(h.storeInfo).toMatchObject({ engine: 'postgres' })
    expect(await exists(join(h.dir, 'store'))).toBe(false)
  })
})
