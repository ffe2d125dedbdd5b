/**
 * Test page: a hub in this tab (src/browser/index.ts). The test drives it
 * through `window.__hub`; every call returns plain JSON, errors as
 * `{ error: { code, message } }`.
 */
import { HubError, openBrowserHub, type BrowserHub } from '../../../src/browser/index.js'

type Outcome<T> = { ok: T } | { error: { name: string, code: string | undefined, reason: unknown, message: string } }

async function outcome<T> (fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: await fn() }
  } catch (err) {
    const e = err as Error
    return { error: { name: e.name, code: err instanceof HubError ? err.code : undefined, reason: err instanceof HubError ? err.details?.reason : undefined, message: e.message } }
  }
}

let hub: BrowserHub | undefined
const open = (): BrowserHub => {
  if (hub === undefined) throw new Error('no hub open')
  return hub
}

const api = {
  open: async (name: string, invite?: string) => await outcome(async () => {
    hub = await openBrowserHub({ name, ...(invite !== undefined ? { invite, deviceName: 'a browser tab' } : {}) })
    return { did: hub.did, hubDid: hub.hubDid, peerId: hub.peerId, role: hub.hub.config.role }
  }),
  create: async (value: Record<string, unknown>, encrypt = false) => await outcome(async () => (await open().collections.create(value, { encrypt })).objectId),
  set: async (objectId: string, field: string, value: unknown) => await outcome(async () => (await open().collections.change(objectId, d => { d[field] = value })).changed),
  read: async (objectId: string) => await outcome(async () => (await open().collections.read(objectId)).value),
  query: async (context: string, type: string) => await outcome(async () => (await open().collections.query({ context, type })).objects.map(o => o.objectId)),
  connected: () => open().syncStatus().filter(s => s.connected).map(s => s.hubDid),
  online: async () => await outcome(async () => { await open().goOnline() }),
  offline: async () => await outcome(async () => { await open().goOffline() }),
  close: async () => await outcome(async () => { await hub?.close(); hub = undefined })
}

const w = window as unknown as Record<string, unknown>
w.__hub = api
w.__ready = true
