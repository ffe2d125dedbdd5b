/**
 * Workloads suite: issue 18's table (W1–W5, memory, requests) under the
 * issue's names, so the docs and the comparison with other stores speak the
 * same language. The same ~310-byte schema.org objects, N = 2,000 over 5
 * types (bench/workload-data.ts).
 *
 * Per run (RUNS runs; figures are medians with min and max):
 *  1. W1–W5 and RSS in a fresh hub process A (bench/workloads-proc.ts: the
 *     hub through its embedded API, a second hub process B paired as a
 *     device over libp2p TCP on loopback). Steps: see that file.
 *  2. requests: 20 app clients (HubClient, each its own identity, grant and
 *     connection, in this process) reading in a closed loop from a hub
 *     process (bench/hub-proc.ts), as the requests suite's concurrent20
 *     phase does (bench/requests.ts helpers).
 *  3. rss_started: the real CLI, `hub init` then `hub start` on loopback,
 *     its RSS once idle after the ready line.
 *
 * Every process is stopped (killed if it must) and every temp dir removed.
 * Explanations of each figure: docs/benchmarks.md "workloads".
 */
import { execFile, fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import type { HubClient } from '../src/client/index.js'
import { HubChild } from './hub-child.js'
import { closedLoop, connectAll, hubUsage, localUsage, setUpAppHub, usageBetween, warmClients } from './requests.js'
import { percentile, progress, round, summarize, type Figures, type Suite, type SuiteOptions } from './util.js'
import type { FromWorkloadProc, ToWorkloadProc, WorkloadRun, WorkloadSizes } from './workload-data.js'
import { procRss, startHubProcess } from './started-hub.js'

const WORKLOADS_PROC = fileURLToPath(new URL('./workloads-proc.js', import.meta.url))
/** The built CLI (dist/bench/ → dist/src/cli/main.js). */
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const RUN_TIMEOUT_MS = 600_000
/** How long the started hub idles after its ready line before its RSS is read (start-up timers and first GCs done). */
const STARTED_IDLE_MS = 2000

interface Sizes {
  runs: number
  workloads: WorkloadSizes
  /** Playlists in the requests hub, app clients, untimed reads per client, seconds of load. */
  requests: { objects: number, clients: number, warmup: number, seconds: number }
}

const FULL: Sizes = {
  runs: 3,
  workloads: { objects: 2000, inFlight: 64, updates: 1000, flatLow: 1000, flatHigh: 10_000, flatWindow: 500, latency: 50, latencyWarmup: 5, queries: 50, queryWarmup: 5 },
  requests: { objects: 1000, clients: 20, warmup: 5, seconds: 10 }
}
const QUICK: Sizes = {
  runs: 1,
  workloads: { objects: 500, inFlight: 64, updates: 200, flatLow: 200, flatHigh: 2000, flatWindow: 100, latency: 10, latencyWarmup: 3, queries: 10, queryWarmup: 3 },
  requests: { objects: 200, clients: 20, warmup: 3, seconds: 3 }
}

// ------------------------------------------------------------------ W1–W5 in a hub process

async function workloadRun (sizes: WorkloadSizes, runNo: number, runs: number): Promise<WorkloadRun> {
  const child = fork(WORKLOADS_PROC, [], { stdio: ['ignore', 2, 'inherit', 'ipc'], serialization: 'json' })
  try {
    return await new Promise<WorkloadRun>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`workloads run ${runNo}: no result within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS)
      child.once('message', (m: unknown) => {
        clearTimeout(timer)
        const msg = m as FromWorkloadProc
        if (msg.ok) resolve(msg.result)
        else reject(new Error(`workloads run ${runNo}: ${msg.error}`))
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`workloads run ${runNo}: the hub process exited (${signal ?? `code ${String(code)}`}) before its result`))
      })
      const msg: ToWorkloadProc = { op: 'run', sizes, runNo, runs }
      child.send(msg)
    })
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(killer)
    }
  }
}

// ------------------------------------------------------------------ requests: 20 app clients

interface RequestsRun { perS: number, p50: number, p99: number, errors: number, hubCpuPct: number, hubCpuUsPerRequest: number, appCpuUsPerRequest: number }

async function requestsRun (sizes: Sizes['requests'], tag: string): Promise<RequestsRun> {
  const root = await mkdtemp(join(tmpdir(), 'hub-bench-workloads-requests-'))
  const hub = new HubChild(join(root, 'hub'), 'requests hub')
  const clients: HubClient[] = []
  try {
    const app = await setUpAppHub(hub, sizes.objects, sizes.clients, tag)
    await connectAll(app.addr, app.apps, app.owner, clients)
    await warmClients(clients, app.ids, sizes.warmup)
    const u0 = await hubUsage(hub)
    const a0 = localUsage()
    const lr = await closedLoop(clients, app.ids, sizes.seconds)
    const a1 = localUsage()
    const u1 = await hubUsage(hub)
    const perS = lr.completed / (lr.elapsedMs / 1000)
    const lat = lr.latencies.length > 0 ? lr.latencies : [NaN]
    const cpu = usageBetween(u0, u1).cpuPct
    progress(`${tag}: ${clients.length} clients ${round(perS, 1)} requests/s (p50 ${round(percentile(lat, 50), 2)} ms, errors ${lr.errors.count} ${JSON.stringify(lr.errors.codes)}); hub CPU ${round(cpu, 0)}%`)
    return { perS, p50: percentile(lat, 50), p99: percentile(lat, 99), errors: lr.errors.count, hubCpuPct: cpu, hubCpuUsPerRequest: (u1.cpuUs - u0.cpuUs) / Math.max(1, lr.completed), appCpuUsPerRequest: (a1.cpuUs - a0.cpuUs) / Math.max(1, lr.completed) }
  } finally {
    await Promise.allSettled(clients.map(async c => await c.close()))
    await hub.shutdown()
    await rm(root, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------ rss_started: the real `hub start`

/** `hub start` on a fresh directory: its RSS and peak STARTED_IDLE_MS after the ready line, and the time to that line. */
async function startedRun (tag: string): Promise<{ rss: number, hwm: number, readyMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'hub-bench-started-'))
  try {
    await promisify(execFile)(process.execPath, [CLI, 'init', '--dir', dir, '--json'])
    const { child, readyMs, stop } = await startHubProcess(CLI, dir)
    try {
      await new Promise(resolve => setTimeout(resolve, STARTED_IDLE_MS))
      const m = await procRss(child.pid as number)
      progress(`${tag}: hub start ready after ${round(readyMs, 0)} ms; RSS ${round(m.rss, 1)} MiB ${STARTED_IDLE_MS} ms later (peak so far ${round(m.hwm, 1)} MiB)`)
      return { ...m, readyMs }
    } finally {
      await stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------ suite

async function run (opts: SuiteOptions): Promise<Figures> {
  const sizes = opts.quick ? QUICK : FULL
  const t0 = performance.now()
  const w: WorkloadRun[] = []
  const r: RequestsRun[] = []
  const s: Array<{ rss: number, hwm: number, readyMs: number }> = []
  // Interleaved (run 1 of each part, then run 2, ...): a slow stretch of the shared machine spreads over the figures.
  for (let i = 1; i <= sizes.runs; i++) {
    w.push(await workloadRun(sizes.workloads, i, sizes.runs))
    r.push(await requestsRun(sizes.requests, `workloads requests run ${i}/${sizes.runs}`))
    s.push(await startedRun(`workloads started run ${i}/${sizes.runs}`))
  }
  const seconds = (performance.now() - t0) / 1000
  progress(`workloads: done in ${round(seconds, 1)} s`)
  const ws = sizes.workloads
  const pick = (f: (x: WorkloadRun) => number): number[] => w.map(f)
  return {
    runs: sizes.runs,
    n_objects: ws.objects,
    n_types: 5,
    ...summarize('object_bytes_avg', pick(x => x.objectBytes), 0),
    processes: 'A: a fresh Node process per run (bench/workloads-proc.ts), the hub through its embedded API with a HubNode on loopback TCP; B: a second hub process (bench/hub-proc.ts) paired as a device',
    ...summarize('w1_creates_per_s', pick(x => x.w1PerS), 1),
    ...summarize('w1_creates_per_s_64_in_flight', pick(x => x.w1InFlightPerS), 1),
    ...summarize('w1_cpu_us_per_create', pick(x => x.w1CpuUs), 0),
    ...summarize('w1_cpu_us_per_create_64_in_flight', pick(x => x.w1InFlightCpuUs), 0),
    in_flight: ws.inFlight,
    n_updates: ws.updates,
    ...summarize('w2_updates_per_s', pick(x => x.w2UpdatePerS), 1),
    ...summarize('w2_change_per_s', pick(x => x.w2ChangePerS), 1),
    ...summarize('w2_cpu_us_per_update', pick(x => x.w2UpdateCpuUs), 0),
    ...summarize('w2_cpu_us_per_change', pick(x => x.w2ChangeCpuUs), 0),
    w2_history_low: ws.flatLow,
    w2_history_high: ws.flatHigh,
    w2_window: ws.flatWindow,
    ...summarize('w2_ms_per_update_at_low', pick(x => x.w2FlatLowMsPerUpdate), 3),
    ...summarize('w2_ms_per_update_at_high', pick(x => x.w2FlatHighMsPerUpdate), 3),
    ...summarize('w2_slowdown_10k_vs_1k', pick(x => x.w2FlatHighMsPerUpdate / x.w2FlatLowMsPerUpdate), 2),
    w3_commits: w[0]?.w3Commits ?? 0,
    ...summarize('w3_cold_sync_commits_per_s', pick(x => x.w3PerS), 1),
    ...summarize('w3_cpu_us_per_commit_b', pick(x => x.w3CpuUsB), 0),
    ...summarize('w3_cpu_us_per_commit_a', pick(x => x.w3CpuUsA), 0),
    ...summarize('w3_bytes_per_commit', pick(x => x.w3BytesReceived / x.w3Commits), 1),
    ...summarize('w3_avg_envelope_bytes', pick(x => x.w3AvgEnvelopeBytes), 1),
    ...summarize('w3_echo_bytes_pulled_back_by_a', pick(x => x.echoBytesReceivedByA), 0),
    ...summarize('w3_echo_commits_stored_by_a', pick(x => x.echoCommitsStoredByA), 0),
    w3_echo_unsettled_runs: w.filter(x => !x.echoSettled).length,
    n_w4: ws.latency,
    ...summarize('w4_p50_ms', pick(x => percentile(x.w4Ms, 50)), 2),
    ...summarize('w4_p99_ms', pick(x => percentile(x.w4Ms, 99)), 2),
    n_w5: ws.queries,
    w5_results: ws.objects / 5,
    ...summarize('w5_query_p50_ms', pick(x => percentile(x.w5Ms, 50)), 3),
    ...summarize('w5_query_p99_ms', pick(x => percentile(x.w5Ms, 99)), 3),
    ...summarize('rss_started_mb', s.map(x => x.rss), 1),
    ...summarize('rss_started_hwm_mb', s.map(x => x.hwm), 1),
    ...summarize('started_ready_ms', s.map(x => x.readyMs), 0),
    ...summarize('rss_after_setup_mb', pick(x => x.rssAfterSetupMiB), 1),
    ...summarize('rss_peak_mb', pick(x => x.rssPeakMiB), 1),
    ...summarize('rss_end_mb', pick(x => x.rssEndMiB), 1),
    requests_clients: sizes.requests.clients,
    requests_seconds: sizes.requests.seconds,
    ...summarize('requests_20_clients_per_s', r.map(x => x.perS), 1),
    ...summarize('requests_20_clients_p50_ms', r.map(x => x.p50), 2),
    ...summarize('requests_20_clients_p99_ms', r.map(x => x.p99), 2),
    ...summarize('requests_hub_cpu_pct', r.map(x => x.hubCpuPct), 0),
    ...summarize('requests_hub_cpu_us_per_request', r.map(x => x.hubCpuUsPerRequest), 0),
    ...summarize('requests_app_cpu_us_per_request', r.map(x => x.appCpuUsPerRequest), 0),
    requests_errors: r.reduce((sum, x) => sum + x.errors, 0),
    workloads_seconds: round(seconds, 1)
  }
}

export const workloads: Suite = {
  name: 'workloads',
  targets: {
    w1_creates_per_s: { min: 3000, unit: 'objects/s' },
    w1_creates_per_s_64_in_flight: { min: 6000, unit: 'objects/s' },
    w2_updates_per_s: { min: 4000, unit: 'updates/s' },
    w2_change_per_s: { min: 4000, unit: 'updates/s' },
    w2_slowdown_10k_vs_1k: { max: 1.5, unit: '×' },
    w3_cold_sync_commits_per_s: { min: 5000, unit: 'commits/s' },
    w4_p50_ms: { max: 2, unit: 'ms' },
    w5_query_p50_ms: { max: 1, unit: 'ms' },
    rss_started_mb: { max: 100, unit: 'MiB' },
    rss_peak_mb: { max: 150, unit: 'MiB' },
    requests_20_clients_per_s: { min: 3000, unit: 'requests/s' },
    requests_errors: { max: 0, unit: 'errors' }
  },
  run
}
