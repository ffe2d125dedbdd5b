/**
 * Paired devices find each other again after restarts, with no --listen and
 * no --bootstrap: the first `hub start` records the ports it chose in
 * hub.json and later starts come back on them (src/daemon/listen-addresses.ts).
 * Real daemon processes on loopback, stopped and started in several orders.
 */
import { createServer, type Server } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanup, playlist, tempDir } from './helpers.js'
import { hub, killAll, ok, running, startDaemon, type Daemon, until } from './cli-helpers.js'

afterAll(async () => { await killAll(); await cleanup() })


async function stop (dir: string, d: Daemon): Promise<void> {
  await ok(['stop', '--dir', dir])
  await d.exit
  running.delete(d)
}

async function recordedListen (dir: string): Promise<string[]> {
  const cfg = JSON.parse(await readFile(join(dir, 'hub.json'), 'utf8')) as { network?: { listen?: string[] } }
  return cfg.network?.listen ?? []
}

/** Without the /p2p/ suffix, sorted: the addresses a daemon listens on. */
function listening (d: Daemon): string[] {
  return d.info.multiaddrs.map(a => a.replace(/\/p2p\/[^/]+$/, '')).sort()
}

async function seen (dir: string, objectId: string): Promise<true | undefined> {
  const r = await hub(['read', '--dir', dir, objectId, '--json'])
  return r.code === 0 ? true : undefined
}

async function writeOn (dir: string, name: string): Promise<string> {
  const w = await ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist(name)) }) as { objectId: string }
  return w.objectId
}

describe('paired hubs after restarts', () => {
  it('come back on their recorded ports and sync again in any restart order', { timeout: 180_000 }, async () => {
    const root = await tempDir('restart-')
    const A = join(root, 'laptop')
    const B = join(root, 'phone')
    await ok(['init', '--dir', A])
    let a = await startDaemon(A)
    const recordedA = await recordedListen(A)
    expect(recordedA.length).toBeGreaterThan(0)
    expect(recordedA.every(x => !/\/tcp\/0(\/|$)/.test(x)), 'concrete ports are recorded, not tcp/0').toBe(true)
    expect(listening(a)).toEqual([...recordedA].sort())

    const { invite } = await ok(['device', 'invite', '--dir', A]) as { invite: string }
    const phone = await ok(['init', '--dir', B, '--join', invite, '--name', 'phone']) as { hubDid: string }
    let b = await startDaemon(B)
    const recordedB = await recordedListen(B)
    const first = await writeOn(A, 'before any restart')
    await until('the first write on the phone', async () => await seen(B, first))

    const orders: Array<{ name: string, run: () => Promise<void> }> = [
      {
        name: 'laptop then phone stop; laptop then phone start',
        run: async () => {
          await stop(A, a); await stop(B, b)
          a = await startDaemon(A); b = await startDaemon(B)
        }
      },
      {
        name: 'phone then laptop stop; phone then laptop start',
        run: async () => {
          await stop(B, b); await stop(A, a)
          b = await startDaemon(B); a = await startDaemon(A)
        }
      },
      {
        name: 'both at once',
        run: async () => {
          await Promise.all([stop(A, a), stop(B, b)]);
          [a, b] = await Promise.all([startDaemon(A), startDaemon(B)])
        }
      },
      {
        name: 'only the laptop restarts',
        run: async () => {
          await stop(A, a)
          a = await startDaemon(A)
        }
      }
    ]
    for (const order of orders) {
      await order.run()
      expect(listening(a), order.name).toEqual([...recordedA].sort())
      expect(listening(b), order.name).toEqual([...recordedB].sort())
      const fromA = await writeOn(A, `laptop after: ${order.name}`)
      const fromB = await writeOn(B, `phone after: ${order.name}`)
      await until(`the laptop's write on the phone (${order.name})`, async () => await seen(B, fromA))
      await until(`the phone's write on the laptop (${order.name})`, async () => await seen(A, fromB))
    }

    // A device that is away keeps its true position in `sync status` across a restart, not zeros.
    interface Status { peers: Array<{ hubDid: string, connected: boolean, watermark: number, head: number }> }
    const live = await until('the laptop to be caught up with the phone', async () => {
      const st = await ok(['sync', 'status', '--dir', A]) as unknown as Status
      const p = st.peers.find(x => x.hubDid === phone.hubDid)
      return p !== undefined && p.watermark > 0 && p.watermark === p.head ? p : undefined
    })
    await stop(B, b)
    await stop(A, a)
    a = await startDaemon(A)
    const away = (await ok(['sync', 'status', '--dir', A]) as unknown as Status).peers.find(x => x.hubDid === phone.hubDid)
    expect(away).toMatchObject({ connected: false, watermark: live.watermark, head: live.watermark })
  })

  it('moves to new ports (and records them) when another program took a recorded one', { timeout: 60_000 }, async () => {
    const dir = join(await tempDir('restart-taken-'), 'hub')
    await ok(['init', '--dir', dir])
    const d = await startDaemon(dir)
    const before = await recordedListen(dir)
    await stop(dir, d)

    const port = Number(/\/tcp\/(\d+)/.exec(before[0] as string)?.[1])
    const squatter: Server = createServer()
    await new Promise<void>((resolve, reject) => { squatter.once('error', reject); squatter.listen(port, '127.0.0.1', resolve) })
    try {
      // Warnings are logged only with HUB_LOG set (quiet by default); the daemon inherits our environment.
      process.env.HUB_LOG = 'warn'
      const again = await startDaemon(dir).finally(() => { delete process.env.HUB_LOG })
      const after = await recordedListen(dir)
      expect(after).not.toEqual(before)
      expect(listening(again)).toEqual([...after].sort())
      expect(again.stderr()).toContain('in use by another program')
      await stop(dir, again)
    } finally {
      await new Promise(resolve => squatter.close(resolve))
    }
  })

  it('refuses a --listen address in use, and a malformed one, with typed errors', { timeout: 60_000 }, async () => {
    const dir = join(await tempDir('restart-flag-'), 'hub')
    await ok(['init', '--dir', dir])
    const squatter: Server = createServer()
    await new Promise<void>((resolve, reject) => { squatter.once('error', reject); squatter.listen(0, '127.0.0.1', resolve) })
    try {
      const port = (squatter.address() as { port: number }).port
      const taken = await hub(['start', '--dir', dir, '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--json'])
      expect(taken.code).not.toBe(0)
      expect(JSON.parse(taken.stderr)).toMatchObject({ error: { code: 'unavailable' } })
      const bad = await hub(['start', '--dir', dir, '--listen', '/ip4/not-an-ip/tcp/x', '--json'])
      expect(bad.code).not.toBe(0)
      expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: 'bad_request' } })
      // Neither attempt recorded anything.
      expect(await recordedListen(dir)).toEqual([])
    } finally {
      await new Promise(resolve => squatter.close(resolve))
    }
  })
})
