import '../src/shim.js'
/**
 * Hosting suite (issue 17, docs/benchmarks.md "Hosting"): many owners
 * through one hosting hub, in real hosting processes (bench/hosting-proc.ts:
 * compose.startHosting, what `hub start` runs on a hosting directory).
 *
 * Headline: OWNERS owners × OBJECTS encrypted objects (1,000 × 100; quick
 * 100 × 10), made on each owner's own hub (bench/hosting-data.ts), then
 *  - ingest commits/s with one process on LevelDB, one on PostgreSQL, and
 *    two processes on one PostgreSQL namespace (copies of one hosting
 *    directory, as test/faults/hosting-procs.test.ts runs them). With two,
 *    the owners are split half and half between the processes, as a load
 *    balancer in front would split devices; a process that does not hold an
 *    owner's shard forwards its pages to the holder through the database
 *    (what node.ts does for a replicator's pages). The libp2p transfer from
 *    devices is left out: this is the host's cost per commit.
 *  - p50/p99 of a request through the host: an owner's Permissions.list
 *    over libp2p (HubClient), REQ_OWNERS owners × REQ_EACH sequential
 *    requests to each process (with two: to the lease holder, and to the
 *    other process, which forwards it to the holder);
 *  - RSS of each process after the ingest (and its live heap after a GC);
 *    with one process, a restart over what was ingested (start ms, RSS).
 * Pages refused because the write lease moved (lease_lost, a lease the
 * process could not renew in time on a loaded machine) or because a
 * forwarded page found no holder within the forward timeout
 * (no_write_holder) are ingested again, as a replicator pulls them again:
 * `*_commits_retried` counts them, `*_retried_why` says why.
 * Curve (LevelDB, one process): N = 100, 1,000, 10,000 owners × CURVE_OBJECTS
 * objects (fewer objects than the headline so 10,000 owners stay within the
 * time box): add-owner ms each, then a fresh process opening the hosting
 * hub with N owners (all owners are opened at start, eagerly): start ms and
 * RSS / live heap above an empty hosting hub, per owner (median of CURVE_RUNS
 * restarts), and request p50/p99 at that N.
 *
 * PostgreSQL: HUB_BENCH_PG_URL, else a throwaway cluster (bench/hosting-pg.ts);
 * without either the PostgreSQL figures are left out (pg_skipped says why).
 *
 *   node dist/bench/hosting.js [--quick] [--no-curve] [--curve-only] [--json]
 *   node dist/bench/run.js --only hosting [--quick]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { HubClient } from '../src/client/index.js'
import { HubError } from '../src/errors.js'
import { readConfig, writeConfig } from '../src/hub-config.js'
import { Hub } from '../src/hub.js'
import { ownerKeyOf, readSources, writeSources, type OwnerSource } from './hosting-data.js'
import { benchPostgres } from './hosting-pg.js'
import { procRss } from './started-hub.js'
import { median, percentile, progress, round, type Figures, type Suite } from './util.js'

const REQ_OWNERS = 10
const REQ_EACH = 30
const CURVE_RUNS = 3
const PROC = fileURLToPath(new URL('./hosting-proc.js', import.meta.url))

interface Sizes { owners: number, objects: number, curve: number[], curveObjects: number }

const FULL: Sizes = { owners: 1000, objects: 100, curve: [100, 1000, 10_000], curveObjects: 2 }
const QUICK: Sizes = { owners: 100, objects: 10, curve: [100, 1000], curveObjects: 1 }

type Answer = Record<string, unknown> & { ok?: boolean }

/** One hosting process (bench/hosting-proc.ts) and its command line. */
class HostingProc {
  readonly child: ChildProcess
  readonly ready: Promise<Answer>
  readonly #waiting: Array<(a: Answer) => void> = []
  #stderr = ''

  constructor (dir: string, expectShards?: number) {
    this.child = spawn(process.execPath, ['--expose-gc', PROC, JSON.stringify({ dir, ...(expectShards !== undefined ? { expectShards } : {}) })], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => { this.#stderr = (this.#stderr + s).slice(-4000) })
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream })
    let first: ((a: Answer) => void) | undefined
    this.ready = new Promise((resolve, reject) => {
      first = resolve
      this.child.once('exit', code => { reject(new Error(`hosting process exited (${String(code)}): ${this.#stderr}`)) })
    })
    lines.on('line', line => {
      const a = JSON.parse(line) as Answer
      if (first !== undefined) { const f = first; first = undefined; f(a); return }
      this.#waiting.shift()?.(a)
    })
  }

  get pid (): number { return this.child.pid as number }

  async cmd (c: Record<string, unknown>): Promise<Answer> {
    const answer = new Promise<Answer>(resolve => this.#waiting.push(resolve))
    this.child.stdin?.write(JSON.stringify(c) + '\n')
    const a = await answer
    if (a.ok !== true) throw new Error(`hosting process: ${String(a.code)} ${String(a.message)}\n${this.#stderr}`)
    return a
  }

  async stop (): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise<void>(resolve => this.child.once('exit', () => { resolve() }))
    await this.cmd({ cmd: 'stop' }).catch(() => {})
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(killer)
  }
}

/** A hosting hub directory (what `hub hosting init` makes), on LevelDB or in a PostgreSQL namespace. */
async function hostingDir (dir: string, pgUrl?: string): Promise<string> {
  const created = await Hub.init(dir, pgUrl !== undefined ? { store: { url: pgUrl, namespace: `bench-hosting-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}` } } : {})
  await writeConfig(dir, { ...await readConfig(dir), hosting: {} })
  return created.hubDid
}

async function connect (addr: string, s: OwnerSource): Promise<HubClient> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await HubClient.connect({ hub: addr, identity: ownerKeyOf(s), owner: s.did, timeoutMs: 10_000 })
    } catch (err) {
      if (!(err instanceof HubError) || err.code !== 'unavailable' || attempt >= 40) throw err
      await sleep(250)
    }
  }
}

/** Latencies (ms) of REQ_EACH sequential Permissions.list of each of the sampled owners, through `addr`. */
async function requestLatencies (addr: string, sample: OwnerSource[]): Promise<number[]> {
  const ms: number[] = []
  for (const s of sample) {
    const client = await connect(addr, s)
    try {
      await client.permissions.list() // warm-up: the connection's first request
      for (let i = 0; i < REQ_EACH; i++) {
        const t = performance.now()
        const r = await client.permissions.list()
        ms.push(performance.now() - t)
        if (!Array.isArray(r.grants)) throw new Error('Permissions.list without grants')
      }
    } finally {
      await client.close()
    }
  }
  return ms
}

/** REQ_OWNERS owners spread over the file. */
async function sampleOwners (file: string, owners: number): Promise<OwnerSource[]> {
  const step = Math.max(1, Math.floor(owners / REQ_OWNERS))
  const out: OwnerSource[] = []
  for await (const { index, source } of readSources(file)) if (index % step === 0 && out.length < REQ_OWNERS) out.push({ ...source, commits: [] })
  return out
}

async function rssMiB (p: HostingProc): Promise<number> { return (await procRss(p.pid)).rss }

const num = (a: Answer, k: string): number => Number(a[k])

interface Config { name: string, dirs: string[] }

/** One headline configuration: add every owner (first process), ingest (split across the processes), requests, RSS. */
async function runConfig (c: Config, file: string, sizes: Sizes, sample: OwnerSource[]): Promise<Figures> {
  const procs: HostingProc[] = []
  try {
    for (const [i, dir] of c.dirs.entries()) {
      // The first process takes every shard lease; a second one holds none (no rebalancing: cluster.ts).
      const p = new HostingProc(dir, c.dirs.length > 1 ? (i === 0 ? 64 : 0) : undefined)
      procs.push(p)
      await p.ready
    }
    const first = procs[0] as HostingProc
    const added = await first.cmd({ cmd: 'add', file })
    // A second process opens the owners added through the first at its refresh (every ~1 s): wait for all.
    for (const p of procs.slice(1)) {
      const deadline = Date.now() + 600_000
      while (num(await p.cmd({ cmd: 'stats' }), 'owners') < sizes.owners && Date.now() < deadline) await sleep(500)
    }
    progress(`hosting ${c.name}: ${sizes.owners} owners added (${round(num(added, 'ms') / sizes.owners, 2)} ms each); ingesting`)
    const share = Math.ceil(sizes.owners / procs.length)
    const t0 = performance.now()
    const results = await Promise.all(procs.map(async (p, i) => await p.cmd({ cmd: 'ingest', file, from: i * share, to: (i + 1) * share })))
    const ms = performance.now() - t0
    const commits = results.reduce((n, r) => n + num(r, 'direct') + num(r, 'forwarded'), 0)
    const refused: Record<string, number> = {}
    for (const r of results) for (const [k, n] of Object.entries(r.refused as Record<string, number>)) refused[k] = (refused[k] ?? 0) + n
    const again: Record<string, number> = {}
    for (const r of results) for (const [k, n] of Object.entries(r.retriedWhy as Record<string, number>)) again[k] = (again[k] ?? 0) + n
    const f: Figures = {
      [`${c.name}_commits`]: commits,
      [`${c.name}_commits_per_s`]: round(commits / (ms / 1000), 0),
      [`${c.name}_cpu_ms_per_commit`]: round(results.reduce((n, r) => n + num(r, 'cpuMs'), 0) / commits, 3),
      [`${c.name}_add_owner_ms_each`]: round(num(added, 'ms') / sizes.owners, 2)
    }
    if (procs.length > 1) f[`${c.name}_forwarded_commits`] = results.reduce((n, r) => n + num(r, 'forwarded'), 0)
    // Pages refused because the write lease moved meanwhile (lease_lost, not_write_holder), ingested again as a replicator would.
    f[`${c.name}_commits_retried`] = results.reduce((n, r) => n + num(r, 'retried'), 0)
    if (Object.keys(again).length > 0) f[`${c.name}_retried_why`] = JSON.stringify(again)
    // Refused for good (not expected: every commit is valid and within quota); the figures say so rather than stop the run.
    if (Object.keys(refused).length > 0) f[`${c.name}_commits_refused`] = JSON.stringify(refused)
    for (const [i, p] of procs.entries()) {
      const lat = await requestLatencies(String((await p.ready).addr), sample)
      const tag = procs.length > 1 ? `${c.name}_proc${i + 1}` : c.name
      f[`${tag}_request_p50_ms`] = round(percentile(lat, 50), 2)
      f[`${tag}_request_p99_ms`] = round(percentile(lat, 99), 2)
      const st = await p.cmd({ cmd: 'stats' })
      f[`${tag}_rss_mb`] = round(await rssMiB(p), 1)
      f[`${tag}_live_heap_mb`] = round(num(st, 'heapMiB'), 1)
    }
    if (procs.length === 1) {
      // Start again over what was ingested: every owner is opened at start, and its quota usage recounted from its data.
      await first.stop()
      const again = new HostingProc(c.dirs[0] as string)
      procs.push(again)
      const ready = await again.ready
      f[`${c.name}_restart_ms`] = round(num(ready, 'startMs'), 0)
      f[`${c.name}_restart_rss_mb`] = round(await rssMiB(again), 1)
    }
    return f
  } finally {
    for (const p of procs) await p.stop()
  }
}

/** The owner-count curve on LevelDB: what one more hosted owner costs a process. */
async function runCurve (base: string, sizes: Sizes): Promise<Figures> {
  const f: Figures = {}
  // The floor: a hosting hub with no owners, started CURVE_RUNS times.
  const emptyDir = join(base, 'curve-empty')
  await hostingDir(emptyDir)
  const floor = { rss: [] as number[], heap: [] as number[], start: [] as number[] }
  for (let r = 0; r < CURVE_RUNS; r++) {
    const p = new HostingProc(emptyDir)
    const ready = await p.ready
    floor.rss.push(await rssMiB(p)); floor.heap.push(num(ready, 'heapMiB')); floor.start.push(num(ready, 'startMs'))
    await p.stop()
  }
  f.curve_empty_rss_mb = round(median(floor.rss), 1)
  f.curve_empty_live_heap_mb = round(median(floor.heap), 1)
  for (const n of sizes.curve) {
    const dir = join(base, `curve-${n}`)
    const hostDid = await hostingDir(dir)
    const file = join(base, `curve-${n}.ndjson`)
    const tMake = performance.now()
    await writeSources(file, [hostDid], n, sizes.curveObjects, done => { if (done % 1000 === 0) progress(`hosting curve ${n}: made ${done}/${n} owners`) })
    progress(`hosting curve ${n}: ${n} owners × ${sizes.curveObjects} made in ${round((performance.now() - tMake) / 1000, 1)} s; adding`)
    const loader = new HostingProc(dir)
    await loader.ready
    const added = await loader.cmd({ cmd: 'add', file })
    const ing = await loader.cmd({ cmd: 'ingest', file })
    await loader.stop()
    f[`curve_${n}_add_owner_ms_each`] = round(num(added, 'ms') / n, 2)
    f[`curve_${n}_commits_per_s`] = round((num(ing, 'direct')) / (num(ing, 'ms') / 1000), 0)
    const runs = { start: [] as number[], rss: [] as number[], heap: [] as number[], p50: [] as number[], p99: [] as number[] }
    const sample = await sampleOwners(file, n)
    for (let r = 0; r < CURVE_RUNS; r++) {
      const p = new HostingProc(dir)
      try {
        const ready = await p.ready
        if (num(ready, 'owners') !== n) throw new Error(`opened ${String(ready.owners)} of ${n} owners`)
        runs.start.push(num(ready, 'startMs')); runs.rss.push(await rssMiB(p)); runs.heap.push(num(ready, 'heapMiB'))
        if (r === 0) {
          const lat = await requestLatencies(String(ready.addr), sample)
          runs.p50.push(percentile(lat, 50)); runs.p99.push(percentile(lat, 99))
        }
      } finally {
        await p.stop()
      }
    }
    f[`curve_${n}_start_ms`] = round(median(runs.start), 0)
    f[`curve_${n}_open_ms_per_owner`] = round((median(runs.start) - median(floor.start)) / n, 3)
    f[`curve_${n}_rss_mb`] = round(median(runs.rss), 1)
    f[`curve_${n}_rss_kib_per_owner`] = round((median(runs.rss) - median(floor.rss)) * 1024 / n, 1)
    f[`curve_${n}_live_heap_kib_per_owner`] = round((median(runs.heap) - median(floor.heap)) * 1024 / n, 1)
    f[`curve_${n}_request_p50_ms`] = round(runs.p50[0] as number, 2)
    f[`curve_${n}_request_p99_ms`] = round(runs.p99[0] as number, 2)
    progress(`hosting curve ${n}: ${JSON.stringify(Object.fromEntries(Object.entries(f).filter(([k]) => k.startsWith(`curve_${n}_`))))}`)
  }
  return f
}

async function runHeadline (base: string, sizes: Sizes): Promise<Figures> {
  const f: Figures = { owners: sizes.owners, objects_per_owner: sizes.objects }
  const lvl = join(base, 'lvl')
  const hosts = [await hostingDir(lvl)]
  const configs: Config[] = [{ name: 'leveldb_1proc', dirs: [lvl] }]
  const pg = await benchPostgres()
  try {
    if ('url' in pg) {
      f.pg_server = pg.origin
      const pg1 = join(base, 'pg1')
      const pg2 = join(base, 'pg2')
      hosts.push(await hostingDir(pg1, pg.url), await hostingDir(pg2, pg.url))
      // The second process: a copy of the first's directory (same key, same namespace).
      await cp(pg2, `${pg2}-b`, { recursive: true })
      configs.push({ name: 'pg_1proc', dirs: [pg1] }, { name: 'pg_2proc', dirs: [pg2, `${pg2}-b`] })
    } else {
      f.pg_skipped = pg.reason
    }
    const file = join(base, 'owners.ndjson')
    const tMake = performance.now()
    // Every owner authorizes all three hosts as blind devices: one set of owners for every configuration.
    await writeSources(file, hosts, sizes.owners, sizes.objects, done => { if (done % 100 === 0) progress(`hosting: made ${done}/${sizes.owners} owners`) })
    progress(`hosting: ${sizes.owners} owners × ${sizes.objects} objects made in ${round((performance.now() - tMake) / 1000, 1)} s`)
    const sample = await sampleOwners(file, sizes.owners)
    for (const c of configs) {
      progress(`hosting ${c.name}: start`)
      const figures = await runConfig(c, file, sizes, sample)
      progress(`hosting ${c.name}: ${JSON.stringify(figures)}`)
      Object.assign(f, figures)
    }
  } finally {
    if ('url' in pg) await pg.stop()
  }
  return f
}

async function runAll (opts: { quick: boolean, headline?: boolean, curve?: boolean }): Promise<Figures> {
  const sizes = opts.quick ? QUICK : FULL
  const base = await mkdtemp(join(tmpdir(), 'bench-hosting-'))
  try {
    const f: Figures = { loadavg_at_start: loadavg().map(x => x.toFixed(2)).join(' ') }
    if (opts.headline !== false) Object.assign(f, await runHeadline(base, sizes))
    if (opts.curve !== false) Object.assign(f, { curve_objects_per_owner: sizes.curveObjects }, await runCurve(base, sizes))
    f.loadavg_at_end = loadavg().map(x => x.toFixed(2)).join(' ')
    return f
  } finally {
    await rm(base, { recursive: true, force: true })
  }
}

export const hosting: Suite = {
  name: 'hosting',
  run: async opts => await runAll(opts)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2)
  const figures = await runAll({ quick: argv.includes('--quick'), headline: !argv.includes('--curve-only'), curve: !argv.includes('--no-curve') })
  process.stdout.write(JSON.stringify(figures, null, 2) + '\n')
}
