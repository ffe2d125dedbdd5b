/**
 * Browser suite (issue 15): a hub in a Chromium tab (src/browser/index.ts)
 * on IndexedDB. Figures, each the median of RUNS runs (timed inside the
 * page with performance.now):
 *  - creates_per_s: N signed creates into IndexedDB, IN_FLIGHT at a time;
 *  - query_p50_ms / query_p99_ms: an indexed query (one type, a range
 *    filter, 50 results) over those N objects;
 *  - sorted_query_p50_ms: a query without filter (one sort-index page of
 *    50) over them;
 *  - cold_sync_objects_per_s: a fresh tab paired with a Node hub holding N
 *    objects pulls them all over WebSockets (from the tab's first dial
 *    until its watermark reaches the Node hub's feed head);
 *  - reload_first_query_ms: after a page reload, the first query of the
 *    reopened hub (reload_open_ms: opening it).
 * Skipped, with the reason as a figure, when there is no Chromium
 * (/usr/bin/chromium or HUB_TEST_CHROMIUM).
 *
 * HUB_BENCH_PROFILE=<dir>: also record the page's main thread with the
 * Chrome DevTools protocol profiler during each phase of each run, written
 * as <dir>/<phase>-<run>.cpuprofile (open in Chrome's DevTools, or
 * summarize the self time by function); the page is then not minified, so
 * functions keep their names. Profiling slows the page: the
 * figures of such a run are not comparable.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, extname, join, normalize, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startHubNode } from '../src/compose.js'
import { Hub } from '../src/hub.js'
import { median, percentile, progress, round, type Figures, type Suite, type SuiteOptions } from './util.js'

const RUNS = 3
const IN_FLIGHT = 64
const CHROMIUM = process.env.HUB_TEST_CHROMIUM ?? '/usr/bin/chromium'
/** The repository root, from dist/bench/ or bench/. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), existsSync(resolve(dirname(fileURLToPath(import.meta.url)), '../package.json')) ? '..' : '../..')
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.map': 'application/json' }

interface BenchApi {
  creates: (name: string, n: number, inFlight: number, queries: number) => Promise<{ createsPerS: number, queryMs: number[], sortedQueryMs: number[] }>
  coldSync: (name: string, invite: string, head: number) => Promise<{ ms: number }>
  close: () => Promise<void>
  firstQuery: (name: string) => Promise<{ openMs: number, firstQueryMs: number, found: number }>
}

async function run (opts: SuiteOptions): Promise<Figures> {
  if (!existsSync(CHROMIUM)) {
    progress(`browser: skipped, no Chromium at ${CHROMIUM}`)
    return { skipped: `no Chromium at ${CHROMIUM} (install Debian's chromium package, or set HUB_TEST_CHROMIUM)` }
  }
  const n = opts.quick ? 200 : 2000
  const queries = opts.quick ? 10 : 50
  const dir = mkdtempSync(join(tmpdir(), 'hub-bench-page-'))
  const profile = mkdtempSync(join(tmpdir(), 'hub-bench-chromium-'))
  const hubDir = join(mkdtempSync(join(tmpdir(), 'hub-bench-')), 'a')
  const { buildBrowser } = await import(pathToFileURL(join(ROOT, 'scripts/build-browser.mjs')).href) as { buildBrowser: (o: { entryPoints: Record<string, string>, outdir: string, minify: boolean }) => Promise<unknown> }
  await buildBrowser({ entryPoints: { main: join(ROOT, 'test/browser/pages/hub-bench.ts') }, outdir: dir, minify: process.env.HUB_BENCH_PROFILE === undefined })
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>bench</title><script type="module" src="./main.js"></script>')
  const server = createServer((req, res) => {
    const file = resolve(dir, '.' + normalize(new URL(req.url ?? '/', 'http://x').pathname).replace(/\/$/, '/index.html'))
    if (!file.startsWith(dir) || !existsSync(file)) { res.writeHead(404).end(); return }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const { chromium } = await import('playwright-core')
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS })
  await Hub.init(hubDir)
  const hub = await Hub.open(hubDir)
  const node = await startHubNode(hub, { listen: ['/ip4/127.0.0.1/tcp/0/ws'], discoveryIntervalMs: 0 })
  try {
    const page = await context.newPage()
    const load = async (): Promise<void> => { await page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true) }
    const bench = async <K extends keyof BenchApi>(fn: K, ...args: Parameters<BenchApi[K]>): Promise<Awaited<ReturnType<BenchApi[K]>>> =>
      await page.evaluate(async ([f, a]) => await ((window as unknown as { __bench: Record<string, (...x: unknown[]) => Promise<unknown>> }).__bench[f as string] as (...x: unknown[]) => Promise<unknown>)(...(a as unknown[])), [fn, args] as const) as Awaited<ReturnType<BenchApi[K]>>
    await page.goto(url)
    await load()
    const profileDir = process.env.HUB_BENCH_PROFILE
    const cdp = profileDir === undefined ? undefined : await context.newCDPSession(page)
    /** `fn` under the profiler when HUB_BENCH_PROFILE is set (a reload ends a session's recording: one per phase). */
    const profiled = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      if (cdp === undefined || profileDir === undefined) return await fn()
      await cdp.send('Profiler.enable')
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
      await cdp.send('Profiler.start')
      try {
        return await fn()
      } finally {
        const { profile } = await cdp.send('Profiler.stop')
        writeFileSync(join(profileDir, `${name}.cpuprofile`), JSON.stringify(profile))
      }
    }

    progress(`browser: ${n} objects on the Node hub for the cold sync`)
    for (let i = 0; i < n; i++) {
      await hub.collections.create({ '@context': 'https://schema.org', '@type': 'MusicPlaylist', name: `playlist ${i}`, position: i, numTracks: 1, track: [{ '@type': 'MusicRecording', name: 'Sweet Home Alabama', byArtist: 'Lynyrd Skynyrd' }] })
    }
    const head = hub.store.durableSeq

    const creates: number[] = []
    const p50: number[] = []
    const p99: number[] = []
    const sortedP50: number[] = []
    const sync: number[] = []
    const firstQuery: number[] = []
    const openMs: number[] = []
    for (let r = 0; r < RUNS; r++) {
      progress(`browser: run ${r + 1}/${RUNS}: ${n} creates in the tab`)
      const c = await profiled(`creates-${r}`, async () => await bench('creates', `local-${r}`, n, IN_FLIGHT, queries))
      creates.push(c.createsPerS)
      p50.push(percentile(c.queryMs, 50))
      p99.push(percentile(c.queryMs, 99))
      sortedP50.push(percentile(c.sortedQueryMs, 50))
      await bench('close')

      progress(`browser: run ${r + 1}/${RUNS}: cold sync of ${n} objects`)
      const { invite } = await node.createInvite()
      const s = await profiled(`cold-sync-${r}`, async () => await bench('coldSync', `synced-${r}`, invite, head))
      sync.push(n / (s.ms / 1000))
      await bench('close')

      await page.reload()
      await load()
      const q = await bench('firstQuery', `synced-${r}`)
      if (q.found === 0) throw new Error('the reopened hub found nothing')
      firstQuery.push(q.firstQueryMs)
      openMs.push(q.openMs)
      await bench('close')
    }
    const fig = (name: string, xs: number[], digits = 1): Figures => ({ [name]: round(median(xs), digits), [`${name}_min`]: round(Math.min(...xs), digits), [`${name}_max`]: round(Math.max(...xs), digits) })
    return {
      runs: RUNS,
      n_objects: n,
      in_flight: IN_FLIGHT,
      n_queries: queries,
      ...fig('creates_per_s', creates),
      ...fig('query_p50_ms', p50, 2),
      ...fig('query_p99_ms', p99, 2),
      ...fig('sorted_query_p50_ms', sortedP50, 2),
      ...fig('cold_sync_objects_per_s', sync),
      ...fig('reload_first_query_ms', firstQuery, 2),
      ...fig('reload_open_ms', openMs, 1),
      chromium: context.browser()?.version() ?? 'unknown'
    }
  } finally {
    await node.stop().catch(() => {})
    await hub.close().catch(() => {})
    await context.close().catch(() => {})
    await new Promise<void>(resolve => server.close(() => { resolve() }))
    for (const d of [dir, profile, dirname(hubDir)]) rmSync(d, { recursive: true, force: true })
  }
}

export const browser: Suite = {
  name: 'browser',
  targets: {
    creates_per_s: { min: 500, unit: 'objects/s' },
    cold_sync_objects_per_s: { min: 1000, unit: 'objects/s' },
    reload_first_query_ms: { max: 50, unit: 'ms' }
  },
  run
}
