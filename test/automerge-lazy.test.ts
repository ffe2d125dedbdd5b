/**
 * A hub loads Automerge's wasm when an object first needs it, not when it
 * opens (issue 18: an idle `hub start` holds no Automerge). Two hubs in this
 * process (a fresh one per test file), opened, on the network and paired,
 * have compiled nothing; the first write compiles it, and what follows —
 * the other device ingesting by sync, an update, a field-level change
 * synced back — works as before.
 */
import { afterEach, expect, it } from 'vitest'
import { automergeLoaded } from '../src/objects/automerge-load.js'
import { cleanup, playlist } from './helpers.js'
import { device, eventually, founder, stopAll } from './net-helpers.js'

afterEach(async () => {
  await stopAll()
  await cleanup()
})

it('opens, starts and pairs without Automerge; the first object write loads it and sync works on both sides', async () => {
  const a = await founder()
  const b = await device(a)
  await eventually(async () => (await b.hub.store.getWatermark(a.hub.hubDid)) > 0, 15_000, 'B synced A\'s device authorizations')
  expect(automergeLoaded()).toBe(false)

  const { objectId } = await a.hub.collections.create(playlist('Classic Rock'))
  expect(automergeLoaded()).toBe(true)
  await eventually(async () => await b.hub.store.getMeta(objectId) !== undefined, 15_000, 'B ingested the playlist')
  const u = await b.hub.collections.update(objectId, playlist('Classic Rock', ['Sweet Home Alabama', 'Free Bird']))
  await eventually(async () => (await a.hub.collections.read(objectId)).heads[0] === u.commitId, 15_000, 'A ingested B\'s update')
  await a.hub.collections.change(objectId, d => { d['name'] = 'Southern Rock' })
  const both = { name: 'Southern Rock', numTracks: 2 }
  await eventually(async () => {
    const [va, vb] = await Promise.all([a.hub.collections.read(objectId), b.hub.collections.read(objectId)])
    return va.heads.length === 1 && vb.heads.length === 1 && va.heads[0] === vb.heads[0]
  }, 15_000, 'both hubs at one head')
  expect((await b.hub.collections.read(objectId)).value).toMatchObject(both)
  expect((await a.hub.collections.read(objectId)).value).toMatchObject(both)
})
