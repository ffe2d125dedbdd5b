/**
 * A hub in a Chromium tab (src/browser/index.ts) as one of the owner's
 * devices: paired with an invite from a Node hub, syncing over WebSockets
 * (the tab dials out), writing while the network is cut, merging when it
 * is back, and reopening after a reload with its data and its sync intact.
 */
import type { Page } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, playlist } from '../helpers.js'
import { startHubNode } from '../../src/compose.js'
import { eventually, founder, stopAll, type Running } from '../net-helpers.js'
import { browserUnavailable, buildTestPage, launchBrowser, stopBrowsers } from './harness.js'

afterEach(async () => { await stopBrowsers(); await stopAll(); await cleanup() })

const skip = browserUnavailable()
if (skip !== undefined) console.warn(`browser tests skipped: ${skip}`)

/** The Node hub listens on loopback WebSockets (what a tab can dial) and TCP. */
const WS_AND_TCP = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']

type Outcome<T> = { ok: T } | { error: { code?: string, reason?: unknown, message: string } }

/** Call `window.__hub[fn](...args)` in the page; throw on an error outcome. */
async function call<T> (tab: Page, fn: string, ...args: unknown[]): Promise<T> {
  const r = await tryCall<T>(tab, fn, ...args)
  if ('error' in r) throw new Error(`${fn} failed in the page: ${JSON.stringify(r.error)}`)
  return r.ok
}

async function tryCall<T> (tab: Page, fn: string, ...args: unknown[]): Promise<Outcome<T>> {
  return await tab.evaluate(async ([f, a]) => {
    const api = (window as unknown as { __hub: Record<string, (...x: unknown[]) => unknown> }).__hub
    const r = await api[f as string]?.(...(a as unknown[]))
    return (r !== null && typeof r === 'object' && ('ok' in r || 'error' in r)) ? r : { ok: r }
  }, [fn, args] as const) as Outcome<T>
}

/** The concrete listen addresses of a running node (to restart it on the same ports). */
function listenAddrs (r: Running): string[] {
  return r.node.multiaddrs().map(a => a.replace(/\/p2p\/[^/]+$/, ''))
}

describe.skipIf(skip !== undefined)('a hub in a browser tab', () => {
  it('pairs as an owner device, writes offline, merges when back, and after a reload keeps its data and syncs on', { timeout: 120_000 }, async () => {
    let a = await founder({ listen: WS_AND_TCP })
    const page = await buildTestPage('test/browser/pages/hub-tab.ts')
    const browser = await launchBrowser()
    let tab = await browser.open(`${page.url}/`)

    // Pairing: an invite from the Node hub, accepted in the page.
    const { invite } = await a.node.createInvite()
    const joined = await call<{ did: string, hubDid: string, role: string }>(tab, 'open', 'phone', invite)
    expect(joined.did).toBe(a.hub.did)
    expect(joined.role).toBe('owner-device')
    expect(a.hub.devices.isAuthorized(joined.hubDid as never)).toBeDefined()
    // The same invite cannot pair a second tab hub: it was spent.
    const again = await tryCall(tab, 'open', 'second', invite)
    expect(again).toMatchObject({ error: { code: 'authentication_failed' } })

    // Node → tab.
    const { objectId } = await a.hub.collections.create(playlist('road trip'))
    await eventually(async () => 'ok' in await tryCall(tab, 'read', objectId), 20_000, 'the tab to pull the playlist')
    // Tab → Node.
    const fromTab = await call<string>(tab, 'create', playlist('from the tab'))
    await eventually(async () => await a.hub.collections.read(fromTab).then(() => true, () => false), 20_000, 'the Node hub to pull the tab\'s playlist')

    // Cut the network: the Node hub's libp2p node stops (its listeners close, every connection drops).
    const addrs = listenAddrs(a)
    await a.node.stop()
    await eventually(async () => (await call<string[]>(tab, 'connected')).length === 0, 20_000, 'the tab to see the connection drop')
    // Concurrent edits to one object on both sides while apart.
    await call(tab, 'set', objectId, 'tabNote', 'written offline in the tab')
    const offlineInTab = await call<string>(tab, 'create', playlist('made offline'))
    await a.hub.collections.change(objectId, d => { d.nodeNote = 'written on the Node hub meanwhile' })

    // Back on the same addresses: the tab reconnects by itself (backoff) and both sides converge.
    const hub = a.hub
    a = { hub, node: await startHubNode(hub, { listen: addrs, discoveryIntervalMs: 0 }), dir: a.dir }
    const merged = async (): Promise<boolean> => {
      const onNode = (await hub.collections.read(objectId)).value as Record<string, unknown>
      const inTab = await tryCall<Record<string, unknown>>(tab, 'read', objectId)
      return onNode.tabNote === 'written offline in the tab' && onNode.nodeNote === 'written on the Node hub meanwhile' &&
        'ok' in inTab && inTab.ok.tabNote === onNode.tabNote && inTab.ok.nodeNote === onNode.nodeNote &&
        await hub.collections.read(offlineInTab).then(() => true, () => false)
    }
    await eventually(merged, 30_000, 'both sides to merge the concurrent edits')

    // Reload: the same hub reopens from IndexedDB, with its data, and syncs on.
    await tab.reload()
    await tab.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true)
    const reopened = await call<{ did: string, hubDid: string }>(tab, 'open', 'phone')
    expect(reopened).toMatchObject({ did: joined.did, hubDid: joined.hubDid })
    expect(await call(tab, 'read', objectId)).toMatchObject({ tabNote: 'written offline in the tab', nodeNote: 'written on the Node hub meanwhile' })
    const later = await hub.collections.create(playlist('after the reload'))
    await eventually(async () => 'ok' in await tryCall(tab, 'read', later.objectId), 20_000, 'the reopened tab to pull a new playlist')
    tab = await browser.open(`${page.url}/`)
    // A second tab of the same origin cannot open the hub the first one holds.
    expect(await tryCall(tab, 'open', 'phone')).toMatchObject({ error: { code: 'unavailable', reason: 'store_locked' } })
    await a.node.stop()
    await hub.close()
  })

  it('refuses to open a hub that was never paired, and a malformed invite, changing nothing', async () => {
    const page = await buildTestPage('test/browser/pages/hub-tab.ts')
    const browser = await launchBrowser()
    const tab = await browser.open(`${page.url}/`)
    expect(await tryCall(tab, 'open', 'nothing-here')).toMatchObject({ error: { code: 'not_found', reason: 'no_hub' } })
    expect(await tryCall(tab, 'open', 'x', 'ihub1_garbage')).toMatchObject({ error: { code: 'bad_request' } })
    expect(await tryCall(tab, 'open', '../evil', 'ihub1_garbage')).toMatchObject({ error: { code: 'bad_request', reason: 'bad_hub_name' } })
    // Nothing was created by the refusals.
    expect(await tryCall(tab, 'open', 'x')).toMatchObject({ error: { code: 'not_found' } })
  })
})

