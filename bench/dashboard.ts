/**
 * Dashboard suite (issue 16): the owner's dashboard in headless Chromium
 * over a hub holding N objects (10,000; --quick: 1,000), served by the
 * hub's HTTP server with the built page (scripts/build-dashboard.mjs).
 * Figures, each the median of RUNS runs, every run a fresh login (link →
 * 303 → /dashboard/ → the Collections page):
 *  - first_paint_ms: from the navigation's start (the login link, redirect
 *    included) until the Collections page — the table with every
 *    collection's count, which scans all N objects — is in the DOM and a
 *    frame has been painted (the page's `dashboard-first-page` mark);
 *  - fcp_ms: the browser's first-contentful-paint (the page shell);
 *  - api_collections_ms: GET /dashboard/api/collections alone, from Node.
 * Skipped, with the reason as a figure, when there is no Chromium.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'
import { Hub } from '../src/hub.js'
import { createHttpServer } from '../src/http/app.js'
import { dashboardOf } from '../src/http/dashboard/dashboard.js'
import { COMMANDS, hubHandlers } from '../src/cli/commands/index.js'
import { median, progress, round, type Figures, type Suite, type SuiteOptions } from './util.js'

const RUNS = 3
const CHROMIUM = process.env.HUB_TEST_CHROMIUM ?? '/usr/bin/chromium'
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), existsSync(resolve(dirname(fileURLToPath(import.meta.url)), '../package.json')) ? '..' : '../..')
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

async function run (opts: SuiteOptions): Promise<Figures> {
  if (!existsSync(CHROMIUM)) return { skipped: `no Chromium at ${CHROMIUM} (install Debian's chromium package, or set HUB_TEST_CHROMIUM)` }
  const n = opts.quick ? 1000 : 10_000
  const tmp = mkdtempSync(join(tmpdir(), 'hub-bench-dashboard-'))
  const { buildDashboard } = await import(pathToFileURL(join(ROOT, 'scripts/build-dashboard.mjs')).href) as { buildDashboard: (o: { outdir: string }) => Promise<string> }
  const assetsDir = await buildDashboard({ outdir: join(tmp, 'page') })
  const dir = join(tmp, 'hub')
  await Hub.init(dir)
  const hub = await Hub.open(dir)
  const table = hubHandlers(COMMANDS)
  const server = createHttpServer(hub, {
    adminKey: 'bench-admin-key-0123456789',
    dashboard: { assetsDir, dispatch: async (command, params) => await (table[command] as NonNullable<typeof table[string]>)({ hub }, params) }
  })
  const { chromium } = await import('playwright-core')
  const profile = mkdtempSync(join(tmpdir(), 'hub-bench-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS })
  try {
    progress(`dashboard: writing ${n} objects`)
    const types = ['MusicPlaylist', 'MusicRecording', 'Book', 'Recipe']
    for (let i = 0; i < n; i++) {
      await hub.collections.create({ '@context': 'https://schema.org', '@type': types[i % types.length] as string, name: `Item ${i}`, position: i })
    }
    const url = await server.listen('127.0.0.1', 0)
    const dashboard = dashboardOf(hub)
    if (dashboard === undefined) throw new Error('no dashboard on the server')
    const paint: number[] = []
    const fcp: number[] = []
    for (let r = 0; r < RUNS; r++) {
      const page = await context.newPage()
      await page.goto(dashboard.loginLink().url)
      await page.waitForFunction(() => performance.getEntriesByName('dashboard-first-page').length > 0, undefined, { timeout: 60_000 })
      const t = await page.evaluate(() => ({
        paint: performance.getEntriesByName('dashboard-first-page')[0]?.startTime ?? NaN,
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
        rows: document.querySelectorAll('main tbody tr').length
      }))
      if (t.rows !== types.length) throw new Error(`the Collections page shows ${t.rows} collections, expected ${types.length}`)
      paint.push(t.paint)
      fcp.push(t.fcp)
      progress(`dashboard: run ${r + 1}: first page ${round(t.paint)} ms, fcp ${round(t.fcp)} ms`)
      await page.close()
    }
    // The API call alone, with a session of its own.
    const login = await fetch(dashboard.loginLink().url, { redirect: 'manual' })
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string
    const api: number[] = []
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now()
      const res = await fetch(`${url}/dashboard/api/collections`, { headers: { cookie } })
      await res.json()
      api.push(performance.now() - t0)
    }
    return { objects: n, runs: RUNS, first_paint_ms: round(median(paint)), fcp_ms: round(median(fcp)), api_collections_ms: round(median(api)), chromium: context.browser()?.version() ?? 'unknown' }
  } finally {
    await context.close().catch(() => {})
    await server.close(100)
    await hub.close()
    rmSync(profile, { recursive: true, force: true })
    rmSync(tmp, { recursive: true, force: true })
  }
}

export const dashboard: Suite = {
  name: 'dashboard',
  targets: { first_paint_ms: { max: 300, unit: 'ms' } },
  run
}
