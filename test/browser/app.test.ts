/**
 * A web app in Chromium uses an owner's Node hub over libp2p WebSockets
 * through the SDK bundle: its key lives in IndexedDB (BrowserKeyStore), a
 * `-R--` grant on playlists lets it read and subscribe, the diary is
 * refused with `permissions_required`, a change made on the Node side
 * arrives live, and the subscription ends with `permissions_required` when
 * the owner revokes the grant. With a `CRU-` grant its writes land on the
 * Node hub as commits signed by the app's key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { browserUnavailable, buildTestPage, launchBrowser, stopBrowsers, type TestBrowser, type TestPage } from './harness.js'
import { cleanup, playlist } from '../helpers.js'
import { eventually, founder, stopAll, type Running } from '../net-helpers.js'
import { parseCommit } from '../../src/commits/commit.js'

const CTX = 'https://schema.org'
const skip = browserUnavailable()
if (skip !== undefined) console.warn(`browser tests skipped: ${skip}`)

type Outcome<T> = { ok: T, error?: undefined } | { ok?: undefined, error: { name: string, code: string | undefined, message: string } }
interface Api {
  identity: (label: string) => Promise<Outcome<{ did: string, created: boolean }>>
  connect: (hub: string, owner: string, label: string) => Promise<Outcome<{ did: string, hubPeerId: string }>>
  query: (context: string, type: string) => Promise<Outcome<Array<{ objectId: string, value: { name?: string } }>>>
  read: (objectId: string) => Promise<Outcome<{ name?: string }>>
  write: (value: Record<string, unknown>) => Promise<Outcome<{ objectId: string, commitId: string }>>
  change: (objectId: string, name: string) => Promise<Outcome<{ changed: boolean }>>
  subscribe: (context: string, type: string) => Promise<Outcome<string[]>>
  events: () => Array<{ kind: string, objectId: string, name: unknown }>
  ended: () => { code?: string, message?: string } | undefined
  close: () => Promise<Outcome<undefined>>
}

/** Call `window.__api[name](...args)` in the page. */
async function call<K extends keyof Api> (page: Page, name: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<Api[K]>>> {
  return await page.evaluate(async ([n, a]) => {
    const api = (window as unknown as { __api: Record<string, (...x: unknown[]) => unknown> }).__api
    return await api[n as string]!(...(a as unknown[]))
  }, [name, args] as const) as Awaited<ReturnType<Api[K]>>
}

function ok<T> (o: Outcome<T>): T {
  if (o.error !== undefined) throw new Error(`page call failed: ${o.error.name} ${o.error.code ?? ''} ${o.error.message}`)
  return o.ok
}

/** The hub's libp2p WebSockets address (`…/ws/p2p/<id>`). */
export function wsAddr (r: Running): string {
  const a = r.node.multiaddrs().find(m => m.includes('/ws/'))
  if (a === undefined) throw new Error(`the hub does not listen on WebSockets: ${r.node.multiaddrs().join(' ')}`)
  return a
}

const WS_LISTEN = ['/ip4/127.0.0.1/tcp/0/ws']

describe.skipIf(skip !== undefined)('a web app in Chromium against a Node hub over WebSockets', () => {
  let page: TestPage
  let browser: TestBrowser

  beforeAll(async () => {
    page = await buildTestPage('test/browser/pages/app.ts')
    browser = await launchBrowser()
  }, 60_000)
  afterAll(async () => {
    await stopAll()
    await stopBrowsers()
    await cleanup()
  })

  it('reads with -R--, is refused the diary, sees a live change, and its subscription ends on revocation', async () => {
    const a = await founder({ listen: WS_LISTEN })
    const mine = await a.hub.collections.create(playlist('Road trip', ['Freebird']))
    const diary = await a.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'Dear diary' })

    const tab = await browser.open(`${page.url}/`)
    const { did } = ok(await call(tab, 'identity', 'reader'))
    expect(did).toMatch(/^did:key:z6Mk/)
    const { grantId } = await a.hub.permissions.grant({ grantee: did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })

    const conn = ok(await call(tab, 'connect', wsAddr(a), a.hub.did, 'reader'))
    expect(conn.did).toBe(did)
    expect(conn.hubPeerId).toBe(a.hub.peerId)

    const list = ok(await call(tab, 'query', CTX, 'MusicPlaylist'))
    expect(list.map(o => o.objectId)).toEqual([mine.objectId])
    expect(ok(await call(tab, 'read', mine.objectId)).name).toBe('Road trip')

    // The diary: no grant. The collection is refused with the typed code; a
    // diary object by id is not_found, as for a missing one (no existence oracle).
    const q = await call(tab, 'query', CTX, 'Diary')
    expect(q.error?.code).toBe('permissions_required')
    expect(q.error?.name).toBe('PermissionsRequiredError')
    expect((await call(tab, 'read', diary.objectId)).error?.code).toBe('not_found')
    // -R-- does not write.
    expect((await call(tab, 'write', playlist('Mine'))).error?.code).toBe('permissions_required')

    expect(ok(await call(tab, 'subscribe', CTX, 'MusicPlaylist'))).toEqual([mine.objectId])
    await a.hub.collections.update(mine.objectId, playlist('Road trip (live)', ['Freebird']))
    await tab.waitForFunction(() => (window as unknown as { __api: Api }).__api.events().some(e => e.name === 'Road trip (live)'))

    await a.hub.permissions.revoke(grantId)
    await tab.waitForFunction(() => (window as unknown as { __api: Api }).__api.ended() !== undefined)
    expect(await call(tab, 'ended')).toMatchObject({ code: 'permissions_required' })
    expect((await call(tab, 'query', CTX, 'MusicPlaylist')).error?.code).toBe('permissions_required')
    ok(await call(tab, 'close'))
    await tab.close()
  })

  it('writes and changes with CRU-: the commits land on the Node hub signed by the app key', async () => {
    const a = await founder({ listen: WS_LISTEN })
    const tab = await browser.open(`${page.url}/`)
    const { did } = ok(await call(tab, 'identity', 'writer'))
    await a.hub.permissions.grant({ grantee: did, context: CTX, type: 'MusicPlaylist', allow: 'CRU-' })
    ok(await call(tab, 'connect', wsAddr(a), a.hub.did, 'writer'))

    const w = ok(await call(tab, 'write', playlist('From the browser', ['Tuesday\'s Gone'])))
    ok(await call(tab, 'change', w.objectId, 'Renamed in the browser'))
    await eventually(async () => (await a.hub.collections.read(w.objectId)).value !== null &&
      ((await a.hub.collections.read(w.objectId)).value as { name?: string }).name === 'Renamed in the browser', 10_000, 'the change on the Node hub')
    // history() verifies every signature; each commit is the app's, not the hub's.
    const { commits } = await a.hub.collections.history(w.objectId)
    expect(commits.map(c => [c.operation, c.signer])).toEqual([['create', did], ['update', did]])
    for (const c of commits) expect(parseCommit(c.envelope).signer).toBe(did)
    ok(await call(tab, 'close'))
    await tab.close()
  })

  it('seals and opens an encrypted collection in the page: the hub stores only ciphertext, the owner reads it', async () => {
    const a = await founder({ listen: WS_LISTEN })
    const secret = await a.hub.collections.create({ ...playlist('Owner secret'), note: 'sealed by the owner' }, { encrypt: true })
    const tab = await browser.open(`${page.url}/`)
    const { did } = ok(await call(tab, 'identity', 'sealer'))
    await a.hub.permissions.grant({ grantee: did, context: CTX, type: 'MusicPlaylist', allow: 'CRU-' })
    ok(await call(tab, 'connect', wsAddr(a), a.hub.did, 'sealer'))

    // The page opens the owner's sealed commit with the collection key it unwraps itself.
    expect(ok(await call(tab, 'read', secret.objectId)).name).toBe('Owner secret')
    const w = ok(await call(tab, 'write', { ...playlist('Sealed in the browser'), note: 'browser secret' }))
    const env = JSON.parse(await a.hub.store.getEnvelope(w.commitId) as string) as { protected: string, payload: string }
    const header = JSON.parse(Buffer.from(env.protected, 'base64url').toString()) as Record<string, unknown>
    expect(header.enc).toBeDefined()
    expect(header.type).toBeUndefined() // the collection is not named in clear
    expect(JSON.stringify(env)).not.toContain('browser secret')
    expect(((await a.hub.collections.read(w.objectId)).value as { note?: string }).note).toBe('browser secret')
    ok(await call(tab, 'close'))
    await tab.close()
  })
})
