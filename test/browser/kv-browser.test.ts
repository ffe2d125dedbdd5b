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

describe.skipIf(skip !== undefined)('BrowserKv packed index records in Chromium', () => {
  type Api = Record<string, (...a: unknown[]) => Promise<unknown>>
  const call = async <T>(tab: { evaluate: (f: (x: readonly [string, unknown[]]) => Promise<unknown>, a: readonly [string, unknown[]]) => Promise<unknown> }, fn: string, ...args: unknown[]): Promise<T> =>
    await tab.evaluate(async ([f, a]) => await ((window as unknown as { __packed: Api }).__packed[f] as (...x: unknown[]) => Promise<unknown>)(...a), [fn, args] as const) as T
  const open = async (): Promise<Parameters<typeof call>[0]> => {
    const page = await buildTestPage('test/browser/pages/hub-kv-packed.ts')
    const browser = await launchBrowser()
    return await browser.open(`${page.url}/`)
  }

  it('reads and writes exactly like a sorted map: random batches over plain and index keys, ranges, reverse, limit, get, getMany, with getAllRecords and with cursors', { timeout: 120_000 }, async () => {
    const tab = await open()
    for (const cursorReads of [false, true]) {
      for (const seed of [1, 2]) {
        const r = await call<{ rounds: number, keys: number, packedRecords: number, error?: string }>(tab, 'differential', seed, 60, cursorReads)
        expect(r.error, `seed ${seed}, cursorReads ${String(cursorReads)}`).toBeUndefined()
        expect(r.rounds).toBe(60)
        // The run did exercise both object stores.
        expect(r.keys).toBeGreaterThan(20)
        expect(r.packedRecords).toBeGreaterThan(3)
      }
    }
  })

  it('applies batches placed at once on one object\'s index keys in call order', async () => {
    const tab = await open()
    const r = await call<{ got: unknown, want: unknown }>(tab, 'sameObject')
    expect(r.got).toEqual(r.want)
  })

  it('keeps a range read over index keys a snapshot', async () => {
    const tab = await open()
    expect(await call(tab, 'packedSnapshot')).toEqual({ seen: 300, sawNew: false, stored: true })
  })

  it('migrates a store written by the previous version on open: the same contents and ranges, index keys packed once, still writable', async () => {
    const tab = await open()
    const r = await call<{ before: unknown[], after: unknown[], model: unknown[], ranges: string | undefined, raw: { version: number, plain: number, plainPacked: number, packed: number }, written: boolean }>(tab, 'migrateKv')
    expect(r.before).toEqual(r.model)
    expect(r.after).toEqual(r.before)
    expect(r.ranges).toBeUndefined()
    expect(r.written).toBe(true)
    expect(r.raw.version).toBe(2)
    expect(r.raw.plainPacked).toBe(0)
    expect(r.raw.packed).toBeGreaterThan(3)
  })

  it('migrates a real hub written by the previous version: the same objects and query answers, and it keeps working', { timeout: 60_000 }, async () => {
    const tab = await open()
    const r = await call<{ before: { all: unknown[], ranged: unknown[], named: unknown[], recordings: unknown[] }, after: unknown, more: number, packed: number, plainIndexKeys: number, keys: number, unreadable: number }>(tab, 'migrateHub')
    expect(r.before.all.length).toBe(11)
    expect(r.before.named.length).toBe(1)
    expect(r.before.recordings.length).toBe(1)
    expect(r.after).toEqual(r.before)
    expect(r.more).toBe(2)
    expect(r.plainIndexKeys).toBe(0)
    expect(r.packed).toBeGreaterThanOrEqual(13)
    expect(r.keys).toBeGreaterThan(100)
    expect(r.unreadable).toBe(0)
  })

  it('refuses a damaged index record with a typed error, and a batch touching it writes nothing', async () => {
    const tab = await open()
    for (const cursorReads of [false, true]) {
      expect(await call(tab, 'corruptRecord', cursorReads)).toEqual({
        get: ['unavailable', 'store_corrupt'],
        range: ['unavailable', 'store_corrupt'],
        batch: ['unavailable', 'store_corrupt'],
        plainUntouched: true,
        otherObject: true
      })
    }
  })

  it('refuses to upgrade while a tab of the previous version holds the store, and upgrades once it is gone', async () => {
    const tab = await open()
    expect(await call(tab, 'upgradeBlocked')).toEqual({ code: 'unavailable', reason: 'store_upgrade_blocked', thenOpens: true })
  })
})
