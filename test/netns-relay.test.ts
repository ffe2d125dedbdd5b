/**
 * Devices behind NATs on two home networks that cannot route to each other,
 * and a cloud hub both can reach: the devices sync live through the cloud
 * hub's circuit relay, and after every hub restarts (in random order) they
 * reconnect on their own, with no flags.
 *
 *   ha (192.168.1.2) ─ ra [NAT] (10.1.0.2) ─┐
 *                                            cloud (10.1.0.1, 10.2.0.1; no forwarding)
 *   hb (192.168.2.2) ─ rb [NAT] (10.2.0.2) ─┘
 *
 * Real network namespaces, veth pairs and nftables masquerading, made and
 * removed by this test; real daemon processes in each namespace. It needs
 * root, `ip` and `nft`; without them it is skipped with a message saying so
 * (CI runs as root and .ci/run installs nftables).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readConfig, withConfigValue, writeConfig } from '../src/hub-config.js'
import { cleanup, playlist, tempDir } from './helpers.js'

const BIN = resolve('dist/src/cli/main.js')

function canUseNetns (): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root'
  for (const [tool, flag] of [['ip', '-V'], ['nft', '--version']] as const) {
    try { execFileSync(tool, [flag], { stdio: 'ignore' }) } catch { return `\`${tool}\` is not installed` }
  }
  const probe = `ihubprobe${process.pid}`
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' })
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' })
  } catch {
    return 'network namespaces are not permitted here'
  }
  return undefined
}

const why = canUseNetns()
if (why !== undefined) console.warn(`skipping the netns relay test: ${why} (it needs root, ip and nft)`)

const tag = `${process.pid % 10000}`
const NS = { cloud: `ihc${tag}`, ra: `ihra${tag}`, rb: `ihrb${tag}`, ha: `ihha${tag}`, hb: `ihhb${tag}` }

function sh (...args: string[]): void {
  execFileSync(args[0] as string, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
}
function inNs (ns: string, ...args: string[]): void { sh('ip', 'netns', 'exec', ns, ...args) }

/** Two veth ends in two namespaces, addressed and up. */
function link (a: string, aIf: string, aAddr: string, b: string, bIf: string, bAddr: string): void {
  sh('ip', 'link', 'add', aIf, 'netns', a, 'type', 'veth', 'peer', 'name', bIf, 'netns', b)
  inNs(a, 'ip', 'addr', 'add', aAddr, 'dev', aIf)
  inNs(b, 'ip', 'addr', 'add', bAddr, 'dev', bIf)
  inNs(a, 'ip', 'link', 'set', aIf, 'up')
  inNs(b, 'ip', 'link', 'set', bIf, 'up')
}

function buildNetwork (): void {
  for (const ns of Object.values(NS)) {
    sh('ip', 'netns', 'add', ns)
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up')
  }
  link(NS.ha, 'eth0', '192.168.1.2/24', NS.ra, 'lan0', '192.168.1.1/24')
  link(NS.hb, 'eth0', '192.168.2.2/24', NS.rb, 'lan0', '192.168.2.1/24')
  link(NS.ra, 'wan0', '10.1.0.2/24', NS.cloud, 'a0', '10.1.0.1/24')
  link(NS.rb, 'wan0', '10.2.0.2/24', NS.cloud, 'b0', '10.2.0.1/24')
  inNs(NS.ha, 'ip', 'route', 'add', 'default', 'via', '192.168.1.1')
  inNs(NS.hb, 'ip', 'route', 'add', 'default', 'via', '192.168.2.1')
  for (const [r, gw] of [[NS.ra, '10.1.0.1'], [NS.rb, '10.2.0.1']] as const) {
    inNs(r, 'ip', 'route', 'add', 'default', 'via', gw)
    inNs(r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
    inNs(r, 'nft', 'add table ip nat')
    inNs(r, 'nft', 'add chain ip nat post { type nat hook postrouting priority 100 ; }')
    inNs(r, 'nft', 'add rule ip nat post oifname "wan0" masquerade')
  }
  // The cloud does not route between the two homes' uplinks.
  inNs(NS.cloud, 'sysctl', '-qw', 'net.ipv4.ip_forward=0')
}

function removeNetwork (): void {
  for (const ns of Object.values(NS)) {
    try { sh('ip', 'netns', 'del', ns) } catch { /* not created */ }
  }
}

interface Run { code: number | null, stdout: string, stderr: string }

async function hubIn (ns: string, args: string[], stdin = ''): Promise<Run> {
  return await new Promise((resolvePromise, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', code => resolvePromise({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

async function okIn (ns: string, args: string[], stdin = ''): Promise<Record<string, unknown>> {
  const r = await hubIn(ns, [...args, '--json'], stdin)
  if (r.code !== 0) throw new Error(`hub ${args.join(' ')} in ${ns} exited ${String(r.code)}: ${r.stderr}`)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

interface Daemon { child: ChildProcess, exit: Promise<number | null> }
const daemons = new Set<Daemon>()

async function startIn (ns: string, dir: string): Promise<Daemon> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, 'start', '--dir', dir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exit = new Promise<number | null>(resolveExit => child.once('exit', code => resolveExit(code)))
  const d = { child, exit }
  daemons.add(d)
  let stdout = ''
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within 20 s in ${ns}; stderr: ${stderr}`)), 20_000)
    child.stdout?.on('data', (b: Buffer) => {
      stdout += b.toString()
      if (stdout.includes('\n')) { clearTimeout(timer); resolveReady() }
    })
    void exit.then(code => { clearTimeout(timer); reject(new Error(`hub start in ${ns} exited ${String(code)}: ${stderr}`)) })
  })
  return d
}

async function stopIn (ns: string, dir: string, d: Daemon): Promise<void> {
  await okIn(ns, ['stop', '--dir', dir])
  await d.exit
  daemons.delete(d)
}

// A relayed connection takes between ~6 s and ~35 s to come up here (relay reservation and
// redial timers: a known leftover), and more under the whole suite's load:
// the waits are for a condition, bounded generously so a slow machine is not a failure.
async function until<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolveWait => setTimeout(resolveWait, 200))
  }
}

async function setConfig (dir: string, key: string, values: string[]): Promise<void> {
  await writeConfig(dir, withConfigValue(await readConfig(dir), key, values))
}

interface PeersReply { items: Array<{ peerId: string, addrs: string[] }> }

/** `ns`'s hub is connected to `peerId`, over a relayed or a direct connection. */
async function connectedTo (ns: string, dir: string, peerId: string): Promise<string[] | undefined> {
  const r = await okIn(ns, ['peers', '--dir', dir]) as unknown as PeersReply
  return r.items.find(p => p.peerId === peerId)?.addrs
}

async function readsIn (ns: string, dir: string, objectId: string): Promise<true | undefined> {
  const r = await hubIn(ns, ['read', '--dir', dir, objectId, '--json'])
  return r.code === 0 ? true : undefined
}

describe.skipIf(why !== undefined)('devices behind NATs, through the cloud hub\'s relay', () => {
  beforeAll(() => { removeNetwork(); buildNetwork() })
  afterAll(async () => {
    for (const d of daemons) {
      if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL')
      await d.exit
    }
    removeNetwork()
    await cleanup()
  })

  it('sync live between homes, and reconnect after every hub restarts in random order', { timeout: 420_000 }, async () => {
    const root = await tempDir('netns-')
    const C = join(root, 'cloud')
    const A = join(root, 'home-a')
    const B = join(root, 'home-b')
    const times: Record<string, number> = {}

    await okIn(NS.cloud, ['init', '--dir', C])
    await setConfig(C, 'network.listen', ['/ip4/0.0.0.0/tcp/0'])
    await setConfig(C, 'network.relay', ['true'])
    let c = await startIn(NS.cloud, C)

    const joinFrom = async (ns: string, dir: string, name: string): Promise<string> => {
      const { invite } = await okIn(NS.cloud, ['device', 'invite', '--dir', C]) as { invite: string }
      const j = await okIn(ns, ['init', '--dir', dir, '--join', invite, '--name', name]) as { peerId: string }
      // Behind a NAT: any local port, and reachable through a relay.
      await setConfig(dir, 'network.listen', ['/ip4/0.0.0.0/tcp/0', '/p2p-circuit'])
      return j.peerId
    }
    const peerA = await joinFrom(NS.ha, A, 'home-a')
    const peerB = await joinFrom(NS.hb, B, 'home-b')
    let a = await startIn(NS.ha, A)
    let b = await startIn(NS.hb, B)

    // The homes really cannot reach each other directly.
    expect(() => { inNs(NS.ha, 'ping', '-c1', '-W1', '192.168.2.2') }).toThrow()

    let t0 = Date.now()
    const via = await until('home A and home B connected', async () => await connectedTo(NS.hb, B, peerA))
    times.firstConnectMs = Date.now() - t0
    expect(via.some(x => x.includes('/p2p-circuit'))).toBe(true)

    const w = await okIn(NS.ha, ['write', '--dir', A], JSON.stringify(playlist('written in home A'))) as { objectId: string }
    t0 = Date.now()
    await until('home A\'s write in home B', async () => await readsIn(NS.hb, B, w.objectId))
    times.liveSyncMs = Date.now() - t0

    // Every hub restarts, in a random order; nothing is passed on the command line.
    const hubs = [
      { ns: NS.cloud, dir: C, get: () => c, set: (d: Daemon) => { c = d } },
      { ns: NS.ha, dir: A, get: () => a, set: (d: Daemon) => { a = d } },
      { ns: NS.hb, dir: B, get: () => b, set: (d: Daemon) => { b = d } }
    ]
    const order = [...hubs].sort(() => Math.random() - 0.5)
    for (const h of order) await stopIn(h.ns, h.dir, h.get())
    for (const h of [...hubs].sort(() => Math.random() - 0.5)) h.set(await startIn(h.ns, h.dir))
    t0 = Date.now()
    const again = await until('home A and home B connected again', async () => await connectedTo(NS.ha, A, peerB))
    times.reconnectMs = Date.now() - t0
    expect(again.some(x => x.includes('/p2p-circuit'))).toBe(true)
    const w2 = await okIn(NS.hb, ['write', '--dir', B], JSON.stringify(playlist('written in home B after the restarts'))) as { objectId: string }
    await until('home B\'s write in home A', async () => await readsIn(NS.ha, A, w2.objectId))

    // The cloud hub's recorded port did not change across its restart.
    const cfg = JSON.parse(await readFile(join(C, 'hub.json'), 'utf8')) as { network: { listen: string[] } }
    expect(cfg.network.listen[0]).toMatch(/^\/ip4\/0\.0\.0\.0\/tcp\/[1-9]\d*$/)
    console.log(`netns relay timings (ms): ${JSON.stringify(times)}`)
  })
})
