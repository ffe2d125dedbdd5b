import '../src/shim.js'
/**
 * One hub as a daemon-like child process, driven by the sync suite
 * (bench/sync.ts), the requests suite (bench/requests.ts) and the scale
 * suite (bench/scale.ts) over the fork() IPC channel:
 *
 *   node dist/bench/hub-proc.js <hub dir> <label>
 *
 * The parent sends `{ id, op, args }` requests; every request gets exactly
 * one `{ id, ok: true, result }` or `{ id, ok: false, error }` reply (some,
 * like `awaitMarker` or `waitWatermark`, only when their condition holds).
 * Requests are handled concurrently, in arrival order.
 *
 * Times that are compared across processes are `process.hrtime.bigint()`
 * (CLOCK_MONOTONIC, shared by all processes on Linux), sent as decimal
 * strings because IPC is JSON.
 *
 * The hub runs on a real LevelDB in the given directory and its HubNode
 * listens on loopback TCP only, with DHT discovery off. Nothing is printed
 * to stdout; the parent maps this process's stdout to its own stderr anyway.
 */
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { performance } from 'node:perf_hooks'
import { Hub } from '../src/hub.js'
import type { HubNode, SyncPeerStatus } from '../src/net/hub-node.js'
import { startHubNode } from '../src/compose.js'
import { REQUEST_RATE_PER_SECOND } from '../src/net/constants.js'
import { joinHub } from '../src/net/pair.js'
import type { PullResult } from '../src/net/sync/client.js'
import type { Query } from '../src/store/query.js'
import { playlist } from './core.js'
import { scaleObject } from './scale.js'
import { pool } from './util.js'

// ------------------------------------------------------------------ protocol (shared with bench/sync.ts)

type NoArgs = Record<string, never>

/** Marked objects carry `name: MARK_PREFIX + marker`; the receiving side timestamps their arrival. */
export const MARK_PREFIX = 'bench-mark:'

/** A Collections query as the benchmarks send it (JSON over IPC). */
export type BenchQuery = Omit<Query, 'interface'>

export interface Requests {
  /** Hub.init in this process's directory (a founding hub). */
  init: NoArgs
  /** joinHub with an invite (creates this process's directory). */
  join: { invite: string, name?: string, role?: 'owner-device' | 'blind' }
  /** Hub.open (idempotent). Marker arrivals are recorded from here on. */
  open: NoArgs
  /** Open if needed, then HubNode.start on loopback TCP. */
  /** `requestBurst`: the per-peer request burst, if the default (REQUEST_BURST) is too small for the suite. */
  start: { reconnectMinMs?: number, reconnectMaxMs?: number, bootstrap?: string[], requestBurst?: number }
  createInvite: { role?: 'owner-device' | 'blind' }
  /** Create n playlists (bench/core.ts values), `inFlight` at once. */
  /** `encrypt`: key the collection first, so every create is encrypted at the edge. */
  bulkCreate: { n: number, inFlight: number, encrypt?: boolean }
  /** Create one playlist named MARK_PREFIX + marker; `before` is taken just before the write. */
  writeMarked: { marker: string }
  /** Resolves when a commit of the marked object is durable here (possibly already). */
  awaitMarker: { marker: string, timeoutMs: number }
  /** Resolves once this store's watermark for `peer` (a hub DID) is at least `seq`. */
  waitWatermark: { peer: string, seq: number, timeoutMs: number, pollMs: number }
  status: NoArgs
  syncOnce: { addr: string }
  /** Count live objects of one type by paging through queries. */
  countObjects: { context: string, type: string }
  /** Size of every envelope in this hub's feed. */
  envelopeStats: NoArgs
  /** Stop the node, close the hub (a later `start` opens it again). */
  stop: NoArgs
  /** Start the V8 CPU profiler (node:inspector) for one phase. */
  profileStart: NoArgs
  /** Stop it and write the .cpuprofile (open in Chrome DevTools / speedscope). */
  profileStop: { path: string }
  /** Stop, close, reply, exit(0). */
  exit: NoArgs
  /** hub.permissions.grant (this hub holds the owner key). */
  grant: { grantee: string, context: string, type: string, allow: string }
  /** Ids of up to `limit` live objects of one type (one query page). */
  objectIds: { context: string, type: string, limit: number }
  /** Count the owner's audit log entries (all of them, paging). */
  auditStats: NoArgs
  /** This process's CPU time, event-loop utilization and memory so far (diff two samples). */
  usage: NoArgs
  /** Create the scale suite's data set of n objects (bench/scale.ts scaleObject), `inFlight` at once. */
  scaleLoad: { n: number, inFlight: number }
  /** process.memoryUsage() now; with `gc`, after full garbage collections (needs the child forked with --expose-gc). */
  memory: { gc: boolean }
  /** Hub.open of an existing directory (must not be open yet), then one query: both timed in this process. */
  openTimed: { query: BenchQuery, expect: number }
  /** `warmup` untimed, then `count` timed runs of one query; each must return `expect` objects. `cold`: drop the meta/doc caches before each timed run. */
  queryTimes: { query: BenchQuery, warmup: number, count: number, expect: number, cold: boolean }
}

export interface HubInfo { did: string, hubDid: string, peerId: string, durableSeq: number }

export interface Replies {
  init: { did: string, hubDid: string }
  join: { did: string, hubDid: string }
  open: HubInfo
  start: HubInfo & { multiaddrs: string[], startedAt: string, ready: string }
  createInvite: { invite: string }
  bulkCreate: { ms: number, durableSeq: number }
  writeMarked: { before: string, after: string }
  awaitMarker: { arrivedAt: string }
  waitWatermark: { reachedAt: string, watermark: number, firstCommitAt: string | null, polls: number }
  status: { durableSeq: number, seq: number, servedCommits: number, peers: SyncPeerStatus[] }
  syncOnce: PullResult & { peer: string, ms: number }
  countObjects: { count: number, pages: number }
  envelopeStats: { commits: number, bytes: number, minBytes: number, maxBytes: number }
  stop: { durableSeq: number }
  profileStart: { started: true }
  profileStop: { path: string, bytes: number }
  exit: { pid: number }
  grant: { grantId: string, commitId: string }
  objectIds: { objectIds: string[] }
  auditStats: { entries: number, allowed: number, denied: number, codes: Record<string, number>, callers: number }
  usage: { cpuUserUs: number, cpuSystemUs: number, eluIdleMs: number, eluActiveMs: number, rssMiB: number, heapUsedMiB: number }
  scaleLoad: { ms: number, created: number, durableSeq: number }
  memory: { rssMiB: number, heapUsedMiB: number, heapTotalMiB: number, externalMiB: number, arrayBuffersMiB: number, maxRssMiB: number, gcRan: boolean }
  /** `uptimeMs`: performance.now() when the request arrived (ms since this process started: Node boot, module loading, IPC). */
  openTimed: HubInfo & { uptimeMs: number, openMs: number, firstQueryMs: number, results: number }
  queryTimes: { ms: number[] }
}

export type Op = keyof Requests

export interface RequestMessage<K extends Op = Op> { id: number, op: K, args: Requests[K] }

export type ReplyMessage =
  | { id: number, ok: true, result: Replies[Op] }
  | { id: number, ok: false, error: string }

// ------------------------------------------------------------------ the process

const now = (): bigint => process.hrtime.bigint()
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

class HubProcess {
  readonly dir: string
  hub: Hub | undefined
  node: HubNode | undefined
  /** Marker → hrtime of the first durable commit of its object here. */
  readonly #arrivals = new Map<string, bigint>()
  readonly #waiters = new Map<string, Array<(t: bigint) => void>>()
  #startedAt: bigint | undefined
  #firstCommitAfterStart: bigint | undefined

  constructor (dir: string) {
    this.dir = dir
  }

  #need (): Hub {
    if (this.hub === undefined) throw new Error('hub is not open')
    return this.hub
  }

  #needNode (): HubNode {
    if (this.node === undefined) throw new Error('node is not started')
    return this.node
  }

  #info (hub: Hub): HubInfo {
    return { did: hub.did, hubDid: hub.hubDid, peerId: hub.peerId, durableSeq: hub.store.durableSeq }
  }

  async open (): Promise<HubInfo> {
    if (this.hub !== undefined) return this.#info(this.hub)
    const hub = await Hub.open(this.dir)
    hub.events.on('commit', e => {
      const t = now()
      if (this.#startedAt !== undefined && this.#firstCommitAfterStart === undefined) this.#firstCommitAfterStart = t
      const name = e.meta.value?.['name']
      if (typeof name !== 'string' || !name.startsWith(MARK_PREFIX)) return
      const marker = name.slice(MARK_PREFIX.length)
      if (this.#arrivals.has(marker)) return
      this.#arrivals.set(marker, t)
      for (const w of this.#waiters.get(marker) ?? []) w(t)
      this.#waiters.delete(marker)
    })
    this.hub = hub
    return this.#info(hub)
  }

  async start (args: Requests['start']): Promise<Replies['start']> {
    await this.open()
    const hub = this.#need()
    if (this.node !== undefined) throw new Error('node already started')
    const startedAt = now()
    this.#startedAt = startedAt
    this.#firstCommitAfterStart = undefined
    this.node = await startHubNode(hub, {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      discoveryIntervalMs: 0,
      ...(args.reconnectMinMs !== undefined ? { reconnectMinMs: args.reconnectMinMs } : {}),
      ...(args.reconnectMaxMs !== undefined ? { reconnectMaxMs: args.reconnectMaxMs } : {}),
      ...(args.bootstrap !== undefined ? { bootstrap: args.bootstrap } : {}),
      ...(args.requestBurst !== undefined ? { requestRateLimit: { ratePerSecond: REQUEST_RATE_PER_SECOND, burst: args.requestBurst } } : {})
    })
    return { ...this.#info(hub), multiaddrs: this.node.multiaddrs(), startedAt: startedAt.toString(), ready: now().toString() }
  }

  async awaitMarker (args: Requests['awaitMarker']): Promise<Replies['awaitMarker']> {
    const seen = this.#arrivals.get(args.marker)
    if (seen !== undefined) return { arrivedAt: seen.toString() }
    const t = await new Promise<bigint>((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.#waiters.get(args.marker) ?? []
        this.#waiters.set(args.marker, list.filter(w => w !== done))
        reject(new Error(`marker ${args.marker} did not arrive within ${args.timeoutMs} ms`))
      }, args.timeoutMs)
      const done = (at: bigint): void => { clearTimeout(timer); resolve(at) }
      this.#waiters.set(args.marker, [...(this.#waiters.get(args.marker) ?? []), done])
    })
    return { arrivedAt: t.toString() }
  }

  async waitWatermark (args: Requests['waitWatermark']): Promise<Replies['waitWatermark']> {
    const hub = this.#need()
    const until = Date.now() + args.timeoutMs
    let polls = 0
    for (;;) {
      const w = await hub.store.getWatermark(args.peer)
      polls++
      if (w >= args.seq) {
        const first = this.#firstCommitAfterStart
        return { reachedAt: now().toString(), watermark: w, firstCommitAt: first === undefined ? null : first.toString(), polls }
      }
      if (Date.now() > until) throw new Error(`watermark for ${args.peer} is ${w} after ${args.timeoutMs} ms, expected ${args.seq}`)
      await sleep(args.pollMs)
    }
  }

  async bulkCreate (args: Requests['bulkCreate']): Promise<Replies['bulkCreate']> {
    const hub = this.#need()
    const values = Array.from({ length: args.n }, (_, i) => playlist(i))
    if (args.encrypt === true) await hub.collectionKeys.encrypt('https://schema.org', 'MusicPlaylist')
    const before = hub.store.seq
    const t0 = performance.now()
    await pool(args.n, args.inFlight, async i => await hub.collections.create(values[i]))
    const ms = performance.now() - t0
    if (hub.store.seq - before !== args.n) throw new Error(`bulkCreate: expected ${args.n} new commits, found ${hub.store.seq - before}`)
    return { ms, durableSeq: hub.store.durableSeq }
  }

  async writeMarked (args: Requests['writeMarked']): Promise<Replies['writeMarked']> {
    const hub = this.#need()
    const value = playlist(0, 1, MARK_PREFIX + args.marker)
    const before = now()
    await hub.collections.create(value)
    return { before: before.toString(), after: now().toString() }
  }

  async countObjects (args: Requests['countObjects']): Promise<Replies['countObjects']> {
    const hub = this.#need()
    let count = 0
    let pages = 0
    let cursor: string | undefined
    for (;;) {
      const page = await hub.collections.query({ context: args.context, type: args.type, limit: 1000, ...(cursor !== undefined ? { cursor } : {}) })
      pages++
      count += page.objects.length
      if (page.cursor === null || page.objects.length === 0) break
      cursor = page.cursor
    }
    return { count, pages }
  }

  async envelopeStats (): Promise<Replies['envelopeStats']> {
    const hub = this.#need()
    let commits = 0
    let bytes = 0
    let minBytes = Infinity
    let maxBytes = 0
    for await (const e of hub.store.feed(0)) {
      const env = await hub.store.getEnvelope(e.commitId)
      if (env === undefined) throw new Error(`feed entry ${e.seq} has no envelope`)
      const n = Buffer.byteLength(env, 'utf8')
      commits++
      bytes += n
      if (n < minBytes) minBytes = n
      if (n > maxBytes) maxBytes = n
    }
    return { commits, bytes, minBytes: commits === 0 ? 0 : minBytes, maxBytes }
  }

  async syncOnce (args: Requests['syncOnce']): Promise<Replies['syncOnce']> {
    const node = this.#needNode()
    const t0 = performance.now()
    const r = await node.syncOnce(args.addr)
    return { ...r, ms: performance.now() - t0 }
  }

  async grant (args: Requests['grant']): Promise<Replies['grant']> {
    return await this.#need().permissions.grant({ grantee: args.grantee, context: args.context, type: args.type, allow: args.allow })
  }

  async objectIds (args: Requests['objectIds']): Promise<Replies['objectIds']> {
    const page = await this.#need().collections.query({ context: args.context, type: args.type, limit: args.limit })
    return { objectIds: page.objects.map(o => o.objectId) }
  }

  async auditStats (): Promise<Replies['auditStats']> {
    const hub = this.#need()
    const out: Replies['auditStats'] = { entries: 0, allowed: 0, denied: 0, codes: {}, callers: 0 }
    const callers = new Set<string>()
    let after = 0
    for (;;) {
      const page = await hub.audit.list({ after, limit: 10_000 })
      for (const e of page) {
        out.entries++
        if (e.decision === 'allowed') out.allowed++
        else out.denied++
        if (e.code !== undefined) out.codes[e.code] = (out.codes[e.code] ?? 0) + 1
        callers.add(e.caller)
        after = e.seq
      }
      if (page.length < 10_000) break
    }
    out.callers = callers.size
    return out
  }

  usage (): Replies['usage'] {
    const cpu = process.cpuUsage()
    const elu = performance.eventLoopUtilization()
    const mem = process.memoryUsage()
    return { cpuUserUs: cpu.user, cpuSystemUs: cpu.system, eluIdleMs: elu.idle, eluActiveMs: elu.active, rssMiB: mem.rss / (1024 * 1024), heapUsedMiB: mem.heapUsed / (1024 * 1024) }
  }

  async scaleLoad (args: Requests['scaleLoad']): Promise<Replies['scaleLoad']> {
    const hub = this.#need()
    const before = hub.store.seq
    const t0 = performance.now()
    // Values are built inside each task, so no array of n values stays alive (RSS after the load is the hub's).
    await pool(args.n, args.inFlight, async i => await hub.collections.create(scaleObject(i, args.n)))
    const ms = performance.now() - t0
    const created = hub.store.seq - before
    if (created !== args.n) throw new Error(`scaleLoad: expected ${args.n} new commits, found ${created}`)
    return { ms, created, durableSeq: hub.store.durableSeq }
  }

  async memory (args: Requests['memory']): Promise<Replies['memory']> {
    const gc = globalThis.gc
    const gcRan = args.gc && gc !== undefined
    if (gcRan) {
      gc()
      await new Promise<void>(resolve => setImmediate(resolve))
      gc()
    }
    const m = process.memoryUsage()
    const mib = (b: number): number => b / (1024 * 1024)
    return {
      rssMiB: mib(m.rss),
      heapUsedMiB: mib(m.heapUsed),
      heapTotalMiB: mib(m.heapTotal),
      externalMiB: mib(m.external),
      arrayBuffersMiB: mib(m.arrayBuffers),
      maxRssMiB: process.resourceUsage().maxRSS / 1024, // reported in KiB
      gcRan
    }
  }

  #checkPage (q: BenchQuery, objects: ReadonlyArray<{ type: string | null, value: Record<string, unknown> | null }>, expect: number): void {
    if (objects.length !== expect) throw new Error(`query ${JSON.stringify(q)} returned ${objects.length} objects, expected ${expect}`)
    for (const o of objects) {
      if (q.type !== undefined && o.type !== q.type) throw new Error(`query ${JSON.stringify(q)} returned an object of type ${String(o.type)}`)
      for (const f of q.where ?? []) {
        if (f.op === 'eq' && o.value?.[f.field] !== f.value) throw new Error(`query ${JSON.stringify(q)} returned an object with ${f.field} = ${JSON.stringify(o.value?.[f.field])}`)
      }
    }
  }

  async openTimed (args: Requests['openTimed']): Promise<Replies['openTimed']> {
    const uptimeMs = performance.now()
    if (this.hub !== undefined) throw new Error('openTimed: the hub is already open')
    const t0 = performance.now()
    const info = await this.open()
    const t1 = performance.now()
    const page = await this.#need().collections.query(args.query)
    const t2 = performance.now()
    this.#checkPage(args.query, page.objects, args.expect)
    return { ...info, uptimeMs, openMs: t1 - t0, firstQueryMs: t2 - t1, results: page.objects.length }
  }

  async queryTimes (args: Requests['queryTimes']): Promise<Replies['queryTimes']> {
    const hub = this.#need()
    for (let i = 0; i < args.warmup; i++) this.#checkPage(args.query, (await hub.collections.query(args.query)).objects, args.expect)
    const ms: number[] = []
    for (let i = 0; i < args.count; i++) {
      if (args.cold) hub.store.dropDocCache()
      const t0 = performance.now()
      const page = await hub.collections.query(args.query)
      ms.push(performance.now() - t0)
      this.#checkPage(args.query, page.objects, args.expect)
    }
    return { ms }
  }

  status (): Replies['status'] {
    const hub = this.#need()
    const node = this.#needNode()
    return { durableSeq: hub.store.durableSeq, seq: hub.store.seq, servedCommits: node.servedCommits, peers: node.syncStatus() }
  }

  #profiler: Session | undefined

  async profileStart (): Promise<Replies['profileStart']> {
    if (this.#profiler !== undefined) throw new Error('profiler already running')
    const session = new Session()
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: 500 })
    await session.post('Profiler.start')
    this.#profiler = session
    return { started: true }
  }

  async profileStop (args: Requests['profileStop']): Promise<Replies['profileStop']> {
    const session = this.#profiler
    if (session === undefined) throw new Error('profiler is not running')
    this.#profiler = undefined
    try {
      const { profile } = await session.post('Profiler.stop')
      const text = JSON.stringify(profile)
      await writeFile(args.path, text)
      return { path: args.path, bytes: text.length }
    } finally {
      session.disconnect()
    }
  }

  async stop (): Promise<Replies['stop']> {
    const node = this.node
    const hub = this.hub
    this.node = undefined
    this.hub = undefined
    this.#startedAt = undefined
    try {
      if (node !== undefined) await node.stop()
    } finally {
      if (hub !== undefined) await hub.close()
    }
    return { durableSeq: hub?.store.durableSeq ?? 0 }
  }
}

const dir = process.argv[2]
const label = process.argv[3] ?? 'hub'
if (dir === undefined || process.send === undefined) {
  console.error('usage: forked by bench/sync.ts as hub-proc.js <dir> <label> (needs an IPC channel)')
  process.exit(2)
}
const proc = new HubProcess(dir)

async function handle (op: Op, args: Requests[Op]): Promise<Replies[Op]> {
  switch (op) {
    case 'init': {
      const r = await Hub.init(proc.dir)
      return { did: r.did, hubDid: r.hubDid }
    }
    case 'join': {
      const a = args as Requests['join']
      const r = await joinHub(proc.dir, a.invite, { ...(a.name !== undefined ? { name: a.name } : {}), ...(a.role !== undefined ? { role: a.role } : {}) })
      return { did: r.did, hubDid: r.hubDid }
    }
    case 'open': return await proc.open()
    case 'start': return await proc.start(args as Requests['start'])
    case 'createInvite': {
      if (proc.node === undefined) throw new Error('node is not started')
      const role = (args as Requests['createInvite']).role
      return { invite: (await proc.node.createInvite(role !== undefined ? { role } : {})).invite }
    }
    case 'bulkCreate': return await proc.bulkCreate(args as Requests['bulkCreate'])
    case 'writeMarked': return await proc.writeMarked(args as Requests['writeMarked'])
    case 'awaitMarker': return await proc.awaitMarker(args as Requests['awaitMarker'])
    case 'waitWatermark': return await proc.waitWatermark(args as Requests['waitWatermark'])
    case 'status': return proc.status()
    case 'syncOnce': return await proc.syncOnce(args as Requests['syncOnce'])
    case 'countObjects': return await proc.countObjects(args as Requests['countObjects'])
    case 'envelopeStats': return await proc.envelopeStats()
    case 'stop': return await proc.stop()
    case 'profileStart': return await proc.profileStart()
    case 'profileStop': return await proc.profileStop(args as Requests['profileStop'])
    case 'exit': {
      await proc.stop()
      return { pid: process.pid }
    }
    case 'grant': return await proc.grant(args as Requests['grant'])
    case 'objectIds': return await proc.objectIds(args as Requests['objectIds'])
    case 'auditStats': return await proc.auditStats()
    case 'usage': return proc.usage()
    case 'scaleLoad': return await proc.scaleLoad(args as Requests['scaleLoad'])
    case 'memory': return await proc.memory(args as Requests['memory'])
    case 'openTimed': return await proc.openTimed(args as Requests['openTimed'])
    case 'queryTimes': return await proc.queryTimes(args as Requests['queryTimes'])
  }
}

function isRequest (m: unknown): m is RequestMessage {
  if (typeof m !== 'object' || m === null) return false
  const r = m as Partial<RequestMessage>
  return typeof r.id === 'number' && typeof r.op === 'string' && typeof r.args === 'object' && r.args !== null
}

function reply (msg: ReplyMessage, then?: () => void): void {
  if (process.send === undefined || !process.connected) { then?.(); return }
  process.send(msg, undefined, {}, () => then?.())
}

process.on('message', (m: unknown) => {
  if (!isRequest(m)) {
    console.error(`[hub-proc ${label}] ignoring malformed message`, m)
    return
  }
  handle(m.op, m.args).then(result => {
    if (m.op === 'exit') reply({ id: m.id, ok: true, result }, () => process.exit(0))
    else reply({ id: m.id, ok: true, result })
  }, (err: unknown) => {
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    reply({ id: m.id, ok: false, error: text })
  })
})

// The parent went away (crashed, killed, or done): never outlive it.
process.on('disconnect', () => {
  const bye = setTimeout(() => process.exit(1), 3000)
  bye.unref()
  proc.stop().catch(() => {}).finally(() => process.exit(0))
})

process.on('unhandledRejection', err => {
  console.error(`[hub-proc ${label}] unhandled rejection:`, err)
})
