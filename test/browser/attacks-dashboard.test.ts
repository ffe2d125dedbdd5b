/**
 * Outside attack on the dashboard page in headless Chromium: hub data that
 * carries markup (`<img src=x onerror=…>`, `<script>`) must show as text —
 * no element made from it, no script run, not even a CSP violation (which
 * would mean the markup reached the DOM as HTML and only the CSP saved us).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { browserUnavailable, launchBrowser, stopBrowsers, type TestBrowser } from './harness.js'
import { cleanup } from '../helpers.js'
import { founder, stopAll, type Running } from '../net-helpers.js'
import { closeDashboards, dashboardServer, type DashboardServer } from '../dashboard-helpers.js'
// @ts-expect-error plain JavaScript module without types
import { buildDashboard } from '../../scripts/build-dashboard.mjs'

const CTX = 'https://schema.org'
const skip = browserUnavailable()
const XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b id=xssb>bold</b>'

describe.skipIf(skip !== undefined)('the dashboard renders hostile hub data as text', () => {
  let a: Running
  let d: DashboardServer
  let browser: TestBrowser
  let page: Page
  const violations: string[] = []

  beforeAll(async () => {
    const assetsDir = mkdtempSync(join(tmpdir(), 'hub-dashboard-attack-'))
    await buildDashboard({ outdir: assetsDir })
    a = await founder()
    d = await dashboardServer(a, { assetsDir })
    browser = await launchBrowser()
    page = await browser.context.newPage()
    page.on('console', m => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()) })
  }, 60_000)
  afterAll(async () => {
    await stopBrowsers()
    await closeDashboards()
    await stopAll()
    await cleanup()
  }, 60_000)

  const settle = async (): Promise<void> => {
    await page.waitForFunction(() => document.body.dataset.ready !== undefined && document.getElementById('main')?.getAttribute('aria-busy') !== 'true', undefined, { timeout: 15_000 })
  }
  const go = async (hash: string): Promise<void> => {
    const before = await page.evaluate(() => document.body.dataset.ready ?? '')
    await page.evaluate(h => { location.hash = h }, hash)
    await page.waitForFunction(b => document.body.dataset.ready !== undefined && document.body.dataset.ready !== b && document.getElementById('main')?.getAttribute('aria-busy') !== 'true', before, { timeout: 15_000 })
  }
  const noMarkup = async (where: string): Promise<void> => {
    const state = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      img: document.querySelectorAll('img[src="x"]').length,
      b: document.getElementById('xssb') !== null,
      scripts: [...document.querySelectorAll('script')].filter(s => s.src === '').length
    }))
    expect(state, where).toEqual({ pwned: undefined, img: 0, b: false, scripts: 0 })
  }

  it('an object whose name and keys carry markup: the collections, objects and object pages show it as text, no script runs', async () => {
    const { objectId } = await a.hub.collections.create({ '@context': CTX, '@type': 'MusicPlaylist', name: XSS, [XSS]: XSS, numTracks: 1, nested: { deeper: XSS } })
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', e => { (window as unknown as { __csp?: string[] }).__csp = [...((window as unknown as { __csp?: string[] }).__csp ?? []), e.violatedDirective] })
    })
    await page.goto(d.link())
    await page.waitForFunction(() => document.body.dataset.page === 'collections')
    await settle()
    await noMarkup('collections')

    await go(`#/objects?context=${encodeURIComponent(CTX)}&type=MusicPlaylist`)
    await noMarkup('objects')
    const link = page.locator(`a[href*="${objectId}"]`).first()
    expect(await link.count(), 'a link to the object').toBeGreaterThan(0)
    const before = await page.evaluate(() => document.body.dataset.ready ?? '')
    await link.click()
    await page.waitForFunction(b => document.body.dataset.ready !== b && document.getElementById('main')?.getAttribute('aria-busy') !== 'true', before, { timeout: 15_000 })
    const text = await page.textContent('main') ?? ''
    expect(text).toContain('onerror="window.__pwned=1"')
    expect(text).toContain('deeper')
    await noMarkup('object')
    expect(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? [])).toEqual([])
    expect(violations).toEqual([])
  }, 60_000)

  it('a grant whose type carries markup, if the hub takes it, shows as text on Sharing', async () => {
    const csrf = await page.evaluate(async () => ((await (await fetch('/dashboard/api/session')).json()) as { csrf: string }).csrf)
    const status = await page.evaluate(async ([c, t]) => (await fetch('/dashboard/api/grants', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': c as string }, body: JSON.stringify({ grantee: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', context: 'https://schema.org', type: t, allow: '-R--' }) })).status, [csrf, XSS])
    expect(status).toBeLessThan(500)
    await go('#/sharing')
    await noMarkup('sharing')
    await go('#/audit')
    await noMarkup('audit')
    expect(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? [])).toEqual([])
  }, 60_000)
})
