import '../src/shim.js'
/**
 * Hub A of the issue-18 workloads (bench/workloads.ts), in a fresh Node
 * process per run so that its RSS is the hub's own (the bench parent holds
 * every other suite's modules):
 *
 *   node dist/bench/workloads-proc.js     (forked with an IPC channel)
 *
 * It receives one `{ op: 'run' }` message, measures W1–W5 against its hub
 * through the embedded API (Hub + a started HubNode on loopback TCP) with a
 * second hub process B (bench/hub-proc.ts via HubChild) paired as a device,
 * replies once with the figures and exits. Steps, in order (docs/benchmarks.md):
 *
 *   set-up   A: init, open, HubNode on /ip4/127.0.0.1/tcp/0; B joins with
 *            A's invite (paired) and opens, its node NOT started yet.
 *   W1       N creates one at a time (the data set: N / 5 of each of 5 types).
 *   RSS      after set-up: the data set in place.
 *   W5       the 400-result (N / 5) query of one type, warm.
 *   W3       B starts: cold sync of A's whole feed to B; bytes on the wire,
 *            then the echo (what A pulls back from B).
 *   W4       one new object on A until B has stored it, sequentially.
 *   B stops (W2 and W1 in flight run with the device offline, as W1 did).
 *   W2       update() of one object, change() of another; then the flatness
 *            windows on the first object at flatLow and flatHigh commits.
 *   W1 ∥     N more creates, `inFlight` at once.
 *   RSS      peak: the larger of the sampled peak and the kernel's maxRSS
 *            (this process only; B is another process).
 *
 * Nothing is printed to stdout (the parent maps it to its stderr anyway).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { Hub } from '../src/hub.js'
import { startHubNode } from '../src/compose.js'
import type { HubNode } from '../src/net/hub-node.js'
import { HubChild } from './hub-child.js'
import { CONTEXT, QUERY_TYPE, TYPES, workloadObject, type FromWorkloadProc, type ToWorkloadProc, type WorkloadRun, type WorkloadSizes } from './workload-data.js'
import { pool, progress, RssSampler, round, sequential, timeMs } from './util.js'

/**
 * hub-proc.ts's MARK_PREFIX: B timestamps the arrival of objects named with
 * it. Not imported, because importing hub-proc.js would run a hub process
 * here; a mismatch shows as W4's first warm-up marker never arriving.
 */
const MARK_PREFIX = 'bench-mark:'
const WATERMARK_POLL_MS = 2
const ECHO_WAIT_MS = 30_000
const MIB = 1024 * 1024

const now = (): bigint => process.hrtime.bigint()
/** This process's CPU time so far, µs (user + system, all threads). */
const cpuUs = (): number => { const c = process.cpuUsage(); return c.user + c.system }
const nsToMs = (ns: bigint): number => Number(ns) / 1e6
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** Until A's watermark for `peer` reaches `seq`, or `timeoutMs` passes (then false). */
async function watermarkReached (hub: Hub, peer: string, seq: number, timeoutMs: number): Promise<boolean> {
  const until = performance.now() + timeoutMs
  while (await hub.store.getWatermark(peer) < seq) {
    if (performance.now() > until) return false
    await sleep(WATERMARK_POLL_MS)
  }
  return true
}

async function avgEnvelopeBytes (hub: Hub): Promise<number> {
  const ids: string[] = []
  for await (const e of hub.store.feed(0)) ids.push(e.commitId)
  const envs = await hub.store.getEnvelopes(ids)
  const bytes = envs.reduce((sum, e) => sum + (e === undefined ? 0 : Buffer.byteLength(e, 'utf8')), 0)
  return bytes / ids.length
}

/** A W2 revision of the playlist: name and numTracks change, so every update stores a commit. */
function revision (base: Record<string, unknown>, rev: number): Record<string, unknown> {
  return { ...base, name: `${String(base['name'])} (rev ${rev})`, numTracks: 2 + (rev % 50) }
}

/** `n` sequential updates of `objectId`, from revision `from`; ms. Throws if one stored nothing. */
async function updates (hub: Hub, objectId: string, base: Record<string, unknown>, from: number, n: number): Promise<number> {
  return await timeMs(async () => await sequential(n, async i => {
    const r = await hub.collections.update(objectId, revision(base, from + i))
    if (!r.changed) throw new Error(`W2: update ${from + i} of ${objectId} stored no commit`)
  }))
}

async function run (sizes: WorkloadSizes, tag: string): Promise<WorkloadRun> {
  const rss = new RssSampler(20)
  const root = await mkdtemp(join(tmpdir(), 'hub-bench-workloads-'))
  const b = new HubChild(join(root, 'b'), 'B')
  let hub: Hub | undefined
  let node: HubNode | undefined
  try {
    // ---- set-up: A started, B paired (not started)
    await Hub.init(join(root, 'a'))
    hub = await Hub.open(join(root, 'a'))
    const a = hub
    node = await startHubNode(a, { listen: ['/ip4/127.0.0.1/tcp/0'], discoveryIntervalMs: 0, reconnectMinMs: 100, reconnectMaxMs: 1000 })
    const bJoin = await b.call('join', { invite: (await node.createInvite({})).invite, name: 'bench B' })
    await b.call('open', {})

    // ---- W1: N creates, one at a time
    const values = Array.from({ length: sizes.objects }, (_, i) => workloadObject(i))
    const objectBytes = values.reduce((s, v) => s + JSON.stringify(v).length, 0) / values.length
    const seq0 = a.store.seq
    const w1Cpu0 = cpuUs()
    const w1Ms = await timeMs(async () => await sequential(sizes.objects, async i => await a.collections.create(values[i])))
    const w1CpuUs = (cpuUs() - w1Cpu0) / sizes.objects
    if (a.store.seq - seq0 !== sizes.objects) throw new Error(`W1: expected ${sizes.objects} new commits, found ${a.store.seq - seq0}`)
    const rssAfterSetupMiB = process.memoryUsage().rss / MIB
    progress(`${tag}: W1 ${sizes.objects} creates one at a time ${round(sizes.objects / (w1Ms / 1000), 1)}/s (avg object ${round(objectBytes, 0)} B JSON); RSS ${round(rssAfterSetupMiB, 1)} MiB`)

    // ---- W5: the N / 5 query of one type, warm
    const perType = sizes.objects / TYPES.length
    const query = { context: CONTEXT, type: QUERY_TYPE, limit: 1000 }
    const w5Ms: number[] = []
    for (let i = 0; i < sizes.queryWarmup + sizes.queries; i++) {
      const t0 = performance.now()
      const page = await a.collections.query(query)
      const ms = performance.now() - t0
      if (page.objects.length !== perType || page.objects.some(o => o.type !== QUERY_TYPE)) throw new Error(`W5: the query returned ${page.objects.length} objects, expected ${perType} of type ${QUERY_TYPE}`)
      if (i >= sizes.queryWarmup) w5Ms.push(ms)
    }

    // ---- W3: cold sync of A's feed to B (B's clock, from its start call until its watermark for A is A's head)
    const commits = a.store.durableSeq
    const bCpu0 = await b.call('usage', {})
    const w3CpuA0 = cpuUs()
    const [reached, started] = await Promise.all([
      b.call('waitWatermark', { peer: a.hubDid, seq: commits, timeoutMs: 240_000, pollMs: WATERMARK_POLL_MS }, 250_000),
      b.call('start', { reconnectMinMs: 100, reconnectMaxMs: 1000 })
    ])
    const w3Ms = nsToMs(BigInt(reached.reachedAt) - BigInt(started.startedAt))
    const w3CpuUsA = (cpuUs() - w3CpuA0) / commits
    const bCpu1 = await b.call('usage', {})
    const w3CpuUsB = (bCpu1.cpuUserUs + bCpu1.cpuSystemUs - bCpu0.cpuUserUs - bCpu0.cpuSystemUs) / commits
    const bStatus = await b.call('status', {})
    const fromA = bStatus.peers.find(p => p.hubDid === a.hubDid)
    if (fromA === undefined || fromA.bytesReceived === 0) throw new Error('W3: B\'s sync status shows nothing received from A')
    const { count } = await b.call('countObjects', { context: CONTEXT, type: QUERY_TYPE })
    if (count !== perType) throw new Error(`W3: B reads ${count} ${QUERY_TYPE} objects after the cold sync, expected ${perType}`)
    // The echo: what A pulls back from B once B holds A's commits.
    const echoSettled = await watermarkReached(a, bJoin.hubDid, bStatus.durableSeq, ECHO_WAIT_MS)
    const echo = node.syncStatus().find(p => p.hubDid === bJoin.hubDid)
    const w3AvgEnvelopeBytes = await avgEnvelopeBytes(a)
    progress(`${tag}: W3 cold sync ${commits} commits in ${round(w3Ms, 1)} ms = ${round(commits / (w3Ms / 1000), 1)}/s, ${round(fromA.bytesReceived / commits, 1)} B/commit on the wire (avg envelope ${round(w3AvgEnvelopeBytes, 1)} B); ` +
      `echo: A received ${echo?.bytesReceived ?? 0} B from B${echoSettled ? '' : ' (A\'s watermark for B did not reach B\'s head)'}`)

    // ---- W4: one new object on A until B has stored it
    const salt = randomBytes(4).toString('hex')
    const w4Ms: number[] = []
    for (let i = 0; i < sizes.latencyWarmup + sizes.latency; i++) {
      const marker = `${salt}-${i}`
      const value = { ...workloadObject(i), name: MARK_PREFIX + marker }
      const [arrival, before] = await Promise.all([
        b.call('awaitMarker', { marker, timeoutMs: 10_000 }, 15_000),
        (async () => { const t = now(); await a.collections.create(value); return t })()
      ])
      if (i >= sizes.latencyWarmup) w4Ms.push(nsToMs(BigInt(arrival.arrivedAt) - before))
    }
    await b.call('stop', {})

    // ---- W2: one object updated; a second one changed field by field
    const base = values[0] as Record<string, unknown>
    const { objectId: updated } = await a.collections.create(base)
    const updateCpu0 = cpuUs()
    const updateMs = await updates(a, updated, base, 1, sizes.updates)
    const w2UpdateCpuUs = (cpuUs() - updateCpu0) / sizes.updates
    const { objectId: changed } = await a.collections.create(base)
    const changeCpu0 = cpuUs()
    const changeMs = await timeMs(async () => await sequential(sizes.updates, async i => {
      const r = await a.collections.change(changed, draft => { draft['name'] = `change ${i + 1}`; draft['numTracks'] = 2 + ((i + 1) % 50) })
      if (!r.changed) throw new Error(`W2: change ${i + 1} of ${changed} stored no commit`)
    }))
    const w2ChangeCpuUs = (cpuUs() - changeCpu0) / sizes.updates
    // Flatness: the first object holds `rev` commits (its create and the updates so far; `rev` is also the next
    // revision number); a window is timed once it holds flatLow, then flatHigh (or more, if it already does).
    let rev = 1 + sizes.updates
    const upTo = async (history: number): Promise<void> => {
      if (history <= rev) return
      await updates(a, updated, base, rev, history - rev)
      rev = history
    }
    await upTo(sizes.flatLow)
    const lowMs = await updates(a, updated, base, rev, sizes.flatWindow)
    rev += sizes.flatWindow
    await upTo(sizes.flatHigh)
    const highMs = await updates(a, updated, base, rev, sizes.flatWindow)
    const after = await a.collections.read(updated)
    if (after.commits !== rev + sizes.flatWindow) throw new Error(`W2: the updated object holds ${after.commits} commits, expected ${rev + sizes.flatWindow}`)
    progress(`${tag}: W2 update() ${round(sizes.updates / (updateMs / 1000), 1)}/s, change() ${round(sizes.updates / (changeMs / 1000), 1)}/s; ` +
      `per update ${round(lowMs / sizes.flatWindow, 3)} ms at ${sizes.flatLow} commits, ${round(highMs / sizes.flatWindow, 3)} ms at ${sizes.flatHigh}`)

    // ---- W1 in flight: N more creates
    const more = Array.from({ length: sizes.objects }, (_, i) => workloadObject(sizes.objects + i))
    const seq1 = a.store.seq
    const w1InFlightCpu0 = cpuUs()
    const w1InFlightMs = await timeMs(async () => await pool(sizes.objects, sizes.inFlight, async i => await a.collections.create(more[i])))
    const w1InFlightCpuUs = (cpuUs() - w1InFlightCpu0) / sizes.objects
    if (a.store.seq - seq1 !== sizes.objects) throw new Error(`W1 in flight: expected ${sizes.objects} new commits, found ${a.store.seq - seq1}`)

    const peak = rss.stop()
    progress(`${tag}: W1 ${sizes.inFlight} in flight ${round(sizes.objects / (w1InFlightMs / 1000), 1)}/s; RSS peak ${round(peak.peakMiB, 1)} MiB`)
    return {
      objectBytes,
      w1PerS: sizes.objects / (w1Ms / 1000),
      w1InFlightPerS: sizes.objects / (w1InFlightMs / 1000),
      w2UpdatePerS: sizes.updates / (updateMs / 1000),
      w2ChangePerS: sizes.updates / (changeMs / 1000),
      w1CpuUs,
      w1InFlightCpuUs,
      w2UpdateCpuUs,
      w2ChangeCpuUs,
      w3CpuUsB,
      w3CpuUsA,
      w2FlatLowMsPerUpdate: lowMs / sizes.flatWindow,
      w2FlatHighMsPerUpdate: highMs / sizes.flatWindow,
      w3Commits: commits,
      w3PerS: commits / (w3Ms / 1000),
      w3BytesReceived: fromA.bytesReceived,
      w3AvgEnvelopeBytes,
      echoBytesReceivedByA: echo?.bytesReceived ?? 0,
      echoCommitsStoredByA: echo?.received ?? 0,
      echoSettled,
      w4Ms,
      w5Ms,
      rssAfterSetupMiB,
      rssPeakMiB: peak.peakMiB,
      rssEndMiB: process.memoryUsage().rss / MIB
    }
  } finally {
    rss.stop()
    await Promise.allSettled([b.shutdown(), (async () => {
      try {
        if (node !== undefined) await node.stop()
      } finally {
        if (hub !== undefined) await hub.close()
      }
    })()])
    await rm(root, { recursive: true, force: true })
  }
}

function isRun (m: unknown): m is ToWorkloadProc {
  return typeof m === 'object' && m !== null && (m as { op?: unknown }).op === 'run'
}

if (process.send === undefined) {
  console.error('usage: forked by bench/workloads.ts (needs an IPC channel)')
  process.exit(2)
}

process.once('message', (m: unknown) => {
  const reply = (msg: FromWorkloadProc): void => { process.send?.(msg, undefined, {}, () => process.exit(0)) }
  if (!isRun(m)) {
    reply({ ok: false, error: 'expected a { op: "run" } message' })
    return
  }
  run(m.sizes, `workloads run ${m.runNo}/${m.runs}`).then(result => { reply({ ok: true, result }) }, (err: unknown) => {
    reply({ ok: false, error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err) })
  })
})

// The parent went away: never outlive it.
process.on('disconnect', () => { setTimeout(() => process.exit(1), 3000).unref() })
