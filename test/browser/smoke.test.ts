/**
 * The browser build works in a real Chromium: the SDK bundle (esbuild, the
 * `browser` conditions) loads, Automerge's wasm instantiates from the file
 * beside the bundle, and a key pair signs — no Node in the page.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { browserUnavailable, buildTestPage, launchBrowser, stopBrowsers } from './harness.js'

afterEach(stopBrowsers)

const skip = browserUnavailable()
if (skip !== undefined) console.warn(`browser tests skipped: ${skip}`)

describe.skipIf(skip !== undefined)('browser build smoke test', () => {
  it('loads the SDK and Automerge in Chromium and makes a did:key identity there', async () => {
    const page = await buildTestPage('test/browser/pages/smoke.ts')
    const browser = await launchBrowser()
    const tab = await browser.open(`${page.url}/`)
    const result = await tab.evaluate(() => (window as unknown as { __result: { did: string, n: number, bytes: number } }).__result)
    expect(result.did).toMatch(/^did:key:z6Mk/)
    expect(result.n).toBe(1)
    expect(result.bytes).toBeGreaterThan(0)
  })
})
