/**
 * The sync path the browser bench times (bench/browser.ts), checked for
 * what it must deliver rather than how fast: a tab pulling a feed of
 * several pages from a Node hub (each page checked while the one before
 * it is written, the watermark written with its page) ends with every
 * object and the Node hub's head as its watermark; and the Node hub pulls
 * the tab's feed back (served with one IndexedDB read per page) to the
 * tab's head.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, playlist } from '../helpers.js'
import { eventually, founder, stopAll } from '../net-helpers.js'
import { browserUnavailable, buildTestPage, launchBrowser, stopBrowsers } from './harness.js'

afterEach(async () => { await stopBrowsers(); await stopAll(); await cleanup() })

const skip = browserUnavailable()
if (skip !== undefined) console.warn(`browser tests skipped: ${skip}`)

/** More than one sync page (BATCH_COMMITS = 500), so the pipelined pull runs across pages. */
const N = 510

describe.skipIf(skip !== undefined)('cold sync into a tab', () => {
  it('pulls a feed of several pages completely, and the Node hub pulls the tab\'s feed back to its head', { timeout: 120_000 }, async () => {
    const a = await founder({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    const ids: string[] = []
    for (let i = 0; i < N; i++) ids.push((await a.hub.collections.create(playlist(`p${i}`))).objectId)
    const head = a.hub.store.durableSeq
    const page = await buildTestPage('test/browser/pages/hub-bench.ts')
    const browser = await launchBrowser()
    const tab = await browser.open(`${page.url}/`)
    await tab.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true)
    const bench = async <T>(fn: string, ...args: unknown[]): Promise<T> => await tab.evaluate(async ([f, x]) =>
      await (window as unknown as { __bench: Record<string, (...y: unknown[]) => Promise<unknown>> }).__bench[f as string]?.(...(x as unknown[])), [fn, args] as const) as T
    const { invite } = await a.node.createInvite()
    // Resolves once the tab's watermark for the Node hub reaches its head.
    await bench('coldSync', 'cold', invite, head)
    const held = await bench<{ hubDid: string, seq: number, names: Array<string | undefined> }>('holding', ids)
    expect(held.names).toEqual(ids.map((_, i) => `p${i}`))
    // Every commit pulled is in the tab's own feed (plus its pairing writes).
    expect(held.seq).toBeGreaterThanOrEqual(N)
    // The Node hub pulls the tab's feed (an echo of its own commits) to the tab's head.
    await eventually(async () => await a.hub.store.getWatermark(held.hubDid) >= held.seq, 60_000, 'the Node hub pulled the tab\'s feed')
  })
})
