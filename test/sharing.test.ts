/**
 * Sharing with another person: Bob's hub pulls from Alice's hub exactly
 * what Alice's grants to Bob's DID let it read, into a partition of its own.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { FrameChannel } from '../src/net/channel.js'
import { SYNC_PROTOCOL } from '../src/net/constants.js'
import { validateSyncServerMessage } from '../src/net/messages.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { cleanup, playlist, tempDir } from './helpers.js'
import { eventually, founder, startHub, stopAll } from './net-helpers.js'

afterEach(async () => { await stopAll(); await cleanup() })
const CTX = 'https://schema.org'

describe('sharing with another owner', () => {
  it("another owner's hub receives only the granted collection, and nothing new after revocation", async () => {
    const alice = await founder()
    const bobDir = join(await tempDir('bob-'), 'bob')
    await Hub.init(bobDir)
    const bob = await startHub(bobDir)

    const shared = await alice.hub.collections.create(playlist('For Bob'))
    const secret = await alice.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'not for Bob' })
    const carol = Ed25519KeyPair.generate()
    const carolsGrant = await alice.hub.permissions.grant({ grantee: carol.did, context: CTX, type: 'Diary', allow: '-R--' })
    const bobsGrant = await alice.hub.permissions.grant({ grantee: bob.hub.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })

    await bob.node.follow(alice.hub.did, alice.node.multiaddrs())
    const view = await bob.hub.sharedBy(alice.hub.did)
    await eventually(async () => (await view.query({ context: CTX, type: 'MusicPlaylist' })).objects.length === 1, 15_000, 'Bob to receive the playlist')
    expect((await view.read(shared.objectId)).value).toEqual(playlist('For Bob'))
    const aliceOnBob = await bob.hub.tenant(alice.hub.did)
    expect(await aliceOnBob.getMeta(secret.objectId)).toBeUndefined()
    expect(aliceOnBob.registry.grants().map(g => g.id)).toEqual([bobsGrant.grantId]) // not Carol's grant
    expect(await aliceOnBob.getMeta(carolsGrant.grantId)).toBeUndefined()
    // Bob's own data is untouched and separate.
    expect((await bob.hub.collections.query()).objects).toHaveLength(0)
    // Alice's audit log shows Bob's hub pulling on Bob's behalf.
    expect((await alice.hub.audit.list()).some(e => e.caller === bob.hub.did && e.method === 'pull' && e.decision === 'allowed')).toBe(true)

    await alice.hub.collections.create(playlist('Also for Bob'))
    await eventually(async () => (await view.query({ context: CTX, type: 'MusicPlaylist' })).objects.length === 2, 15_000, 'the live update')

    await alice.hub.permissions.revoke(bobsGrant.grantId)
    await new Promise(resolve => setTimeout(resolve, 300))
    await alice.hub.collections.create(playlist('After revocation'))
    await new Promise(resolve => setTimeout(resolve, 1500))
    expect((await view.query({ context: CTX, type: 'MusicPlaylist' })).objects.map(o => o.value?.name).sort()).toEqual(['Also for Bob', 'For Bob'])
  })

  it('a pull on behalf of an owner without a valid proof gets nothing', async () => {
    const alice = await founder()
    await alice.hub.collections.create(playlist('x'))
    const mallory = await founder()
    await alice.hub.permissions.grant({ grantee: mallory.hub.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    // A proof for a different hub DID (Alice's own founding authorization) does not make Mallory's hub act for anyone.
    const wrongProof = JSON.parse(await alice.hub.store.getEnvelope(alice.hub.store.registry.devices()[0]?.objectId as string) as string) as object
    const stream = await mallory.node.libp2p.dialProtocol(alice.node.libp2p.getMultiaddrs()[0] as never, SYNC_PROTOCOL)
    const ch = new FrameChannel(stream, 1 << 20)
    await ch.send({ t: 'pull', v: 1, tenant: alice.hub.did, after: 0, limit: 10, wait: false, as: { did: mallory.hub.did, proof: wrongProof } })
    expect(await ch.receive(validateSyncServerMessage)).toMatchObject({ t: 'error', code: 'permissions_required' })
  })
})
