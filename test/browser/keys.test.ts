/**
 * BrowserKeyStore in Chromium: app keys persist in IndexedDB across a page
 * reload, the record holds only a non-extractable AES key and the sealed
 * seed, two racing getOrCreate calls make one key, export/import round-trips,
 * and every bad backup or label is refused with a typed error and a
 * `details.reason`, storing nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { browserUnavailable, buildTestPage, launchBrowser, stopBrowsers, type TestBrowser, type TestPage } from './harness.js'

const skip = browserUnavailable()
if (skip !== undefined) console.warn(`browser tests skipped: ${skip}`)

type R = Record<string, unknown> & { error?: { name: string, code?: string, reason?: string, message: string } }

async function run (page: Page, step: string, ...args: unknown[]): Promise<R> {
  return await page.evaluate(async ([s, a]) => {
    const keys = (window as unknown as { __keys: Record<string, (...x: unknown[]) => Promise<unknown>> }).__keys
    return await keys[s as string]!(...(a as unknown[]))
  }, [step, args] as const) as R
}

describe.skipIf(skip !== undefined)('BrowserKeyStore in Chromium', () => {
  let page: TestPage
  let browser: TestBrowser
  let tab: Page

  beforeAll(async () => {
    page = await buildTestPage('test/browser/pages/keys.ts')
    browser = await launchBrowser()
    tab = await browser.open(`${page.url}/`)
  }, 60_000)
  afterAll(stopBrowsers)

  it('keeps a key across a page reload; the stored record is a non-extractable AES key and a sealed seed', async () => {
    const first = await run(tab, 'getOrCreate', 'app')
    expect(first).toMatchObject({ same: true, signs: true })
    expect(first.did).toMatch(/^did:key:z6Mk/)

    await tab.reload()
    await tab.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true)
    expect(await run(tab, 'load', 'app')).toEqual({ did: first.did })
    expect((await run(tab, 'getOrCreate', 'app')).did).toBe(first.did)

    const { records } = await run(tab, 'raw') as { records: Array<Record<string, unknown>> }
    const rec = records.find(r => r.label === 'app')
    // 32-byte seed + 16-byte GCM tag; no seed, JWK or private field beside it.
    expect(rec).toEqual({ label: 'app', extractable: false, usages: ['encrypt', 'decrypt'], exportAttempt: 'InvalidAccessError', sealedBytes: 48, fields: ['createdAt', 'did', 'iv', 'label', 'sealed', 'wrap'] })
  })

  it('two getOrCreate at once make one key', async () => {
    expect(await run(tab, 'race', 'raced')).toEqual({ same: true, stored: 1 })
  })

  it('export/import round trip: the imported key is the same DID and signs', async () => {
    const r = await run(tab, 'exportImport', 'app', 'app-restored')
    expect(r).toMatchObject({ sameDid: true, reloaded: true, signs: true })
    expect(r.backup).toMatchObject({ kty: 'OKP', crv: 'Ed25519' })
    // Importing over a taken label is refused and keeps the old key.
    const again = await run(tab, 'import', 'app-restored', r.backup)
    expect(again.error).toMatchObject({ code: 'already_exists', name: 'AlreadyExistsError' })
  })

  it('refuses bad backups with bad_request and a reason, storing nothing', async () => {
    const good = (await run(tab, 'exportImport', 'app', 'app-copy')).backup as { x: string, d: string }
    const other = (await run(tab, 'exportImport', 'raced', 'raced-copy')).backup as { x: string }
    const cases: Array<[unknown, string]> = [
      [null, 'not_a_jwk'],
      ['{"kty":"OKP"}', 'not_a_jwk'],
      [{ kty: 'EC', crv: 'P-256', d: good.d }, 'wrong_key_type'],
      [{ kty: 'OKP', crv: 'X25519', d: good.d }, 'wrong_key_type'],
      [{ kty: 'OKP', crv: 'Ed25519', x: good.x }, 'missing_private_key'],
      [{ kty: 'OKP', crv: 'Ed25519', d: 'not base64url!' }, 'bad_private_key'],
      [{ kty: 'OKP', crv: 'Ed25519', d: good.d.slice(0, 20) }, 'bad_private_key'],
      [{ kty: 'OKP', crv: 'Ed25519', d: good.d + 'AAAA' }, 'bad_private_key'],
      [{ kty: 'OKP', crv: 'Ed25519', x: other.x, d: good.d }, 'key_mismatch']
    ]
    for (const [backup, reason] of cases) {
      const r = await run(tab, 'import', 'hostile', backup)
      expect(r.error, JSON.stringify(backup)).toMatchObject({ code: 'bad_request', reason })
    }
    expect((await run(tab, 'load', 'hostile')).error).toMatchObject({ code: 'not_found', name: 'NotFoundError' })
  })

  it('bad labels are bad_request; a missing key is not_found; delete forgets it', async () => {
    for (const label of ['', 'x'.repeat(201), 42]) {
      expect((await run(tab, 'create', label)).error).toMatchObject({ code: 'bad_request', reason: 'bad_label' })
    }
    expect((await run(tab, 'load', 'nobody')).error?.code).toBe('not_found')
    expect((await run(tab, 'delete', 'nobody')).error?.code).toBe('not_found')
    expect(await run(tab, 'delete', 'app-copy')).toEqual({ deleted: true })
    expect((await run(tab, 'load', 'app-copy')).error?.code).toBe('not_found')
    const { keys } = await run(tab, 'list') as { keys: Array<{ label: string }> }
    expect(keys.map(k => k.label).sort()).toEqual(['app', 'app-restored', 'raced', 'raced-copy'])
    for (const k of keys as Array<Record<string, unknown>>) expect(Object.keys(k).sort()).toEqual(['createdAt', 'did', 'label'])
  })
})
