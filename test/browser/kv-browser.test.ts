/**
 * The KvStore conformance suite inside Chromium, against the IndexedDB
 * store (src/store/browser-kv.ts): the same cases Node's stores pass
 * (src/store/kv.test.ts), each reported by name.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { KV_CONFORMANCE_CASES } from '../../src/store/kv-conformance-cases.js'
import { browserUnavailable, buildTestPage, launchBrowser, stopBrowsers } from './harness.js'

afterEach(stopBrowsers)

const skip = browserUnavailable()
if (skip !== undefined) console.warn(`browser tests skipped: ${skip}`)

describe.skipIf(skip !== undefined)('BrowserKv in Chromium', () => {
  it('passes every KvStore conformance case inside the page', async () => {
    const page = await buildTestPage('test/browser/pages/hub-kv.ts')
    const browser = await launchBrowser()
    const tab = await browser.open(`${page.url}/`)
    const results = await tab.evaluate(async () => await (window as unknown as { __runKv: () => Promise<Array<{ name: string, ok: boolean, error?: string }>> }).__runKv())
    // Every case ran, by name, and none failed (a failure's message names the case).
    expect(results.map(r => r.name)).toEqual(KV_CONFORMANCE_CASES.map(c => c.name))
    for (const r of results) expect(r, `${r.name}: ${r.error ?? ''}`).toEqual({ name: r.name, ok: true })
    // The snapshot case can fail: browser-level read chunk by chunk (its usual iterator) does.
    const chunked = await tab.evaluate(async () => await (window as unknown as { __chunkedSnapshotCase: () => Promise<{ ok: boolean, error?: string }> }).__chunkedSnapshotCase())
    expect(chunked.ok).toBe(false)
  })

  it('refuses a second open of a hub store (another tab) with unavailable, and the first keeps working', async () => {
    const page = await buildTestPage('test/browser/pages/hub-kv.ts')
    const browser = await launchBrowser()
    const tab = await browser.open(`${page.url}/`)
    const r = await tab.evaluate(async () => await (window as unknown as { __lockCheck: () => Promise<unknown> }).__lockCheck())
    expect(r).toEqual({ code: 'unavailable', reason: 'store_locked', firstStillWorks: true, reopened: true })
  })
})
