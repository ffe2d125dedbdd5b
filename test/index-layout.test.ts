/**
 * Index layout v2 (issue 18): two sort scopes per object (`*` and the
 * (context, type) pair), a pairs list that queries by context or by type
 * merge over, and the migration of stores that still hold `C`/`T` scopes.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import type { ObjectId } from '../src/ids.js'
import type { KvOp, KvRange } from '../src/store/kv.js'
import { prefixEnd } from '../src/store/kv.js'
import { esc, type Layout } from '../src/store/layout.js'
import { mergeSorted, runQuery, type Query, type SortOrder } from '../src/store/query.js'
import { TenantStore, type ObjectMeta } from '../src/store/tenant-store.js'
import { TestKv } from './test-kv.js'
import { doctor } from '../src/store/doctor.js'
import { cleanup, tempHub } from './helpers.js'
import { Hub } from '../src/hub.js'

const SORTS: SortOrder[] = ['created', '-created', 'updated', '-updated']
/** Names with every character the layout escapes, so the merge and the pairs list are checked on them too. */
const CONTEXTS = ['https://schema.org', 'https://example.org/a!b', 'urn:x%21y', 'ctx\uffffz']
const TYPES = ['MusicPlaylist', 'Book', 'Odd!Type%']

class CountingKv extends TestKv {
  scanned = 0
  override async * keys (range: KvRange): AsyncIterable<string> {
    for await (const k of super.keys(range)) { this.scanned++; yield k }
  }
}

/** A store whose batches fail from the `failAt`-th on (a crash mid-migration, a full disk). */
class FailingKv extends TestKv {
  batches = 0
  failAt = Infinity
  override async batch (ops: KvOp[]): Promise<void> {
    if (++this.batches >= this.failAt) throw new Error('injected batch failure')
    await super.batch(ops)
  }
}

const owner = Ed25519KeyPair.generate()

/** Until the clock shows a later millisecond than now (commit times have millisecond resolution). */
async function nextMillisecond (): Promise<void> {
  const t0 = Date.now()
  while (Date.now() <= t0) await new Promise(resolve => setImmediate(resolve))
}

function storeOn (kv: TestKv): TenantStore {
  return new TenantStore({ kv, tenant: owner.did, actor: 'ab'.repeat(16), maxValueBytes: 1 << 20 })
}

async function create (store: TenantStore, context: string, type: string, name: string): Promise<ObjectId> {
  const r = await store.create({ iface: 'Collections', value: { '@context': context, '@type': type, name }, context, type, strategy: 'lww', signer: owner })
  return r.objectId
}

async function keysUnder (kv: TestKv, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const k of kv.keys({ gte: prefix, lt: prefixEnd(prefix) })) out.push(k)
  return out
}

/** Every page of a query, following cursors. */
async function allPages (kv: TestKv, store: TenantStore, q: Query, limit: number): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | undefined
  for (let n = 0; n < 1000; n++) {
    const page = await runQuery(kv, store, { ...q, limit, ...(cursor !== undefined ? { cursor } : {}) })
    ids.push(...page.objects.map(o => o.objectId))
    if (page.cursor === null) return ids
    cursor = page.cursor
  }
  throw new Error('the query never ended')
}

/** What a query must return, computed from the metas alone: live objects of the scope in sort order (UTF-8 order of `<time>!<id>`). */
function expected (metas: ObjectMeta[], q: { context?: string, type?: string }, sort: SortOrder): string[] {
  const field = sort.endsWith('created') ? 'createdAt' : 'updatedAt'
  const key = (m: ObjectMeta): string => `${m[field]}!${m.objectId}`
  const out = metas.filter(m => !m.deleted && (q.context === undefined || m.context === q.context) && (q.type === undefined || m.type === q.type))
  out.sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)
  if (sort.startsWith('-')) out.reverse()
  return out.map(m => m.objectId)
}

/** The sort keys stores before index layout v2 also held: `C<context>` and `T<type>`, created and updated. */
function oldScopeKeys (L: Layout, m: ObjectMeta): string[] {
  const out: string[] = []
  for (const scope of [`C${esc(m.context as string)}`, `T${esc(m.type as string)}`]) {
    out.push(`${L.sortPrefix(m.interface, scope, 'c')}${m.createdAt}!${m.objectId}`)
    out.push(`${L.sortPrefix(m.interface, scope, 'u')}${m.updatedAt}!${m.objectId}`)
  }
  return out
}

/** Several contexts sharing types, updates (the updated order differs from the created one) and deletes. */
async function populate (store: TenantStore, n: number): Promise<ObjectId[]> {
  const ids: ObjectId[] = []
  for (let i = 0; i < n; i++) ids.push(await create(store, CONTEXTS[i % CONTEXTS.length] as string, TYPES[i % TYPES.length] as string, `o${i}`))
  for (let i = 0; i < n; i += 7) {
    await store.update(ids[i] as ObjectId, { '@context': CONTEXTS[i % CONTEXTS.length] as string, '@type': TYPES[i % TYPES.length] as string, name: `o${i} again` }, owner)
  }
  for (let i = 3; i < n; i += 11) await store.delete(ids[i] as ObjectId, owner)
  return ids
}

async function liveMetas (store: TenantStore, ids: ObjectId[]): Promise<ObjectMeta[]> {
  return (await store.getMetas(ids)).filter((m): m is ObjectMeta => m !== undefined)
}

describe('index layout v2', () => {
  it('keeps two sort scopes per object: 4 sort keys, and an update moves 2', async () => {
    const kv = new TestKv()
    const store = storeOn(kv)
    await store.open()
    const id = await create(store, 'https://schema.org', 'Book', 'one')
    const sortKeys = async (): Promise<string[]> => (await keysUnder(kv, store.layout.indexPrefix())).filter(k => k.endsWith(`!${id}`))
    const before = await sortKeys()
    expect(before).toHaveLength(4)
    expect(before.every(k => k.includes('!*!') || k.includes('!Bhttps://schema.org!Book!'))).toBe(true)
    await nextMillisecond() // so updatedAt moves
    await store.update(id, { '@context': 'https://schema.org', '@type': 'Book', name: 'two' }, owner)
    const after = await sortKeys()
    expect(after).toHaveLength(4)
    expect(after.filter(k => !before.includes(k))).toHaveLength(2)
    expect(after.filter(k => !before.includes(k)).every(k => k.includes('!u!'))).toBe(true)
    expect(await keysUnder(kv, store.layout.pairsPrefix())).toEqual([store.layout.pair('Collections', 'https://schema.org', 'Book')])
  })

  it('answers by type and by context by merging pairs: same order, pages, both directions, as the metas say', async () => {
    const kv = new TestKv()
    const store = storeOn(kv)
    await store.open()
    const ids = await populate(store, 60)
    const metas = await liveMetas(store, ids)
    expect(store.pairs.contextsOf('Collections', 'Book')).toHaveLength(CONTEXTS.length)
    const scopes = [
      ...TYPES.map(type => ({ type })),
      ...CONTEXTS.map(context => ({ context })),
      { context: CONTEXTS[1] as string, type: TYPES[2] as string },
      {},
      { type: 'Nothing' },
      { context: 'https://nowhere.example' }
    ]
    for (const q of scopes) {
      for (const sort of SORTS) {
        const want = expected(metas, q, sort)
        // Small pages cross from one pair's range to another's.
        for (const limit of [3, 1000]) expect(await allPages(kv, store, { ...q, sort }, limit), `${JSON.stringify(q)} ${sort} ${limit}`).toEqual(want)
      }
    }
    // A new pair is found by the next query without reopening.
    const late = await create(store, 'https://late.example', 'Book', 'late')
    expect((await runQuery(kv, store, { type: 'Book', sort: '-created', limit: 1 })).objects[0]?.objectId).toBe(late)
  })

  it('reads a page plus at most one key per merged range', async () => {
    const kv = new CountingKv()
    const store = storeOn(kv)
    await store.open()
    for (let i = 0; i < 300; i++) await create(store, CONTEXTS[i % CONTEXTS.length] as string, 'Book', `b${i}`)
    kv.scanned = 0
    const page = await runQuery(kv, store, { type: 'Book', limit: 10 })
    expect(page.objects).toHaveLength(10)
    expect(kv.scanned).toBeLessThanOrEqual(10 + CONTEXTS.length)
  })

  it('merges streams in UTF-8 order (surrogates after U+E000–FFFF), lazily', async () => {
    async function * of (xs: string[], seen: string[]): AsyncGenerator<string> { for (const x of xs) { seen.push(x); yield x } }
    const seen: string[] = []
    const a = ['a', 'c', '\ue000', '\ud83d\ude00']
    const b = ['b', 'd', '\uffff']
    const out: string[] = []
    for await (const x of mergeSorted([of(a, seen), of(b, seen), of([], seen)], false)) out.push(x)
    expect(out).toEqual(['a', 'b', 'c', 'd', '\ue000', '\uffff', '\ud83d\ude00'])
    const desc: string[] = []
    for await (const x of mergeSorted([of([...a].reverse(), []), of([...b].reverse(), [])], true)) desc.push(x)
    expect(desc).toEqual([...out].reverse())
    // Stopping after two reads at most one more per stream.
    seen.length = 0
    for await (const x of mergeSorted([of(a, seen), of(b, seen)], false)) if (x === 'b') break
    expect(seen.length).toBeLessThanOrEqual(4)
  })

  it('a failed batch leaves no pair in memory: the next object of the pair writes it', async () => {
    const kv = new FailingKv()
    const store = storeOn(kv)
    await store.open()
    kv.failAt = kv.batches + 1
    await expect(create(store, 'https://fail.example', 'Book', 'lost')).rejects.toThrow('injected batch failure')
    kv.failAt = Infinity
    expect(store.pairs.typesOf('Collections', 'https://fail.example')).toEqual([])
    const id = await create(store, 'https://fail.example', 'Book', 'kept')
    expect(await keysUnder(kv, store.layout.pairsPrefix())).toEqual([store.layout.pair('Collections', 'https://fail.example', 'Book')])
    expect((await runQuery(kv, store, { context: 'https://fail.example', limit: 10 })).objects.map(o => o.objectId)).toEqual([id])
  })

  it('ignores a pairs key that is not one (a hostile or damaged store) instead of failing to open', async () => {
    const kv = new TestKv()
    const store = storeOn(kv)
    const p = store.layout.pairsPrefix()
    await kv.batch([
      { type: 'put', key: `${p}Collections!only-two`, value: new Uint8Array(0) },
      { type: 'put', key: `${p}Collections!%E0%A4%A!Book`, value: new Uint8Array(0) },
      { type: 'put', key: `${p}Collections!a!b!c`, value: new Uint8Array(0) }
    ])
    await store.open()
    expect(store.pairs.all()).toEqual([])
  })
})

describe('migration to index layout v2', () => {
  /** A store as an older version left it: `C`/`T` sort keys, no pairs list, no marker. */
  async function oldStore (kv: TestKv, n: number): Promise<{ ids: ObjectId[], metas: ObjectMeta[] }> {
    const store = storeOn(kv)
    await store.open()
    const ids = await populate(store, n)
    const metas = await liveMetas(store, ids)
    const L = store.layout
    const ops: KvOp[] = metas.filter(m => !m.deleted).flatMap(m => oldScopeKeys(L, m)).map(key => ({ type: 'put', key, value: new Uint8Array(0) }))
    for (const k of await keysUnder(kv, L.pairsPrefix())) ops.push({ type: 'del', key: k })
    ops.push({ type: 'del', key: L.migration('index-layout-v2') })
    await kv.batch(ops)
    return { ids, metas }
  }

  async function checkMigrated (kv: TestKv, metas: ObjectMeta[], pageLimit: number): Promise<TenantStore> {
    const store = storeOn(kv)
    await store.open()
    const L = store.layout
    const left = (await keysUnder(kv, L.indexPrefix())).filter(k => /^t![^!]*!i!Collections![CT]/.test(k))
    expect(left).toEqual([])
    expect(await kv.get(L.migration('index-layout-v2'))).toBeDefined()
    const pairs = new Set(metas.filter(m => !m.deleted).map(m => L.pair(m.interface, m.context as string, m.type as string)))
    expect(new Set(await keysUnder(kv, L.pairsPrefix()))).toEqual(pairs)
    for (const q of [...TYPES.map(type => ({ type })), ...CONTEXTS.map(context => ({ context }))]) {
      for (const sort of SORTS) expect(await allPages(kv, store, { ...q, sort }, pageLimit)).toEqual(expected(metas, q, sort))
    }
    return store
  }

  it('deletes the C/T sort keys, writes the pairs, and answers as before; runs once', async () => {
    const kv = new FailingKv()
    const { metas } = await oldStore(kv, 80)
    await checkMigrated(kv, metas, 5)
    // A second open finds the marker and writes nothing (any batch would fail).
    kv.failAt = kv.batches + 1
    await storeOn(kv).open()
  })

  it('resumes after dying halfway: the next open finishes it', async () => {
    const kv = new FailingKv()
    // 400 objects: 1,300+ old keys, so the migration writes more than one batch.
    const { metas } = await oldStore(kv, 400)
    kv.failAt = kv.batches + 2 // the first batch lands, the second fails: the process "dies"
    await expect(storeOn(kv).open()).rejects.toThrow('injected batch failure')
    expect(await kv.get(storeOn(kv).layout.migration('index-layout-v2'))).toBeUndefined()
    const half = (await keysUnder(kv, storeOn(kv).layout.indexPrefix())).filter(k => /^t![^!]*!i!Collections![CT]/.test(k))
    expect(half.length).toBeGreaterThan(0) // some are gone, some are left
    expect(half.length).toBeLessThan(metas.filter(m => !m.deleted).length * 4)
    kv.failAt = Infinity
    await checkMigrated(kv, metas, 100)
  })
})

describe('hub doctor and the pairs list', () => {
  afterAll(cleanup)

  it('reports a missing pair, repairs it, and the running hub answers by type again', async () => {
    const first = await tempHub()
    await first.collections.create({ '@context': 'https://schema.org', '@type': 'Book', name: 'one' })
    const other = await first.collections.create({ '@context': 'https://example.org/books', '@type': 'Book', name: 'two' })
    const key = first.store.layout.pair('Collections', 'https://example.org/books', 'Book')
    expect((await doctor(first)).clean).toBe(true)
    await first.kv.batch([{ type: 'del', key }])
    await first.close()
    // Reopened without the pair: a query by type misses its object.
    const hub = await Hub.open(first.dir)
    try {
      const byType = async (): Promise<string[]> => (await hub.collections.query({ type: 'Book', limit: 10 })).objects.map(o => o.objectId)
      expect(await byType()).not.toContain(other.objectId)
      const report = await doctor(hub)
      expect(report.tenants[0]?.problems.map(p => [p.code, p.key])).toEqual([['missing_index', key]])
      const repaired = await doctor(hub, { repair: true })
      expect(repaired.tenants[0]?.repaired).toBe(1)
      expect(repaired.tenants[0]?.remaining).toEqual([])
      expect(await hub.kv.get(key)).toBeDefined()
      expect(await byType()).toContain(other.objectId)
    } finally {
      await hub.close()
    }
  })

  it('keeps a pair whose objects are all deleted (a harmless superset): clean', async () => {
    const hub = await tempHub()
    const gone = await hub.collections.create({ '@context': 'https://schema.org', '@type': 'Gone', name: 'x' })
    await hub.collections.delete(gone.objectId)
    expect(await hub.kv.get(hub.store.layout.pair('Collections', 'https://schema.org', 'Gone'))).toBeDefined()
    expect((await doctor(hub)).clean).toBe(true)
    expect((await hub.collections.query({ type: 'Gone' })).objects).toEqual([])
  })
})

describe('query scan memo', () => {
  /** Counts scans, and can hold sort-index scans until released (a write overtaking a read). */
  class GatedKv extends CountingKv {
    gate: Promise<void> | undefined
    /** Called when a scan reaches the gate. */
    parked: () => void = () => {}
    override async * keys (range: KvRange): AsyncIterable<string> {
      const from = range.gt ?? range.gte ?? ''
      if (this.gate === undefined || !from.includes('!i!')) { yield * super.keys(range); return }
      // A snapshot read: what the range held now, handed over once released.
      const snapshot: string[] = []
      for await (const k of super.keys(range)) snapshot.push(k)
      this.parked()
      await this.gate
      yield * snapshot
    }
  }

  it('answers a repeated query without scanning, and sees every write after it', async () => {
    const kv = new GatedKv()
    const store = storeOn(kv)
    await store.open()
    const a = await create(store, 'https://schema.org', 'Book', 'a')
    const b = await create(store, 'https://example.org', 'Book', 'b')
    const ids = async (q: Query): Promise<string[]> => (await runQuery(kv, store, { limit: 100, ...q })).objects.map(o => o.objectId)
    for (const q of [{ type: 'Book' }, { context: 'https://schema.org', type: 'Book' }, {}]) {
      const first = await ids(q)
      kv.scanned = 0
      expect(await ids(q)).toEqual(first)
      expect(kv.scanned).toBe(0)
    }
    const c = await create(store, 'https://schema.org', 'Book', 'c')
    expect(await ids({ type: 'Book' })).toEqual(expected(await liveMetas(store, [a, b, c]), { type: 'Book' }, 'created'))
    await store.delete(a, owner)
    expect(await ids({ type: 'Book' })).not.toContain(a)
    await nextMillisecond()
    await store.update(b, { '@context': 'https://example.org', '@type': 'Book', name: 'b2' }, owner)
    expect((await ids({ type: 'Book', sort: '-updated' }))[0]).toBe(b)
  })

  it('does not remember a scan a write overtook', async () => {
    const kv = new GatedKv()
    const store = storeOn(kv)
    await store.open()
    await create(store, 'https://schema.org', 'Book', 'a')
    let release = (): void => {}
    kv.gate = new Promise(resolve => { release = resolve })
    const parked = new Promise<void>(resolve => { kv.parked = resolve })
    const pending = runQuery(kv, store, { type: 'Book', limit: 100 })
    await parked
    const late = await create(store, 'https://schema.org', 'Book', 'late')
    kv.gate = undefined
    release()
    await pending
    // Whatever the overtaken scan saw, the next query reads afresh.
    expect((await runQuery(kv, store, { type: 'Book', limit: 100 })).objects.map(o => o.objectId)).toContain(late)
  })
})
