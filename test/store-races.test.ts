/**
 * Readers outside the write queue racing writes, against real LevelDB hubs.
 * The races are made deterministic by holding one call of the hub's own
 * LevelDB store (a gate on the instance's method) until the test releases it:
 *  - a document loaded from disk by a reader (export) while a write changes
 *    the same object must not become the cached document later writes build on;
 *  - quarantine marks made by a revocation are visible to readers only once
 *    the batch holding them is on disk, and never if that batch fails.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { signCommit, type VerifiedCommit } from '../src/commits/commit.js'
import { asObjectId } from '../src/ids.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { loadDoc, docValue, updateDoc } from '../src/objects/automerge.js'
import type { JsonObject } from '../src/objects/json.js'
import { cleanup, playlist, tempHub } from './helpers.js'

afterEach(cleanup)

const CTX = 'https://schema.org'
const TYPE = 'MusicPlaylist'

/**
 * Holds the first call of `method` on the hub's store that `which` picks
 * until `release()`; `reached` resolves when it is held.
 */
function gate (hub: Hub, method: 'getMany' | 'batch', which: (arg: unknown) => boolean = () => true, fail?: Error): { reached: Promise<void>, release: () => void } {
  const kv = hub.kv as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  const original = kv[method] as (...args: unknown[]) => Promise<unknown>
  let reach!: () => void
  let open!: () => void
  const reached = new Promise<void>(resolve => { reach = resolve })
  const opened = new Promise<void>(resolve => { open = resolve })
  kv[method] = async (...args: unknown[]) => {
    if (!which(args[0])) return await original.apply(hub.kv, args)
    kv[method] = original // only this one call is held
    reach()
    await opened
    if (fail !== undefined) throw fail
    return await original.apply(hub.kv, args)
  }
  return { reached, release: open }
}

/** A getMany that reads commit envelopes (what loading a document does). */
const readsCommits = (hub: Hub) => (keys: unknown): boolean => (keys as string[]).some(k => k.startsWith(`${hub.store.layout.p}c!`))

describe('a reader loading a document while a write changes it', () => {
  it('export racing an update: the loaded document is not cached, later writes keep every change', async () => {
    const hub = await tempHub()
    const { objectId } = await hub.collections.create(playlist('Race', ['one']))
    await hub.collections.change(objectId, d => { d.numTracks = 1 })
    hub.store.dropDocCache()

    // The export loads the document from disk and is held at its commit read…
    const held = gate(hub, 'getMany', readsCommits(hub))
    const exported = hub.collections.export(objectId)
    await held.reached
    // …while a write loads it too, changes it and makes it durable.
    await hub.collections.change(objectId, d => { d.b = 'written during the export' })
    held.release()
    // The export returns what was on disk when it loaded (a consistent document).
    const bytes = await exported
    expect(docValue(loadDoc(bytes, '00')).name).toBe('Race')

    // The next write builds on the current document, not the exported one.
    await hub.collections.change(objectId, d => { d.c = 'written after' })
    const value = (await hub.collections.read(objectId)).value
    expect(value).toMatchObject({ b: 'written during the export', c: 'written after', numTracks: 1 })
    // And a reload from disk agrees with what the hub reports.
    hub.store.dropDocCache()
    expect(docValue(loadDoc(await hub.collections.export(objectId), '00'))).toEqual(value)
  })

  it('a document cached by a reader that saw no concurrent write is reused', async () => {
    const hub = await tempHub()
    const { objectId } = await hub.collections.create(playlist('Quiet'))
    hub.store.dropDocCache()
    const first = await hub.collections.export(objectId)
    await hub.collections.change(objectId, d => { d.after = true })
    expect(docValue(loadDoc(first, '00')).after).toBeUndefined()
    expect((await hub.collections.read(objectId)).value?.after).toBe(true)
    expect(docValue(loadDoc(await hub.collections.export(objectId), '00')).after).toBe(true)
  })
})

/** Two hubs of one owner; B accepts an app's update of a shared object; A revokes the app's grant naming nothing of it. */
async function revocationRace (): Promise<{ a: Hub, b: Hub, objectId: string, appUpdate: VerifiedCommit, revocation: string }> {
  const a = await tempHub()
  const b = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
  const sync = async (from: Hub, to: Hub): Promise<void> => {
    for await (const { commitId } of from.store.feed(0)) {
      if (!from.store.isQuarantined(commitId)) await to.ingest(await from.store.getEnvelope(commitId) as string)
    }
  }
  await sync(a, b); await sync(b, a)
  const app = Ed25519KeyPair.generate()
  const { objectId } = await a.collections.create(playlist('Shared', ['One']))
  const { grantId } = await a.permissions.grant({ grantee: app.did, context: CTX, type: TYPE, allow: 'CRUD' })
  await sync(a, b)
  const meta = await b.store.getMeta(objectId)
  if (meta === undefined) throw new Error('B lacks the object')
  const { change } = updateDoc(loadDoc(await b.collections.export(objectId), 'a1'.repeat(16)), playlist('Shared', ['One', 'By app']) as JsonObject, 'a1'.repeat(16))
  if (change === undefined) throw new Error('no change')
  const appUpdate = signCommit({
    interface: 'Collections', context: CTX, type: TYPE, operation: 'update', committed_at: new Date().toISOString(),
    commit_strategy: 'automerge', sub: b.did, object_id: asObjectId(objectId), deps: [...meta.heads].sort()
  }, change, app)
  expect(await b.store.ingest(appUpdate, { accept: { at: Date.now(), grant: grantId } })).toMatchObject({ stored: true })
  const rev = await a.store.revoke(asObjectId(grantId), a.ownerKey as Ed25519KeyPair)
  expect(rev.kept).toBe(0)
  return { a, b, objectId, appUpdate, revocation: await a.store.getEnvelope(rev.commitId) as string }
}

const tracks = async (hub: Hub, id: string): Promise<string[]> => ((await hub.collections.read(id)).value?.track as JsonObject[]).map(t => String(t.name))

describe('quarantine marks are visible only once durable', () => {
  it('while the revocation\'s batch is being written readers see the old state whole; after it, the new state whole', async () => {
    const { b, objectId, appUpdate, revocation } = await revocationRace()
    expect(await tracks(b, objectId)).toEqual(['One', 'By app'])

    const held = gate(b, 'batch')
    const ingesting = b.ingest(revocation)
    await held.reached
    try {
      // The batch quarantining the app's update is not on disk yet.
      expect(b.store.isQuarantined(appUpdate.id)).toBe(false)
      expect(await tracks(b, objectId)).toEqual(['One', 'By app'])
      const exported = docValue(loadDoc(await b.collections.export(objectId), '00'))
      expect((exported.track as JsonObject[]).map(t => t.name)).toEqual(['One', 'By app'])
    } finally {
      held.release()
      await ingesting
    }

    expect(b.store.isQuarantined(appUpdate.id)).toBe(true)
    expect(await tracks(b, objectId)).toEqual(['One'])
    // The document a reader cached from disk during the batch is not the one the hub now serves.
    expect((docValue(loadDoc(await b.collections.export(objectId), '00')).track as JsonObject[]).map(t => t.name)).toEqual(['One'])
  })

  it('a revocation whose batch fails quarantines nothing, and the same revocation applies when it arrives again', async () => {
    const { b, objectId, appUpdate, revocation } = await revocationRace()
    const held = gate(b, 'batch', undefined, new Error('disk full'))
    const ingesting = b.ingest(revocation)
    await held.reached
    held.release()
    await expect(ingesting).rejects.toThrow('disk full')
    expect(b.store.isQuarantined(appUpdate.id)).toBe(false)
    expect(await tracks(b, objectId)).toEqual(['One', 'By app'])
    expect(await b.store.hasCommit(appUpdate.id)).toBe(true)

    expect(await b.ingest(revocation)).toMatchObject({ stored: true })
    expect(b.store.isQuarantined(appUpdate.id)).toBe(true)
    expect(await tracks(b, objectId)).toEqual(['One'])
    // Reopened from disk, the hub holds the same.
    const dir = b.dir
    await b.close()
    const reopened = await Hub.open(dir)
    try {
      expect(reopened.store.isQuarantined(appUpdate.id)).toBe(true)
      expect(await tracks(reopened, objectId)).toEqual(['One'])
    } finally {
      await reopened.close()
    }
  })
})
