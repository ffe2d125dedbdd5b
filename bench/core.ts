/**
 * Core suite: signed creates, updates of one object, indexed queries and the
 * process's peak memory, against the real LevelDB store on disk.
 *
 * Every figure is the median of RUNS runs (with min and max, the machine is
 * noisy); every run uses a fresh hub directory under os.tmpdir(), removed
 * afterwards. Only the measured calls are timed: hub setup, data loading for
 * queries and verification are not.
 */
import { performance } from 'node:perf_hooks'
import type { Hub } from '../src/hub.js'
import { median, percentile, pool, progress, RssSampler, round, sequential, settle, summarize, timeMs, withTempHub, type Figures, type Suite, type SuiteOptions } from './util.js'

const RUNS = 3
/** Writes kept in flight for the concurrent figures (the store does group commit). */
const IN_FLIGHT = 256
const QUERY_WARMUP = 3
const CONTEXT = 'https://schema.org'

interface Sizes {
  creates: number
  updates: number
  /** Objects per type in the query data set (5 types, one is MusicPlaylist). */
  perType: number
  queries: number
}

const FULL: Sizes = { creates: 5000, updates: 1000, perType: 1000, queries: 50 }
const QUICK: Sizes = { creates: 500, updates: 100, perType: 100, queries: 20 }

// ------------------------------------------------------------------ data

interface Recording { byArtist: string, duration: string, inAlbum: string, name: string }

const RECORDINGS: Recording[] = [
  { byArtist: 'Lynyrd Skynyrd', duration: 'PT4M45S', inAlbum: 'Second Helping', name: 'Sweet Home Alabama' },
  { byArtist: 'Led Zeppelin', duration: 'PT8M02S', inAlbum: 'Led Zeppelin IV', name: 'Stairway to Heaven' },
  { byArtist: 'Queen', duration: 'PT5M55S', inAlbum: 'A Night at the Opera', name: 'Bohemian Rhapsody' },
  { byArtist: 'Eagles', duration: 'PT6M30S', inAlbum: 'Hotel California', name: 'Hotel California' },
  { byArtist: 'The Rolling Stones', duration: 'PT3M43S', inAlbum: 'Out of Our Heads', name: '(I Can\'t Get No) Satisfaction' },
  { byArtist: 'Deep Purple', duration: 'PT5M40S', inAlbum: 'Machine Head', name: 'Smoke on the Water' },
  { byArtist: 'AC/DC', duration: 'PT3M28S', inAlbum: 'Highway to Hell', name: 'Highway to Hell' },
  { byArtist: 'Boston', duration: 'PT4M45S', inAlbum: 'Boston', name: 'More Than a Feeling' },
  { byArtist: 'Fleetwood Mac', duration: 'PT4M17S', inAlbum: 'Rumours', name: 'The Chain' },
  { byArtist: 'Pink Floyd', duration: 'PT6M23S', inAlbum: 'Wish You Were Here', name: 'Wish You Were Here' }
]

function track (k: number): Record<string, string> {
  const r = RECORDINGS[k % RECORDINGS.length] as Recording
  return { '@type': 'MusicRecording', byArtist: r.byArtist, duration: r.duration, inAlbum: r.inAlbum, name: r.name }
}

/** A schema.org MusicPlaylist with `tracks` tracks. */
export function playlist (i: number, tracks = 1, name = `Classic Rock Playlist ${i}`): Record<string, unknown> {
  return {
    '@context': CONTEXT,
    '@type': 'MusicPlaylist',
    name,
    numTracks: tracks,
    track: Array.from({ length: tracks }, (_, k) => track(k))
  }
}

/** The query data set: objects of 5 types, interleaved, `perType` of each. */
function queryObject (i: number): Record<string, unknown> {
  const k = Math.floor(i / 5)
  const r = RECORDINGS[k % RECORDINGS.length] as Recording
  switch (i % 5) {
    // numTracks = 1..10 in turn, so each value matches perType / 10 playlists.
    case 0: return playlist(k, (k % 10) + 1)
    case 1: return { '@context': CONTEXT, '@type': 'MusicAlbum', name: `${r.inAlbum} (${k})`, byArtist: r.byArtist, numTracks: 8 + (k % 6), datePublished: `${1965 + (k % 20)}-01-01` }
    case 2: return { '@context': CONTEXT, '@type': 'MusicRecording', name: `${r.name} (${k})`, byArtist: r.byArtist, duration: r.duration, inAlbum: r.inAlbum }
    case 3: return { '@context': CONTEXT, '@type': 'MusicGroup', name: `${r.byArtist} (${k})`, genre: 'Classic Rock', foundingDate: `${1960 + (k % 15)}` }
    default: return { '@context': CONTEXT, '@type': 'Person', name: `Listener ${k}`, jobTitle: 'DJ', knowsAbout: 'Classic Rock' }
  }
}
const WHERE_NUM_TRACKS = 3

// ------------------------------------------------------------------ measurements

/** `encrypted`: the collection is keyed first, so every create seals its payload (edge encryption). */
async function createsPerSecond (n: number, tracks: number, concurrent: boolean, encrypted = false): Promise<number> {
  return await withTempHub(async hub => {
    const values = Array.from({ length: n }, (_, i) => playlist(i, tracks))
    if (encrypted) await hub.collectionKeys.encrypt('https://schema.org', 'MusicPlaylist')
    const create = async (i: number): Promise<unknown> => await hub.collections.create(values[i])
    const before = hub.store.seq // a new hub already holds its own device authorization
    const ms = await timeMs(async () => concurrent ? await pool(n, IN_FLIGHT, create) : await sequential(n, create))
    if (hub.store.seq - before !== n) throw new Error(`creates: expected ${n} new commits in the feed, found ${hub.store.seq - before}`)
    return n / (ms / 1000)
  })
}

async function updatesPerSecond (n: number, concurrent: boolean): Promise<number> {
  return await withTempHub(async hub => {
    const { objectId } = await hub.collections.create(playlist(0))
    // Each update changes name and numTracks; every value is distinct, so every update stores a commit.
    const values = Array.from({ length: n }, (_, i) => ({ ...playlist(0, 1, `Classic Rock Playlist 0 (rev ${i + 1})`), numTracks: 2 + (i % 50) }))
    let unchanged = 0
    const update = async (i: number): Promise<void> => {
      const r = await hub.collections.update(objectId, values[i])
      if (!r.changed) unchanged++
    }
    const ms = await timeMs(async () => concurrent ? await pool(n, IN_FLIGHT, update) : await sequential(n, update))
    const after = await hub.collections.read(objectId)
    if (unchanged !== 0 || after.commits !== n + 1) throw new Error(`updates: expected ${n + 1} commits, found ${after.commits} (${unchanged} reported unchanged)`)
    return n / (ms / 1000)
  })
}

interface QueryRun { p50: number, p99: number, coldP50: number, whereP50: number, whereP99: number, loadPerS: number }

/** `cold`: drop the in-memory meta/document caches before each query, so every object is read from LevelDB. */
async function timeQueries (hub: Hub, count: number, q: Parameters<Hub['collections']['query']>[0], expect: number, cold = false): Promise<number[]> {
  const check = (got: number): void => {
    if (got !== expect) throw new Error(`query ${JSON.stringify(q)} returned ${got} objects, expected ${expect}`)
  }
  for (let i = 0; i < QUERY_WARMUP; i++) check((await hub.collections.query(q)).objects.length)
  const ms: number[] = []
  for (let i = 0; i < count; i++) {
    if (cold) hub.store.dropDocCache()
    const t0 = performance.now()
    const page = await hub.collections.query(q)
    ms.push(performance.now() - t0)
    check(page.objects.length)
    if (page.objects.some(o => o.type !== q?.type)) throw new Error('query returned an object of the wrong type')
  }
  return ms
}

async function queryLatency (sizes: Sizes): Promise<QueryRun> {
  return await withTempHub(async hub => {
    const total = sizes.perType * 5
    const values = Array.from({ length: total }, (_, i) => queryObject(i))
    const loadMs = await timeMs(async () => await pool(total, IN_FLIGHT, async i => await hub.collections.create(values[i])))
    await settle()
    const plain = await timeQueries(hub, sizes.queries, { context: CONTEXT, type: 'MusicPlaylist', limit: 1000 }, sizes.perType)
    const cold = await timeQueries(hub, sizes.queries, { context: CONTEXT, type: 'MusicPlaylist', limit: 1000 }, sizes.perType, true)
    const where = await timeQueries(hub, sizes.queries, {
      context: CONTEXT,
      type: 'MusicPlaylist',
      where: [{ field: 'numTracks', op: 'eq', value: WHERE_NUM_TRACKS }],
      limit: 1000
    }, sizes.perType / 10)
    return {
      p50: percentile(plain, 50),
      p99: percentile(plain, 99),
      coldP50: percentile(cold, 50),
      whereP50: percentile(where, 50),
      whereP99: percentile(where, 99),
      loadPerS: total / (loadMs / 1000)
    }
  })
}

/** Untimed: lets the JIT and the Automerge wasm module warm up before run 1. */
async function warmUp (): Promise<string> {
  const creates = 300
  const updates = 100
  await withTempHub(async hub => {
    await pool(creates, IN_FLIGHT, async i => await hub.collections.create(queryObject(i)))
    const { objectId } = await hub.collections.create(playlist(0))
    await pool(updates, IN_FLIGHT, async i => await hub.collections.update(objectId, playlist(0, 1 + (i % 5), `warm-up ${i}`)))
    for (let i = 0; i < 5; i++) await hub.collections.query({ context: CONTEXT, type: 'MusicPlaylist', limit: 1000 })
  })
  return `${creates} creates, ${updates} updates, 5 queries (untimed, own hub)`
}

// ------------------------------------------------------------------ suite

async function run (opts: SuiteOptions): Promise<Figures> {
  const sizes = opts.quick ? QUICK : FULL
  const rss = new RssSampler(50)
  const t0 = performance.now()
  try {
    progress(`core: warm-up`)
    const warmup = await warmUp()
    const r = {
      creates: [] as number[],
      createsSeq: [] as number[],
      creates5: [] as number[],
      createsEnc: [] as number[],
      updates: [] as number[],
      updatesSeq: [] as number[],
      q: [] as QueryRun[]
    }
    // Runs are interleaved (run 1 of every figure, then run 2, ...) so a slow
    // stretch of the machine spreads over figures instead of sinking one.
    for (let i = 1; i <= RUNS; i++) {
      const tag = `core run ${i}/${RUNS}`
      const step = async (label: string, fn: () => Promise<number>, into: number[], unit: string): Promise<void> => {
        const v = await fn()
        into.push(v)
        progress(`${tag}: ${label} ${round(v, 1)} ${unit}`)
        await settle()
      }
      await step(`creates (${IN_FLIGHT} in flight, n=${sizes.creates})`, async () => await createsPerSecond(sizes.creates, 1, true), r.creates, '/s')
      await step(`creates sequential (n=${sizes.creates})`, async () => await createsPerSecond(sizes.creates, 1, false), r.createsSeq, '/s')
      await step(`creates 5 tracks (${IN_FLIGHT} in flight, n=${sizes.creates})`, async () => await createsPerSecond(sizes.creates, 5, true), r.creates5, '/s')
      await step(`creates encrypted (${IN_FLIGHT} in flight, n=${sizes.creates})`, async () => await createsPerSecond(sizes.creates, 1, true, true), r.createsEnc, '/s')
      await step(`updates of one object (${IN_FLIGHT} in flight, n=${sizes.updates})`, async () => await updatesPerSecond(sizes.updates, true), r.updates, '/s')
      await step(`updates sequential (n=${sizes.updates})`, async () => await updatesPerSecond(sizes.updates, false), r.updatesSeq, '/s')
      const q = await queryLatency(sizes)
      r.q.push(q)
      progress(`${tag}: query p50 ${round(q.p50, 3)} ms, p99 ${round(q.p99, 3)} ms, where p50 ${round(q.whereP50, 3)} ms (loaded ${sizes.perType * 5} objects at ${round(q.loadPerS, 1)}/s)`)
    }
    const mem = rss.stop()
    const seconds = (performance.now() - t0) / 1000
    progress(`core: done in ${round(seconds, 1)} s`)
    return {
      runs: RUNS,
      in_flight: IN_FLIGHT,
      n_creates: sizes.creates,
      n_updates: sizes.updates,
      n_query_objects: sizes.perType * 5,
      n_query_matches: sizes.perType,
      n_query_where_matches: sizes.perType / 10,
      n_queries: sizes.queries,
      value_bytes_1_track: JSON.stringify(playlist(0, 1)).length,
      value_bytes_5_tracks: JSON.stringify(playlist(0, 5)).length,
      warmup,
      ...summarize('creates_per_s', r.creates, 1),
      ...summarize('creates_per_s_sequential', r.createsSeq, 1),
      ...summarize('creates_per_s_5_tracks', r.creates5, 1),
      ...summarize('creates_per_s_encrypted', r.createsEnc, 1),
      encryption_cost_pct: round(100 * (1 - median(r.createsEnc) / median(r.creates)), 1),
      ...summarize('updates_per_s', r.updates, 1),
      ...summarize('updates_per_s_sequential', r.updatesSeq, 1),
      ...summarize('query_p50_ms', r.q.map(q => q.p50), 3),
      ...summarize('query_p99_ms', r.q.map(q => q.p99), 3),
      ...summarize('query_cold_cache_p50_ms', r.q.map(q => q.coldP50), 3),
      ...summarize('query_where_p50_ms', r.q.map(q => q.whereP50), 3),
      ...summarize('query_where_p99_ms', r.q.map(q => q.whereP99), 3),
      ...summarize('query_data_load_creates_per_s', r.q.map(q => q.loadPerS), 1),
      peak_rss_mb: round(mem.peakMiB, 1),
      peak_rss_sampled_mb: round(mem.sampledPeakMiB, 1),
      max_rss_os_mb: round(mem.maxRssMiB, 1),
      core_seconds: round(seconds, 1)
    }
  } finally {
    rss.stop()
  }
}

export const core: Suite = {
  name: 'core',
  targets: {
    creates_per_s: { min: 2000, unit: 'objects/s' },
    updates_per_s: { min: 3000, unit: 'updates/s' },
    query_p50_ms: { max: 10, unit: 'ms' },
    encryption_cost_pct: { max: 25, unit: '% of plaintext create throughput' }
  },
  run
}
