/**
 * Test page: a web app using the SDK bundle (`src/client`, browser
 * conditions). The test drives it through `window.__api`; every call
 * returns plain JSON (errors as `{ error: { name, code, message } }`) so the
 * page, not Node, decides what a refusal looks like.
 */
import { BrowserKeyStore, HubClient, HubError, type Subscription, type SubscriptionEnd, type SubscriptionEvent } from '../../../src/client/index.js'

type Outcome<T> = { ok: T } | { error: { name: string, code: string | undefined, message: string } }

async function outcome<T> (fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: await fn() }
  } catch (err) {
    const e = err as Error
    return { error: { name: e.name, code: err instanceof HubError ? err.code : undefined, message: e.message } }
  }
}

let client: HubClient | undefined
let subscription: Subscription | undefined
const events: Array<{ kind: SubscriptionEvent['kind'], objectId: string, name: unknown }> = []
let ended: SubscriptionEnd | undefined

function connected (): HubClient {
  if (client === undefined) throw new Error('not connected')
  return client
}

const api = {
  /** The app identity: created on first use, loaded from IndexedDB after a reload. */
  identity: async (label: string) => await outcome(async () => {
    const store = await BrowserKeyStore.open('test-app')
    const created = !(await store.list()).some(k => k.label === label)
    const key = await store.getOrCreate(label)
    return { did: key.did, created }
  }),
  connect: async (hub: string, owner: string, label: string) => await outcome(async () => {
    const store = await BrowserKeyStore.open('test-app')
    const identity = await store.load(label)
    client = await HubClient.connect({ hub, identity, owner })
    return { did: client.did, hubPeerId: client.hubPeerId }
  }),
  query: async (context: string, type: string) => await outcome(async () => {
    const page = await connected().collections.query({ context, type })
    return page.objects.map(o => ({ objectId: o.objectId, value: o.value }))
  }),
  read: async (objectId: string) => await outcome(async () => (await connected().collections.read(objectId)).value),
  write: async (value: Record<string, unknown>) => await outcome(async () => await connected().collections.write(value)),
  change: async (objectId: string, name: string) => await outcome(async () => await connected().collections.change(objectId, d => { d.name = name })),
  subscribe: async (context: string, type: string) => await outcome(async () => {
    subscription = await connected().collections.subscribe({ context, type }, e => {
      events.push({ kind: e.kind, objectId: e.object.objectId, name: (e.object.value as { name?: unknown } | null)?.name })
    })
    void subscription.ended.then(end => { ended = end })
    return subscription.initial.map(o => o.objectId)
  }),
  events: () => events,
  ended: () => ended,
  close: async () => await outcome(async () => { await client?.close(); client = undefined })
}

const w = window as unknown as Record<string, unknown>
w.__api = api
w.__ready = true
