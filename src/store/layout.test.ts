import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeIndexValue, esc, INDEXED_STRING_MAX } from './layout.js'

const byteCmp = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

describe('index value encoding', () => {
  it('orders numbers numerically', () => {
    fc.assert(fc.property(fc.double({ noNaN: true }), fc.double({ noNaN: true }), (a, b) => {
      const ea = encodeIndexValue(a)
      const eb = encodeIndexValue(b)
      if (a < b) expect(byteCmp(ea, eb)).toBeLessThan(0)
      else if (a > b) expect(byteCmp(ea, eb)).toBeGreaterThan(0)
      else expect(ea).toBe(eb)
    }), { numRuns: 2000 })
  })

  it('keeps string order monotone, also as a key prefix (truncation never inverts it)', () => {
    const unit = fc.oneof(fc.constantFrom('!', '"', '#', '%', '\u0000', '\u0001', 'a', 'é', '\uffff'), fc.integer({ min: 0, max: 0x10ffff }).map(cp => String.fromCodePoint(cp)))
    const str = fc.string({ maxLength: 200, unit })
    fc.assert(fc.property(str, str, (a, b) => {
      if (Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0) {
        expect(byteCmp(encodeIndexValue(a), encodeIndexValue(b))).toBeLessThanOrEqual(0)
        // As stored: value + "!" + object id. The separator must not break the order.
        if (a.length < INDEXED_STRING_MAX && b.length < INDEXED_STRING_MAX && Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0) {
          expect(byteCmp(`${encodeIndexValue(a)}!zzz`, `${encodeIndexValue(b)}!aaa`)).toBeLessThan(0)
        }
      }
    }), { numRuns: 3000 })
  })

  it('places types in a fixed order and never emits the separator', () => {
    const order = [null, false, true, -1, 0, 1e9, '', 'a']
    for (let i = 1; i < order.length; i++) {
      expect(byteCmp(encodeIndexValue(order[i - 1] as null), encodeIndexValue(order[i] as null))).toBeLessThan(0)
    }
    fc.assert(fc.property(fc.string({ unit: 'binary' }), s => {
      expect(esc(s)).not.toContain('!')
      // eslint-disable-next-line no-control-regex -- asserting no control characters survive
      expect(encodeIndexValue(s).slice(1)).not.toMatch(/[\u0000-\u0021]/)
    }))
    expect(encodeIndexValue('x'.repeat(500)).length).toBe(1 + INDEXED_STRING_MAX)
  })
})
