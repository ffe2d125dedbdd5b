/**
 * Test page: BrowserKeyStore in Chromium. `window.__keys.run(step)` runs one
 * step and returns plain JSON; errors come back as `{ error: { code, reason } }`.
 */
import { BrowserKeyStore, HubError } from '../../../src/client/index.js'

type Result = Record<string, unknown>

async function outcome (fn: () => Promise<Result>): Promise<Result> {
  try {
    return await fn()
  } catch (err) {
    const e = err as Error
    return { error: { name: e.name, code: err instanceof HubError ? err.code : undefined, reason: err instanceof HubError ? err.details?.reason : undefined, message: e.message } }
  }
}

/** Sign and verify with WebCrypto's own Ed25519 (an independent check that the key is the one its DID names). */
async function signsAs (store: BrowserKeyStore, label: string): Promise<boolean> {
  const key = await store.load(label)
  const data = new TextEncoder().encode('hello from the page')
  const pub = await crypto.subtle.importKey('raw', Uint8Array.from(key.publicKey), { name: 'Ed25519' }, false, ['verify'])
  return await crypto.subtle.verify({ name: 'Ed25519' }, pub, Uint8Array.from(key.sign(data)), data)
}

const keys = {
  getOrCreate: async (label: string) => await outcome(async () => {
    const store = await BrowserKeyStore.open()
    const a = await store.getOrCreate(label)
    const b = await store.getOrCreate(label)
    return { did: a.did, same: a.did === b.did, signs: await signsAs(store, label) }
  }),
  /** Two getOrCreate at once (as from two tabs): one key. */
  race: async (label: string) => await outcome(async () => {
    const [s1, s2] = await Promise.all([BrowserKeyStore.open(), BrowserKeyStore.open()])
    const [a, b] = await Promise.all([s1.getOrCreate(label), s2.getOrCreate(label)])
    return { same: a.did === b.did, stored: (await s1.list()).filter(k => k.label === label).length }
  }),
  load: async (label: string) => await outcome(async () => ({ did: (await (await BrowserKeyStore.open()).load(label)).did })),
  list: async () => await outcome(async () => ({ keys: await (await BrowserKeyStore.open()).list() })),
  /** What an attacker dumping the database gets: the raw records. */
  raw: async () => await outcome(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => { const r = indexedDB.open('identity-hub-keys'); r.onsuccess = () => { resolve(r.result) }; r.onerror = () => { reject(r.error) } })
    const all = await new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
      const r = db.transaction('keys').objectStore('keys').getAll()
      r.onsuccess = () => { resolve(r.result as Array<Record<string, unknown>>) }; r.onerror = () => { reject(r.error) }
    })
    const out = []
    for (const rec of all) {
      const wrap = rec.wrap as CryptoKey
      const exported = await crypto.subtle.exportKey('raw', wrap).then(() => 'exported', (e: Error) => e.name)
      out.push({ label: rec.label, extractable: wrap.extractable, usages: wrap.usages, exportAttempt: exported, sealedBytes: (rec.sealed as Uint8Array).length, fields: Object.keys(rec).sort() })
    }
    db.close()
    return { records: out }
  }),
  exportImport: async (from: string, to: string) => await outcome(async () => {
    const store = await BrowserKeyStore.open()
    const backup = await store.export(from)
    const imported = await store.import(to, backup)
    return { backup, sameDid: imported.did === (await store.load(from)).did, reloaded: (await store.load(to)).did === imported.did, signs: await signsAs(store, to) }
  }),
  import: async (label: string, backup: unknown) => await outcome(async () => ({ did: (await (await BrowserKeyStore.open()).import(label, backup)).did })),
  create: async (label: unknown) => await outcome(async () => ({ did: (await (await BrowserKeyStore.open()).create(label as string)).did })),
  delete: async (label: string) => await outcome(async () => { await (await BrowserKeyStore.open()).delete(label); return { deleted: true } })
}

const w = window as unknown as Record<string, unknown>
w.__keys = keys
w.__ready = true
