/**
 * The owner's dashboard in real headless Chromium (issue 16), against a
 * real hub on libp2p with its HTTP server on 127.0.0.1: log in with the
 * one-time link (a wrong or reused one is refused); a POST without the CSRF
 * token, and one from another origin, change nothing; a grant made in the
 * form lets a Node app (a HubClient with its own key) read and subscribe,
 * revoking it in the page ends the subscription and the Audit page shows
 * the allowed read and the denied one; a second hub joins with the invite
 * the Devices page shows and turns "caught up"; 2,000 objects page through;
 * an object's history shows two offline edits from two devices, merged.
 * Every page is screenshotted into docs/dashboard/ (README links them).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { browserUnavailable, launchBrowser, serveDir, stopBrowsers, type TestBrowser } from './harness.js'
import { cleanup, playlist, tempDir } from '../helpers.js'
import { eventually, founder, startHub, stopAll, stopHub, type Running } from '../net-helpers.js'
import { closeDashboards, dashboardServer, type DashboardServer } from '../dashboard-helpers.js'
import { HubClient, type SubscriptionEvent } from '../../src/client/index.js'
import { Ed25519KeyPair } from '../../src/identity/keys.js'
import { HubError } from '../../src/errors.js'
import { Hub } from '../../src/hub.js'
import { joinHub } from '../../src/net/pair.js'
// @ts-expect-error plain JavaScript module without types
import { buildDashboard } from '../../scripts/build-dashboard.mjs'

const CTX = 'https://schema.org'
const SHOTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/dashboard')
const skip = browserUnavailable()
if (skip !== undefined) console.warn(`browser tests skipped: ${skip}`)

describe.skipIf(skip !== undefined)('the owner\'s dashboard in Chromium', () => {
  let a: Running
  let d: DashboardServer
  let browser: TestBrowser
  let page: Page
  let device: Running | undefined
  const clients: HubClient[] = []

  /** Go to a page of the dashboard and wait until it has rendered. */
  const go = async (hash: string): Promise<void> => {
    const before = await page.evaluate(() => document.body.dataset.ready ?? '')
    // The same hash again (a page re-rendered in place): hashchange by hand, as the page's own links do.
    await page.evaluate(h => { if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange')); else location.hash = h }, hash)
    try {
      await page.waitForFunction(b => document.body.dataset.ready !== undefined && document.body.dataset.ready !== b && document.getElementById('main')?.getAttribute('aria-busy') !== 'true', before, { timeout: 15_000 })
    } catch (err) {
      const state = await page.evaluate(() => ({ hash: location.hash, ready: document.body.dataset.ready, main: document.getElementById('main')?.textContent?.slice(0, 300), status: document.getElementById('status')?.textContent }))
      throw new Error(`page ${hash} did not render: ${JSON.stringify(state)} (before: ${before})`, { cause: err })
    }
  }
  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    const assetsDir = mkdtempSync(join(tmpdir(), 'hub-dashboard-'))
    await buildDashboard({ outdir: assetsDir })
    a = await founder()
    d = await dashboardServer(a, { assetsDir })
    browser = await launchBrowser()
    page = await browser.context.newPage()
    await page.setViewportSize({ width: 1200, height: 800 })
  }, 60_000)
  afterAll(async () => {
    await stopBrowsers()
    for (const c of clients.splice(0)) await c.close().catch(() => {})
    await closeDashboards()
    await stopAll()
    await cleanup()
  }, 60_000)

  it('logs in with the one-time link; a wrong or reused link is refused and sets nothing', async () => {
    await a.hub.collections.create(playlist('Road trip', ['Freebird', 'Sweet Home Alabama']))
    await a.hub.collections.create(playlist('Focus', ['Clair de Lune']))
    await a.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'Dear diary' }, { encrypt: true })
    const link = d.link()
    const wrong = await browser.context.newPage()
    const res = await wrong.goto(link.replace(/token=.{4}/, 'token=AAAA'))
    expect(res?.status()).toBe(401)
    expect(await wrong.textContent('h1')).toBe('Login refused')
    expect(await browser.context.cookies(`${d.url}/dashboard/`)).toEqual([])
    await wrong.close()

    await page.goto(link)
    await page.waitForFunction(() => document.body.dataset.page === 'collections' && document.body.dataset.ready !== undefined)
    expect(new URL(page.url()).pathname).toBe('/dashboard/')
    expect(page.url()).not.toContain('token=')
    const [cookie] = await browser.context.cookies(`${d.url}/dashboard/`)
    expect(cookie).toMatchObject({ name: 'hub_dashboard', httpOnly: true, sameSite: 'Strict', path: '/dashboard' })
    expect(await page.textContent('h1')).toBe('Collections')
    expect(await page.textContent('main')).toContain('MusicPlaylist')
    await shot('collections')

    const reused = await browser.context.newPage()
    expect((await reused.goto(link))?.status()).toBe(401)
    await reused.close()
    // The page still works with its session: the reused link did not end it.
    await go('#/collections')
    expect(await page.textContent('h1')).toBe('Collections')
  }, 60_000)

  it('a POST without the CSRF token is refused, and so is one from another origin; nothing is granted', async () => {
    const app = Ed25519KeyPair.generate()
    const body = JSON.stringify({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    const noCsrf = await page.evaluate(async b => {
      const r = await fetch('/dashboard/api/grants', { method: 'POST', headers: { 'content-type': 'application/json' }, body: b })
      return { status: r.status, body: await r.json() as { error: { code: string, details: { reason: string } } } }
    }, body)
    expect(noCsrf.status).toBe(401)
    expect(noCsrf.body.error).toMatchObject({ code: 'authentication_failed', details: { reason: 'bad_csrf' } })

    // Another origin (same host, another port: same-site, so the Strict cookie does go along) tries a simple POST.
    const evilDir = mkdtempSync(join(tmpdir(), 'hub-evil-'))
    writeFileSync(join(evilDir, 'index.html'), '<!doctype html><title>elsewhere</title>')
    const evil = await serveDir(evilDir)
    const other = await browser.context.newPage()
    await other.goto(`${evil.url}/`)
    await other.evaluate(async ([target, b]) => {
      await fetch(target as string, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: b as string }).catch(() => {})
    }, [`${d.url}/dashboard/api/grants`, body])
    await other.close()
    expect(a.hub.permissions.list()).toEqual([])
  }, 30_000)

  it('a grant made in the form lets an app read; revoking it in the page ends the app\'s subscription, and the audit shows the allowed read and the denied one', async () => {
    const app = Ed25519KeyPair.generate()
    await go('#/sharing')
    await page.fill('input[name="grantee"]', app.did)
    await page.selectOption('select[name="collection"]', { label: `MusicPlaylist (${CTX})` })
    expect(await page.isChecked('input[name="allow-R"]')).toBe(true)
    await page.click('form.grant-form button[type="submit"]')
    await page.waitForSelector(`[data-grant]`)
    const [grant] = a.hub.permissions.list()
    expect(grant).toMatchObject({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--', active: true })

    const client = await HubClient.connect({ hub: a.node.multiaddrs()[0] as string, identity: app, owner: a.hub.did })
    clients.push(client)
    const read = await client.collections.query({ context: CTX, type: 'MusicPlaylist' })
    expect(read.objects.map(o => (o.value as { name: string }).name).sort()).toEqual(['Focus', 'Road trip'])
    const events: SubscriptionEvent[] = []
    const sub = await client.collections.subscribe({ context: CTX, type: 'MusicPlaylist' }, e => { events.push(e) })
    expect(sub.initial).toHaveLength(2)
    await go('#/sharing')
    await shot('sharing')

    await page.click(`[data-grant="${grant?.grantId as string}"]`)
    await page.waitForSelector('#revoke-dialog[open]')
    const loses = await page.textContent('#revoke-dialog')
    expect(loses).toContain('read on the collection https://schema.org MusicPlaylist')
    expect(loses).toContain('live subscription')
    await shot('sharing-revoke')
    await page.click('#confirm-revoke')
    expect(await sub.ended).toMatchObject({ code: 'permissions_required' })
    await eventually(() => a.hub.permissions.list()[0]?.revokedAt !== null, 5000, 'the revocation')
    const denied = await client.collections.query({ context: CTX, type: 'MusicPlaylist' }).then(() => undefined, (e: unknown) => e)
    expect((denied as HubError).code).toBe('permissions_required')

    await go(`#/audit?caller=${encodeURIComponent(app.did)}`)
    const rows = async (): Promise<string[]> => await page.$$eval('#audit-list tbody tr', trs => trs.map(tr => tr.textContent ?? ''))
    await eventually(async () => (await rows()).some(r => r.includes('denied')), 5000, 'the denied entry')
    const text = (await rows()).join('\n')
    expect(text).toMatch(/Collections\.query[^\n]*MusicPlaylist[^\n]*allowed/)
    expect(text).toMatch(/Collections\.query[^\n]*denied \(permissions_required\)/)
    const summary = await page.textContent('#summary')
    expect(summary).toMatch(/read MusicPlaylist: 1 allowed, 1 denied this week/)
    expect(summary).toMatch(/subscribe MusicPlaylist: 1 allowed this week/)
    await go('#/audit')
    await shot('audit')
  }, 60_000)

  it('pairs a device from the invite the page shows; its sync state turns green', async () => {
    await go('#/devices')
    await page.click('form button[type="submit"]')
    await page.waitForSelector('#invite-text')
    const invite = await page.inputValue('#invite-text')
    expect(await page.getAttribute('img.qr', 'src')).toMatch(/^data:image\/svg\+xml/)
    const dir = join(await tempDir('dash-dev-'), 'dev')
    await joinHub(dir, invite)
    device = await startHub(dir)
    await page.waitForFunction(() => document.querySelector('#device-list')?.textContent?.includes('caught up') === true, undefined, { timeout: 20_000 })
    expect(await page.textContent('#device-list')).toContain(device.hub.hubDid.slice(0, 16))
    await shot('devices')
  }, 60_000)

  it('an object\'s history shows two offline edits from two devices, merged', async () => {
    if (device === undefined) throw new Error('needs the paired device')
    const { objectId } = await a.hub.collections.create({ '@context': CTX, '@type': 'MusicPlaylist', name: 'Shared mix', numTracks: 0, track: [], mood: 'calm', year: 2025 })
    await eventually(async () => await device!.hub.collections.read(objectId).then(() => true, () => false), 15_000, 'the object on the device')
    // Both go offline from each other: the device stops; each side edits its copy.
    const dir = device.dir
    await stopHub(device)
    await a.hub.collections.change(objectId, doc => { doc.mood = 'upbeat' })
    const offline = await Hub.open(dir)
    await offline.collections.change(objectId, doc => { doc.year = 2026 })
    await offline.close()
    device = await startHub(dir)
    await eventually(async () => (await a.hub.collections.read(objectId)).heads.length === 2, 20_000, 'both edits on the first hub')
    const merged = await a.hub.collections.read(objectId)
    expect(merged.value).toMatchObject({ mood: 'upbeat', year: 2026 })

    await go(`#/object/${objectId}`)
    expect(await page.textContent('.merge-note')).toContain('merged')
    expect(await page.$$eval('.timeline li.concurrent', lis => lis.length)).toBe(2)
    const signers = await page.$$eval('.timeline li code.did', cs => cs.map(c => c.getAttribute('title')))
    expect(new Set(signers)).toEqual(new Set([a.hub.did, device.hub.hubDid]))
    expect(await page.textContent('pre.value')).toContain('"year": 2026')
    await page.click('form.filters button[type="submit"]')
    await page.waitForSelector('#diff table, #diff p')
    await shot('object-history')
  }, 60_000)

  it('pages through 2,000 objects', async () => {
    for (let i = 0; i < 2000; i++) await a.hub.collections.create({ '@context': CTX, '@type': 'Song', name: `Song ${String(i).padStart(4, '0')}` })
    await go(`#/objects?context=${encodeURIComponent(CTX)}&type=Song&sort=created`)
    const names = new Set<string>()
    for (let p = 1; ; p++) {
      expect(await page.textContent('.page-no')).toContain(`Page ${p}`)
      for (const n of await page.$$eval('#objects tbody tr td:first-child a', as => as.map(x => x.textContent ?? ''))) names.add(n.replace(/ \(.*$/, ''))
      if (p === 3) await shot('objects')
      const next = page.locator('button[data-next]')
      if (await next.isDisabled()) break
      const label = await page.textContent('.page-no')
      await next.click()
      await page.waitForFunction(l => document.querySelector('.page-no')?.textContent !== l, label)
    }
    expect(names.size).toBe(2000)
    expect([...names][0]).toBe('Song 0000')
    expect([...names].at(-1)).toBe('Song 1999')
  }, 180_000)

  it('shows the organization, at phone width and in dark mode too', async () => {
    const pDid = `did:web:127.0.0.1%3A${new URL(d.url).port}:org:acme`
    await d.dispatch('participant create', { participantId: 'acme', did: pDid, active: true })
    await d.dispatch('issuance define', { participantId: 'acme', id: 'membership', credentialType: 'MembershipCredential' })
    await go('#/org')
    expect(await page.textContent('main')).toContain('acme')
    expect(await page.textContent('main')).toContain(pDid)
    await shot('organization')

    await page.setViewportSize({ width: 390, height: 844 })
    await go('#/sharing')
    await shot('sharing-phone')
    await page.emulateMedia({ colorScheme: 'dark' })
    await go('#/devices')
    await shot('devices-dark-phone')
    // Keyboard: on a fresh load Tab reaches the skip link first, then the page links, each with a visible focus outline.
    await page.reload()
    await page.waitForFunction(() => document.body.dataset.ready !== undefined)
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content')
    await page.keyboard.press('Tab')
    const focused = await page.evaluate(() => { const el = document.activeElement as HTMLElement; return { text: el.textContent, outline: getComputedStyle(el).outlineStyle } })
    expect(focused.text).toBe('Collections')
    expect(focused.outline).toBe('solid')
    await page.emulateMedia({ colorScheme: 'light' })
    await page.setViewportSize({ width: 1200, height: 800 })
  }, 60_000)
})
