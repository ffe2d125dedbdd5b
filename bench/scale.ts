/**
 * Scale suite: does a hub stay fast as it fills up? Queries whose result
 * size is fixed (100 objects) at N = 1k, 10k and 100k objects; memory of a
 * hub holding N objects; start-up time of a hub holding N objects.
 *
 * Processes: every hub runs in a forked child (bench/hub-proc.ts, with
 * --expose-gc so memory can also be read after a full GC). Query times are
 * taken inside the child (performance.now() around hub.collections.query), so
 * no IPC is in them. The hubs have no network node.
 *
 * Data (scaleObject): N objects created through hub.collections.create
 * (signed commits, real LevelDB under os.tmpdir()), 256 in flight:
 *  - exactly 100 MusicEvent objects, spread evenly through the creation order;
 *  - the other N − 100 round-robin over MusicPlaylist, MusicAlbum,
 *    MusicRecording and Person; exactly 100 of the playlists have
 *    genre 'Featured' (spread evenly), the others 'Classic Rock'.
 *
 * Query shapes, each returning exactly 100 objects whatever N is:
 *  - query:       every MusicEvent (type scope of the sort index: 100 keys)
 *  - query_where: MusicPlaylist where genre = 'Featured' (field index, eq: 100 keys)
 *  - query_scan:  MusicPlaylist, sort -created, limit 100 (first page of N/4)
 * "warm" figures are after a warm-up (metas in the hub's LRU); "cold" ones
 * drop the hub's meta and document caches before every query, so every
 * meta is read from LevelDB (LevelDB's block cache and the OS page cache
 * stay warm).
 *
 * Building the 100k store takes about a minute, so each N's store is built
 * ONCE per bench run (also the memory-after-load figures, which therefore
 * have no spread) and reused by RUNS measurement runs. Each measurement run
 * forks a fresh process per N (runs interleaved: run 1 for every N, then
 * run 2, ...): Hub.open + first query (start-up), then the query shapes,
 * then memory. Query and start-up figures are the median of the runs' p50
 * (p99) with min and max.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { playlist } from './core.js'
import { HubChild } from './hub-child.js'
import type { BenchQuery, Replies } from './hub-proc.js'
import { median, percentile, progress, round, summarize, type Figures, type Suite, type SuiteOptions } from './util.js'

const CONTEXT = 'https://schema.org'
const IN_FLIGHT = 256
/** Result size of every measured query. */
const FIXED = 100
const FIXED_TYPE = 'MusicEvent'
const FEATURED = 'Featured'
const CHILD_ARGS = ['--expose-gc']

interface Sizes {
  ns: number[]
  runs: number
  warmup: number
  /** Timed queries per shape per run, caches warm. */
  warm: number
  /** Timed queries per shape per run, caches dropped before each. */
  cold: number
}
const FULL: Sizes = { ns: [1_000, 10_000, 100_000], runs: 3, warmup: 10, warm: 200, cold: 100 }
const QUICK: Sizes = { ns: [1_000, 10_000], runs: 1, warmup: 5, warm: 50, cold: 20 }

// ------------------------------------------------------------------ data

const OTHER_TYPES = ['MusicPlaylist', 'MusicAlbum', 'MusicRecording', 'Person'] as const

/**
 * Object i (0 ≤ i < n) of the scale data set; n must be a multiple of 100.
 * Every (n/100)-th object is a MusicEvent; the rest go round-robin over
 * OTHER_TYPES, and 100 evenly spaced playlists get genre 'Featured'.
 */
export function scaleObject (i: number, n: number): Record<string, unknown> {
  if (n % FIXED !== 0 || n < 2 * FIXED) throw new Error(`scale: n must be a multiple of ${FIXED}, at least ${2 * FIXED}`)
  const every = n / FIXED
  if (i % every === 0) {
    const k = i / every
    return { '@context': CONTEXT, '@type': FIXED_TYPE, name: `Classic Rock Night ${k}`, startDate: `2026-${String(1 + (k % 12)).padStart(2, '0')}-15T20:00:00Z`, location: `Arena ${k % 7}` }
  }
  const j = i - Math.floor(i / every) - 1 // index among the non-events
  const k = Math.floor(j / 4)
  switch (OTHER_TYPES[j % 4]) {
    case 'MusicPlaylist': {
      const playlists = Math.ceil((n - FIXED) / 4)
      const step = Math.floor(playlists / FIXED)
      const featured = k % step === 0 && k / step < FIXED
      return { ...playlist(k, 1 + (k % 3)), genre: featured ? FEATURED : 'Classic Rock' }
    }
    case 'MusicAlbum': return { '@context': CONTEXT, '@type': 'MusicAlbum', name: `Album ${k}`, byArtist: `Band ${k % 97}`, numTracks: 8 + (k % 6), datePublished: `${1965 + (k % 20)}-01-01` }
    case 'MusicRecording': return { '@context': CONTEXT, '@type': 'MusicRecording', name: `Recording ${k}`, byArtist: `Band ${k % 97}`, duration: `PT${3 + (k % 5)}M${10 + (k % 50)}S` }
    default: return { '@context': CONTEXT, '@type': 'Person', name: `Listener ${k}`, jobTitle: 'DJ', knowsAbout: 'Classic Rock' }
  }
}

interface Shape { key: 'query' | 'query_where' | 'query_scan', query: BenchQuery }

const SHAPES: Shape[] = [
  { key: 'query', query: { context: CONTEXT, type: FIXED_TYPE, limit: 1000 } },
  { key: 'query_where', query: { context: CONTEXT, type: 'MusicPlaylist', where: [{ field: 'genre', op: 'eq', value: FEATURED }], limit: 1000 } },
  { key: 'query_scan', query: { context: CONTEXT, type: 'MusicPlaylist', sort: '-created', limit: FIXED } }
]

// ------------------------------------------------------------------ helpers

const MIB = 1024 * 1024

/** Bytes of all files under `dir` (the hub directory: keys, config, LevelDB). */
async function du (dir: string): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += await du(p)
    else if (e.isFile()) total += (await stat(p)).size
  }
  return total
}

/** "N1000", "N100000": the suffix of per-N figures. */
const tag = (n: number): string => `N${n}`

// ------------------------------------------------------------------ build (once per N)

interface Build {
  n: number
  dir: string
  loadMs: number
  commits: number
  storeBytes: number
  empty: Replies['memory']
  afterLoad: Replies['memory']
  afterLoadGc: Replies['memory']
}

async function build (root: string, n: number): Promise<Build> {
  const dir = join(root, tag(n))
  const child = new HubChild(dir, `scale-build-${tag(n)}`, CHILD_ARGS)
  try {
    await child.call('init', {})
    await child.call('open', {})
    const empty = await child.call('memory', { gc: true })
    progress(`scale: building ${n} objects (${FIXED} ${FIXED_TYPE}, ${FIXED} featured playlists) ...`)
    const load = await child.call('scaleLoad', { n, inFlight: IN_FLIGHT }, 900_000)
    const afterLoad = await child.call('memory', { gc: false })
    const afterLoadGc = await child.call('memory', { gc: true })
    await child.shutdown(60_000)
    const storeBytes = await du(dir)
    progress(`scale: built N=${n} in ${round(load.ms / 1000, 1)} s (${round(n / (load.ms / 1000), 0)} creates/s); ` +
      `${load.durableSeq} commits, ${round(storeBytes / MIB, 1)} MiB on disk; RSS empty ${round(empty.rssMiB, 0)} MiB, ` +
      `after load ${round(afterLoad.rssMiB, 0)} MiB (after GC ${round(afterLoadGc.rssMiB, 0)} MiB: JS heap ${round(afterLoadGc.heapUsedMiB, 0)} of ${round(afterLoadGc.heapTotalMiB, 0)} MiB, external ${round(afterLoadGc.externalMiB, 0)} MiB; peak ${round(afterLoadGc.maxRssMiB, 0)} MiB)` +
      (afterLoadGc.gcRan ? '' : ' [no GC: gc() not exposed]'))
    return { n, dir, loadMs: load.ms, commits: load.durableSeq, storeBytes, empty, afterLoad, afterLoadGc }
  } finally {
    await child.shutdown(60_000)
  }
}

// ------------------------------------------------------------------ one measurement run

interface Lat { p50: number, p99: number }
interface Measure {
  /** Fork → the first query's reply in this process (Node boot, module loading, Hub.open, first query, IPC). */
  processMs: number
  uptimeMs: number
  openMs: number
  firstQueryMs: number
  warm: Record<Shape['key'], Lat>
  cold: Record<Shape['key'], Lat>
  started: Replies['memory']
}

async function measure (b: Build, sizes: Sizes, label: string): Promise<Measure> {
  const t0 = performance.now()
  const child = new HubChild(b.dir, label, CHILD_ARGS)
  try {
    const first = SHAPES[0] as Shape
    const o = await child.call('openTimed', { query: first.query, expect: FIXED }, 120_000)
    const processMs = performance.now() - t0
    if (o.durableSeq !== b.commits) throw new Error(`${label}: the reopened hub's feed holds ${o.durableSeq} commits, expected ${b.commits}`)
    const lat = (ms: number[]): Lat => ({ p50: percentile(ms, 50), p99: percentile(ms, 99) })
    const warm = {} as Record<Shape['key'], Lat>
    const cold = {} as Record<Shape['key'], Lat>
    for (const s of SHAPES) {
      warm[s.key] = lat((await child.call('queryTimes', { query: s.query, warmup: sizes.warmup, count: sizes.warm, expect: FIXED, cold: false }, 300_000)).ms)
    }
    for (const s of SHAPES) {
      cold[s.key] = lat((await child.call('queryTimes', { query: s.query, warmup: 0, count: sizes.cold, expect: FIXED, cold: true }, 300_000)).ms)
    }
    const started = await child.call('memory', { gc: true })
    progress(`${label}: start-up ${round(processMs, 0)} ms (process ${round(o.uptimeMs, 0)} ms, Hub.open ${round(o.openMs, 1)} ms, first query ${round(o.firstQueryMs, 1)} ms); ` +
      SHAPES.map(s => `${s.key} p50 ${round(warm[s.key].p50, 3)} / cold ${round(cold[s.key].p50, 3)} ms`).join('; ') +
      `; RSS ${round(started.rssMiB, 0)} MiB`)
    return { processMs, uptimeMs: o.uptimeMs, openMs: o.openMs, firstQueryMs: o.firstQueryMs, warm, cold, started }
  } finally {
    await child.shutdown(60_000)
  }
}

// ------------------------------------------------------------------ suite

async function run (opts: SuiteOptions): Promise<Figures> {
  const sizes = opts.quick ? QUICK : FULL
  const t0 = performance.now()
  const root = await mkdtemp(join(tmpdir(), 'hub-bench-scale-'))
  try {
    const builds: Build[] = []
    for (const n of sizes.ns) builds.push(await build(root, n))
    const buildSeconds = (performance.now() - t0) / 1000

    const runs = new Map<number, Measure[]>(sizes.ns.map(n => [n, []]))
    for (let r = 1; r <= sizes.runs; r++) {
      for (const b of builds) (runs.get(b.n) as Measure[]).push(await measure(b, sizes, `scale run ${r}/${sizes.runs} ${tag(b.n)}`))
    }
    const seconds = (performance.now() - t0) / 1000
    progress(`scale: done in ${round(seconds, 1)} s (building ${round(buildSeconds, 1)} s)`)

    const small = sizes.ns[0] as number
    const large = sizes.ns[sizes.ns.length - 1] as number
    const of = (n: number): Measure[] => runs.get(n) as Measure[]
    const perN = (name: string, pick: (m: Measure) => number, digits: number): Figures =>
      Object.assign({}, ...sizes.ns.map(n => summarize(`${name}_${tag(n)}`, of(n).map(pick), digits))) as Figures
    const ratio = (name: string, pick: (m: Measure) => number): Figures =>
      ({ [`${name}_ratio_${tag(large)}_${tag(small)}`]: round(median(of(large).map(pick)) / median(of(small).map(pick)), 2) })
    const once = (name: string, pick: (b: Build) => number, digits: number): Figures =>
      Object.fromEntries(builds.map(b => [`${name}_${tag(b.n)}`, round(pick(b), digits)]))

    const figures: Figures = {
      runs: sizes.runs,
      n_objects: sizes.ns.join(', '),
      query_results: FIXED,
      n_warm_queries: sizes.warm,
      n_cold_queries: sizes.cold,
      query_warmup: sizes.warmup,
      in_flight: IN_FLIGHT,
      processes: 'each hub in a forked Node process (bench/hub-proc.ts, --expose-gc), no network node; query times taken inside that process',
      note_data: `N objects: exactly ${FIXED} ${FIXED_TYPE}; the rest round-robin over ${OTHER_TYPES.join(', ')}; exactly ${FIXED} playlists have genre '${FEATURED}'`,
      note_shapes: `query: all ${FIXED_TYPE} (type sort index); query_where: MusicPlaylist where genre = '${FEATURED}' (field index); query_scan: MusicPlaylist sort -created limit ${FIXED} (first page of N/4). Each returns exactly ${FIXED} objects, verified`,
      note_runs: `each N's store is built once per bench run; ${sizes.runs} measurement run(s) each fork a fresh process per N (Hub.open + first query, then ${sizes.warm} warm and ${sizes.cold} cold queries per shape); figures = median of the runs' p50/p99 with min/max; build figures (creates/s, store size, RSS after load) come from the single build`,
      note_cold: 'cold: the hub\'s meta and document caches are dropped before each query (metas read from LevelDB); LevelDB\'s block cache and the OS page cache stay warm',
      note_startup: 'startup_open_first_query_ms: Hub.open of the existing directory + the first query (all MusicEvent), timed in a freshly forked process; startup_process_ms adds Node start-up, module loading and IPC (fork → reply in the parent)'
    }
    for (const s of SHAPES) {
      Object.assign(figures,
        perN(`${s.key}_p50_ms`, m => m.warm[s.key].p50, 3),
        ratio(`${s.key}_p50`, m => m.warm[s.key].p50),
        perN(`${s.key}_p99_ms`, m => m.warm[s.key].p99, 3),
        perN(`${s.key}_cold_p50_ms`, m => m.cold[s.key].p50, 3),
        ratio(`${s.key}_cold_p50`, m => m.cold[s.key].p50),
        perN(`${s.key}_cold_p99_ms`, m => m.cold[s.key].p99, 3))
    }
    Object.assign(figures,
      perN('startup_open_first_query_ms', m => m.openMs + m.firstQueryMs, 1),
      perN('startup_open_ms', m => m.openMs, 1),
      perN('startup_first_query_ms', m => m.firstQueryMs, 1),
      perN('startup_process_ms', m => m.processMs, 0),
      once('load_creates_per_s', b => b.n / (b.loadMs / 1000), 0),
      once('store_mb', b => b.storeBytes / MIB, 1),
      { rss_mb_empty_hub: round(median(builds.map(b => b.empty.rssMiB)), 1) },
      once('rss_mb_after_load', b => b.afterLoad.rssMiB, 1),
      once('rss_mb_after_load_gc', b => b.afterLoadGc.rssMiB, 1),
      once('heap_used_mb_after_load_gc', b => b.afterLoadGc.heapUsedMiB, 1),
      once('heap_total_mb_after_load_gc', b => b.afterLoadGc.heapTotalMiB, 1),
      once('external_mb_after_load_gc', b => b.afterLoadGc.externalMiB, 1),
      once('peak_rss_mb_during_load', b => b.afterLoadGc.maxRssMiB, 1),
      perN('rss_mb_started', m => m.started.rssMiB, 1),
      perN('external_mb_started', m => m.started.externalMiB, 1),
      { gc_exposed: builds.every(b => b.afterLoadGc.gcRan) ? 'yes' : 'no (RSS "after GC" is without GC)' },
      { scale_build_seconds: round(buildSeconds, 1), scale_seconds: round(seconds, 1) })
    return figures
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

export const scale: Suite = {
  name: 'scale',
  targets: {
    // The core suite's query target, held at 100k objects.
    query_p50_ms_N100000: { max: 10, unit: 'ms' },
    // "Cost grows with the result size, not with N": N grows 100×, the cost may at most double.
    query_p50_ratio_N100000_N1000: { max: 2, unit: '× (100k vs 1k)' },
    query_where_p50_ratio_N100000_N1000: { max: 2, unit: '× (100k vs 1k)' },
    query_scan_p50_ratio_N100000_N1000: { max: 2, unit: '× (100k vs 1k)' }
  },
  run
}
