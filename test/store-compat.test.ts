/**
 * A store written by an earlier version opens and syncs with this one
 * (issue 18: every optimization keeps the store byte-compatible, migrating
 * on open where the format changes). test/fixtures/hubs-51d8280.tar.gz holds
 * two paired hubs, A and B, written by commit 51d8280 (before the issue-18
 * changes: no feed-origin runs, the old ingest and write paths): 30 objects
 * of three types, an LWW object, an object in an encrypted collection,
 * ten updates of one object, a field change, a delete, an app grant, and a
 * create on B pulled by A. expected.json is what both answered then.
 * scripts/make-compat-fixture.mjs made it (run against the old build; it
 * says how), and makes the next one when the format changes again.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { doctor } from '../src/store/doctor.js'
import { LevelKv } from '../src/store/level-kv.js'
import { unesc } from '../src/store/layout.js'
import type { SortOrder } from '../src/store/query.js'
import { cleanup, tempDir } from './helpers.js'
import { device, eventually, startHub, stopAll, type Running } from './net-helpers.js'

afterEach(async () => { await stopAll(); await cleanup() })

interface Expected { owner: string, hubA: string, hubB: string, objects: Array<{ id: string, value: unknown }>, ids: string[], secret: string, fromB: string }

const FIXTURE = join(import.meta.dirname, 'fixtures', 'hubs-51d8280.tar.gz')

const canon = (v: unknown): unknown => v === null || typeof v !== 'object'
  ? v
  : Array.isArray(v) ? v.map(canon) : Object.fromEntries(Object.keys(v).sort().map(k => [k, canon((v as Record<string, unknown>)[k])]))

async function objects (hub: Hub): Promise<Array<{ id: string, value: unknown }>> {
  const q = await hub.collections.query({ limit: 1000 })
  return q.objects.map(o => ({ id: o.objectId, value: canon(o.value) })).sort((x, y) => x.id < y.id ? -1 : 1)
}

async function unpack (): Promise<{ dir: string, expected: Expected }> {
  const dir = await tempDir('compat-')
  await promisify(execFile)('tar', ['-xzf', FIXTURE, '-C', dir])
  return { dir, expected: JSON.parse(await readFile(join(dir, 'expected.json'), 'utf8')) as Expected }
}

describe('a store written by commit 51d8280', () => {
  it('opens with everything it held, is clean for hub doctor, and each hub keeps its identity', async () => {
    const { dir, expected } = await unpack()
    for (const [name, hubDid] of [['a', expected.hubA], ['b', expected.hubB]] as const) {
      const hub = await Hub.open(join(dir, name))
      try {
        expect(hub.did).toBe(expected.owner)
        expect(hub.hubDid).toBe(hubDid)
        expect(await objects(hub)).toEqual(expected.objects)
        const secret = await hub.collections.read(expected.secret)
        expect(secret.value).toMatchObject({ name: 'old secret' })
        const report = await doctor(hub)
        expect(report.tenants.map(t => t.problems)).toEqual([[]])
        expect(report.clean).toBe(true)
      } finally {
        await hub.close()
      }
    }
  })

  it('migrates to index layout v2: queries by type and by context answer exactly as the old C/T indexes did', async () => {
    const { dir } = await unpack()
    // What the old version answered: its `C<context>` and `T<type>` sort ranges, read straight from its LevelDB.
    const kv = await LevelKv.open(join(dir, 'a', 'store'))
    const old = new Map<string, string[]>()
    for await (const k of kv.keys({ gte: 't!', lt: 't!\uffff' })) {
      const m = /^t![^!]*!i!Collections!([CT][^!]*)!([cu])!/.exec(k)
      if (m === null) continue
      const scope = `${m[1] as string} ${m[2] as string}`
      old.set(scope, [...(old.get(scope) ?? []), k.slice(k.lastIndexOf('!') + 1)])
    }
    await kv.close()
    expect([...old.keys()].filter(s => s.startsWith('T')).length).toBeGreaterThanOrEqual(3)
    expect([...old.keys()].filter(s => s.startsWith('C')).length).toBeGreaterThanOrEqual(1)
    const hub = await Hub.open(join(dir, 'a'))
    try {
      for (const [scope, ids] of old) {
        const [name, by] = scope.split(' ') as [string, 'c' | 'u']
        const q = name.startsWith('C') ? { context: unesc(name.slice(1)) } : { type: unesc(name.slice(1)) }
        for (const sort of (by === 'c' ? ['created', '-created'] : ['updated', '-updated']) as SortOrder[]) {
          const want = sort.startsWith('-') ? [...ids].reverse() : ids
          expect((await hub.collections.query({ ...q, sort, limit: 1000 })).objects.map(o => o.objectId), `${scope} ${sort}`).toEqual(want)
          // In pages too: a cursor carries across the merged ranges.
          const paged: string[] = []
          let cursor: string | undefined
          do {
            const page = await hub.collections.query({ ...q, sort, limit: 4, ...(cursor !== undefined ? { cursor } : {}) })
            paged.push(...page.objects.map(o => o.objectId))
            cursor = page.cursor ?? undefined
          } while (cursor !== undefined)
          expect(paged, `${scope} ${sort} paged`).toEqual(want)
        }
      }
      const left: string[] = []
      for await (const k of hub.kv.keys({ gte: hub.store.layout.indexPrefix(), lt: `${hub.store.layout.indexPrefix()}\uffff` })) if (/!i!Collections![CT]/.test(k)) left.push(k)
      expect(left).toEqual([])
      expect(await hub.kv.get(hub.store.layout.migration('index-layout-v2'))).toBeDefined()
    } finally {
      await hub.close()
    }
  })

  it('both devices, upgraded, sync new writes both ways (an old object updated, new ones created), and a new device gets everything', { timeout: 90_000 }, async () => {
    const { dir, expected } = await unpack()
    const a = await startHub(join(dir, 'a'))
    const b = await startHub(join(dir, 'b'), { bootstrap: a.node.multiaddrs() })
    const CTX = 'https://schema.org'
    const first = expected.ids[0] as string
    await a.hub.collections.update(first, { '@context': CTX, '@type': 'MusicPlaylist', name: 'updated after the upgrade', n: 0 })
    await a.hub.collections.create({ '@context': CTX, '@type': 'MusicAlbum', name: 'created on A after the upgrade', n: 300 })
    await b.hub.collections.change(expected.fromB, d => { d.name = 'changed on B after the upgrade' })
    await b.hub.collections.create({ '@context': CTX, '@type': 'Person', name: 'created on B after the upgrade', n: 301 })
    const same = async (x: Running, y: Running, n: number): Promise<boolean> => {
      const [ox, oy] = [await objects(x.hub), await objects(y.hub)]
      return ox.length === n && JSON.stringify(ox) === JSON.stringify(oy)
    }
    await eventually(async () => await same(a, b, expected.objects.length + 2), 60_000, 'A and B to converge')
    const names = (await objects(a.hub)).map(o => (o.value as { name: string }).name)
    expect(names).toEqual(expect.arrayContaining(['updated after the upgrade', 'created on A after the upgrade', 'changed on B after the upgrade', 'created on B after the upgrade']))
    const c = await device(a)
    await eventually(async () => await same(a, c, expected.objects.length + 2), 60_000, 'a new device to get everything')
    expect((await c.hub.collections.read(expected.secret)).value).toMatchObject({ name: 'old secret' })
    for (const r of [a, b, c]) expect((await doctor(r.hub)).clean, r.dir).toBe(true)
  })
})
