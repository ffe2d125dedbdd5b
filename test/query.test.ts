import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { TestKv } from './test-kv.js'
import { TenantStore } from '../src/store/tenant-store.js'
import { runQuery } from '../src/store/query.js'
import type { Hub } from '../src/hub.js'
import { cleanup, playlist, tempHub } from './helpers.js'
import type { KvRange } from '../src/store/kv.js'

afterAll(cleanup)

class CountingKv extends TestKv {
  reads = 0
  scanned = 0
  override async get (key: string): Promise<Uint8Array | undefined> { this.reads++; return await super.get(key) }
  override async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> { this.reads += keys.length; return await super.getMany(keys) }
  override async * keys (range: KvRange): AsyncIterable<string> {
    for await (const k of super.keys(range)) { this.scanned++; yield k }
  }
}

describe('queries are served from indexes', () => {
  const owner = Ed25519KeyPair.generate()
  const kv = new CountingKv()
  const store = new TenantStore({ kv, tenant: owner.did, actor: 'ab'.repeat(16), maxValueBytes: 1 << 20 })

  beforeAll(async () => {
    await store.open()
    await Promise.all(Array.from({ length: 2000 }, async (_, i) => await store.create({
      iface: 'Collections',
      value: { '@context': 'https://schema.org', '@type': i % 2 === 0 ? 'MusicPlaylist' : 'Book', name: `n${i}`, rank: i },
      context: 'https://schema.org',
      type: i % 2 === 0 ? 'MusicPlaylist' : 'Book',
      strategy: 'lww',
      signer: owner
    })))
  })

  it('reads only the page when there are no filters', async () => {
    kv.reads = 0; kv.scanned = 0
    const page = await runQuery(kv, store, { context: 'https://schema.org', type: 'MusicPlaylist', limit: 10 })
    expect(page.objects).toHaveLength(10)
    expect(kv.reads).toBeLessThanOrEqual(10)
    expect(kv.scanned).toBeLessThanOrEqual(11)
  })

  it('reads only the matches of the leading filter', async () => {
    kv.reads = 0; kv.scanned = 0
    const page = await runQuery(kv, store, { type: 'MusicPlaylist', where: [{ field: 'rank', op: 'gte', value: 1990 }], limit: 100 })
    expect(page.objects.map(o => o.value?.rank)).toEqual([1990, 1992, 1994, 1996, 1998])
    expect(kv.reads).toBeLessThanOrEqual(5)
    expect(kv.scanned).toBeLessThanOrEqual(5)
  })
})

describe('query semantics', () => {
  let hub: Hub
  beforeAll(async () => {
    hub = await tempHub()
    for (let i = 0; i < 25; i++) {
      await hub.collections.create({ ...playlist(`list ${String(i).padStart(2, '0')}`, Array.from({ length: i % 5 }, (_, j) => `t${j}`)), genre: i % 2 === 0 ? 'rock' : 'jazz', score: i / 2 })
    }
    await hub.collections.create({ '@context': 'https://example.org/music', '@type': 'MusicPlaylist', name: 'other context' })
    await hub.collections.create({ '@context': 'https://schema.org', '@type': 'Book', name: 'a book' })
  })

  it('scopes by context, by type, by both and by neither', async () => {
    const q = async (o: Record<string, string>): Promise<number> => (await hub.collections.query({ ...o, limit: 1000 })).objects.length
    expect(await q({})).toBe(27)
    expect(await q({ type: 'MusicPlaylist' })).toBe(26)
    expect(await q({ context: 'https://schema.org' })).toBe(26)
    expect(await q({ context: 'https://schema.org', type: 'MusicPlaylist' })).toBe(25)
    expect(await q({ context: 'https://example.org/music', type: 'MusicPlaylist' })).toBe(1)
    expect(await q({ type: 'Nothing' })).toBe(0)
  })

  it('pages with an opaque cursor in both sort directions, without gaps or repeats', async () => {
    for (const sort of ['created', '-created', 'updated', '-updated'] as const) {
      const names: string[] = []
      let cursor: string | undefined
      for (;;) {
        const page = await hub.collections.query({ type: 'MusicPlaylist', context: 'https://schema.org', sort, limit: 7, ...(cursor !== undefined ? { cursor } : {}) })
        names.push(...page.objects.map(o => o.value?.name as string))
        if (page.cursor === null) break
        cursor = page.cursor
      }
      const expected = Array.from({ length: 25 }, (_, i) => `list ${String(i).padStart(2, '0')}`)
      expect(names).toEqual(sort.startsWith('-') ? expected.reverse() : expected)
    }
  })

  it('filters by equality and ranges, pages filtered results, and ignores deleted objects', async () => {
    const rock = await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'genre', op: 'eq', value: 'rock' }], limit: 1000 })
    expect(rock.objects).toHaveLength(13)
    const mid = await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'score', op: 'gt', value: 3 }, { field: 'score', op: 'lte', value: 5 }], limit: 1000 })
    expect(mid.objects.map(o => o.value?.score)).toEqual([3.5, 4, 4.5, 5])
    const combo = await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'genre', op: 'eq', value: 'jazz' }, { field: 'numTracks', op: 'eq', value: 0 }], limit: 1000 })
    expect(combo.objects.map(o => o.value?.name)).toEqual(['list 05', 'list 15'])
    const p1 = await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'genre', op: 'eq', value: 'rock' }], limit: 5, sort: '-created' })
    const p2 = await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'genre', op: 'eq', value: 'rock' }], limit: 5, sort: '-created', cursor: p1.cursor as string })
    expect(p1.objects[0]?.value?.name).toBe('list 24')
    expect(p2.objects[0]?.value?.name).toBe('list 14')
    const victim = rock.objects[0]?.objectId as string
    await hub.collections.delete(victim)
    expect((await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'genre', op: 'eq', value: 'rock' }], limit: 1000 })).objects).toHaveLength(12)
    expect((await hub.collections.query({ type: 'MusicPlaylist', limit: 1000 })).objects.some(o => o.objectId === victim)).toBe(false)
  })

  it('moves an object in the updated index when it changes', async () => {
    const first = (await hub.collections.query({ type: 'MusicPlaylist', context: 'https://schema.org', sort: 'updated', limit: 1 })).objects[0]
    await hub.collections.update(first?.objectId as string, { ...(first?.value as object), name: 'touched' })
    const latest = (await hub.collections.query({ type: 'MusicPlaylist', context: 'https://schema.org', sort: '-updated', limit: 1 })).objects[0]
    expect(latest?.objectId).toBe(first?.objectId)
    expect((await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'name', op: 'eq', value: 'touched' }] })).objects).toHaveLength(1)
  })

  it('rejects bad queries with bad_request', async () => {
    for (const q of [{ limit: 0 }, { limit: 5000 }, { cursor: '%%%' }, { cursor: 'e30' }, { where: [{ field: 'x', op: 'eq' as const, value: 1 }] }, { sort: 'name' as 'created' }]) {
      await expect(hub.collections.query(q)).rejects.toMatchObject({ code: 'bad_request' })
    }
  })
})
