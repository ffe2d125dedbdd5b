/**
 * The one string rule through the embedded API (docs/architecture.md):
 * `update()` and `change(fn)` write strings as Automerge ImmutableString,
 * the same commit for the same result, and a hostile draft changes nothing.
 */
import * as A from '@automerge/automerge'
import { afterEach, describe, expect, it } from 'vitest'
import type { Hub } from '../src/hub.js'
import { cleanup, playlist, tempHub } from './helpers.js'

afterEach(cleanup)

/** The change of the object's newest commit, as stock Automerge decodes it. */
async function lastChange (hub: Hub, objectId: string): Promise<A.DecodedChange> {
  const { commits } = await hub.collections.history(objectId)
  const env = commits[commits.length - 1]?.envelope
  if (env === undefined) throw new Error('no commits')
  return A.decodeChange(new Uint8Array(Buffer.from(env.payload, 'base64url')))
}

describe('one string rule', () => {
  it('update() and change() record the same edit for the same result, strings as scalars, in a document stock Automerge loads', async () => {
    const hub = await tempHub()
    const value = playlist('Road Trip', ['Free Bird'])
    const { objectId: viaUpdate } = await hub.collections.create(value)
    const { objectId: viaChange } = await hub.collections.create(value)
    const next = { ...value, name: 'Road Trip (live)', genre: 'Rock', track: [...(value.track as unknown[]), { name: 'Simple Man' }] }
    await hub.collections.update(viaUpdate, next)
    await hub.collections.change(viaChange, d => {
      d.name = `${String(d.name)} (live)`
      d.genre = 'Rock'
      ;(d.track as unknown[]).push({ name: 'Simple Man' })
    })
    const u = await lastChange(hub, viaUpdate)
    const c = await lastChange(hub, viaChange)
    // Different objects, so different deps; the edit itself is the same ops.
    expect(c.ops).toEqual(u.ops)
    expect(c.ops.filter(op => op.action === 'set' && typeof op.value === 'string').map(op => op.datatype ?? 'str')).toEqual(['str', 'str', 'str'])
    expect(c.ops.some(op => op.action === 'makeText')).toBe(false)
    const doc = A.load<Record<string, unknown>>(await hub.collections.export(viaChange))
    expect(A.isImmutableString(doc.name)).toBe(true)
    expect(A.isImmutableString(doc.genre)).toBe(true)
    expect(JSON.parse(JSON.stringify(doc))).toEqual(next)
    expect((await hub.collections.read(viaChange)).value).toEqual(next)
  })

  it('a draft that is not JSON, too large or renames the collection is refused with its code, and nothing changes; the next change works', async () => {
    const hub = await tempHub({ open: { maxValueBytes: 4096 } })
    const { objectId } = await hub.collections.create(playlist('Road Trip'))
    const before = await hub.collections.read(objectId)
    const seq = hub.store.seq
    await expect(hub.collections.change(objectId, d => { d.at = new Date(0) })).rejects.toMatchObject({ code: 'bad_request' })
    await expect(hub.collections.change(objectId, d => { d.n = Number.POSITIVE_INFINITY })).rejects.toMatchObject({ code: 'bad_request' })
    await expect(hub.collections.change(objectId, d => { d.name = new A.ImmutableString('x') })).rejects.toMatchObject({ code: 'bad_request' })
    await expect(hub.collections.change(objectId, d => { d.description = 'x'.repeat(5000) })).rejects.toMatchObject({ code: 'too_large' })
    await expect(hub.collections.change(objectId, d => { d['@type'] = 'Other' })).rejects.toMatchObject({ code: 'conflict' })
    await expect(hub.collections.change(objectId, () => { throw new Error('mine') })).rejects.toThrow('mine')
    expect(hub.store.seq).toBe(seq)
    expect(await hub.collections.read(objectId)).toEqual(before)
    // The document in memory holds none of the refused edits: the next change builds on the stored heads.
    const ok = await hub.collections.change(objectId, d => { d.name = 'Renamed' })
    expect(ok.changed).toBe(true)
    expect((await lastChange(hub, objectId)).deps).toHaveLength(1)
    expect((await hub.collections.read(objectId)).value).toEqual({ ...playlist('Road Trip'), name: 'Renamed' })
    const doc = A.load<Record<string, unknown>>(await hub.collections.export(objectId))
    expect(JSON.parse(JSON.stringify(doc))).toEqual({ ...playlist('Road Trip'), name: 'Renamed' })
  })
})
