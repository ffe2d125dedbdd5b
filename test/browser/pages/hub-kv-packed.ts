/**
 * Test page: BrowserKv's packed index records (src/store/browser-kv.ts,
 * browser-kv-packed.ts) inside Chromium — checked against a plain sorted
 * map (the KvStore contract itself), its migration from the format-1
 * store (written by the frozen previous version, browser-kv-v1.ts: at the
 * KV level and as a real hub), and what it does with a damaged record or a
 * tab of the older version still open. Each `window.__packed.*` function
 * returns plain data for the test to assert on.
 */
import { hubHome } from '#hub-home'
import { BrowserLevel } from 'browser-level'
import { HubError } from '../../../src/errors.js'
import type { HubHome } from '../../../src/hub-home.js'
import { Hub } from '../../../src/hub.js'
import { BROWSER_KV_PREFIX, BrowserKv } from '../../../src/store/browser-kv.js'
import { prefixEnd, type KvOp, type KvRange, type KvStore } from '../../../src/store/kv.js'
import { BrowserKvV1 } from './browser-kv-v1.js'

const enc = new TextEncoder()
const dec = new TextDecoder()

function cmp (a: string, b: string): number {
  const x = enc.encode(a)
  const y = enc.encode(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number)
  return x.length - y.length
}

/** The contract, written the obvious way. */
class Model {
  readonly m = new Map<string, string>()
  apply (ops: KvOp[]): void { for (const op of ops) { if (op.type === 'put') this.m.set(op.key, dec.decode(op.value)); else this.m.delete(op.key) } }
  range (r: KvRange): Array<[string, string]> {
    let keys = [...this.m.keys()].sort(cmp).filter(k =>
      (r.gte === undefined || cmp(k, r.gte) >= 0) && (r.gt === undefined || cmp(k, r.gt) > 0) &&
      (r.lte === undefined || cmp(k, r.lte) <= 0) && (r.lt === undefined || cmp(k, r.lt) < 0))
    if (r.reverse === true) keys.reverse()
    if (r.limit !== undefined && r.limit >= 0) keys = keys.slice(0, r.limit)
    return keys.map(k => [k, this.m.get(k) as string])
  }
}

function rng (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const TENANTS = ['a', 'b%21c']
const OBJECTS = ['o1', 'o2', 'o3', '\u00e9', '\u{1F600}x', '\uffefz']
const MIDDLES = ['*!c!0001', '*!c!0002', 'Tp!u!0002', 'p!position!n80', 'p!name!s\u{1F600}', 'p!name!s\uffef', 'q']
const PLAIN = ['c!x1', 'o!o1', 'oc!o1!0001', 'oc!o1!0002', 'f!0001', 's!o2', 'ia!o1', 'i', 'x']

function pick<T> (r: () => number, xs: readonly T[]): T { return xs[Math.floor(r() * xs.length)] as T }

function randomKey (r: () => number): string {
  const roll = r()
  if (roll < 0.08) return pick(r, ['n!t!a!i!b!c', 'p!a', 't!', 't!a!i!', 'u'])
  const t = `t!${pick(r, TENANTS)}!`
  if (roll < 0.35) return t + pick(r, PLAIN)
  return `${t}${r() < 0.6 ? 'i' : 'x'}!${pick(r, MIDDLES)}!${pick(r, OBJECTS)}`
}

function randomRange (r: () => number): KvRange {
  const bound = (): string => {
    const k = randomKey(r)
    const cut = k.slice(0, 1 + Math.floor(r() * k.length))
    return r() < 0.3 ? prefixEnd(cut) : cut
  }
  const out: KvRange = {}
  const lo = r()
  if (lo < 0.4) out.gte = bound()
  else if (lo < 0.7) out.gt = bound()
  const hi = r()
  if (hi < 0.4) out.lte = bound()
  else if (hi < 0.7) out.lt = bound()
  if (r() < 0.4) out.reverse = true
  if (r() < 0.4) out.limit = Math.floor(r() * 6)
  return out
}

async function readAll (kv: KvStore, r: KvRange): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = []
  for await (const [k, v] of kv.entries(r)) out.push([k, dec.decode(v)])
  return out
}

async function keysOf (kv: KvStore, r: KvRange): Promise<string[]> {
  const out: string[] = []
  for await (const k of kv.keys(r)) out.push(k)
  return out
}

let n = 0
const fresh = (what: string): string => `${what}-${Date.now()}-${n++}`

/** The first difference between the store and the model, or undefined. */
async function differ (kv: KvStore, model: Model, r: () => number, ranges: number): Promise<string | undefined> {
  for (let q = 0; q < ranges; q++) {
    const range = q === 0 ? {} : randomRange(r)
    const want = model.range(range)
    const got = await readAll(kv, range)
    if (JSON.stringify(got) !== JSON.stringify(want)) return `entries(${JSON.stringify(range)}): got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`
    const gotKeys = await keysOf(kv, range)
    if (JSON.stringify(gotKeys) !== JSON.stringify(want.map(([k]) => k))) return `keys(${JSON.stringify(range)}): got ${JSON.stringify(gotKeys)}`
  }
  const probe = Array.from({ length: 12 }, () => randomKey(r))
  const many = (await kv.getMany(probe)).map(v => v === undefined ? null : dec.decode(v))
  const wantMany = probe.map(k => model.m.get(k) ?? null)
  if (JSON.stringify(many) !== JSON.stringify(wantMany)) return `getMany(${JSON.stringify(probe)}): got ${JSON.stringify(many)}, want ${JSON.stringify(wantMany)}`
  for (const k of probe.slice(0, 4)) {
    const v = await kv.get(k)
    if ((v === undefined ? null : dec.decode(v)) !== (model.m.get(k) ?? null)) return `get(${k})`
  }
  return undefined
}

function randomBatch (r: () => number): KvOp[] {
  return Array.from({ length: 1 + Math.floor(r() * 8) }, () => {
    const key = randomKey(r)
    return r() < 0.7
      ? { type: 'put' as const, key, value: enc.encode(r() < 0.6 ? '' : `v${Math.floor(r() * 100)}`) }
      : { type: 'del' as const, key }
  })
}

const api = {
  /**
   * Random batches (awaited one by one, and runs of three placed at once)
   * over plain and packed keys of two tenants, each followed by random
   * range reads, getMany and get compared with the model; then a reopen.
   */
  async differential (seed: number, rounds: number, cursorReads: boolean): Promise<{ rounds: number, keys: number, packedRecords: number, error?: string }> {
    const r = rng(seed)
    const name = fresh('differential')
    let kv = await BrowserKv.open(name, { cursorReads })
    const model = new Model()
    try {
      for (let i = 0; i < rounds; i++) {
        if (i % 5 === 4) {
          const batches = [randomBatch(r), randomBatch(r), randomBatch(r)]
          await Promise.all(batches.map(async b => { await kv.batch(b) }))
          for (const b of batches) model.apply(b)
        } else {
          const b = randomBatch(r)
          await kv.batch(b)
          model.apply(b)
        }
        const d = await differ(kv, model, r, 4)
        if (d !== undefined) return { rounds: i, keys: model.m.size, packedRecords: -1, error: d }
      }
      await kv.close()
      kv = await BrowserKv.open(name, { cursorReads })
      const d = await differ(kv, model, r, 20)
      return { rounds, keys: model.m.size, packedRecords: (await rawCounts(name)).packed, ...(d !== undefined ? { error: `after reopen: ${d}` } : {}) }
    } finally { await kv.close() }
  },

  /** Many batches on the keys of ONE object placed at once: they apply in call order (each reads the record the one before wrote). */
  async sameObject (): Promise<{ got: Array<[string, string]>, want: Array<[string, string]> }> {
    const kv = await BrowserKv.open(fresh('same-object'))
    const model = new Model()
    const batches: KvOp[][] = []
    for (let i = 0; i < 40; i++) {
      batches.push([
        { type: 'put', key: `t!a!i!*!c!${String(i).padStart(4, '0')}!o1`, value: enc.encode(String(i)) },
        { type: 'del', key: `t!a!i!*!c!${String(i - 1).padStart(4, '0')}!o1` },
        { type: 'put', key: `t!a!x!p!n!${i % 3}!o1`, value: new Uint8Array(0) },
        { type: 'put', key: 't!a!o!o1', value: enc.encode(String(i)) }
      ])
    }
    await Promise.all(batches.map(async b => { await kv.batch(b) }))
    for (const b of batches) model.apply(b)
    const got = await readAll(kv, { gte: 't!', lt: prefixEnd('t!') })
    await kv.close()
    return { got, want: model.range({ gte: 't!', lt: prefixEnd('t!') }) }
  },

  /** The snapshot rule over packed keys: a range read does not see index entries written into it after it began. */
  async packedSnapshot (): Promise<{ seen: number, sawNew: boolean, stored: boolean }> {
    const kv = await BrowserKv.open(fresh('packed-snapshot'))
    await kv.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `t!a!i!*!c!${String(i).padStart(4, '0')}!o${i}`, value: new Uint8Array(0) })))
    let seen = 0
    let sawNew = false
    for await (const [k] of kv.entries({ gte: 't!a!i!', lt: prefixEnd('t!a!i!') })) {
      if (seen++ === 0) {
        await kv.batch([{ type: 'put', key: 't!a!i!*!c!0150x!o9', value: new Uint8Array(0) }, { type: 'put', key: 't!a!i!*!c!9999!o1', value: new Uint8Array(0) }, { type: 'del', key: 't!a!i!*!c!0200!o200' }])
      }
      if (k.includes('0150x') || k.includes('9999')) sawNew = true
    }
    const stored = (await kv.get('t!a!i!*!c!9999!o1')) !== undefined && (await kv.get('t!a!i!*!c!0200!o200')) === undefined
    await kv.close()
    return { seen, sawNew, stored }
  },

  /**
   * A store written by the previous version (browser-level, format 1),
   * reopened by this one: every read gives what it gave before, the
   * index entries now live in one record per (tenant, object), and the
   * store keeps working (and reopens without migrating again).
   */
  async migrateKv (): Promise<{ before: Array<[string, string]>, after: Array<[string, string]>, model: Array<[string, string]>, ranges: string | undefined, raw: { version: number, plain: number, plainPacked: number, packed: number }, written: boolean }> {
    const name = fresh('migrate-kv')
    const r = rng(7)
    const model = new Model()
    const old = await BrowserKvV1.open(name)
    for (let i = 0; i < 60; i++) { const b = randomBatch(r); await old.batch(b); model.apply(b) }
    const before = await readAll(old, {})
    const modelBefore = model.range({})
    await old.close()
    const kv = await BrowserKv.open(name)
    const after = await readAll(kv, {})
    const ranges = await differ(kv, model, r, 60)
    await kv.batch([{ type: 'put', key: 't!a!i!*!c!0009!o1', value: new Uint8Array(0) }, { type: 'del', key: 't!a!x!q!o2' }])
    model.apply([{ type: 'put', key: 't!a!i!*!c!0009!o1', value: new Uint8Array(0) }, { type: 'del', key: 't!a!x!q!o2' }])
    await kv.close()
    const again = await BrowserKv.open(name)
    const afterReopen = await readAll(again, {})
    const written = JSON.stringify(afterReopen) === JSON.stringify(model.range({}))
    await again.close()
    return { before, after, model: modelBefore, ranges, raw: await rawCounts(name), written }
  },

  /**
   * A real hub written by the previous version's store (creates, updates,
   * a delete), reopened on this one: the same objects, the same query
   * answers, and it keeps writing and querying.
   */
  async migrateHub (): Promise<{ before: unknown, after: unknown, more: number, packed: number, plainIndexKeys: number, keys: number, unreadable: number }> {
    const name = fresh('migrate-hub')
    const home = hubHome(name)
    const oldHome: HubHome = {
      location: home.location,
      keys: home.keys,
      engine: home.engine,
      exists: async () => await home.exists(),
      create: async () => { await home.create() },
      readConfig: async () => await home.readConfig(),
      writeConfig: async cfg => { await home.writeConfig(cfg) },
      openKv: async opts => await BrowserKvV1.open(`${name}/store`, { exclusive: true, sync: opts.sync === true })
    }
    const ctx = 'https://schema.org'
    const snapshot = async (hub: Hub): Promise<unknown> => {
      const all = await hub.collections.query({ context: ctx, type: 'MusicPlaylist', limit: 100 })
      const ranged = await hub.collections.query({ context: ctx, type: 'MusicPlaylist', where: [{ field: 'position', op: 'gte', value: 5 }], limit: 100 })
      const named = await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'name', op: 'eq', value: 'p 3 renamed' }] })
      const recordings = await hub.collections.query({ context: ctx, type: 'MusicRecording' })
      const ids = (xs: { objects: Array<{ objectId: string, value?: unknown }> }): unknown => xs.objects.map(o => [o.objectId, o.value])
      return { all: ids(all), ranged: ids(ranged), named: ids(named), recordings: ids(recordings) }
    }
    await Hub.init(oldHome)
    let hub = await Hub.open(oldHome)
    const ids: string[] = []
    for (let i = 0; i < 12; i++) ids.push((await hub.collections.create({ '@context': ctx, '@type': 'MusicPlaylist', name: `p ${i}`, position: i })).objectId)
    await hub.collections.create({ '@context': ctx, '@type': 'MusicRecording', name: 'r' })
    await hub.collections.update(ids[3] as string, { '@context': ctx, '@type': 'MusicPlaylist', name: 'p 3 renamed', position: 30 })
    await hub.collections.change(ids[4] as string, d => { d.position = -1 })
    await hub.collections.delete(ids[5] as string)
    const before = await snapshot(hub)
    await hub.close()
    hub = await Hub.open(home)
    const after = await snapshot(hub)
    await hub.collections.create({ '@context': ctx, '@type': 'MusicPlaylist', name: 'p new', position: 100 })
    await hub.collections.change(ids[6] as string, d => { d.position = 101 })
    const more = (await hub.collections.query({ context: ctx, type: 'MusicPlaylist', where: [{ field: 'position', op: 'gte', value: 100 }] })).objects.length
    await hub.close()
    const raw = await rawCounts(`${name}/store`)
    // Every key a range read lists can be read back by itself (the packed records sit where gets look).
    const kv = await BrowserKv.open(`${name}/store`)
    const all = await keysOf(kv, {})
    const unreadable = (await kv.getMany(all)).filter(v => v === undefined).length
    await kv.close()
    return { before, after, more, packed: raw.packed, plainIndexKeys: raw.plainPacked, keys: all.length, unreadable }
  },

  /** A damaged packed record (anything can be put in the origin's IndexedDB): typed errors, and a batch touching it changes nothing. */
  async corruptRecord (cursorReads: boolean): Promise<{ get: unknown, range: unknown, batch: unknown, plainUntouched: boolean, otherObject: boolean }> {
    const name = fresh('corrupt')
    const kv = await BrowserKv.open(name)
    await kv.batch([{ type: 'put', key: 't!a!i!*!c!1!o1', value: new Uint8Array(0) }, { type: 'put', key: 't!a!i!*!c!2!o2', value: new Uint8Array(0) }])
    await kv.close()
    const db = await rawOpen(name)
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(`${name}!packed`, 'readwrite')
      tx.objectStore(`${name}!packed`).put({ k: ['t!a!i!*!c!1!o1'], v: ['not bytes'] }, 't!a!o1')
      tx.oncomplete = () => { resolve() }
      tx.onerror = () => { reject(tx.error) }
    })
    db.close()
    const again = await BrowserKv.open(name, { cursorReads })
    const code = async (f: () => Promise<unknown>): Promise<unknown> => { try { await f(); return 'resolved' } catch (err) { return err instanceof HubError ? [err.code, err.details?.reason] : String(err) } }
    const get = await code(async () => await again.get('t!a!i!*!c!1!o1'))
    const range = await code(async () => await readAll(again, { gte: 't!a!i!', lt: prefixEnd('t!a!i!') }))
    const batch = await code(async () => { await again.batch([{ type: 'put', key: 't!a!c!z', value: enc.encode('z') }, { type: 'put', key: 't!a!i!*!c!3!o1', value: new Uint8Array(0) }]) })
    const plainUntouched = (await again.get('t!a!c!z')) === undefined
    const otherObject = (await again.get('t!a!i!*!c!2!o2')) !== undefined
    await again.close()
    return { get, range, batch, plainUntouched, otherObject }
  },

  /** A tab of the previous version still holding the store: the upgrade is refused (typed), and succeeds once that tab is gone. */
  async upgradeBlocked (): Promise<{ code: unknown, reason: unknown, thenOpens: boolean }> {
    const name = fresh('blocked')
    const old = new BrowserLevel<string, Uint8Array>(name, { prefix: BROWSER_KV_PREFIX, keyEncoding: 'utf8', valueEncoding: 'view' })
    await old.open()
    await old.put('t!a!i!*!c!1!o1', new Uint8Array(0))
    let code: unknown
    let reason: unknown
    try { await (await BrowserKv.open(name)).close() } catch (err) { code = err instanceof HubError ? err.code : String(err); reason = err instanceof HubError ? err.details?.reason : undefined }
    await old.close()
    const kv = await BrowserKv.open(name)
    const thenOpens = (await kv.get('t!a!i!*!c!1!o1'))?.length === 0
    await kv.close()
    return { code, reason, thenOpens }
  }
}

async function rawOpen (name: string): Promise<IDBDatabase> {
  return await new Promise((resolve, reject) => {
    const req = indexedDB.open(`${BROWSER_KV_PREFIX}${name}`)
    req.onsuccess = () => { resolve(req.result) }
    req.onerror = () => { reject(req.error) }
  })
}

/** What is in the database itself: its version, records in each object store, and index keys left in the plain one. */
async function rawCounts (name: string): Promise<{ version: number, plain: number, plainPacked: number, packed: number }> {
  const db = await rawOpen(name)
  try {
    const tx = db.transaction([name, `${name}!packed`], 'readonly')
    const keys = await new Promise<IDBValidKey[]>(resolve => { const r = tx.objectStore(name).getAllKeys(); r.onsuccess = () => { resolve(r.result) } })
    const packed = await new Promise<number>(resolve => { const r = tx.objectStore(`${name}!packed`).count(); r.onsuccess = () => { resolve(r.result) } })
    const plainPacked = keys.filter(k => /^t![^!]*![ix]!/.test(dec.decode(k as ArrayBuffer))).length
    return { version: db.version, plain: keys.length, plainPacked, packed }
  } finally { db.close() }
}

const w = window as unknown as Record<string, unknown>
w.__packed = api
w.__ready = true
