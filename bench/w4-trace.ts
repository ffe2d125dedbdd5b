import '../src/shim.js'
/**
 * Where W4's milliseconds go (issue 18): hub A in this process, hub B in a
 * child process (this file again, with `b` as argv[2]), paired as a device
 * and caught up; A creates one object at a time and both processes stamp
 * each stage with process.hrtime.bigint() (CLOCK_MONOTONIC, shared across
 * processes on Linux):
 *
 *   A create call → A create resolved → A feed waiter woken (the sync
 *   server's waitForFeed) → A send start → A's first (and last) TCP write
 *   → B's first (and last) TCP read → B schema check of the frame → B
 *   frame received → B sends its next pull → B existence read issued →
 *   done → B ingest called (verify done) → B commit event → B ingest
 *   resolved
 *
 * The stamps come from wrapping instance and prototype methods in this
 * bench only (net.Socket write/push, FrameChannel send/receive, the
 * TenantStore's waitForFeed, existing and ingestMany); the product code
 * is not instrumented. W4_SYNC_GET=1 and W4_CORK=1 are experiments (see
 * patchSyncGet, patchCork). One sample every ~10 ms after 10 warm-up
 * samples.
 *
 *   npm run build && node dist/bench/w4-trace.js [samples=60]
 *
 * Prints per-stage medians (ms from the previous stage, and cumulative).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Hub } from '../src/hub.js'
import { startHubNode } from '../src/compose.js'
import { joinHub } from '../src/net/pair.js'
import { FrameChannel } from '../src/net/channel.js'
import { workloadObject } from './workload-data.js'
import { createRequire } from 'node:module'
import { Socket } from 'node:net'

const now = (): bigint => process.hrtime.bigint()
const MARK = 'w4-trace:'

type Stamps = Record<string, bigint>

/** Stamp the first occurrence of each stage after `arm()`, per round. */
class Recorder {
  stamps: Stamps = {}
  armed = false
  arm (): void { this.stamps = {}; this.counts = {}; this.sizes = []; this.armed = true }
  /** The latest occurrence (overwrites). */
  last (stage: string): void { if (this.armed) this.stamps[stage] = now() }
  /** A count, kept as a stamp-shaped number of events (ns field holds the count). */
  count (stage: string): void { if (this.armed) this.counts[stage] = (this.counts[stage] ?? 0) + 1 }
  counts: Record<string, number> = {}
  /** Bytes of each TCP write A made for the batch (this round). */
  sizes: number[] = []
  hit (stage: string): void {
    if (!this.armed || this.stamps[stage] !== undefined) return
    this.stamps[stage] = now()
  }
}

/**
 * W4_CORK=1 (an experiment, both processes): TCP writes made in one
 * synchronous run are corked and go out as one writev at the end of it
 * (@libp2p/tcp writes each chunk of a frame with its own socket.write).
 */
function patchCork (): void {
  const proto = Socket.prototype as unknown as { write: (...a: unknown[]) => boolean, cork: () => void, uncork: () => void, writableCorked: number }
  const write = proto.write
  const corked = new WeakSet<object>()
  proto.write = function (this: typeof proto, ...a: unknown[]) {
    if (!corked.has(this)) {
      corked.add(this)
      this.cork()
      process.nextTick(() => { corked.delete(this); this.uncork() })
    }
    return write.apply(this, a)
  }
}

/** The first TCP write on A, and the first TCP read on B, after the batch went to libp2p. */
function patchSocket (rec: Recorder, side: 'a' | 'b'): void {
  const proto = Socket.prototype as unknown as { write: (...a: unknown[]) => boolean, push: (...a: unknown[]) => boolean }
  if (side === 'a') {
    const write = proto.write
    proto.write = function (this: Socket, ...a: unknown[]) {
      if (rec.stamps['a_send_start'] !== undefined && rec.stamps['a_send_written'] === undefined) { rec.hit('a_socket_write'); rec.last('a_socket_write_last'); rec.count('a_socket_writes'); rec.sizes.push((a[0] as { byteLength?: number }).byteLength ?? -1) }
      return write.apply(this, a)
    }
  } else {
    const push = proto.push
    proto.push = function (this: Socket, ...a: unknown[]) {
      if (a[0] !== null && rec.stamps['b_frame_received'] === undefined) { rec.hit('b_socket_data'); rec.last('b_socket_data_last'); rec.count('b_socket_reads') }
      return push.apply(this, a)
    }
  }
}

function patchChannel (rec: Recorder, side: 'a' | 'b'): void {
  if (process.env['W4_CORK'] === '1') patchCork()
  patchSocket(rec, side)
  const proto = FrameChannel.prototype as unknown as {
    send: (m: object, s?: AbortSignal) => Promise<void>
    receive: (v: unknown, s?: AbortSignal) => Promise<unknown>
  }
  const send = proto.send
  proto.send = async function (this: FrameChannel, m: object, s?: AbortSignal) {
    const raw = (m as { raw?: unknown }).raw
    const batch = side === 'a' && typeof raw === 'string' && raw.startsWith('{"t":"batch","commits":[{')
    if (batch) rec.hit('a_send_start')
    const pull = side === 'b' && (m as { t?: unknown }).t === 'pull' && rec.stamps['b_frame_received'] !== undefined
    if (pull) rec.hit('b_pull_send_start')
    const p = send.call(this, m, s)
    if (pull) rec.hit('b_pull_send_returned')
    await p
    if (batch) rec.hit('a_send_written')
  }
  const receive = proto.receive
  proto.receive = async function (this: FrameChannel, v: unknown, s?: AbortSignal) {
    // B: stamp around the schema check (after the frame was read and JSON-parsed).
    const validate = v as ((x: unknown) => boolean) & { errors?: unknown }
    const check = (x: unknown): boolean => {
      if (rec.stamps['b_socket_data'] !== undefined) rec.hit('b_validate_start')
      const ok = validate(x)
      check.errors = validate.errors
      if (rec.stamps['b_socket_data'] !== undefined) rec.hit('b_validate_done')
      return ok
    }
    check.errors = undefined as unknown
    const r = await receive.call(this, side === 'b' ? check : v, s)
    if (side === 'b' && typeof r === 'object' && r !== null && (r as { t?: unknown }).t === 'batch' && ((r as { commits?: unknown[] }).commits?.length ?? 0) > 0) rec.hit('b_frame_received')
    return r
  }
}

/**
 * W4_SYNC_GET=1 (an experiment, B only): LevelDB reads of up to 4 keys
 * (the existence read of a live page) answered by classic-level's getSync
 * on the main thread instead of a thread-pool hop.
 */
function patchSyncGet (): void {
  const require = createRequire(import.meta.url)
  const { ClassicLevel } = require('classic-level') as { ClassicLevel: { prototype: Record<string, unknown> } }
  const proto = ClassicLevel.prototype as { _getMany: (k: unknown[], o: unknown) => Promise<unknown[]>, _getSync: (k: unknown, o: unknown) => unknown }
  const getMany = proto._getMany
  proto._getMany = async function (this: typeof proto, keys: unknown[], options: unknown) {
    if (keys.length > 4) return await getMany.call(this, keys, options)
    return keys.map(k => this._getSync(k, options))
  }
}

async function childB (dir: string): Promise<void> {
  const rec = new Recorder()
  patchChannel(rec, 'b')
  if (process.env['W4_SYNC_GET'] === '1') patchSyncGet()
  let hub: Hub | undefined
  let node: Awaited<ReturnType<typeof startHubNode>> | undefined
  const send = (m: unknown): void => { process.send?.(m) }
  process.on('message', (m: { op: string, invite?: string }) => {
    void (async () => {
      if (m.op === 'join') {
        await joinHub(dir, m.invite as string, { name: 'trace B' })
        hub = await Hub.open(dir)
        const store = hub.store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
        for (const [name, stage] of [['existing', 'b_exist_done'], ['ingestMany', 'b_ingest_resolved']] as const) {
          const orig = store[name] as (...a: unknown[]) => Promise<unknown>
          store[name] = async (...a: unknown[]) => {
            rec.hit(name === 'ingestMany' ? 'b_ingest_called' : 'b_exist_called')
            const r = await orig.apply(hub?.store, a)
            rec.hit(stage)
            return r
          }
        }
        hub.events.on('commit', e => {
          const name = e.meta.value?.['name']
          if (typeof name !== 'string' || !name.startsWith(MARK)) return
          rec.hit('b_commit_event')
          const stamps = rec.stamps
          // ingest resolves after the event: report on the next turn of the loop.
          setTimeout(() => { rec.armed = false; send({ op: 'stamps', marker: name, counts: rec.counts, stamps: Object.fromEntries(Object.entries(stamps).map(([k, t]) => [k, t.toString()])) }) }, 5)
        })
        node = await startHubNode(hub, { listen: ['/ip4/127.0.0.1/tcp/0'], discoveryIntervalMs: 0, reconnectMinMs: 100, reconnectMaxMs: 1000 })
        send({ op: 'joined', hubDid: hub.hubDid })
      } else if (m.op === 'arm') {
        rec.arm()
        send({ op: 'armed' })
      } else if (m.op === 'exit') {
        await node?.stop()
        await hub?.close()
        process.exit(0)
      }
    })().catch((err: unknown) => { console.error(err); process.exit(1) })
  })
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

async function parentA (samples: number): Promise<void> {
  const rec = new Recorder()
  patchChannel(rec, 'a')
  const root = await mkdtemp(join(tmpdir(), 'hub-w4-trace-'))
  const child = fork(fileURLToPath(import.meta.url), ['b', join(root, 'b')], { stdio: ['ignore', 2, 'inherit', 'ipc'] })
  type FromB = { op: string, stamps?: Record<string, string>, counts?: Record<string, number>, hubDid?: string }
  const waiters: Array<(m: FromB) => void> = []
  child.on('message', (m: { op: string }) => { for (const w of waiters.splice(0)) w(m) })
  const next = async (op: string): Promise<FromB> => await new Promise(resolve => {
    const on = (m: { op: string }): void => { if (m.op === op) resolve(m); else waiters.push(on) }
    waiters.push(on)
  })
  try {
    await Hub.init(join(root, 'a'))
    const hub = await Hub.open(join(root, 'a'))
    const store = hub.store as unknown as { waitForFeed: (...a: unknown[]) => Promise<void> }
    const wait = store.waitForFeed
    store.waitForFeed = async (...a: unknown[]) => { await wait.apply(hub.store, a); rec.hit('a_feed_woken') }
    const node = await startHubNode(hub, { listen: ['/ip4/127.0.0.1/tcp/0'], discoveryIntervalMs: 0, reconnectMinMs: 100, reconnectMaxMs: 1000 })
    for (let i = 0; i < 50; i++) await hub.collections.create(workloadObject(i))
    const joined = next('joined')
    child.send({ op: 'join', invite: (await node.createInvite({})).invite })
    const bHubDid = (await joined).hubDid as string
    // Connected both ways; the warm-up rounds absorb what is left of B's cold sync.
    for (;;) {
      const st = node.syncStatus().find(p => p.hubDid === bHubDid)
      if (st?.replicating === true) break
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    await new Promise(resolve => setTimeout(resolve, 1500))
    const rows: Array<Record<string, number>> = []
    const counts: Array<Record<string, number>> = []
    const sizes: string[] = []
    const warm = 10
    for (let i = 0; i < warm + samples; i++) {
      const armed = next('armed')
      child.send({ op: 'arm' })
      await armed
      rec.arm()
      const stampsP = next('stamps')
      const t0 = now()
      await hub.collections.create({ ...workloadObject(i), name: `${MARK}${i}` })
      rec.hit('a_create_resolved')
      const fromB = await stampsP
      const b = fromB.stamps as Record<string, string>
      counts.push({ ...rec.counts, ...fromB.counts })
      sizes.push(rec.sizes.join('+'))
      rec.armed = false
      // Settle between samples, as a user's writes are not back to back.
      await new Promise(resolve => setTimeout(resolve, 10))
      if (i < warm) continue
      const row: Record<string, number> = {}
      for (const [k, t] of Object.entries(rec.stamps)) row[k] = Number(t - t0) / 1e6
      for (const [k, t] of Object.entries(b)) row[k] = Number(BigInt(t) - t0) / 1e6
      rows.push(row)
    }
    const order = ['a_create_resolved', 'a_feed_woken', 'a_send_start', 'a_socket_write', 'a_socket_write_last', 'b_socket_data', 'b_socket_data_last', 'a_send_written', 'b_validate_start', 'b_validate_done', 'b_frame_received', 'b_pull_send_start', 'b_pull_send_returned', 'b_exist_called', 'b_exist_done', 'b_ingest_called', 'b_commit_event', 'b_ingest_resolved']
    let prev = 0
    console.log(`W4 trace, ${rows.length} samples, medians (ms): stage, since previous stage, since A's create call`)
    for (const k of order) {
      const xs = rows.map(r => r[k]).filter((x): x is number => x !== undefined)
      const m = median(xs)
      console.log(`${k.padEnd(20)} ${(m - prev).toFixed(3).padStart(8)} ${m.toFixed(3).padStart(8)}  (n=${xs.length})`)
      prev = m
    }
    const e2e = rows.map(r => r['b_commit_event']).filter((x): x is number => x !== undefined)
    console.log(`W4 p50 (B commit event): ${median(e2e).toFixed(3)} ms`)
    console.log(`socket writes by A for the batch (p50): ${median(counts.slice(warm).map(c => c['a_socket_writes'] ?? 0))}, socket reads by B until the frame: ${median(counts.slice(warm).map(c => c['b_socket_reads'] ?? 0))}`)
    const shapes = new Map<string, number>()
    for (const x of sizes.slice(warm)) shapes.set(x, (shapes.get(x) ?? 0) + 1)
    console.log(`A's TCP writes from hand-off to written, bytes (how many samples): ${[...shapes].sort((x, y) => y[1] - x[1]).slice(0, 5).map(([k, n]) => `${k} (${n})`).join(', ')}`)
    // Per-sample spans (the stage medians above do not add up to a sample's).
    const span = (from: string, to: string): string => median(rows.map(r => (r[to] ?? NaN) - (r[from] ?? NaN)).filter(x => !Number.isNaN(x))).toFixed(3)
    console.log(`spans p50 (ms): A create ${median(rows.map(r => r['a_create_resolved'] ?? NaN)).toFixed(3)}, A wake→send ${span('a_feed_woken', 'a_send_start')}, wire (A send→B frame) ${span('a_send_start', 'b_frame_received')} (A send→socket write ${span('a_send_start', 'a_socket_write')}, socket→socket ${span('a_socket_write', 'b_socket_data')}, B socket→frame ${span('b_socket_data', 'b_frame_received')}: to the schema check ${span('b_socket_data', 'b_validate_start')}, the check ${span('b_validate_start', 'b_validate_done')}), ` +
      `B frame→existence read done ${span('b_frame_received', 'b_exist_done')}, B ingest→commit event ${span('b_ingest_called', 'b_commit_event')}, B frame→commit event ${span('b_frame_received', 'b_commit_event')}`)
    child.send({ op: 'exit' })
    await new Promise(resolve => child.once('exit', resolve))
    await node.stop()
    await hub.close()
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[2] === 'b') {
  await childB(process.argv[3] as string)
} else {
  await parentA(Number(process.argv[2] ?? 60))
}
