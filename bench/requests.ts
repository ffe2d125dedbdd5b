/**
 * Requests suite: an app using an owner's hub through the client SDK
 * (HubClient, /identity-hub/request/1.0.0) over libp2p on loopback TCP.
 *
 * Processes: the hub runs in its own forked Node process (bench/hub-proc.ts,
 * a founding hub with a HubNode listening on /ip4/127.0.0.1/tcp/0). The app
 * side — every HubClient — runs in THIS (the parent) process, each client
 * with its own dial-only libp2p node and connection, exactly as an app would
 * use the SDK. The two processes share the machine's cores, so the parent's
 * CPU use is reported next to the hub's.
 *
 * Per run (fresh temp dir, fresh hub process):
 *  0. set-up (untimed): init + start the hub, create N MusicPlaylist objects
 *     (bench/core.ts values), one Ed25519 app identity per load client, each
 *     granted `-R--` on schema.org MusicPlaylist by the owner.
 *  1. read — sequential client.collections.read(objectId) round trips on one
 *     connection (after a warm-up), cycling through the N objects.
 *  2. query100 — sequential client.collections.query({ context, type:
 *     'MusicPlaylist', limit: 100 }); every page must hold 100 playlists.
 *  3. profile read — sequential client.profile.read(): the same request path
 *     (sign, verify, replay check, audit) with no object lookup: a floor.
 *  4. concurrent20 — CLIENTS HubClients (distinct identities, distinct
 *     connections) each read in a closed loop (one request in flight per
 *     client) for LOAD_SECONDS; throughput, latency and errors by code.
 *  5. audit check — the owner's audit log must hold exactly one entry per
 *     request sent (all phases), which also proves every request reached the
 *     hub's full path.
 *
 * Figures are medians of RUNS runs (with min and max). The hub process is
 * always shut down (killed if it must), clients closed and temp dirs removed.
 *
 * BENCH_REQUESTS_CPU_PROF=<dir>: start the hub child with `--cpu-prof` (the
 * whole life of the process, set-up included: requests-run<N>-hub.cpuprofile)
 * and also profile the hub over the load window alone (node:inspector,
 * requests-run<N>-hub-load.cpuprofile), both into <dir>. Adds profiler
 * overhead: figures are then not comparable. Profile the app side with
 * `node --cpu-prof dist/bench/run.js --only requests`.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { HubClient } from '../src/client/index.js'
import { HubError } from '../src/errors.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { HubChild } from './hub-child.js'
import { cpuProfileDir, percentile, progress, round, summarize, type Figures, type Suite, type SuiteOptions } from './util.js'

const CONTEXT = 'https://schema.org'
const TYPE = 'MusicPlaylist'
const ALLOW = '-R--'
const IN_FLIGHT = 256
const QUERY_LIMIT = 100
/** Client request timeout: a request slower than this counts as an error (`unavailable`). */
const CLIENT_TIMEOUT_MS = 10_000
/** Connecting is retried (the hub's libp2p refuses more than 5 inbound connections per second per host). */
const CONNECT_ATTEMPTS = 40
const CONNECT_RETRY_MS = 250
/**
 * The hub's per-peer request burst for this suite: the first client sends
 * its ~550 sequential requests (phases 1-3 plus warm-up) back to back,
 * faster than the production burst (REQUEST_BURST, two seconds of the
 * sustained rate) refills. The sustained rate stays the production one.
 */
const REQUEST_BURST_BENCH = 1000

interface Sizes {
  runs: number
  objects: number
  readWarmup: number
  reads: number
  queryWarmup: number
  queries: number
  profileReads: number
  clients: number
  /** Untimed reads per load client before the load window. */
  loadWarmup: number
  loadSeconds: number
}
const FULL: Sizes = { runs: 3, objects: 1000, readWarmup: 20, reads: 200, queryWarmup: 5, queries: 100, profileReads: 200, clients: 20, loadWarmup: 5, loadSeconds: 10 }
const QUICK: Sizes = { runs: 1, objects: 1000, readWarmup: 10, reads: 50, queryWarmup: 3, queries: 20, profileReads: 50, clients: 20, loadWarmup: 3, loadSeconds: 3 }


const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

// ------------------------------------------------------------------ app side

/** What a failed request is counted as: the HubError code, else the error's name. */
function errorKey (err: unknown): string {
  if (err instanceof HubError) return err.code
  if (err instanceof Error) return err.name
  return 'unknown'
}

class ErrorTally {
  readonly codes: Record<string, number> = {}
  readonly samples: string[] = []
  count = 0

  add (key: string, message: string): void {
    this.count++
    this.codes[key] = (this.codes[key] ?? 0) + 1
    if (this.samples.length < 5) this.samples.push(`${key}: ${message.slice(0, 200)}`)
  }

  addError (err: unknown): void {
    this.add(errorKey(err), err instanceof Error ? err.message : String(err))
  }
}

interface Connected { client: HubClient, refused: number, ms: number, firstRefusal: string | undefined }

/** HubClient.connect, retried while the hub refuses the connection (`unavailable`). */
async function connect (hub: string, identity: Ed25519KeyPair, owner: string): Promise<Connected> {
  let refused = 0
  let firstRefusal: string | undefined
  const t0 = performance.now()
  for (;;) {
    try {
      const client = await HubClient.connect({ hub, identity, owner, timeoutMs: CLIENT_TIMEOUT_MS })
      return { client, refused, ms: performance.now() - t0, firstRefusal }
    } catch (err) {
      if (!(err instanceof HubError) || err.code !== 'unavailable' || refused + 1 >= CONNECT_ATTEMPTS) throw err
      refused++
      firstRefusal ??= err.message
      await sleep(CONNECT_RETRY_MS)
    }
  }
}

/** Time `n` sequential calls of `fn` after `warmup` untimed ones; `check` throws on a wrong result. */
async function sequentialLatency<T> (warmup: number, n: number, fn: (i: number) => Promise<T>, check: (r: T, i: number) => void): Promise<number[]> {
  for (let i = 0; i < warmup; i++) check(await fn(i), i)
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const r = await fn(warmup + i)
    ms.push(performance.now() - t0)
    check(r, warmup + i)
  }
  return ms
}

export interface Usage { cpuUs: number, eluIdleMs: number, eluActiveMs: number, at: number }

export function localUsage (): Usage {
  const cpu = process.cpuUsage()
  const elu = performance.eventLoopUtilization()
  return { cpuUs: cpu.user + cpu.system, eluIdleMs: elu.idle, eluActiveMs: elu.active, at: performance.now() }
}

export async function hubUsage (hub: HubChild): Promise<Usage> {
  const u = await hub.call('usage', {})
  return { cpuUs: u.cpuUserUs + u.cpuSystemUs, eluIdleMs: u.eluIdleMs, eluActiveMs: u.eluActiveMs, at: performance.now() }
}

/** CPU % of one core and event-loop utilization (0..1) between two samples. */
export function usageBetween (a: Usage, b: Usage): { cpuPct: number, elu: number } {
  const wallUs = (b.at - a.at) * 1000
  const active = b.eluActiveMs - a.eluActiveMs
  const idle = b.eluIdleMs - a.eluIdleMs
  return { cpuPct: wallUs > 0 ? (100 * (b.cpuUs - a.cpuUs)) / wallUs : 0, elu: active + idle > 0 ? active / (active + idle) : 0 }
}

/** Whole-machine CPU ticks from /proc/stat (Linux; undefined elsewhere). */
interface MachineTicks { busy: number, iowait: number, steal: number, total: number }

function machineTicks (): MachineTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find(l => l.startsWith('cpu '))
    if (line === undefined) return undefined
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number)
    return { busy: user + nice + system + irq + softirq, iowait, steal, total: user + nice + system + idle + iowait + irq + softirq + steal }
  } catch {
    return undefined
  }
}

/** Shares (%) of all the machine's CPU time between two samples. */
function machineBetween (a: MachineTicks | undefined, b: MachineTicks | undefined): { busyPct: number, iowaitPct: number, stealPct: number } | undefined {
  if (a === undefined || b === undefined || b.total <= a.total) return undefined
  const t = b.total - a.total
  return { busyPct: (100 * (b.busy - a.busy)) / t, iowaitPct: (100 * (b.iowait - a.iowait)) / t, stealPct: (100 * (b.steal - a.steal)) / t }
}

export interface LoadResult {
  completed: number
  sent: number
  elapsedMs: number
  latencies: number[]
  perClient: number[]
  errors: ErrorTally
  closedClients: number
}

/**
 * Each client reads in a closed loop (the next request as soon as the
 * previous one settles) until the deadline; requests in flight at the
 * deadline finish and are counted. Throughput = completed / elapsed, elapsed
 * running until the last client stopped.
 */
export async function closedLoop (clients: HubClient[], ids: string[], seconds: number): Promise<LoadResult> {
  const errors = new ErrorTally()
  const latencies: number[] = []
  const perClient = clients.map(() => 0)
  let sent = 0
  let closedClients = 0
  const t0 = performance.now()
  const deadline = t0 + seconds * 1000
  await Promise.all(clients.map(async (client, k) => {
    let closed = false
    void client.closed.then(() => { closed = true })
    // Clients start at different objects so they do not read the same one in lockstep.
    let i = Math.floor((k * ids.length) / clients.length)
    while (performance.now() < deadline) {
      if (closed) {
        closedClients++
        errors.add('connection_closed', `client ${k}: the connection closed during the load`)
        return
      }
      const id = ids[i++ % ids.length] as string
      const s = performance.now()
      sent++
      try {
        const o = await client.collections.read(id)
        const ms = performance.now() - s
        if (o.objectId !== id || o.type !== TYPE) {
          errors.add('wrong_result', `read ${id} returned ${o.objectId} (${String(o.type)})`)
          continue
        }
        latencies.push(ms)
        perClient[k] = (perClient[k] as number) + 1
      } catch (err) {
        errors.addError(err)
      }
    }
  }))
  return { completed: latencies.length, sent, elapsedMs: performance.now() - t0, latencies, perClient, errors, closedClients }
}

/** A hub process ready for app clients: `objects` playlists, one app identity per client granted ALLOW on TYPE. */
export interface AppHub { owner: string, addr: string, ids: string[], apps: Ed25519KeyPair[], loadMs: number }

/** Init and start the hub in `hub` (under the bench request burst), create the playlists, grant the app identities (untimed set-up). */
export async function setUpAppHub (hub: HubChild, objects: number, clients: number, tag: string): Promise<AppHub> {
  const { did: owner } = await hub.call('init', {})
  const info = await hub.call('start', { requestBurst: REQUEST_BURST_BENCH })
  const addr = info.multiaddrs.find(m => m.startsWith('/ip4/127.0.0.1/tcp/') && !m.includes('/ws'))
  if (addr === undefined) throw new Error(`the hub listens on no loopback TCP address: ${info.multiaddrs.join(', ')}`)
  const load = await hub.call('bulkCreate', { n: objects, inFlight: IN_FLIGHT }, 300_000)
  const { objectIds: ids } = await hub.call('objectIds', { context: CONTEXT, type: TYPE, limit: objects })
  if (ids.length !== objects) throw new Error(`the hub lists ${ids.length} ${TYPE} objects, expected ${objects}`)
  const apps = Array.from({ length: clients }, () => Ed25519KeyPair.generate())
  for (const app of apps) await hub.call('grant', { grantee: app.did, context: CONTEXT, type: TYPE, allow: ALLOW })
  progress(`${tag}: hub at ${addr}; ${objects} playlists created at ${round(objects / (load.ms / 1000), 1)}/s; ${apps.length} app identities granted ${ALLOW} on ${TYPE}`)
  return { owner, addr, ids, apps, loadMs: load.ms }
}

/** One HubClient per identity, connected one after another (each retried while refused), pushed onto `into` as they connect (so the caller closes them whatever happens). */
export async function connectAll (addr: string, apps: Ed25519KeyPair[], owner: string, into: HubClient[]): Promise<{ connectMs: number[], refused: number, firstRefusal: string | undefined }> {
  const connectMs: number[] = []
  let refused = 0
  let firstRefusal: string | undefined
  for (const app of apps) {
    const c = await connect(addr, app, owner)
    into.push(c.client)
    connectMs.push(c.ms)
    refused += c.refused
    firstRefusal ??= c.firstRefusal
  }
  return { connectMs, refused, firstRefusal }
}

/** `perClient` untimed reads on every connection at once (first request on a stream, JIT on both sides); returns the requests sent. */
export async function warmClients (clients: HubClient[], ids: string[], perClient: number): Promise<number> {
  await Promise.all(clients.map(async (c, k) => {
    for (let i = 0; i < perClient; i++) await c.collections.read(ids[(k * 31 + i) % ids.length] as string)
  }))
  return clients.length * perClient
}

// ------------------------------------------------------------------ one run

interface RunResult {
  reads: number[]
  queries: number[]
  queryBytes: number
  profileReads: number[]
  connectMs: number[]
  connectRefused: number
  firstRefusal: string | undefined
  load: LoadResult
  hub: { cpuPct: number, elu: number }
  app: { cpuPct: number, elu: number }
  machine: { busyPct: number, iowaitPct: number, stealPct: number } | undefined
  hubRssMiB: number
  auditEntries: number
  auditExpected: number
  loadPerS: number
}

async function oneRun (sizes: Sizes, runNo: number, profDir: string | undefined): Promise<RunResult> {
  const root = await mkdtemp(join(tmpdir(), 'hub-bench-requests-'))
  const tag = `requests run ${runNo}/${sizes.runs}`
  const execArgv = profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=requests-run${runNo}-hub.cpuprofile`]
  const hub = new HubChild(join(root, 'hub'), 'hub', execArgv)
  const clients: HubClient[] = []
  try {
    // ---- 0. set-up
    const { owner, addr, ids, apps, loadMs } = await setUpAppHub(hub, sizes.objects, sizes.clients, tag)

    let requestsSent = 0
    const first = await connect(addr, apps[0] as Ed25519KeyPair, owner)
    clients.push(first.client)
    const c0 = first.client

    // ---- 1. sequential reads
    const reads = await sequentialLatency(sizes.readWarmup, sizes.reads, async i => {
      requestsSent++
      return { id: ids[i % ids.length] as string, o: await c0.collections.read(ids[i % ids.length] as string) }
    }, ({ id, o }) => {
      if (o.objectId !== id || o.type !== TYPE || typeof o.value?.['name'] !== 'string') throw new Error(`read ${id} returned ${JSON.stringify(o).slice(0, 200)}`)
    })

    // ---- 2. sequential queries of 100
    let queryBytes = 0
    const queries = await sequentialLatency(sizes.queryWarmup, sizes.queries, async () => {
      requestsSent++
      return await c0.collections.query({ context: CONTEXT, type: TYPE, limit: QUERY_LIMIT })
    }, page => {
      if (page.objects.length !== QUERY_LIMIT) throw new Error(`query returned ${page.objects.length} objects, expected ${QUERY_LIMIT}`)
      if (page.objects.some(o => o.type !== TYPE)) throw new Error('query returned an object of the wrong type')
      if (page.cursor === null) throw new Error(`query of ${QUERY_LIMIT} out of ${sizes.objects} returned no cursor`)
      queryBytes = JSON.stringify(page).length
    })

    // ---- 3. sequential profile reads (the floor: no object lookup)
    const profileReads = await sequentialLatency(sizes.readWarmup, sizes.profileReads, async () => {
      requestsSent++
      return await c0.profile.read()
    }, () => {})
    progress(`${tag}: read p50 ${round(percentile(reads, 50), 3)} ms p99 ${round(percentile(reads, 99), 3)} ms; ` +
      `query100 p50 ${round(percentile(queries, 50), 3)} ms p99 ${round(percentile(queries, 99), 3)} ms (${queryBytes} B/page); ` +
      `profile read p50 ${round(percentile(profileReads, 50), 3)} ms`)

    // ---- 4. concurrent closed loop
    const connectMs = [first.ms]
    let connectRefused = first.refused
    let firstRefusal = first.firstRefusal
    const rest = await connectAll(addr, apps.slice(1), owner, clients)
    connectMs.push(...rest.connectMs)
    connectRefused += rest.refused
    firstRefusal ??= rest.firstRefusal
    if (connectRefused > 0) progress(`${tag}: ${connectRefused} connection attempt(s) refused and retried while connecting ${clients.length} clients (first: ${String(firstRefusal)})`)
    requestsSent += await warmClients(clients, ids, sizes.loadWarmup)
    if (profDir !== undefined) await hub.call('profileStart', {})
    const hub0 = await hubUsage(hub)
    const app0 = localUsage()
    const m0 = machineTicks()
    const lr = await closedLoop(clients, ids, sizes.loadSeconds)
    const m1 = machineTicks()
    const app1 = localUsage()
    const hub1 = await hubUsage(hub)
    if (profDir !== undefined) progress(`${tag}: wrote ${(await hub.call('profileStop', { path: join(profDir, `requests-run${runNo}-hub-load.cpuprofile`) })).path}`)
    const rss = (await hub.call('usage', {})).rssMiB
    requestsSent += lr.sent
    const hubU = usageBetween(hub0, hub1)
    const appU = usageBetween(app0, app1)
    const machine = machineBetween(m0, m1)
    progress(`${tag}: concurrent ${clients.length} clients ${sizes.loadSeconds} s: ${lr.completed} reads in ${round(lr.elapsedMs, 0)} ms = ${round(lr.completed / (lr.elapsedMs / 1000), 1)}/s, ` +
      `p50 ${round(percentile(lr.latencies.length > 0 ? lr.latencies : [NaN], 50), 2)} ms p99 ${round(percentile(lr.latencies.length > 0 ? lr.latencies : [NaN], 99), 2)} ms; ` +
      `errors ${lr.errors.count} ${JSON.stringify(lr.errors.codes)}; per client ${Math.min(...lr.perClient)}..${Math.max(...lr.perClient)}; ` +
      `hub CPU ${round(hubU.cpuPct, 0)}% ELU ${round(hubU.elu, 2)}, app process CPU ${round(appU.cpuPct, 0)}% ELU ${round(appU.elu, 2)}` +
      (machine === undefined ? '' : `; machine (${cpus().length} cpus) busy ${round(machine.busyPct, 0)}% iowait ${round(machine.iowaitPct, 0)}% steal ${round(machine.stealPct, 0)}%`))
    for (const s of lr.errors.samples) progress(`${tag}: error sample: ${s}`)

    // ---- 5. close the clients, then check the audit log
    await Promise.allSettled(clients.splice(0).map(async c => await c.close()))
    const audit = await hub.call('auditStats', {}, 120_000)
    if (lr.errors.count === 0 && audit.entries !== requestsSent) throw new Error(`the audit log holds ${audit.entries} entries, expected one per request: ${requestsSent}`)
    if (audit.callers !== apps.length) progress(`${tag}: audit log names ${audit.callers} callers, expected ${apps.length}`)
    progress(`${tag}: audit log: ${audit.entries} entries for ${requestsSent} requests sent (${audit.allowed} allowed, ${audit.denied} denied, codes ${JSON.stringify(audit.codes)})`)

    return {
      reads,
      queries,
      queryBytes,
      profileReads,
      connectMs,
      connectRefused,
      firstRefusal,
      load: lr,
      hub: hubU,
      app: appU,
      machine,
      hubRssMiB: rss,
      auditEntries: audit.entries,
      auditExpected: requestsSent,
      loadPerS: sizes.objects / (loadMs / 1000)
    }
  } finally {
    await Promise.allSettled(clients.map(async c => await c.close()))
    await hub.shutdown()
    await rm(root, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------ suite

async function run (opts: SuiteOptions): Promise<Figures> {
  const sizes = opts.quick ? QUICK : FULL
  const t0 = performance.now()
  const profDir = await cpuProfileDir('BENCH_REQUESTS_CPU_PROF')
  if (profDir !== undefined) {
    progress(`requests: the hub child runs with --cpu-prof, profiles go to ${profDir} (profiler overhead: figures not comparable)`)
  }
  const runs: RunResult[] = []
  for (let i = 1; i <= sizes.runs; i++) runs.push(await oneRun(sizes, i, profDir))
  const seconds = (performance.now() - t0) / 1000
  progress(`requests: done in ${round(seconds, 1)} s`)
  const pick = (f: (r: RunResult) => number): number[] => runs.map(f)
  const lat = (r: RunResult, p: number): number => r.load.latencies.length > 0 ? percentile(r.load.latencies, p) : NaN
  const errorCodes: Record<string, number> = {}
  for (const r of runs) for (const [k, v] of Object.entries(r.load.errors.codes)) errorCodes[k] = (errorCodes[k] ?? 0) + v
  const errorSamples = runs.flatMap(r => r.load.errors.samples).slice(0, 5)
  return {
    runs: sizes.runs,
    n_objects: sizes.objects,
    n_reads: sizes.reads,
    read_warmup: sizes.readWarmup,
    n_queries: sizes.queries,
    query_warmup: sizes.queryWarmup,
    query_limit: QUERY_LIMIT,
    request_burst: REQUEST_BURST_BENCH,
    n_profile_reads: sizes.profileReads,
    concurrent_clients: sizes.clients,
    concurrent_seconds: sizes.loadSeconds,
    concurrent_warmup_reads_per_client: sizes.loadWarmup,
    client_timeout_ms: CLIENT_TIMEOUT_MS,
    processes: 'hub: a forked Node process (bench/hub-proc.ts, HubNode on loopback TCP); app side: every HubClient in the bench (parent) process, each with its own libp2p node and connection',
    note_request_path: 'every request is a compact JWS (EdDSA) signed by the app key in the client, sent over Noise/Yamux, verified by the hub (signature via did:key), aud/sub checked, replay-checked (the jti is written to LevelDB), authorized against the grants, performed, and appended to the owner\'s audit log (another LevelDB write) before the reply; latencies include all of that plus both event loops',
    note_concurrent: 'closed loop: each client has one read in flight at a time and sends the next as soon as the reply arrives; every client has its own app identity (its own -R-- grant) and its own connection; reads only (no queries); latency under load includes queueing in the hub and in the shared app-process event loop; throughput = completed reads / time until the last client stopped',
    note_audit_check: 'after each run the hub\'s audit log is counted: one entry per request sent (warm-ups included) is required',
    note_connect: 'hubs accept up to 100 new inbound connections per second per host (libp2p inboundConnectionThreshold, raised from its default of 5); clients connect one after another and would retry a refused dial after 250 ms',
    ...summarize('read_p50_ms', pick(r => percentile(r.reads, 50)), 3),
    ...summarize('read_p99_ms', pick(r => percentile(r.reads, 99)), 3),
    ...summarize('query100_p50_ms', pick(r => percentile(r.queries, 50)), 3),
    ...summarize('query100_p99_ms', pick(r => percentile(r.queries, 99)), 3),
    ...summarize('query100_response_bytes', pick(r => r.queryBytes), 0),
    ...summarize('profile_read_p50_ms', pick(r => percentile(r.profileReads, 50)), 3),
    ...summarize('profile_read_p99_ms', pick(r => percentile(r.profileReads, 99)), 3),
    ...summarize('concurrent20_requests_per_s', pick(r => r.load.completed / (r.load.elapsedMs / 1000)), 1),
    ...summarize('concurrent20_p50_ms', pick(r => lat(r, 50)), 2),
    ...summarize('concurrent20_p99_ms', pick(r => lat(r, 99)), 2),
    ...summarize('concurrent20_max_ms', pick(r => r.load.latencies.length > 0 ? Math.max(...r.load.latencies) : NaN), 2),
    ...summarize('concurrent20_completed', pick(r => r.load.completed), 0),
    concurrent20_errors: runs.reduce((s, r) => s + r.load.errors.count, 0),
    concurrent20_error_codes: JSON.stringify(errorCodes),
    ...(errorSamples.length > 0 ? { concurrent20_error_samples: errorSamples.join(' | ') } : {}),
    concurrent20_closed_connections: runs.reduce((s, r) => s + r.load.closedClients, 0),
    ...summarize('concurrent20_slowest_client_pct_of_mean', pick(r => (100 * Math.min(...r.load.perClient) * r.load.perClient.length) / Math.max(1, r.load.completed)), 1),
    ...summarize('concurrent20_hub_cpu_pct', pick(r => r.hub.cpuPct), 0),
    ...summarize('concurrent20_hub_event_loop_utilization', pick(r => r.hub.elu), 2),
    ...summarize('concurrent20_app_process_cpu_pct', pick(r => r.app.cpuPct), 0),
    ...summarize('concurrent20_app_event_loop_utilization', pick(r => r.app.elu), 2),
    ...(runs.every(r => r.machine !== undefined)
      ? {
          ...summarize('concurrent20_machine_cpu_busy_pct', pick(r => r.machine?.busyPct ?? NaN), 0),
          ...summarize('concurrent20_other_processes_cpu_pct', pick(r => Math.max(0, ((r.machine?.busyPct ?? NaN) * cpus().length) - r.hub.cpuPct - r.app.cpuPct)), 0),
          ...summarize('concurrent20_machine_iowait_pct', pick(r => r.machine?.iowaitPct ?? NaN), 0),
          ...summarize('concurrent20_machine_steal_pct', pick(r => r.machine?.stealPct ?? NaN), 0)
        }
      : {}),
    note_cpu: 'hub/app CPU: % of one core (user + system, all threads) during the load window; machine: % of all cores (/proc/stat), other processes = machine busy × cores − hub − app (an estimate, clamped at 0). The hub and the app process share the machine; a hub event-loop utilization near 1 with hub CPU well under 100% means the hub was runnable but starved of CPU (other load, steal)',
    ...summarize('hub_rss_mb_after_load', pick(r => r.hubRssMiB), 1),
    ...summarize('connect_p50_ms', pick(r => percentile(r.connectMs, 50)), 1),
    connect_refused_retries: runs.reduce((s, r) => s + r.connectRefused, 0),
    audit_entries_checked: runs.reduce((s, r) => s + r.auditEntries, 0),
    audit_entries_expected: runs.reduce((s, r) => s + r.auditExpected, 0),
    ...summarize('setup_creates_per_s', pick(r => r.loadPerS), 1),
    requests_seconds: round(seconds, 1)
  }
}

export const requests: Suite = {
  name: 'requests',
  targets: {
    concurrent20_errors: { max: 0, unit: 'errors' }
  },
  run
}
