/**
 * Sync suite: two hubs, each in its own Node process (bench/hub-proc.ts,
 * forked with an IPC channel), replicating over libp2p on loopback TCP.
 *
 * Per run (fresh temp dirs, fresh processes):
 *  1. cold sync — founder A creates N playlists; B joins with an invite and
 *     starts its node; timed from just before B's HubNode.start until B's
 *     watermark for A reaches A's durable feed head. Verified: B's feed
 *     holds as many commits as A's and B reads back all N playlists.
 *  2. bytes per commit — B's wire bytes received from A during the cold
 *     sync (syncStatus: frames incl. length prefixes) per commit of A's feed
 *     (all are sent: B starts from watermark 0), next to the average
 *     envelope size in A's feed, so the framing overhead shows.
 *  3. incremental latency — with both caught up, A writes one marked object
 *     at a time; latency = B's hrtime when the commit is durable on B minus
 *     A's hrtime just before the write (CLOCK_MONOTONIC, shared by processes).
 *  4. reconnect, nothing new — B stops, reopens, starts and at once runs
 *     syncOnce(A): its round trips and bytes (both ways) are the figures.
 *
 * Figures are medians of RUNS runs (with min and max). Children are always
 * killed and temp dirs removed, also when a run fails.
 *
 * BENCH_SYNC_CPU_PROF=<dir>: write V8 CPU profiles of both processes for the
 * cold-sync and incremental phases into <dir> (adds profiler overhead).
 * BENCH_SYNC_OBJECTS=<n>, BENCH_SYNC_RUNS=<n>, BENCH_SYNC_BLIND=0: another
 * size (the table uses N = 2,000), run count, or no blind runs — for
 * quick interleaved A/B comparisons on a shared machine.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { HubChild } from './hub-child.js'
import { cpuProfileDir, percentile, progress, round, summarize, type Figures, type Suite, type SuiteOptions } from './util.js'

const CONTEXT = 'https://schema.org'
const IN_FLIGHT = 256
const INCREMENTAL_WARMUP = 3
/** Poll period of B's watermark during the cold sync (bounds the timing error). */
const WATERMARK_POLL_MS = 2

interface Sizes { runs: number, objects: number, incremental: number }
const FULL: Sizes = { runs: 3, objects: 5000, incremental: 20 }
const QUICK: Sizes = { runs: 1, objects: 1000, incremental: 5 }


const ns = (later: string, earlier: string): number => Number(BigInt(later) - BigInt(earlier))
const nsToMs = (n: number): number => n / 1e6

// ------------------------------------------------------------------ child processes

// ------------------------------------------------------------------ one run

interface RunResult {
  loadPerS: number
  commits: number
  coldMs: number
  coldPerS: number
  firstCommitMs: number | null
  /** B's HubNode.start() call itself. */
  nodeStartMs: number
  bytesReceived: number
  bytesSent: number
  /** B's syncStatus().received for A (see the note in the figures). */
  statusReceived: number
  bytesPerCommit: number
  envelopeBytes: number
  avgEnvelopeBytes: number
  echoBytesReceivedByA: number
  echoStoredByA: number
  echoMs: number
  /** CPU ms of A's and B's processes during the cold sync. */
  coldCpuA: number
  coldCpuB: number
  incremental: number[]
  /** A's own create call (until durable on A), part of each incremental latency. */
  localWrites: number[]
  reconnectRoundTrips: number
  reconnectBytesSent: number
  reconnectBytesReceived: number
  reconnectMs: number
  reconnectReceived: number
}

interface BlindRunResult { toBlindPerS: number, fromBlindPerS: number, commits: number }

/**
 * Through a blind hub: A writes N encrypted objects; blind C pulls them;
 * A stops; owner device B (never online with A) pulls everything from C,
 * decrypts and indexes it. Measures both legs.
 */
async function blindRun (sizes: Sizes, runNo: number): Promise<BlindRunResult> {
  const root = await mkdtemp(join(tmpdir(), 'hub-bench-blind-'))
  const procs: HubChild[] = []
  const tag = `blind run ${runNo}/${sizes.runs}`
  try {
    const [a, b, c] = ['A', 'B', 'C'].map(l => new HubChild(join(root, l.toLowerCase()), l)) as [HubChild, HubChild, HubChild]
    procs.push(a, b, c)
    await a.call('init', {})
    const aInfo = await a.call('start', { reconnectMinMs: 100, reconnectMaxMs: 1000 })
    await a.call('bulkCreate', { n: sizes.objects, inFlight: IN_FLIGHT, encrypt: true }, 300_000)
    await b.call('join', { invite: (await a.call('createInvite', {})).invite, name: 'bench B' })
    await c.call('join', { invite: (await a.call('createInvite', { role: 'blind' })).invite, name: 'bench cloud', role: 'blind' })
    await c.call('open', {})
    const commits = (await a.call('status', {})).durableSeq
    const [toC, cStarted] = await Promise.all([
      c.call('waitWatermark', { peer: aInfo.hubDid, seq: commits, timeoutMs: 240_000, pollMs: WATERMARK_POLL_MS }, 250_000),
      c.call('start', { reconnectMinMs: 100, reconnectMaxMs: 1000 })
    ])
    const toBlindMs = nsToMs(ns(toC.reachedAt, cStarted.startedAt))
    const cAddr = cStarted.multiaddrs.find(m => m.startsWith('/ip4/127.0.0.1/tcp/'))
    if (cAddr === undefined) throw new Error('C listens on no loopback TCP address')
    const cSeq = (await c.call('status', {})).durableSeq
    await a.call('stop', {})
    await b.call('open', {})
    const [toB, bStarted] = await Promise.all([
      b.call('waitWatermark', { peer: cStarted.hubDid, seq: cSeq, timeoutMs: 240_000, pollMs: WATERMARK_POLL_MS }, 250_000),
      b.call('start', { reconnectMinMs: 100, reconnectMaxMs: 1000, bootstrap: [cAddr] })
    ])
    const fromBlindMs = nsToMs(ns(toB.reachedAt, bStarted.startedAt))
    const { count } = await b.call('countObjects', { context: CONTEXT, type: 'MusicPlaylist' })
    if (count !== sizes.objects) throw new Error(`B decrypts ${count} playlists after syncing through C, expected ${sizes.objects}`)
    progress(`${tag}: A→blind C ${round(commits / (toBlindMs / 1000), 1)} commits/s; blind C→B ${round(cSeq / (fromBlindMs / 1000), 1)} commits/s (B decrypts all ${count})`)
    return { toBlindPerS: commits / (toBlindMs / 1000), fromBlindPerS: cSeq / (fromBlindMs / 1000), commits }
  } finally {
    await Promise.all(procs.map(async p => { await p.shutdown() }))
    await rm(root, { recursive: true, force: true })
  }
}

async function oneRun (sizes: Sizes, runNo: number, profDir: string | undefined): Promise<RunResult> {
  const root = await mkdtemp(join(tmpdir(), 'hub-bench-sync-'))
  const procs: HubChild[] = []
  const tag = `sync run ${runNo}/${sizes.runs}`
  try {
    const a = new HubChild(join(root, 'a'), 'A')
    procs.push(a)
    const b = new HubChild(join(root, 'b'), 'B')
    procs.push(b)
    const profile = async (phase: string, fn: () => Promise<void>): Promise<void> => {
      if (profDir === undefined) return await fn()
      await Promise.all([a.call('profileStart', {}), b.call('profileStart', {})])
      await fn()
      const out = await Promise.all([a, b].map(async p => await p.call('profileStop', { path: join(profDir, `sync-run${runNo}-${phase}-${p.label}.cpuprofile`) })))
      for (const o of out) progress(`${tag}: wrote ${o.path}`)
    }

    // ---- set-up: founder A with N objects, B joined (not started)
    await a.call('init', {})
    const aInfo = await a.call('start', { reconnectMinMs: 100, reconnectMaxMs: 1000 })
    const aAddr = aInfo.multiaddrs.find(m => m.startsWith('/ip4/127.0.0.1/tcp/'))
    if (aAddr === undefined) throw new Error(`A listens on no loopback TCP address: ${aInfo.multiaddrs.join(', ')}`)
    const load = await a.call('bulkCreate', { n: sizes.objects, inFlight: IN_FLIGHT }, 300_000)
    const { invite } = await a.call('createInvite', {})
    const bJoin = await b.call('join', { invite, name: 'bench B' })
    const commits = (await a.call('status', {})).durableSeq // includes the founding and B's device authorizations
    await b.call('open', {})
    progress(`${tag}: A created ${sizes.objects} objects at ${round(sizes.objects / (load.ms / 1000), 1)}/s; A's feed holds ${commits} commits`)

    // ---- 1. cold sync
    let cold!: { startedAt: string, ready: string, reachedAt: string, firstCommitAt: string | null }
    // CPU time of both processes over the cold sync (all threads: the thread pool's verifications count): work done, which the machine's load does not inflate the way it does wall time.
    const cpuBefore = await Promise.all([a.call('usage', {}), b.call('usage', {})])
    await profile('cold', async () => {
      // The watermark poller is armed before the node starts (B handles requests in arrival order).
      const [reached, started] = await Promise.all([
        b.call('waitWatermark', { peer: aInfo.hubDid, seq: commits, timeoutMs: 240_000, pollMs: WATERMARK_POLL_MS }, 250_000),
        b.call('start', { reconnectMinMs: 100, reconnectMaxMs: 1000 })
      ])
      cold = { startedAt: started.startedAt, ready: started.ready, reachedAt: reached.reachedAt, firstCommitAt: reached.firstCommitAt }
    })
    const cpuAfter = await Promise.all([a.call('usage', {}), b.call('usage', {})])
    const cpuMs = (i: 0 | 1): number => ((cpuAfter[i].cpuUserUs + cpuAfter[i].cpuSystemUs) - (cpuBefore[i].cpuUserUs + cpuBefore[i].cpuSystemUs)) / 1000
    const coldMs = nsToMs(ns(cold.reachedAt, cold.startedAt))
    const nodeStartMs = nsToMs(ns(cold.ready, cold.startedAt))
    const firstCommitMs = cold.firstCommitAt === null ? null : nsToMs(ns(cold.firstCommitAt, cold.startedAt))

    // ---- 2. bytes per commit (B's counters for its pulls from A) + verification
    const bStatus = await b.call('status', {})
    const fromA = bStatus.peers.find(p => p.hubDid === aInfo.hubDid)
    if (fromA === undefined) throw new Error(`B's sync status has no entry for A (${aInfo.hubDid})`)
    if (bStatus.durableSeq !== commits) throw new Error(`B's feed holds ${bStatus.durableSeq} commits after the cold sync, A's ${commits}`)
    const { count } = await b.call('countObjects', { context: CONTEXT, type: 'MusicPlaylist' })
    if (count !== sizes.objects) throw new Error(`B reads ${count} MusicPlaylist objects after the cold sync, expected ${sizes.objects}`)
    const env = await a.call('envelopeStats', {})
    if (env.commits !== commits) throw new Error(`A's feed lists ${env.commits} envelopes, expected ${commits}`)
    if (fromA.bytesReceived === 0) throw new Error('B received no bytes from A')
    progress(`${tag}: cold sync ${commits} commits in ${round(coldMs, 1)} ms (${round(commits / (coldMs / 1000), 1)}/s; HubNode.start ${round(nodeStartMs, 1)} ms; first commit durable after ${firstCommitMs === null ? '?' : round(firstCommitMs, 1)} ms); ` +
      `${fromA.bytesReceived} B received for ${commits} commits = ${round(fromA.bytesReceived / commits, 1)} B/commit (avg envelope ${round(env.bytes / env.commits, 1)} B; syncStatus.received says ${fromA.received})`)

    // Caught up both ways: A also pulls B's feed (the same commits, echoed back) — wait for that to settle.
    const e0 = performance.now()
    await a.call('waitWatermark', { peer: bJoin.hubDid, seq: bStatus.durableSeq, timeoutMs: 120_000, pollMs: 5 }, 130_000)
    const echoMs = performance.now() - e0
    const aStatus = await a.call('status', {})
    const echo = aStatus.peers.find(p => p.hubDid === bJoin.hubDid)

    // ---- 3. incremental latency
    const samples: number[] = []
    const localWrites: number[] = []
    await profile('incremental', async () => {
      const salt = randomBytes(4).toString('hex')
      for (let i = 0; i < INCREMENTAL_WARMUP + sizes.incremental; i++) {
        const marker = `${salt}-r${runNo}-${i}`
        const [arrival, write] = await Promise.all([
          b.call('awaitMarker', { marker, timeoutMs: 10_000 }, 15_000),
          a.call('writeMarked', { marker })
        ])
        if (i >= INCREMENTAL_WARMUP) {
          samples.push(nsToMs(ns(arrival.arrivedAt, write.before)))
          localWrites.push(nsToMs(ns(write.after, write.before)))
        }
      }
    })
    progress(`${tag}: incremental p50 ${round(percentile(samples, 50), 2)} ms, p99 ${round(percentile(samples, 99), 2)} ms (n=${samples.length}: ${samples.map(s => round(s, 1)).join(' ')}); A's own write p50 ${round(percentile(localWrites, 50), 2)} ms`)

    // ---- 4. reconnect with nothing new
    const aHead = (await a.call('status', {})).durableSeq
    await b.call('waitWatermark', { peer: aInfo.hubDid, seq: aHead, timeoutMs: 30_000, pollMs: 5 }, 35_000)
    await b.call('stop', {})
    await b.call('start', { reconnectMinMs: 100, reconnectMaxMs: 1000 })
    const re = await b.call('syncOnce', { addr: aAddr }, 30_000)
    progress(`${tag}: reconnect syncOnce: ${re.roundTrips} round trip(s), ${re.bytesSent} B sent + ${re.bytesReceived} B received, ${re.received} commits, ${round(re.ms, 1)} ms`)

    return {
      loadPerS: sizes.objects / (load.ms / 1000),
      commits,
      coldMs,
      coldPerS: commits / (coldMs / 1000),
      firstCommitMs,
      nodeStartMs,
      bytesReceived: fromA.bytesReceived,
      bytesSent: fromA.bytesSent,
      statusReceived: fromA.received,
      bytesPerCommit: fromA.bytesReceived / commits,
      envelopeBytes: env.bytes,
      avgEnvelopeBytes: env.bytes / env.commits,
      echoBytesReceivedByA: echo?.bytesReceived ?? 0,
      echoStoredByA: echo?.received ?? 0,
      echoMs,
      coldCpuA: cpuMs(0),
      coldCpuB: cpuMs(1),
      incremental: samples,
      localWrites,
      reconnectRoundTrips: re.roundTrips,
      reconnectBytesSent: re.bytesSent,
      reconnectBytesReceived: re.bytesReceived,
      reconnectMs: re.ms,
      reconnectReceived: re.received
    }
  } finally {
    await Promise.allSettled(procs.map(async p => await p.shutdown()))
    await rm(root, { recursive: true, force: true })
  }
}

// ------------------------------------------------------------------ suite

/** The size, overridden by BENCH_SYNC_OBJECTS / BENCH_SYNC_RUNS (positive integers; anything else is ignored). */
function sizesFor (quick: boolean): Sizes {
  const base = quick ? QUICK : FULL
  const int = (name: string): number | undefined => {
    const v = Number(process.env[name])
    return Number.isInteger(v) && v > 0 ? v : undefined
  }
  return { ...base, objects: int('BENCH_SYNC_OBJECTS') ?? base.objects, runs: int('BENCH_SYNC_RUNS') ?? base.runs }
}

async function run (opts: SuiteOptions): Promise<Figures> {
  const sizes = sizesFor(opts.quick)
  const t0 = performance.now()
  const profDir = await cpuProfileDir('BENCH_SYNC_CPU_PROF')
  if (profDir !== undefined) {
    progress(`sync: CPU profiles go to ${profDir} (profiler overhead: figures not comparable)`)
  }
  const runs: RunResult[] = []
  for (let i = 1; i <= sizes.runs; i++) runs.push(await oneRun(sizes, i, profDir))
  const blind: BlindRunResult[] = []
  if (process.env.BENCH_SYNC_BLIND !== '0') for (let i = 1; i <= sizes.runs; i++) blind.push(await blindRun(sizes, i))
  const seconds = (performance.now() - t0) / 1000
  progress(`sync: done in ${round(seconds, 1)} s`)
  const pick = (f: (r: RunResult) => number): number[] => runs.map(f)
  const first = runs[0] as RunResult
  const firstCommit = runs.map(r => r.firstCommitMs).filter((x): x is number => x !== null)
  return {
    runs: sizes.runs,
    n_objects: sizes.objects,
    n_incremental: sizes.incremental,
    incremental_warmup: INCREMENTAL_WARMUP,
    in_flight: IN_FLIGHT,
    processes: 'A and B each a forked Node process (bench/hub-proc.ts), loopback TCP',
    cold_sync_commits: first.commits,
    ...summarize('cold_sync_commits_per_s', pick(r => r.coldPerS), 1),
    ...(blind.length > 0 ? summarize('encrypted_to_blind_commits_per_s', blind.map(r => r.toBlindPerS), 1) : {}),
    ...(blind.length > 0 ? summarize('encrypted_from_blind_commits_per_s', blind.map(r => r.fromBlindPerS), 1) : {}),
    note_blind: 'A writes N encrypted playlists; a blind hub C pulls them (cannot read them); A stops; owner device B pulls everything from C and decrypts and indexes it (never online with A)',
    ...summarize('cold_sync_ms', pick(r => r.coldMs), 1),
    ...summarize('cold_sync_cpu_us_per_commit_b', pick(r => r.coldCpuB * 1000 / r.commits), 1),
    ...summarize('cold_sync_cpu_us_per_commit_a', pick(r => r.coldCpuA * 1000 / r.commits), 1),
    note_cold_sync_cpu: 'process.cpuUsage() of each process (all its threads) from just before B starts until B\'s watermark reaches A\'s head, per commit: B pulls and ingests, A serves (and, before issue 18, pulled the echo back); includes B\'s 2 ms watermark polling',
    ...(firstCommit.length > 0 ? summarize('cold_sync_first_commit_ms', firstCommit, 1) : {}),
    ...summarize('cold_sync_node_start_ms', pick(r => r.nodeStartMs), 1),
    ...summarize('founder_creates_per_s', pick(r => r.loadPerS), 1),
    ...summarize('bytes_per_commit', pick(r => r.bytesPerCommit), 1),
    ...summarize('cold_sync_bytes_received', pick(r => r.bytesReceived), 0),
    ...summarize('cold_sync_bytes_sent', pick(r => r.bytesSent), 0),
    ...summarize('cold_sync_status_received', pick(r => r.statusReceived), 0),
    note_bytes_per_commit: 'B\'s syncStatus bytesReceived for A after the cold sync (frames incl. varint prefixes) / commits in A\'s feed (B pulls from 0, so every one is sent)',
    note_cold_sync_status_received: 'B\'s syncStatus().received for A; it sums PullProgress.stored, which is cumulative per stream, so it over-counts when a stream carries more than one batch',
    note_echo: 'A pulls B\'s feed too: after the cold sync that is the same commits sent back to A, verified and dropped as duplicates',
    ...summarize('avg_envelope_bytes', pick(r => r.avgEnvelopeBytes), 1),
    ...summarize('framing_bytes_per_commit', pick(r => r.bytesPerCommit - r.avgEnvelopeBytes), 2),
    ...summarize('echo_bytes_pulled_back_by_a', pick(r => r.echoBytesReceivedByA), 0),
    ...summarize('echo_commits_stored_by_a', pick(r => r.echoStoredByA), 0),
    ...summarize('echo_settle_ms', pick(r => r.echoMs), 1),
    ...summarize('incremental_p50_ms', pick(r => percentile(r.incremental, 50)), 2),
    ...summarize('incremental_p99_ms', pick(r => percentile(r.incremental, 99)), 2),
    ...summarize('incremental_max_ms', pick(r => Math.max(...r.incremental)), 2),
    ...summarize('incremental_local_write_p50_ms', pick(r => percentile(r.localWrites, 50)), 2),
    ...summarize('reconnect_nothing_new_round_trips', pick(r => r.reconnectRoundTrips), 0),
    ...summarize('reconnect_nothing_new_bytes', pick(r => r.reconnectBytesSent + r.reconnectBytesReceived), 0),
    ...summarize('reconnect_nothing_new_bytes_sent', pick(r => r.reconnectBytesSent), 0),
    ...summarize('reconnect_nothing_new_bytes_received', pick(r => r.reconnectBytesReceived), 0),
    ...summarize('reconnect_nothing_new_commits', pick(r => r.reconnectReceived), 0),
    ...summarize('reconnect_sync_once_ms', pick(r => r.reconnectMs), 1),
    sync_seconds: round(seconds, 1)
  }
}

export const sync: Suite = {
  name: 'sync',
  targets: {
    cold_sync_commits_per_s: { min: 3000, unit: 'commits/s' },
    incremental_p50_ms: { max: 10, unit: 'ms' },
    reconnect_nothing_new_round_trips: { max: 1, unit: 'round trips' },
    reconnect_nothing_new_bytes: { max: 1024, unit: 'bytes' }
  },
  run
}
