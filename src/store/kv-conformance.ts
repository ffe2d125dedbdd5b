/**
 * The conformance suite every KvStore implementation must pass. Call it from
 * a test file with a factory for fresh, empty stores.
 */
import { describe, expect, it } from 'vitest'
import { prefixEnd, type KvStore } from './kv.js'

const b = (s: string): Uint8Array => new TextEncoder().encode(s)
const s = (u: Uint8Array | undefined): string | undefined => u === undefined ? undefined : new TextDecoder().decode(u)

async function collect (it: AsyncIterable<[string, Uint8Array]>): Promise<string[]> {
  const out: string[] = []
  for await (const [k] of it) out.push(k)
  return out
}

export function runKvConformance (name: string, make: () => Promise<KvStore>): void {
  describe(`KvStore conformance: ${name}`, () => {
    it('gets what a batch put, and nothing for absent keys', async () => {
      const kv = await make()
      await kv.batch([{ type: 'put', key: 'a', value: b('1') }, { type: 'put', key: 'b', value: b('2') }])
      expect(s(await kv.get('a'))).toBe('1')
      expect(await kv.get('zz')).toBeUndefined()
      expect((await kv.getMany(['b', 'zz', 'a'])).map(s)).toEqual(['2', undefined, '1'])
      await kv.close()
    })

    it('applies puts and deletes of one batch in order', async () => {
      const kv = await make()
      await kv.batch([{ type: 'put', key: 'k', value: b('1') }, { type: 'del', key: 'k' }, { type: 'put', key: 'j', value: b('x') }])
      expect(await kv.get('k')).toBeUndefined()
      expect(s(await kv.get('j'))).toBe('x')
      await kv.close()
    })

    it('iterates in UTF-8 byte order with ranges, reverse and limit', async () => {
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
    })

    it('stores binary values byte for byte', async () => {
      const kv = await make()
      const v = new Uint8Array([0, 255, 1, 128, 0])
      await kv.batch([{ type: 'put', key: 'bin', value: v }])
      expect(Array.from(await kv.get('bin') ?? [])).toEqual(Array.from(v))
      await kv.close()
    })
  })
}
