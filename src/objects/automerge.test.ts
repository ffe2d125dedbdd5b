import * as A from '@automerge/automerge'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { applyDocChanges, changeDoc, createChange, createDoc, docValue, loadDoc, saveDoc, updateDoc, changeHash, valueFromCreateOps, valueOfCreateChange } from './automerge.js'
import type { JsonObject } from './json.js'
import { checkJsonObject, contextAndType, deepEqual } from './json.js'

const base: JsonObject = {
  '@context': 'https://schema.org',
  '@type': 'MusicPlaylist',
  name: 'Classic Rock',
  numTracks: 2,
  track: [{ name: 'Sweet Home Alabama', byArtist: 'Lynyrd Skynyrd' }, { name: 'Free Bird' }]
}

describe('automerge strategy', () => {
  it('round-trips a value through one change', () => {
    const { doc, change } = createDoc(base, 'aa'.repeat(16))
    expect(docValue(doc)).toEqual(base)
    const other = applyDocChanges(loadDoc(undefined, 'bb'.repeat(16)), [change])
    expect(docValue(other)).toEqual(base)
  })

  it('createChange builds a change stock Automerge applies to the same value, with scalar strings', () => {
    const value: JsonObject = { ...base, rating: 4.5, big: 2 ** 40, neg: -3, flag: false, nothing: null, nested: { deep: [1, 'two', { three: 3.25 }] } }
    const change = createChange(value, 'cd'.repeat(16))
    const [doc] = A.applyChanges(A.init<Record<string, unknown>>(), [change])
    expect(docValue(doc)).toEqual(value)
    expect(A.isImmutableString(doc.name)).toBe(true)
    expect(A.decodeChange(change).deps).toEqual([])
    expect(A.decodeChange(change).actor).toBe('cd'.repeat(16))
  })

  it('records the minimal change for a full-value update', () => {
    const actor = 'aa'.repeat(16)
    const { doc } = createDoc(base, actor)
    const next = { ...base, name: 'Classic Rock!', track: [...(base.track as JsonObject[]), { name: 'Simple Man' }] }
    const { change } = updateDoc(doc, next, actor)
    const ops = A.decodeChange(change as Uint8Array).ops
    // name set + one inserted map with one field: nothing rewrites the unchanged tracks.
    expect(ops.length).toBeLessThanOrEqual(4)
    expect(ops.some(o => o.action === 'set' && o.key === 'name')).toBe(true)
  })

  it('changeDoc (the client SDK\'s draft path) records its JSON draft\'s result exactly as updateDoc does: strings stay scalar strings', () => {
    const actor = 'aa'.repeat(16)
    const { change: create } = createDoc(base, actor)
    const draftSide = applyDocChanges(loadDoc(undefined, actor), [create])
    const valueSide = applyDocChanges(loadDoc(undefined, actor), [create])
    const edit = (d: Record<string, unknown>): void => { d.name = `${String(d.name)} (live)`; (d.track as unknown[]).push({ name: 'Simple Man' }) }
    const next = structuredClone(base)
    edit(next)
    const viaDraft = changeDoc(draftSide, actor, edit)
    const viaValue = updateDoc(valueSide, next, actor)
    expect(viaDraft.change).toEqual(viaValue.change)
    expect(docValue(viaDraft.doc)).toEqual(next)
    expect(A.isImmutableString(viaDraft.doc.name)).toBe(true)
    expect(changeDoc(viaDraft.doc, actor, () => {}).change).toBeUndefined()
    expect(() => changeDoc(viaDraft.doc, actor, d => { d.at = new Date(0) })).toThrow(expect.objectContaining({ code: 'bad_request' }))
  })

  it('produces no change when nothing differs', () => {
    const actor = 'aa'.repeat(16)
    const { doc } = createDoc(base, actor)
    expect(updateDoc(doc, structuredClone(base), actor).change).toBeUndefined()
  })

  it('merges concurrent edits to different fields and the same list', () => {
    const { doc, change } = createDoc(base, 'aa'.repeat(16))
    const left = applyDocChanges(loadDoc(undefined, '01'.repeat(16)), [change])
    const right = applyDocChanges(loadDoc(undefined, '02'.repeat(16)), [change])
    const l = updateDoc(left, { ...base, name: 'Left name', track: [...(base.track as JsonObject[]), { name: 'Left song' }] }, '01'.repeat(16))
    const r = updateDoc(right, { ...base, numTracks: 3, track: [...(base.track as JsonObject[]), { name: 'Right song' }] }, '02'.repeat(16))
    const merged = applyDocChanges(applyDocChanges(doc, [l.change as Uint8Array]), [r.change as Uint8Array])
    const v = docValue(merged)
    expect(v.name).toBe('Left name')
    expect(v.numTracks).toBe(3)
    expect((v.track as JsonObject[]).map(t => t.name)).toEqual(expect.arrayContaining(['Left song', 'Right song', 'Sweet Home Alabama', 'Free Bird']))
    expect((v.track as JsonObject[]).length).toBe(4)
  })

  it('exports a document stock Automerge loads with the same value', () => {
    const { doc } = createDoc(base, 'aa'.repeat(16))
    const loaded = A.load(saveDoc(doc))
    expect(JSON.parse(JSON.stringify(A.toJS(loaded), (_k, v: unknown) => A.isImmutableString(v) ? v.val : v))).toEqual(base)
  })

  it('rejects malformed bytes and changes with missing dependencies', () => {
    const actor = 'aa'.repeat(16)
    expect(() => applyDocChanges(loadDoc(undefined, actor), [new Uint8Array([1, 2, 3])])).toThrow(expect.objectContaining({ code: 'bad_request' }))
    const { doc } = createDoc(base, actor)
    const upd = updateDoc(doc, { ...base, name: 'x' }, actor)
    expect(() => applyDocChanges(loadDoc(undefined, 'cc'.repeat(16)), [upd.change as Uint8Array])).toThrow(expect.objectContaining({ code: 'bad_request' }))
    expect(changeHash(upd.change as Uint8Array)).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('reading a create change without Automerge', () => {
  const json = fc.letrec(tie => ({
    // Numbers as checkJsonObject admits them: finite, integers within the safe range.
    value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter(n => !Number.isInteger(n) || Number.isSafeInteger(n)), fc.string(), tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 6 }),
    object: fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 6 })
  }))
  const root = fc.dictionary(fc.string({ maxLength: 8 }), json.value as fc.Arbitrary<JsonObject[string]>, { minKeys: 1, maxKeys: 8 })

  it('gives exactly what Automerge materializes, for any JSON value', () => {
    fc.assert(fc.property(root, value => {
      const change = createChange(value, 'ab'.repeat(16))
      const fast = valueFromCreateOps(A.decodeChange(change))
      const [doc] = A.applyChanges(A.init<Record<string, unknown>>(), [change])
      const slow = docValue(doc)
      A.free(doc)
      expect(fast).toBeDefined()
      expect(fast).toEqual(slow)
      expect(valueOfCreateChange(change)).toEqual(slow)
    }), { numRuns: 500 })
  })

  it('falls back to Automerge for shapes it does not interpret (Text, changes with deps)', () => {
    const text = A.getLastLocalChange(A.from({ s: 'collaborative text' })) as Uint8Array
    expect(valueFromCreateOps(A.decodeChange(text))).toBeUndefined()
    expect(valueOfCreateChange(text)).toEqual({ s: 'collaborative text' })
    const actor = 'aa'.repeat(16)
    const { doc } = createDoc(base, actor)
    const upd = updateDoc(doc, { ...base, name: 'x' }, actor).change as Uint8Array
    expect(valueFromCreateOps(A.decodeChange(upd))).toBeUndefined()
    expect(() => valueOfCreateChange(upd)).toThrow(expect.objectContaining({ code: 'bad_request' }))
  })
})

describe('JSON value checks', () => {
  it('requires @context and @type strings', () => {
    expect(contextAndType(base)).toEqual({ context: 'https://schema.org', type: 'MusicPlaylist' })
    expect(() => contextAndType({ '@type': 'X' })).toThrow(expect.objectContaining({ code: 'bad_request' }))
    expect(() => contextAndType({ '@context': 'c', '@type': 5 })).toThrow(expect.objectContaining({ code: 'bad_request' }))
  })

  it('rejects non-objects, non-JSON values and oversized values', () => {
    for (const v of [null, [], 'x', 1, { a: undefined }, { a: Number.NaN }, { a: new Date() }, { a: 2 ** 53 }, { a: [-1e20] }]) {
      expect(() => checkJsonObject(v)).toThrow(expect.objectContaining({ code: 'bad_request' }))
    }
    expect(() => checkJsonObject({ a: 'x'.repeat(2000) }, 1000)).toThrow(expect.objectContaining({ code: 'too_large' }))
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true)
    expect(deepEqual({ a: [1] }, { a: [1, 2] })).toBe(false)
  })
})
