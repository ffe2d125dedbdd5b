import * as A from '@automerge/automerge'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createChange, docValue, toAm } from './automerge.js'
import { compareCodePoints, encodeCreateChange } from './create-change.js'
import type { JsonObject } from './json.js'

const ACTOR = 'ab'.repeat(16)
const TIME = 1_764_000_000

/** Stock Automerge's batch initializer: the bytes the encoder must reproduce. */
function initializerChange (value: JsonObject): Uint8Array {
  const doc = A.init<Record<string, unknown>>({ actor: ACTOR })
  const backend = A.getBackend(doc)
  backend.initRootFromHydrate(toAm(value))
  backend.commit(null, TIME)
  const change = backend.getLastLocalChange()
  A.free(doc)
  if (change === null) throw new Error('no change')
  return change
}

const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 4 }), fc.constantFrom('', '__proto__', '@type', 'name', '\uFFFF', '\u{1F600}'))
const json = fc.letrec(tie => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.maxSafeInteger(), fc.integer({ min: -3, max: 3 }), fc.constantFrom(0, -0, 0.5, -2.25, 1e-7),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter(n => !Number.isInteger(n) || Number.isSafeInteger(n)), fc.string({ unit: 'binary', maxLength: 8 }), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 5 })
}))
const root = fc.dictionary(key, json.value as fc.Arbitrary<JsonObject[string]>, { minKeys: 1, maxKeys: 7 })

describe('encodeCreateChange', () => {
  it('makes byte for byte the batch initializer\'s change, or declines (and createChange then is the initializer\'s)', () => {
    let encoded = 0
    fc.assert(fc.property(root, value => {
      const mine = encodeCreateChange(value, ACTOR, TIME)
      let stock: Uint8Array
      try {
        stock = initializerChange(value)
      } catch {
        // What the initializer cannot take or loses (a `__proto__` key) the encoder declines too, and createChange fails alike.
        expect(mine).toBeUndefined()
        expect(() => createChange(value, ACTOR, TIME)).toThrow()
        return
      }
      if (mine !== undefined) {
        encoded++
        expect(mine).toEqual(stock)
      }
      expect(createChange(value, ACTOR, TIME)).toEqual(stock)
    }), { numRuns: 600 })
    // The property is about the fast path: most generated values must take it.
    expect(encoded).toBeGreaterThan(100)
  })

  it('declines numbers A.encodeChange would not keep exactly (-0, non-integers) and unsafe integers', () => {
    for (const n of [-0, 0.1, 934.7823840385109, 2 ** 53]) expect(encodeCreateChange({ n }, ACTOR, TIME)).toBeUndefined()
    for (const n of [0, -1, 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) expect(encodeCreateChange({ n }, ACTOR, TIME)).toBeDefined()
  })

  it('gives a change stock Automerge applies to the value, with scalar strings', () => {
    const value: JsonObject = { '@context': 'https://schema.org', '@type': 'MusicPlaylist', name: 'Road Trip', numTracks: 2, track: [{ name: 'a' }, { name: 'b', n: 0 }], ok: true, none: null }
    const change = encodeCreateChange(value, ACTOR, TIME) as Uint8Array
    const [doc] = A.applyChanges(A.init<Record<string, unknown>>(), [change])
    expect(docValue(doc)).toEqual(value)
    expect(A.isImmutableString(doc.name)).toBe(true)
    expect(A.decodeChange(change)).toMatchObject({ actor: ACTOR, seq: 1, startOp: 1, time: TIME, deps: [] })
    A.free(doc)
  })

  it('orders keys by code point, as UTF-8 bytes sort', () => {
    const keys = ['b', '\uFFFF', '\u{1F600}', 'a', '', '\uE000', '\u{10000}']
    const sorted = [...keys].sort(compareCodePoints)
    const bytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    expect(sorted).toEqual(bytes)
  })
})
