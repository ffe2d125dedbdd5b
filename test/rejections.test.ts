/**
 * Every bad input is rejected with its stable code and changes nothing:
 * the whole store is compared key by key, value by value, before and after.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { b64u, utf8 } from '../src/identity/encoding.js'
import { signCommit, serializeCommit, type UnsignedHeader } from '../src/commits/commit.js'
import { asCommitId, asObjectId } from '../src/ids.js'
import type { Hub } from '../src/hub.js'
import { cleanup, dumpStore, playlist, tempHub } from './helpers.js'

let hub: Hub
let objectId: string
let head: string

beforeEach(async () => {
  hub = await tempHub({ init: { maxValueBytes: 64 * 1024 } })
  const r = await hub.collections.create(playlist('Existing'))
  objectId = r.objectId
  head = r.commitId
})
afterEach(cleanup)

function updateHeader (over: Partial<UnsignedHeader> = {}): UnsignedHeader {
  return {
    interface: 'Collections',
    context: 'https://schema.org',
    type: 'MusicPlaylist',
    operation: 'update',
    committed_at: new Date().toISOString(),
    commit_strategy: 'automerge',
    sub: hub.did,
    object_id: asObjectId(objectId),
    deps: [asCommitId(head)],
    ...over
  }
}

async function expectRejected (code: string, attempt: () => Promise<unknown>): Promise<void> {
  const before = await dumpStore(hub)
  await expect(attempt()).rejects.toMatchObject({ code })
  expect(await dumpStore(hub)).toEqual(before)
}

describe('rejected input leaves the store byte-for-byte unchanged', () => {
  it('a forged signature → authentication_failed', async () => {
    const owner = hub.ownerKey as Ed25519KeyPair
    const c = signCommit(updateHeader({ commit_strategy: 'lww' }), utf8.encode(JSON.stringify(playlist('forged'))), owner)
    const mallory = Ed25519KeyPair.generate()
    const forged = { ...c.envelope, signature: b64u(mallory.sign(utf8.encode(`${c.envelope.protected}.${c.envelope.payload}`))) }
    await expectRejected('authentication_failed', async () => await hub.ingest(JSON.stringify(forged)))
  })

  it('a commit whose sub is another owner → wrong_owner', async () => {
    const mallory = Ed25519KeyPair.generate()
    const c = signCommit({ ...updateHeader(), operation: 'create', object_id: undefined, deps: [], sub: mallory.did }, utf8.encode('{}'), mallory)
    await expectRejected('wrong_owner', async () => await hub.ingest(serializeCommit(c)))
  })

  it('a stranger signing for this owner → permissions_required', async () => {
    const mallory = Ed25519KeyPair.generate()
    const c = signCommit({ interface: 'Collections', context: 'https://schema.org', type: 'MusicPlaylist', operation: 'create', committed_at: new Date().toISOString(), commit_strategy: 'lww', sub: hub.did, deps: [] }, utf8.encode(JSON.stringify(playlist('intruder'))), mallory)
    await expectRejected('permissions_required', async () => await hub.ingest(serializeCommit(c)))
  })

  it('an update of an unknown object → not_found', async () => {
    const other = await hub.collections.create(playlist('temp'))
    const unknown = signCommit(updateHeader({ object_id: asObjectId(other.objectId.replace(/.$/, other.objectId.endsWith('a') ? 'b' : 'a')) }), new Uint8Array([1]), hub.ownerKey as Ed25519KeyPair)
    await expectRejected('not_found', async () => await hub.ingest(serializeCommit(unknown)))
    await expectRejected('not_found', async () => await hub.collections.read(unknown.header.object_id as string))
    await expectRejected('not_found', async () => await hub.collections.update(unknown.header.object_id as string, playlist('x')))
  })

  it('an update whose deps this hub lacks → missing_deps', async () => {
    const phantom = signCommit({ ...updateHeader(), operation: 'create', object_id: undefined, deps: [] } as UnsignedHeader, utf8.encode('{}'), hub.ownerKey as Ed25519KeyPair)
    const c = signCommit(updateHeader({ deps: [phantom.id] }), new Uint8Array([1, 2, 3]), hub.ownerKey as Ed25519KeyPair)
    await expectRejected('missing_deps', async () => await hub.ingest(serializeCommit(c)))
  })

  it('malformed Automerge bytes → bad_request (create and update)', async () => {
    const owner = hub.ownerKey as Ed25519KeyPair
    const create = signCommit({ ...updateHeader(), operation: 'create', object_id: undefined, deps: [] } as UnsignedHeader, new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2]), owner)
    await expectRejected('bad_request', async () => await hub.ingest(serializeCommit(create)))
    const update = signCommit(updateHeader(), new Uint8Array([9, 9, 9]), owner)
    await expectRejected('bad_request', async () => await hub.ingest(serializeCommit(update)))
    // The object is still readable and updatable after the rejected change.
    await hub.collections.update(objectId, playlist('Still fine'))
    expect((await hub.collections.read(objectId)).value?.name).toBe('Still fine')
  })

  it('a value without @context/@type → bad_request', async () => {
    await expectRejected('bad_request', async () => await hub.collections.create({ name: 'no type' }))
    await expectRejected('bad_request', async () => await hub.collections.create({ '@context': 'https://schema.org', name: 'no type' }))
    await expectRejected('bad_request', async () => await hub.collections.create([1, 2]))
  })

  it('a value over the size limit → too_large (create and update)', async () => {
    const big = { ...playlist('big'), blob: 'x'.repeat(70 * 1024) }
    await expectRejected('too_large', async () => await hub.collections.create(big))
    await expectRejected('too_large', async () => await hub.collections.update(objectId, big))
  })

  it('malformed envelopes and oversized commits → bad_request / too_large', async () => {
    await expectRejected('bad_request', async () => await hub.ingest('{not json'))
    await expectRejected('bad_request', async () => await hub.ingest('{"protected":"e30","payload":"","signature":"x"}'))
    await expectRejected('too_large', async () => await hub.ingest('x'.repeat(2 * 1024 * 1024)))
  })

  it('an update that changes @type, or of a deleted object, is refused', async () => {
    await expectRejected('conflict', async () => await hub.collections.update(objectId, { ...playlist('x'), '@type': 'Other' }))
    await hub.collections.delete(objectId)
    await expectRejected('not_found', async () => await hub.collections.update(objectId, playlist('y')))
    await expectRejected('bad_request', async () => await hub.collections.read('not-an-id'))
  })

  it('a header that contradicts its object (type changed) → bad_request', async () => {
    const c = signCommit(updateHeader({ type: 'Other' }), new Uint8Array([1]), hub.ownerKey as Ed25519KeyPair)
    await expectRejected('bad_request', async () => await hub.ingest(serializeCommit(c)))
  })

  it('a duplicate commit is accepted once and then reported, not rewritten', async () => {
    const env = await hub.store.getEnvelope(head) as string
    const before = await dumpStore(hub)
    expect(await hub.ingest(env)).toMatchObject({ stored: false, commitId: head })
    expect(await dumpStore(hub)).toEqual(before)
  })
})
