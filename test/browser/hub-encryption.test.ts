/**
 * Edge encryption from a browser tab: a hub in a tab (an owner device)
 * writes an encrypted collection; a blind Node hub stores and forwards it
 * without being able to read it (nothing it stores names the value or the
 * type); another owner device, a Node hub that only ever reaches the blind
 * one, reads the plaintext.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, playlist } from '../helpers.js'
import { device, eventually, founder, startHub, stopAll, stopHub } from '../net-helpers.js'
import { browserUnavailable, buildTestPage, launchBrowser, stopBrowsers } from './harness.js'

afterEach(async () => { await stopBrowsers(); await stopAll(); await cleanup() })

const skip = browserUnavailable()
if (skip !== undefined) console.warn(`browser tests skipped: ${skip}`)

const WS_AND_TCP = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
const MARK = 'tab-secret-7f3a'

async function call<T> (tab: Page, fn: string, ...args: unknown[]): Promise<T> {
  const r = await tab.evaluate(async ([f, a]) => {
    const api = (window as unknown as { __hub: Record<string, (...x: unknown[]) => unknown> }).__hub
    return await api[f as string]?.(...(a as unknown[]))
  }, [fn, args] as const) as { ok: T } | { error: unknown }
  if ('error' in r) throw new Error(`${fn} failed in the page: ${JSON.stringify(r.error)}`)
  return r.ok
}

async function filesUnder (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await filesUnder(p))
    else out.push(p)
  }
  return out
}

describe.skipIf(skip !== undefined)('an encrypted collection written in a tab', () => {
  it('is ciphertext on a blind Node hub, which forwards it to another owner device that reads it', { timeout: 120_000 }, async () => {
    const a = await founder({ listen: WS_AND_TCP })
    const sent: string[] = []
    const c = await device(a, { role: 'blind', onServedBatch: (_p, json) => { sent.push(json) } })
    const b = await device(a)
    const bDir = b.dir
    await stopHub(b) // B meets only C from here on

    const page = await buildTestPage('test/browser/pages/hub-tab.ts')
    const browser = await launchBrowser()
    const tab = await browser.open(`${page.url}/`)
    const { invite } = await a.node.createInvite()
    await call(tab, 'open', 'phone', invite)

    // The tab makes the collection encrypted with its first write.
    const objectId = await call<string>(tab, 'create', { ...playlist(`${MARK} road trip`), note: `${MARK} private` }, true)
    expect(await call(tab, 'read', objectId)).toMatchObject({ note: `${MARK} private` })
    // Tab → A (owner device) → C (blind).
    await eventually(async () => (await c.hub.store.getMeta(objectId as never)) !== undefined, 30_000, 'the blind hub to hold the tab\'s object')
    expect((await a.hub.collections.read(objectId)).value).toMatchObject({ note: `${MARK} private` })
    const onC = await c.hub.store.getMeta(objectId as never)
    expect(onC?.value).toBeUndefined()
    expect(onC?.type).toBeUndefined()
    expect(onC?.tag).toMatch(/^[A-Za-z0-9_-]{43}$/)
    await expect(c.hub.collections.read(objectId)).resolves.toMatchObject({ value: null })

    // B, another owner device, gets it from C alone and reads the plaintext.
    await stopHub(a)
    const b2 = await startHub(bDir, { bootstrap: c.node.multiaddrs() })
    await eventually(async () => (await b2.hub.store.getMeta(objectId as never))?.value !== undefined, 30_000, 'B to receive and open the object through C')
    expect((await b2.hub.collections.read(objectId)).value).toMatchObject({ name: `${MARK} road trip`, note: `${MARK} private` })

    // Nothing C stored or served names the value or the type.
    await c.hub.store.idle()
    for (const file of await filesUnder(c.dir)) {
      const bytes = (await readFile(file)).toString('latin1')
      expect(bytes.includes(MARK), file).toBe(false)
      expect(bytes.includes('MusicPlaylist'), file).toBe(false)
    }
    expect(sent.length).toBeGreaterThan(0)
    for (const json of sent) expect(json.includes(MARK) || json.includes('MusicPlaylist')).toBe(false)
  })
})
