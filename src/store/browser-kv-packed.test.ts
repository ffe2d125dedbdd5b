import { describe, expect, it } from 'vitest'
import { applyToRecord, compareBytes, isPackedRecord, ordKey, packedGroup, rangeSides, unordKey, valueIn } from './browser-kv-packed.js'
import { compareUtf8 } from './utf8-order.js'
import { Layout, scopesOf } from './layout.js'
import { prefixEnd } from './kv.js'

const b = (s: string): Uint8Array => new TextEncoder().encode(s)
const s = (u: Uint8Array): string => new TextDecoder().decode(u)

describe('packedGroup', () => {
  it('packs the layout\'s sort and field index keys by (tenant, object), and nothing else', () => {
    const l = new Layout('ten!ant')
    const id = 'obj-1'
    const packed = [
      `${l.sortPrefix('collections', scopesOf('https://schema.org', 'MusicPlaylist')[1] as string, 'c')}0000000000001!${id}`,
      `${l.fieldPrefix('collections', 'MusicPlaylist', 'position')}n80!${id}`
    ]
    for (const k of packed) expect(packedGroup(k)).toBe(`${l.p}${id}`)
    const plain = [l.commit('c1' as never), l.object(id as never), l.objectCommit(id as never, 3), l.feed(9), l.snapshot(id as never), l.permission(id as never),
      l.migration('m'), 'n!t!a!i!b!c', 'p!a', 't!', 't!a', 't!a!i', 't!a!ix!b!c', 't!a!!i!b', 'ti!a!i!b']
    for (const k of plain) expect(packedGroup(k), k).toBeUndefined()
    // Total on the packed area: no object id still packs (under the empty id).
    expect(packedGroup('t!a!i!')).toBe('t!a!')
    expect(packedGroup('t!a!x!b')).toBe('t!a!b')
  })
})

describe('rangeSides', () => {
  it('narrows a range to one object store only when every key in it is on that side', () => {
    expect(rangeSides('t!a!i!*!c!', prefixEnd('t!a!i!*!c!'))).toBe('packed')
    expect(rangeSides('t!a!x!', prefixEnd('t!a!x!'))).toBe('packed')
    expect(rangeSides('t!a!oc!o1!', prefixEnd('t!a!oc!o1!'))).toBe('plain')
    expect(rangeSides('n!', prefixEnd('n!'))).toBe('plain')
    expect(rangeSides('t!a!', prefixEnd('t!a!'))).toBe('both')
    expect(rangeSides('t!a!i!', 't!b!i!')).toBe('both')
    expect(rangeSides('t!a!i!', 't!a!x!')).toBe('both')
    expect(rangeSides('s', 'u')).toBe('both')
    expect(rangeSides(undefined, 't!a!i!')).toBe('both')
    expect(rangeSides('t!a!i!', undefined)).toBe('both')
    expect(rangeSides('', 'a')).toBe('both')
  })

  it('is never wrong: every packed key between two bounds narrowed to plain is absent, and every plain one between packed bounds', () => {
    const keys = ['t!a!i!x!1', 't!a!i!', 't!a!ia', 't!a!x!\u00e9!2', 't!a!o!1', 't!a!oc!1!2', 't!b!i!a!1', 't!', 'ta', 'n!t!a!i!b!c', 's', 'u', '\u{1F600}', '\uffef']
    const order = [...keys].sort((x, y) => compareBytes(b(x), b(y)))
    for (const lo of order) {
      for (const hi of order) {
        if (compareBytes(b(lo), b(hi)) > 0) continue
        const side = rangeSides(lo, hi)
        const inside = order.filter(k => compareBytes(b(k), b(lo)) >= 0 && compareBytes(b(k), b(hi)) <= 0)
        if (side === 'plain') expect(inside.filter(k => packedGroup(k) !== undefined), `${lo}..${hi}`).toEqual([])
        if (side === 'packed') expect(inside.filter(k => packedGroup(k) === undefined), `${lo}..${hi}`).toEqual([])
      }
    }
  })
})

describe('applyToRecord', () => {
  it('applies a batch\'s puts and dels in order, keeps values only when one is non-empty, and drops an emptied record', () => {
    let rec = applyToRecord(undefined, [{ type: 'put', key: 't!a!i!1!o', value: new Uint8Array(0) }, { type: 'put', key: 't!a!x!2!o', value: new Uint8Array(0) }])
    expect(rec?.k).toEqual(['t!a!i!1!o', 't!a!x!2!o'])
    expect(rec?.v).toBeUndefined()
    rec = applyToRecord(rec, [{ type: 'del', key: 't!a!i!1!o' }, { type: 'put', key: 't!a!i!3!o', value: b('v') }, { type: 'del', key: 't!a!i!9!o' }])
    expect(rec?.k).toEqual(['t!a!x!2!o', 't!a!i!3!o'])
    expect(rec?.v?.map(s)).toEqual(['', 'v'])
    expect(s(valueIn(rec, 't!a!i!3!o') ?? b('absent'))).toBe('v')
    expect(valueIn(rec, 't!a!i!1!o')).toBeUndefined()
    expect(applyToRecord(rec, [{ type: 'put', key: 't!a!i!3!o', value: new Uint8Array(0) }])?.v).toBeUndefined()
    expect(applyToRecord(rec, [{ type: 'del', key: 't!a!x!2!o' }, { type: 'del', key: 't!a!i!3!o' }])).toBeUndefined()
    // A put then a del of the same key in one batch leaves it absent; a del then a put, present.
    expect(applyToRecord(undefined, [{ type: 'put', key: 'k', value: b('1') }, { type: 'del', key: 'k' }])).toBeUndefined()
    expect(applyToRecord(undefined, [{ type: 'del', key: 'k' }, { type: 'put', key: 'k', value: b('1') }])?.k).toEqual(['k'])
  })

  it('stores exactly a view\'s bytes, not its whole buffer', () => {
    const big = b('xxabcxx')
    const rec = applyToRecord(undefined, [{ type: 'put', key: 'k', value: big.subarray(2, 5) }])
    expect(rec?.v?.[0]?.buffer.byteLength).toBe(3)
  })

  it('recognizes only well-formed records read back', () => {
    expect(isPackedRecord({ k: ['a'] })).toBe(true)
    expect(isPackedRecord({ k: ['a'], v: [b('')] })).toBe(true)
    for (const bad of [null, 'x', {}, { k: [b('a')] }, { k: ['a'], v: [] }, { k: ['a'], v: ['x'] }]) expect(isPackedRecord(bad)).toBe(false)
  })
})

describe('ordKey', () => {
  it('orders keys as strings (UTF-16, IndexedDB\'s order) exactly as their UTF-8 bytes, and maps back', () => {
    const chars = ['a', '!', '~', '\u00e9', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uefff', '\uf7ff', '\uf800', '\uffef', '\uffff', '\u{10000}', '\u{1F600}', '\u{10FFFF}']
    const keys: string[] = []
    for (const x of chars) for (const y of chars) keys.push(`t!a!i!${x}${y}!o`)
    const byBytes = [...keys].sort((x, y) => compareBytes(b(x), b(y)))
    const byOrd = [...keys].sort((x, y) => { const p = ordKey(x); const q = ordKey(y); return p < q ? -1 : p > q ? 1 : 0 })
    expect(byOrd).toEqual(byBytes)
    expect([...keys].sort(compareUtf8)).toEqual(byBytes)
    for (const k of keys) expect(unordKey(ordKey(k))).toBe(k)
    expect(ordKey('t!a!i!plain!o')).toBe('t!a!i!plain!o')
  })

  it('turns lone surrogates into U+FFFD, as TextEncoder does for the plain object store', () => {
    expect(unordKey(ordKey('x\ud800y'))).toBe('x\ufffdy')
    expect(unordKey(ordKey('x\udc00'))).toBe('x\ufffd')
    expect(s(b('x\ud800y'))).toBe('x\ufffdy')
  })
})
