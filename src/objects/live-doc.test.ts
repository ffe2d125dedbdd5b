import * as A from '@automerge/automerge'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createChange, docValue, patchMap, type AmDoc } from './automerge.js'
import type { JsonObject } from './json.js'
import { LiveDoc } from './live-doc.js'

const ACTOR = 'ab'.repeat(16)
const TIME = 1_764_000_000

/** Stock Automerge: a document with our actor holding `changes`. */
function stockDoc (changes: Uint8Array[]): AmDoc {
  const [doc] = A.applyChanges(A.init<Record<string, unknown>>({ actor: ACTOR }), changes)
  return doc
}

/** The change stock `A.change` makes for the same edit (patchMap through the proxies), and the document after it. */
function stockEdit (doc: AmDoc, fn: (d: Record<string, unknown>) => void): { doc: AmDoc, change: Uint8Array | undefined } {
  const after = A.change(doc, { time: TIME }, fn)
  return { doc: after, change: after === doc ? undefined : A.getLastLocalChange(after) }
}

/** What the document itself holds (not the value LiveDoc keeps beside it): loaded by stock Automerge from its bytes. */
function held (live: LiveDoc): JsonObject {
  const doc = A.load<Record<string, unknown>>(live.save())
  const value = docValue(doc)
  A.free(doc)
  return value
}

const asJson = (v: JsonObject): unknown => JSON.parse(JSON.stringify(v))

function liveFrom (change: Uint8Array): LiveDoc {
  const live = LiveDoc.load(undefined, ACTOR)
  live.applyChanges([change])
  return live
}

const json = fc.letrec(tie => ({
  // Numbers as checkJsonObject admits them: finite, integers within the safe range.
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter(n => !Number.isInteger(n) || Number.isSafeInteger(n)), fc.string({ maxLength: 6 }), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'name', 'n', 'list'), tie('value'), { maxKeys: 5 })
}))
const rootOf = (minKeys: number): fc.Arbitrary<JsonObject> => fc.dictionary(fc.constantFrom('a', 'b', 'c', 'name', 'n', 'list', 'track'), json.value as fc.Arbitrary<JsonObject[string]>, { minKeys, maxKeys: 6 })
/** A create change needs at least one field; later values may be empty. */
const first = rootOf(1)
const root = rootOf(0)

describe('LiveDoc: a whole-value update on the backend', () => {
  it('makes byte for byte the change stock A.change makes for the same edit, over a chain of updates', () => {
    fc.assert(fc.property(first, fc.array(root, { minLength: 1, maxLength: 4 }), (start, nexts) => {
      const create = createChange(start, ACTOR)
      const live = liveFrom(create)
      let stock = stockDoc([create])
      let current = start
      for (const next of nexts) {
        const mine = live.update(current, next, TIME)
        const theirs = stockEdit(stock, d => patchMap(d, current, next))
        stock = theirs.doc
        expect(mine?.change).toEqual(theirs.change)
        if (mine !== undefined) expect(mine.value).toBe(next)
        expect(held(live)).toEqual(docValue(stock))
        // The value kept beside the document equals it as JSON (it is the value written: -0 stays -0 there, as in the meta).
        expect(asJson(live.value())).toEqual(asJson(docValue(stock)))
        expect(live.heads()).toEqual(A.getHeads(stock))
        current = next
      }
      live.free()
      A.free(stock)
    }), { numRuns: 200 })
  })

  it('falls back to Automerge\'s proxies where the JSON value hides the shape (a counter), with the same bytes', () => {
    const seed = A.from<Record<string, unknown>>({ hits: new A.Counter(3), name: new A.ImmutableString('x') }, { actor: ACTOR })
    const create = A.getLastLocalChange(seed) as Uint8Array
    const live = liveFrom(create)
    const from = live.value()
    expect(from).toEqual({ hits: { value: 3 }, name: 'x' })
    const to = { hits: { value: 4 }, name: 'y' }
    const mine = live.update(from, to, TIME)
    const theirs = stockEdit(stockDoc([create]), d => patchMap(d, from, to))
    expect(mine?.change).toEqual(theirs.change)
    expect(live.value()).toEqual(docValue(theirs.doc))
    A.free(seed)
    live.free()
  })

  it('reports no change for an equal value and for an edit that writes nothing', () => {
    const value: JsonObject = { name: 'a', list: [1, 2] }
    const live = liveFrom(createChange(value, ACTOR))
    expect(live.update(value, structuredClone(value), TIME)).toBeUndefined()
    expect(live.change(() => {}, TIME)).toBeUndefined()
    live.free()
  })
})

describe('LiveDoc: drafts, remote changes and loading', () => {
  it('records a draft function as the whole-value update of its result, and stays what stock Automerge holds', () => {
    const start: JsonObject = { '@type': 'MusicPlaylist', name: 'one', track: [{ name: 'a' }] }
    const create = createChange(start, ACTOR)
    const live = liveFrom(create)
    const twin = liveFrom(create)
    let stock = stockDoc([create])
    const steps: Array<(d: Record<string, unknown>) => void> = [
      d => { d.name = 'two' },
      d => { (d.track as unknown[]).push({ name: 'b' }) },
      d => { (d.track as unknown[]).splice(0, 0, { name: 'c' }) },
      d => { (d.track as Array<Record<string, unknown>>)[1] = { name: 'a', by: 'x' } },
      d => { Reflect.deleteProperty(d, 'name') }
    ]
    for (const step of steps) {
      const from = live.value()
      const mine = live.change(step, TIME)
      // The same result as a whole value, on a twin document: the very same change.
      const to = structuredClone(from)
      step(to)
      expect(twin.update(from, to, TIME)?.change).toEqual(mine?.change)
      const theirs = stockEdit(stock, d => patchMap(d, from, to))
      stock = theirs.doc
      expect(mine?.change).toEqual(theirs.change)
      expect(mine?.value).toEqual(to)
      expect(held(live)).toEqual(docValue(stock))
      expect(asJson(live.value())).toEqual(asJson(docValue(stock)))
    }
    live.free()
    twin.free()
  })

  it('writes every string as a scalar string on both paths, also over Text another writer made, which reads as a string', () => {
    // Stock Automerge turns a plain string assigned in A.change into Text: an object another writer (or this hub before the one rule) made.
    const seed = A.change(A.init<Record<string, unknown>>({ actor: 'cd'.repeat(16) }), { time: TIME }, d => { d.name = 'text'; d.genre = 'rock'; d.n = 1 })
    const create = A.getLastLocalChange(seed) as Uint8Array
    const live = liveFrom(create)
    expect(live.value()).toEqual({ name: 'text', genre: 'rock', n: 1 })
    const viaChange = live.change(d => { d.name = 'renamed'; d.tags = ['a'] }, TIME)
    expect(viaChange?.value).toEqual({ name: 'renamed', genre: 'rock', n: 1, tags: ['a'] })
    const viaUpdate = live.update(viaChange?.value as JsonObject, { name: 'again', genre: 'rock', n: 1, tags: ['a', 'b'] }, TIME)
    expect(viaUpdate).toBeDefined()
    const loaded = A.load<Record<string, unknown>>(live.save())
    expect(A.isImmutableString(loaded.name)).toBe(true)
    expect(A.isImmutableString((loaded.tags as unknown[])[1])).toBe(true)
    // A field neither path touched keeps the type its writer gave it.
    expect(loaded.genre).toBe('rock')
    expect(docValue(loaded)).toEqual({ name: 'again', genre: 'rock', n: 1, tags: ['a', 'b'] })
    A.free(seed)
    A.free(loaded)
    live.free()
  })

  it('refuses a draft that is no longer JSON and leaves the document as it was', () => {
    const live = liveFrom(createChange({ name: 'x', n: 1 }, ACTOR))
    const heads = live.heads()
    expect(() => live.change(d => { d.when = new Date(0) }, TIME)).toThrow(expect.objectContaining({ code: 'bad_request' }))
    expect(() => live.change(d => { d.n = Number.NaN }, TIME)).toThrow(expect.objectContaining({ code: 'bad_request' }))
    expect(() => live.change(d => { d.name = new A.ImmutableString('y') }, TIME)).toThrow(expect.objectContaining({ code: 'bad_request' }))
    expect(() => live.change(() => { throw new Error('mine') }, TIME)).toThrow('mine')
    expect(live.heads()).toEqual(heads)
    expect(live.value()).toEqual({ name: 'x', n: 1 })
    expect(held(live)).toEqual({ name: 'x', n: 1 })
    live.free()
  })

  it('applies remote changes and saves a document stock Automerge loads', () => {
    const start: JsonObject = { name: 'one', n: 1 }
    const create = createChange(start, ACTOR)
    const other = A.change(A.load<Record<string, unknown>>(A.save(stockDoc([create])), { actor: 'cd'.repeat(16) }), { time: TIME }, d => { d.n = 2 })
    const live = liveFrom(create)
    live.applyChanges([A.getLastLocalChange(other) as Uint8Array])
    expect(live.value()).toEqual({ name: 'one', n: 2 })
    const mine = live.update({ name: 'one', n: 2 }, { name: 'two', n: 2 }, TIME)
    // After a remote change the backend holds more than the new change since its last incremental save: still the very change stock Automerge makes.
    const remote = A.getLastLocalChange(other) as Uint8Array
    const theirs = stockEdit(stockDoc([create, remote]), d => patchMap(d, { name: 'one', n: 2 }, { name: 'two', n: 2 }))
    expect(mine?.change).toEqual(theirs.change)
    // And again on top of a save (which moves Automerge's incremental cursor) and an update of its own.
    live.save()
    const again = live.update({ name: 'two', n: 2 }, { name: 'three', n: 2 }, TIME)
    const third = live.update({ name: 'three', n: 2 }, { name: 'four', n: 2 }, TIME)
    const theirsAgain = stockEdit(theirs.doc, d => patchMap(d, { name: 'two', n: 2 }, { name: 'three', n: 2 }))
    expect(again?.change).toEqual(theirsAgain.change)
    expect(third?.change).toEqual(stockEdit(theirsAgain.doc, d => patchMap(d, { name: 'three', n: 2 }, { name: 'four', n: 2 })).change)
    live.update({ name: 'four', n: 2 }, { name: 'two', n: 2 }, TIME)
    const loaded = A.load<Record<string, unknown>>(live.save())
    expect(docValue(loaded)).toEqual({ name: 'two', n: 2 })
    expect(A.getHeads(loaded)).toEqual(live.heads())
    const reloaded = LiveDoc.load(live.save(), ACTOR)
    expect(reloaded.value()).toEqual({ name: 'two', n: 2 })
    live.free()
    reloaded.free()
  })

  it('rejects bytes that are no change and changes with missing dependencies, as bad_request', () => {
    const live = LiveDoc.load(undefined, ACTOR)
    expect(() => live.applyChanges([new Uint8Array([1, 2, 3])])).toThrow(expect.objectContaining({ code: 'bad_request' }))
    const create = createChange({ name: 'x' }, 'cd'.repeat(16))
    const later = A.change(stockDoc([create]), { time: TIME }, d => { d.name = new A.ImmutableString('y') })
    expect(() => live.applyChanges([A.getLastLocalChange(later) as Uint8Array])).toThrow(expect.objectContaining({ code: 'bad_request' }))
    live.free()
  })
})
