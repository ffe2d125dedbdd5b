/**
 * The KvStore conformance cases, free of any test framework, so that the
 * same cases run under vitest against Node's stores (kv-conformance.ts)
 * and inside a browser page against IndexedDB
 * (test/browser/pages/hub-kv.ts, with a small in-page runner). Each case
 * gets a factory for fresh, empty stores and an `expect` with the three
 * matchers the cases use.
 */
import { prefixEnd, type KvStore } from './kv.js'

export interface KvExpect {
  (actual: unknown): { toBe: (expected: unknown) => void, toEqual: (expected: unknown) => void, toBeUndefined: () => void }
}

export interface KvCase {
  name: string
  run: (make: () => Promise<KvStore>, expect: KvExpect) => Promise<void>
}

const b = (s: string): Uint8Array => new TextEncoder().encode(s)
const s = (u: Uint8Array | undefined): string | undefined => u === undefined ? undefined : new TextDecoder().decode(u)

async function collect (it: AsyncIterable<[string, Uint8Array]>): Promise<string[]> {
  const out: string[] = []
  for await (const [k] of it) out.push(k)
  return out
}

/** The error code a call rejects with, or 'resolved'. */
async function codeOf (call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call()
    return 'resolved'
  } catch (err) {
    return (err as { code?: unknown }).code
  }
}

export const KV_CONFORMANCE_CASES: readonly KvCase[] = [
  {
    name: 'gets what a batch put, and nothing for absent keys',
    run: async (make, expect) => {
      const kv = await make()
      await kv.batch([{ type: 'put', key: 'a', value: b('1') }, { type: 'put', key: 'b', value: b('2') }])
      expect(s(await kv.get('a'))).toBe('1')
      expect(await kv.get('zz')).toBeUndefined()
      expect((await kv.getMany(['b', 'zz', 'a'])).map(s)).toEqual(['2', undefined, '1'])
      await kv.close()
    }
  },
  {
    name: 'applies puts and deletes of one batch in order',
    run: async (make, expect) => {
      const kv = await make()
      await kv.batch([{ type: 'put', key: 'k', value: b('1') }, { type: 'del', key: 'k' }, { type: 'put', key: 'j', value: b('x') }])
      expect(await kv.get('k')).toBeUndefined()
      expect(s(await kv.get('j'))).toBe('x')
      await kv.close()
    }
  },
  {
    name: 'iterates in UTF-8 byte order with ranges, reverse and limit',
    run: async (make, expect) => {
      const kv = await make()
      const keys = ['p!b', 'p!a', 'p!c', 'q!a', 'p!\u00e9', 'o!z']
      await kv.batch(keys.map(k => ({ type: 'put' as const, key: k, value: b(k) })))
      expect(await collect(kv.entries({ gte: 'p!', lt: prefixEnd('p!') }))).toEqual(['p!a', 'p!b', 'p!c', 'p!\u00e9'])
      expect(await collect(kv.entries({ gt: 'p!a', lt: prefixEnd('p!'), limit: 2 }))).toEqual(['p!b', 'p!c'])
      expect(await collect(kv.entries({ gte: 'p!', lte: 'p!c', reverse: true }))).toEqual(['p!c', 'p!b', 'p!a'])
      const ks: string[] = []
      for await (const k of kv.keys({ gte: 'q', lt: 'r' })) ks.push(k)
      expect(ks).toEqual(['q!a'])
      await kv.close()
    }
  },
  {
    name: 'stores binary values byte for byte',
    run: async (make, expect) => {
      const kv = await make()
      const v = new Uint8Array([0, 255, 1, 128, 0])
      await kv.batch([{ type: 'put', key: 'bin', value: v }])
      expect(Array.from(await kv.get('bin') ?? [])).toEqual(Array.from(v))
      await kv.close()
    }
  },
  {
    // The store relies on this (docs/architecture.md, "Range reads are
    // snapshots"): browser-level's own iterators do not give it.
    name: 'a range read does not see keys written into it after it began',
    run: async (make, expect) => {
      const kv = await make()
      await kv.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `r!${String(i).padStart(4, '0')}`, value: b(String(i)) })))
      const seen: string[] = []
      let wrote = false
      for await (const [k] of kv.entries({ gte: 'r!', lt: prefixEnd('r!') })) {
        seen.push(k)
        if (!wrote) {
          wrote = true
          // Ahead of the position: a non-snapshot reader would meet them later.
          await kv.batch([{ type: 'put', key: 'r!0150x', value: b('new') }, { type: 'put', key: 'r!9999', value: b('new') }])
        }
      }
      expect(seen.length).toBe(300)
      expect(seen.includes('r!0150x') || seen.includes('r!9999')).toBe(false)
      expect(s(await kv.get('r!9999'))).toBe('new')
      await kv.close()
    }
  },
  {
    name: 'after close every call rejects with the typed code unavailable',
    run: async (make, expect) => {
      const kv = await make()
      await kv.batch([{ type: 'put', key: 'a', value: b('1') }])
      await kv.close()
      expect(await codeOf(async () => await kv.get('a'))).toBe('unavailable')
      expect(await codeOf(async () => await kv.getMany(['a']))).toBe('unavailable')
      expect(await codeOf(async () => { await kv.batch([{ type: 'put', key: 'b', value: b('2') }]) })).toBe('unavailable')
      expect(await codeOf(async () => await collect(kv.entries({})))).toBe('unavailable')
      expect(await codeOf(async () => { for await (const k of kv.keys({})) void k })).toBe('unavailable')
    }
  }
]
