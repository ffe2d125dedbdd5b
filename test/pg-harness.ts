/**
 * A real, throwaway PostgreSQL cluster for tests: `initdb` into a fresh temp
 * directory, `pg_ctl start` on 127.0.0.1 with a port the OS picked, and
 * `stop()` shuts it down (`-m fast`) and removes the directory. Each test
 * FILE starts its own (beforeAll/afterAll), so `npm test` alone needs no
 * server set up beforehand; tests use a fresh namespace or database each.
 *
 * PostgreSQL's tools refuse to run as root, and the suite runs as root on CI
 * (it installs its own prerequisites): the tools run as the `postgres` user
 * through `runuser`, in a directory chowned to it. Anywhere that is not
 * possible (not root, no initdb/pg_ctl, no postgres user, start fails),
 * `startPostgres()` returns a `reason` instead and the tests
 * `describe.skipIf` with it, so a skip always says why.
 */
import { execFile } from 'node:child_process'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

export interface PgCluster {
  /** `postgres://hub@127.0.0.1:PORT/postgres`: superuser `hub`, trust auth, loopback only. */
  url: string
  port: number
  /** Stops the server (fast: open connections are cut) and removes its directory. Idempotent. */
  stop: () => Promise<void>
}

export type PgStart = { cluster: PgCluster, reason?: undefined } | { cluster?: undefined, reason: string }

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => { resolve(port) })
    })
  })
}

function stderrOf (err: unknown): string {
  const e = err as { stderr?: string, message?: string }
  return (e.stderr ?? '').trim() !== '' ? String(e.stderr).trim() : String(e.message ?? err)
}

async function which (tool: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('sh', ['-c', `command -v ${tool}`])
    return stdout.trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * Start a throwaway cluster, or say why not. The port is free when picked
 * and taken a moment later, so a lost race (another process binding it in
 * between) is retried on a new port a few times.
 */
export async function startPostgres (): Promise<PgStart> {
  if (process.platform !== 'linux') return { reason: `PostgreSQL tests need Linux (runuser), this is ${process.platform}` }
  if (process.getuid?.() !== 0) return { reason: 'PostgreSQL tests start a throwaway cluster as the postgres user through runuser, which needs root' }
  for (const tool of ['initdb', 'pg_ctl', 'runuser']) {
    if (await which(tool) === undefined) return { reason: `PostgreSQL tests need ${tool} on PATH (Debian: apt-get install postgresql)` }
  }
  let uid: number, gid: number
  try {
    const [u, g] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
    uid = Number(u.stdout.trim()); gid = Number(g.stdout.trim())
  } catch {
    return { reason: 'PostgreSQL tests need a postgres system user to run initdb/pg_ctl as' }
  }
  const dir = await mkdtemp('/tmp/hub-pg-')
  const data = join(dir, 'data')
  const removeDir = async (): Promise<void> => { await rm(dir, { recursive: true, force: true }) }
  try {
    await chown(dir, uid, gid)
    await run('runuser', ['-u', 'postgres', '--', 'initdb', '-D', data, '-A', 'trust', '-U', 'hub', '-E', 'UTF8', '--no-sync'])
  } catch (err) {
    await removeDir()
    return { reason: `initdb failed: ${stderrOf(err)}` }
  }
  let lastError = ''
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    try {
      // -l: the server's output goes to a file, so pg_ctl's own stdout closes
      // once it is up (execFile waits for that). fsync off: a test cluster
      // dies with its test, durability across power cuts is not under test.
      await run('runuser', ['-u', 'postgres', '--', 'pg_ctl', '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30',
        '-o', `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, 'start'])
    } catch (err) {
      lastError = stderrOf(err)
      continue
    }
    let stopped: Promise<void> | undefined
    const stop = async (): Promise<void> => {
      stopped ??= (async () => {
        try {
          await run('runuser', ['-u', 'postgres', '--', 'pg_ctl', '-D', data, '-m', 'fast', '-w', 'stop'])
        } finally {
          await removeDir()
        }
      })()
      await stopped
    }
    return { cluster: { url: `postgres://hub@127.0.0.1:${port}/postgres`, port, stop } }
  }
  await removeDir()
  return { reason: `pg_ctl start failed: ${lastError}` }
}

let dbSeq = 0

/** A fresh, empty database on the cluster (for tests that need their own schema), as a URL. */
export async function freshDatabase (cluster: PgCluster, prefix = 't'): Promise<string> {
  const name = `${prefix}_${process.pid}_${++dbSeq}_${Math.random().toString(36).slice(2, 8)}`
  const client = new pg.Client({ connectionString: cluster.url })
  await client.connect()
  try {
    await client.query(`CREATE DATABASE ${name}`)
  } finally {
    await client.end()
  }
  return cluster.url.replace(/\/postgres$/, `/${name}`)
}

let nsSeq = 0

/** A namespace no other test in this process uses. */
export function freshNamespace (prefix = 'ns'): string {
  return `${prefix}-${process.pid}-${++nsSeq}`
}
