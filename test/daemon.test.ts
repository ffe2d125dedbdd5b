/**
 * The hub daemon and its control channel, with real processes and real
 * LevelDB: `hub start` runs the built CLI (dist/, built by `npm test` before
 * vitest runs) and other `hub` processes must reach the store through it.
 * Every process started here is killed in afterEach/afterAll.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { Hub } from '../src/hub.js'
import { ControlClient } from '../src/daemon/control.js'
import { runDaemon, type HandlerTable, type NetworkHandle } from '../src/daemon/daemon.js'
import type { DaemonInfo } from '../src/daemon/files.js'
import { cleanup, deadPid, playlist, tempDir } from './helpers.js'
import { BIN, fails, hub, killAll, ok, startDaemon, type Daemon } from './cli-helpers.js'

async function newHub (): Promise<string> {
  const dir = join(await tempDir('daemon-'), 'hub')
  await Hub.init(dir)
  return dir
}

async function mode (path: string): Promise<number> {
  return (await stat(path)).mode & 0o777
}

async function post (url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/command`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolveListen => server.listen(0, '127.0.0.1', resolveListen))
  const { port } = server.address() as AddressInfo
  await new Promise(resolveClose => server.close(resolveClose))
  return port
}

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
})
afterAll(async () => {
  await killAll()
  await cleanup()
})

describe('a running hub daemon', () => {
  let dir: string
  let daemon: Daemon

  beforeAll(async () => {
    dir = await newHub()
    daemon = await startDaemon(dir)
  })
  afterAll(killAll)

  it('publishes daemon.json and a fresh control secret, both 0600', async () => {
    const { info } = daemon
    expect(info.pid).toBe(daemon.child.pid)
    expect(info.control.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    // The daemon runs the libp2p node: loopback TCP and WebSockets by default, nothing public.
    expect(info.multiaddrs.length).toBeGreaterThan(0)
    expect(info.multiaddrs.every(a => a.startsWith('/ip4/127.0.0.1/'))).toBe(true)
    expect(info.did).toMatch(/^did:key:z6Mk/)
    expect(info.peerId).toMatch(/^12D3KooW/)
    expect(JSON.parse(await readFile(join(dir, 'daemon.json'), 'utf8'))).toEqual(info)
    expect((await readFile(join(dir, 'control.secret'), 'utf8')).trim()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(await mode(join(dir, 'daemon.json'))).toBe(0o600)
    expect(await mode(join(dir, 'control.secret'))).toBe(0o600)
    expect(await ok(['status', '--dir', dir])).toMatchObject({ running: true, pid: info.pid, control: info.control, multiaddrs: info.multiaddrs })
  })

  it('runs commands from other processes without lock errors', async () => {
    // Concurrent processes: without the daemon, all but one would fail on the LevelDB lock.
    const [a, b, c] = await Promise.all([
      ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist('One')) }),
      ok(['write', '--dir', dir, '--strategy', 'lww'], { stdin: JSON.stringify(playlist('Two', ['A', 'B'])) }),
      ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist('Three', ['A', 'B', 'C'])) }),
      ok(['profile', 'set', '--dir', dir], { stdin: JSON.stringify({ name: 'Alice' }) })
    ])
    const [read, query, profile, info] = await Promise.all([
      ok(['read', '--dir', dir, a?.objectId as string]),
      ok(['query', '--dir', dir, '--type', 'MusicPlaylist', '--where', 'numTracks>=2', '--sort', 'created']),
      ok(['profile', 'get', '--dir', dir]),
      ok(['info', '--dir', dir])
    ])
    expect(read).toMatchObject({ objectId: a?.objectId, type: 'MusicPlaylist' })
    expect((read.value as Record<string, unknown>).name).toBe('One')
    expect((query.items as Array<{ objectId: string }>).map(o => o.objectId).sort()).toEqual([b?.objectId, c?.objectId].sort())
    expect((profile.value as Record<string, unknown>).name).toBe('Alice')
    expect(info.dir).toBe(dir)

    // They really ran in the daemon (an in-process open would have waited on the lock, then failed).
    const traced = await hub(['info', '--dir', dir, '--json'], { env: { HUB_LOG: 'debug' } })
    expect(traced.code).toBe(0)
    expect(traced.stderr).toContain('forwarding to the hub daemon')
    expect(traced.stderr).not.toContain('hub opened')

    // Errors keep their codes through the channel.
    await fails(['read', '--dir', dir, 'nope'], 'bad_request')
    await fails(['write', '--dir', dir], 'bad_request')

    // export --out is relative to the CLI's working directory, not the daemon's.
    const cwd = join(dir, '..', 'elsewhere')
    await mkdir(cwd)
    const ex = await ok(['export', '--dir', dir, a?.objectId as string, '--out', 'one.automerge'], { cwd })
    expect(ex).toMatchObject({ objectId: a?.objectId, out: 'one.automerge' })
    expect((await stat(join(cwd, 'one.automerge'))).size).toBe(ex.bytes)
  })

  it('authenticates every control request and rejects malformed ones', async () => {
    const url = daemon.info.control.url
    const secret = (await readFile(join(dir, 'control.secret'), 'utf8')).trim()
    const body = JSON.stringify({ command: 'info', params: {} })
    const wrongSameLength = (secret[0] === 'A' ? 'B' : 'A') + secret.slice(1)
    const rejected: Array<Record<string, string>> = [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${wrongSameLength}` }, { authorization: secret }]
    for (const headers of rejected) {
      const r = await post(url, body, headers)
      expect(r.status).toBe(401)
      expect(r.body).toMatchObject({ error: { code: 'authentication_failed' } })
    }
    const auth = { authorization: `Bearer ${secret}` }
    expect(await post(url, body, auth)).toMatchObject({ status: 200, body: { result: { did: daemon.info.did } } })
    expect(await post(url, '{not json', auth)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } })
    expect(await post(url, JSON.stringify({ command: 'info' }), auth)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } })
    expect(await post(url, JSON.stringify({ command: 'init', params: {} }), auth)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } })
    // Calls are typed: argv, a wrong type, an unknown or a missing parameter is refused before the handler runs.
    for (const bad of [
      { command: 'read', args: { positionals: ['x'], options: {} } },
      { command: 'read', params: { objectId: 5 } },
      { command: 'read', params: { objectId: 'bafkreiaaaa', extra: true } },
      { command: 'read', params: {} },
      { command: 'info', params: {}, extra: 1 },
      { command: 'grant', params: { grantee: 'did:key:z', context: 'c', type: 't' } },
      { command: 'write', params: { value: {}, strategy: 'paxos' } }
    ]) {
      expect(await post(url, JSON.stringify(bad), auth), JSON.stringify(bad)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } })
    }
    expect(await post(url, 'x'.repeat(9 * 1024 * 1024), auth)).toMatchObject({ status: 413, body: { error: { code: 'too_large' } } })
    const missing = await post(url, JSON.stringify({ command: 'read', params: { objectId: 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' } }), auth)
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } })
  })

  it('refuses a second daemon on the same directory', async () => {
    const r = await hub(['start', '--dir', dir, '--json'])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'unavailable', message: expect.stringContaining(`pid ${daemon.info.pid}`) } })
    expect(JSON.parse(await readFile(join(dir, 'daemon.json'), 'utf8'))).toEqual(daemon.info)
  })
})

describe('daemon lifecycle', () => {
  afterEach(killAll)

  it('shuts down cleanly on SIGTERM; the data survives', async () => {
    const dir = await newHub()
    const d = await startDaemon(dir)
    const w = await ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist('Kept')) })
    const t0 = Date.now()
    d.child.kill('SIGTERM')
    expect(await d.exit).toBe(0)
    expect(Date.now() - t0).toBeLessThan(5000)
    expect(existsSync(join(dir, 'daemon.json'))).toBe(false)
    expect(existsSync(join(dir, 'control.secret'))).toBe(false)
    const r = await ok(['read', '--dir', dir, w.objectId as string])
    expect((r.value as Record<string, unknown>).name).toBe('Kept')
    expect(await ok(['status', '--dir', dir])).toEqual({ running: false })
  })

  it('stops on `hub stop`, which waits for it', async () => {
    const dir = await newHub()
    const d = await startDaemon(dir)
    expect(await ok(['stop', '--dir', dir])).toEqual({ stopped: true, pid: d.info.pid })
    expect(existsSync(join(dir, 'daemon.json'))).toBe(false)
    expect(await d.exit).toBe(0)
    expect(await ok(['stop', '--dir', dir])).toEqual({ stopped: false })
  })

  it('ignores a stale daemon.json (dead pid, or a live pid that does not answer)', async () => {
    const dir = await newHub()
    const url = `http://127.0.0.1:${await closedPort()}`
    const stale = async (pid: number): Promise<void> => {
      const info = { pid, startedAt: new Date().toISOString(), control: { url }, multiaddrs: [], did: 'did:key:x', peerId: 'x' }
      await writeFile(join(dir, 'daemon.json'), JSON.stringify(info), { mode: 0o600 })
      await writeFile(join(dir, 'control.secret'), 'stale', { mode: 0o600 })
    }
    await stale(await deadPid())
    expect(await ok(['status', '--dir', dir])).toEqual({ running: false, stale: true })
    const w = await ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist('Despite stale')) })

    // A recycled pid (here: this test process) is alive but serves no control channel.
    await stale(process.pid)
    expect((await ok(['read', '--dir', dir, w.objectId as string])).objectId).toBe(w.objectId)

    const d = await startDaemon(dir)
    expect(d.info.pid).toBe(d.child.pid)
    expect(JSON.parse(await readFile(join(dir, 'daemon.json'), 'utf8'))).toEqual(d.info)
    expect((await readFile(join(dir, 'control.secret'), 'utf8')).trim()).not.toBe('stale')
    expect((await ok(['read', '--dir', dir, w.objectId as string])).objectId).toBe(w.objectId)
  })
})

describe('runDaemon in-process (the network seam and signals)', () => {
  interface FakeNet extends NetworkHandle { name: string }

  it('hands the injected network to handlers, publishes its multiaddrs and forces exit on a second signal', async () => {
    const dir = await newHub()
    const multiaddrs = ['/ip4/127.0.0.1/tcp/4001']
    let releaseStop = (): void => {}
    let stopping = false
    const net: FakeNet = {
      name: 'fake',
      multiaddrs: () => multiaddrs,
      // Shutdown hangs here until the test lets it go, so a second signal arrives mid-shutdown.
      stop: async () => {
        stopping = true
        await new Promise<void>(resolveStop => { releaseStop = resolveStop })
      }
    }
    const startNetwork = vi.fn(async (_hub: Hub, opts: { listen: string[], bootstrap: string[] }) => {
      expect(opts).toMatchObject({ listen: ['/ip4/0.0.0.0/tcp/0'], bootstrap: [] })
      return net
    })
    const handlers: HandlerTable<FakeNet> = {
      async whoami (ctx) { return { net: ctx.net?.name, multiaddrs: ctx.net?.multiaddrs(), did: ctx.hub.did } }
    }
    const forceExit = vi.fn()
    let ready: (info: DaemonInfo) => void = () => {}
    const readyInfo = new Promise<DaemonInfo>(resolveReady => { ready = resolveReady })
    const exitCode = runDaemon<FakeNet>({ dir, handlers, startNetwork, listen: ['/ip4/0.0.0.0/tcp/0'], onReady: ready, forceExit })

    const info = await readyInfo
    expect(startNetwork).toHaveBeenCalledOnce()
    expect(info.multiaddrs).toEqual(multiaddrs)
    const client = await ControlClient.forDir(dir)
    expect(await client.call('whoami', {})).toEqual({ net: 'fake', multiaddrs, did: info.did })
    expect(await client.call('ping', {})).toMatchObject({ pid: process.pid, multiaddrs })

    process.emit('SIGTERM', 'SIGTERM')
    await vi.waitFor(() => { expect(stopping).toBe(true) })
    expect(forceExit).not.toHaveBeenCalled()
    process.emit('SIGINT', 'SIGINT')
    expect(forceExit).toHaveBeenCalledWith(1)
    releaseStop()
    expect(await exitCode).toBe(0)
    expect(existsSync(join(dir, 'daemon.json'))).toBe(false)
    expect(process.listenerCount('SIGTERM')).toBe(0)
  })
})
