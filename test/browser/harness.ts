/**
 * Real-browser tests (issue 15): Debian's Chromium (/usr/bin/chromium,
 * installed by scripts/test-prereqs.mjs) driven by playwright-core, which
 * never downloads a browser of its own. A test bundles its page's entry
 * with the same esbuild setup as the shipped bundles
 * (scripts/build-browser.mjs), serves it from a loopback HTTP server (a
 * secure context, so WebCrypto and IndexedDB are there) and drives it.
 *
 * Chromium runs headless as root with the flags that keep it off the
 * network: without them its background services open connections that this
 * machine refuses in bulk. Each browser gets a fresh profile directory.
 * Everything started here is stopped by `stopBrowsers()` (afterEach).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { extname, join, normalize, resolve } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
// @ts-expect-error plain JavaScript module without types
import { buildBrowser } from '../../scripts/build-browser.mjs'

export const CHROMIUM = process.env.HUB_TEST_CHROMIUM ?? '/usr/bin/chromium'

/** Why browser tests cannot run here, or undefined when they can. */
export function browserUnavailable (): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (npm test installs Debian's chromium package when run as root; or set HUB_TEST_CHROMIUM)`
}

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.map': 'application/json',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml'
}

export interface StaticServer { url: string, close: () => Promise<void> }

const cleanups: Array<() => Promise<void>> = []

/** Serve `dir` on 127.0.0.1 (OS-assigned port). Paths outside `dir` are 404. */
export async function serveDir (dir: string): Promise<StaticServer> {
  const root = resolve(dir)
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))
    const file = resolve(root, '.' + (path.endsWith('/') ? path + 'index.html' : path))
    if (!file.startsWith(root) || !existsSync(file)) { res.writeHead(404).end(); return }
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(readFileSync(file))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => { await new Promise<void>(resolve => server.close(() => { resolve() })) }
  cleanups.push(close)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close }
}

export interface TestPage {
  /** The served directory's URL (the page is `${url}/`). */
  url: string
  dir: string
}

/**
 * Bundle `entry` (a .ts file) as the module of an otherwise empty page and
 * serve it. The page sets `window.__ready` once the module has run.
 */
export async function buildTestPage (entry: string, o: { html?: string } = {}): Promise<TestPage> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-page-'))
  cleanups.push(async () => { rmSync(dir, { recursive: true, force: true }) })
  await buildBrowser({ entryPoints: { main: resolve(entry) }, outdir: dir, minify: false })
  writeFileSync(join(dir, 'index.html'), o.html ?? '<!doctype html><meta charset="utf-8"><title>test</title><body><script type="module" src="./main.js"></script></body>')
  const server = await serveDir(dir)
  return { url: server.url, dir }
}

export interface TestBrowser {
  context: BrowserContext
  /** Open `url` and wait until its module set `window.__ready` (or threw: the error is rethrown here). */
  open: (url: string) => Promise<Page>
  close: () => Promise<void>
}

/** A headless Chromium with a fresh profile (IndexedDB persists across pages and reloads within it); `args`: extra command-line flags. */
export async function launchBrowser (o: { args?: string[] } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'hub-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: [...FLAGS, ...(o.args ?? [])] })
  const close = async (): Promise<void> => {
    await context.close().catch(() => {})
    rmSync(profile, { recursive: true, force: true })
  }
  cleanups.push(close)
  const open = async (url: string): Promise<Page> => {
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', err => { errors.push(err.stack ?? err.message) })
    await page.goto(url)
    await page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true || (window as unknown as { __error?: string }).__error !== undefined)
    const failed = await page.evaluate(() => (window as unknown as { __error?: string }).__error)
    if (failed !== undefined) throw new Error(`page module failed: ${failed}\n${errors.join('\n')}`)
    return page
  }
  return { context, open, close }
}

/** Stop every browser and server started by this module (use in afterEach). */
export async function stopBrowsers (): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c()
}
