/**
 * Replication scenarios over real libp2p nodes on loopback TCP, each hub
 * with its own LevelDB on disk. Assertions poll with `eventually`; nothing
 * depends on fixed sleeps except where a test proves that something does
 * NOT happen, and there the wait is generous compared with the live-sync
 * latency (milliseconds).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { HubError } from '../src/errors.js'
import { createLogger, silentLogger } from '../src/log.js'
import { HubNode } from '../src/net/hub-node.js'
import { joinHub } from '../src/net/pair.js'
import { FrameChannel } from '../src/net/channel.js'
import { SYNC_PROTOCOL, SYNC_PROTOCOL_1_1 } from '../src/net/constants.js'
import { VIOLATION_BACKOFF } from '../src/net/backoff.js'
import { createHubLibp2p, hubDidOfPeer } from '../src/net/node.js'
import { pullFrom } from '../src/net/sync/client.js'
import { serveSync } from '../src/net/sync/server.js'
import { validatePull, validateSyncServerMessage } from '../src/net/messages.js'
import { signCommit } from '../src/commits/commit.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { utf8 } from '../src/identity/encoding.js'
import type { JsonObject } from '../src/objects/json.js'
import { cleanup, dumpData, playlist, tempDir, tempHub } from './helpers.js'
import { device, eventually, founder, startHub, stopAll, stopHub, TCP_ONLY, type Running } from './net-helpers.js'
import { join } from 'node:path'

afterEach(async () => { await stopAll(); await cleanup() })

const count = async (r: Running): Promise<number> => (await r.hub.collections.query({ limit: 1000 })).objects.length
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('replication between devices of one owner', () => {
  it('(a) both devices write; both converge', async () => {
    const a = await founder()
    const b = await device(a)
    expect(b.hub.did).toBe(a.hub.did)
    expect(b.hub.ownerKey).toBeUndefined()
    const fromA = await a.hub.collections.create(playlist('From A'))
    const fromB = await b.hub.collections.create(playlist('From B'))
    await eventually(async () => await count(b) === 2 && await count(a) === 2, 15_000, 'both to have both objects')
    expect((await a.hub.collections.read(fromB.objectId)).createdBy).toBe(b.hub.hubDid)
    expect((await b.hub.collections.read(fromA.objectId)).value).toEqual(playlist('From A'))
    expect(b.node.syncStatus()).toMatchObject([{ hubDid: a.hub.hubDid, connected: true, replicating: true, behind: 0 }])
  })

  it('(b) offline concurrent edits to different fields and one list merge on reconnect with no edit lost', async () => {
    const a = await founder()
    let b = await device(a)
    const { objectId } = await a.hub.collections.create(playlist('Road trip', ['One', 'Two']))
    await eventually(async () => await count(b) === 1, 15_000, 'B to receive the playlist')
    const bDir = b.dir
    await stopHub(b) // B goes offline

    await a.hub.collections.change(objectId, d => { d.name = 'Road trip (edited on A)'; (d.track as unknown[]).push({ name: 'Added on A' }) })
    const offline = await Hub.open(bDir)
    await offline.collections.change(objectId, d => { d.description = 'edited on B'; (d.track as unknown[]).unshift({ name: 'Added on B' }) })
    await offline.close()

    b = await startHub(bDir)
    await eventually(async () => {
      const [ra, rb] = [await a.hub.collections.read(objectId), await b.hub.collections.read(objectId)]
      return ra.heads.length === 2 && JSON.stringify(ra.heads) === JSON.stringify(rb.heads)
    }, 15_000, 'identical heads')
    const ra = await a.hub.collections.read(objectId)
    const rb = await b.hub.collections.read(objectId)
    expect(ra.value).toEqual(rb.value)
    expect(ra.value?.name).toBe('Road trip (edited on A)')
    expect(ra.value?.description).toBe('edited on B')
    expect((ra.value?.track as JsonObject[]).map(t => t.name)).toEqual(['Added on B', 'One', 'Two', 'Added on A'])
  })

  it('(c) three hubs in a line converge although the ends never connect', async () => {
    const a = await founder()
    const c = await device(a)
    let b = await device(a)
    // Re-home B so that it only knows C, and forbid A and B from ever connecting.
    const bDir = b.dir
    await stopHub(b)
    const offline = await Hub.open(bDir)
    for (const p of await offline.local.peers()) await offline.local.forgetPeer(p.peerId)
    await offline.close()
    await a.node.block(b.hub.peerId)
    b = await startHub(bDir, { bootstrap: c.node.multiaddrs(), blockedPeers: [a.hub.peerId] })

    const fromA = await a.hub.collections.create(playlist('From A'))
    const fromB = await b.hub.collections.create(playlist('From B'))
    await eventually(async () => await count(a) === 2 && await count(b) === 2 && await count(c) === 2, 20_000, 'all three to converge')
    expect((await b.hub.collections.read(fromA.objectId)).value).toEqual(playlist('From A'))
    expect((await a.hub.collections.read(fromB.objectId)).value).toEqual(playlist('From B'))
    expect(a.node.peers().map(p => p.peerId)).not.toContain(b.hub.peerId)
    expect(b.node.peers().map(p => p.peerId)).not.toContain(a.hub.peerId)
  })

  it('(d) a hub restarted mid-sync resumes from its persisted watermark; only the rest is re-sent', { timeout: 90_000 }, async () => {
    const a = await founder()
    const N = 3000
    await Promise.all(Array.from({ length: N }, async (_, i) => await a.hub.collections.create(playlist(`p${i}`))))
    const head = a.hub.store.durableSeq
    let b = await device(a)
    const bDir = b.dir
    let w = 0
    await eventually(async () => { w = await b.hub.store.getWatermark(a.hub.hubDid); return w > 0 }, 20_000, 'B to ingest a first batch')
    await stopHub(b)
    const persisted = await (async () => { const h = await Hub.open(bDir); try { return await h.store.getWatermark(a.hub.hubDid) } finally { await h.close() } })()
    expect(persisted).toBeGreaterThan(0)
    expect(persisted).toBeLessThan(head)

    const servedBefore = a.node.servedCommits
    b = await startHub(bDir)
    await eventually(async () => await b.hub.store.getWatermark(a.hub.hubDid) === a.hub.store.durableSeq, 60_000, 'B to catch up')
    const resent = a.node.servedCommits - servedBefore
    // Exactly the commits after the watermark, nothing before it.
    expect(resent).toBe(head + 1 - persisted) // +1: B's own device authorization, written on A at pairing
    const all = await b.hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'name', op: 'gte', value: 'p' }], limit: 1000 })
    expect(all.cursor).not.toBeNull()
    expect(b.hub.store.durableSeq).toBe(N + 2) // every commit once: N playlists + 2 device authorizations
  })

  it('a device\'s addresses that cannot be remembered are logged at warn, and sync goes on', async () => {
    const lines: string[] = []
    const a = await founder({ logger: createLogger('hub', 'warn', l => { lines.push(l) }) })
    a.hub.local.rememberPeer = async () => { throw new Error('disk full') }
    const b = await device(a)
    await a.hub.collections.create(playlist('still syncs'))
    await eventually(async () => await count(b) === 1, 15_000, 'B to receive the playlist')
    const warned = (): Array<Record<string, unknown>> => lines.map(l => JSON.parse(l) as Record<string, unknown>).filter(l => l.level === 'warn' && String(l.msg).startsWith('cannot remember a device'))
    await eventually(() => warned().length > 0, 10_000, 'A to warn that it cannot remember B')
    expect(warned()[0]).toMatchObject({ scope: 'hub.net', peer: b.hub.hubDid, reason: 'disk full' })
  })

  it('(e) a hub of another owner gets nothing and cannot push', async () => {
    const a = await founder()
    await a.hub.collections.create(playlist('private'))
    const xDir = join(await tempDir('net-'), 'x')
    await Hub.init(xDir)
    const x = await startHub(xDir)
    await x.hub.collections.create(playlist('from a stranger'))
    const before = await dumpData(a.hub)
    await x.node.libp2p.dial(a.node.libp2p.getMultiaddrs()[0] as never)
    // A raw pull of A's tenant is refused.
    const stream = await x.node.libp2p.dialProtocol(a.node.libp2p.peerId, SYNC_PROTOCOL)
    const ch = new FrameChannel(stream, 1 << 20)
    await ch.send({ t: 'pull', v: 1, tenant: a.hub.did, after: 0, limit: 100, wait: false })
    expect(await ch.receive(validateSyncServerMessage)).toMatchObject({ t: 'error', code: 'permissions_required' })
    // A never pulls from X: nothing of X's arrives while they stay connected.
    await sleep(1000)
    expect(a.node.peers().map(p => p.peerId)).toContain(x.hub.peerId)
    expect(await dumpData(a.hub)).toEqual(before)
    expect(a.node.syncStatus()).toEqual([])
    expect(await count(x)).toBe(1)
    expect(await a.hub.audit.list()).toMatchObject([{ caller: x.hub.hubDid, method: 'pull', decision: 'denied' }])
  })

  it('(f) a revoked device is cut off in both directions', async () => {
    const a = await founder()
    const b = await device(a)
    await a.hub.collections.create(playlist('before revocation'))
    await eventually(async () => await count(b) === 1, 15_000, 'B to sync')
    await a.hub.devices.revoke(b.hub.hubDid)
    await eventually(() => !a.node.peers().some(p => p.peerId === b.hub.peerId), 10_000, 'A to drop B')
    await a.hub.collections.create(playlist('after revocation, on A'))
    // B was sent its revocation before A hung up: it knows, and refuses its own writes, saying why.
    await eventually(() => b.hub.devices.list().find(d => d.device === b.hub.hubDid)?.revokedAt !== undefined, 10_000, 'B to learn it is revoked')
    await expect(b.hub.collections.create(playlist('after revocation, on B'))).rejects.toMatchObject({ code: 'permissions_required', message: expect.stringMatching(/revoked/) })
    await sleep(1500) // B keeps trying to reconnect meanwhile; A's gater refuses it
    expect(a.node.peers().some(p => p.peerId === b.hub.peerId)).toBe(false)
    await eventually(() => !b.node.peers().some(p => p.peerId === a.hub.peerId), 5000, 'B to see the connection gone')
    expect(await count(b)).toBe(1) // the one from before; its own write was refused
    expect((await b.hub.collections.query({ limit: 10 })).objects.some(o => o.value?.name === 'after revocation, on A')).toBe(false)
    expect((await a.hub.collections.query({ limit: 10 })).objects.some(o => o.value?.name === 'after revocation, on B')).toBe(false)
    expect(a.hub.devices.list().find(d => d.device === b.hub.hubDid)?.revokedAt).toBeTypeOf('number')
  })
})

describe('introductions to bootstrap peers', () => {
  it('a malformed bootstrap address is bad_request when the node starts, for the embedded API as for the CLI', async () => {
    const hub = await tempHub()
    for (const bad of ['garbage', '/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/1/p2p/notapeer']) {
      await expect(HubNode.start(hub, { bootstrap: [bad] }), bad).rejects.toMatchObject({ code: 'bad_request' })
    }
    await hub.close()
  })

  it('a hub tells a bootstrap peer it does not know who it is; another owner\'s hub refuses, and neither stores anything of the other', async () => {
    const x = await founder()
    const lines: string[] = []
    const y = await founder({ bootstrap: x.node.multiaddrs(), logger: createLogger('hub', 'debug', l => { lines.push(l) }) })
    await eventually(() => lines.some(l => l.includes('introduction refused') && l.includes('not_found')), 15_000, 'the introduction to be refused')
    expect(x.hub.devices.list().map(d => d.device)).toEqual([x.hub.hubDid])
    expect(y.hub.devices.list().map(d => d.device)).toEqual([y.hub.hubDid])
    expect(await count(x)).toBe(0)
    expect(await count(y)).toBe(0)
  })
})

describe('devices that never met', () => {
  it('a device learns of a device paired after it from that device itself, with the founder offline', async () => {
    const a = await founder()
    const bDir = join(await tempDir('net-'), 'b')
    await joinHub(bDir, (await a.node.createInvite()).invite) // B pairs, then stays offline
    const c = await device(a) // C pairs later; B has never heard of it
    const { objectId } = await a.hub.collections.create(playlist('via C'))
    await eventually(async () => (await c.hub.store.getMeta(objectId)) !== undefined, 10_000, 'C to sync from A')
    await stopHub(a)
    const b = await startHub(bDir, { bootstrap: c.node.multiaddrs() })
    await eventually(async () => (await b.hub.store.getMeta(objectId))?.value !== undefined, 15_000, 'B to pull from C')
    expect(b.hub.devices.isAuthorized(c.hub.hubDid)).toBeDefined()
    expect(b.node.syncStatus().find(s => s.hubDid === c.hub.hubDid)).toMatchObject({ connected: true, replicating: true })
  })

  it('hub sync --peer to a device that has not heard of us: refused once, then our authorization is presented and the pass completes', async () => {
    const a = await founder()
    const bDir = join(await tempDir('net-'), 'b')
    await joinHub(bDir, (await a.node.createInvite()).invite) // B pairs, then stays offline
    const c = await device(a) // knows B from A's feed; B has never heard of C
    await stopHub(a)
    const b = await startHub(bDir)
    expect(b.hub.devices.isAuthorized(c.hub.hubDid)).toBeUndefined()
    const addr = b.node.multiaddrs()[0] as string
    const r = await c.node.syncOnce(addr)
    expect(r.peer).toBe(b.hub.hubDid)
    expect(b.hub.devices.isAuthorized(c.hub.hubDid)).toBeDefined()
  })
})

describe('hostile peers', () => {
  it('a device that serves forged commits is disconnected and nothing it sent is stored', async () => {
    const a = await founder()
    const m = await device(a)
    await eventually(() => a.node.syncStatus().some(s => s.replicating), 10_000, 'A to replicate from M')
    const before = await dumpData(a.hub)
    // A genuine owner commit whose payload M swaps after signing: the signature no longer verifies.
    const genuine = signCommit({ interface: 'Collections', context: 'https://schema.org', type: 'MusicPlaylist', operation: 'create', committed_at: new Date().toISOString(), commit_strategy: 'lww', sub: a.hub.did, deps: [] }, utf8.encode(JSON.stringify(playlist('genuine'))), a.hub.ownerKey as Ed25519KeyPair)
    const forged = { ...genuine.envelope, payload: Buffer.from(JSON.stringify(playlist('forged'))).toString('base64url') }
    // M speaks 1.0 only from now on (the hub serves 1.1 too, which A would pick).
    await m.node.libp2p.unhandle(SYNC_PROTOCOL_1_1)
    const pulls: number[] = []
    await m.node.libp2p.handle(SYNC_PROTOCOL, async (stream) => {
      pulls.push(Date.now())
      const ch = new FrameChannel(stream, 1 << 20)
      await ch.receive(validatePull)
      await ch.send({ raw: `{"t":"batch","commits":[${JSON.stringify(forged)}],"last":999,"head":999}` })
    }, { force: true })
    await m.node.libp2p.hangUp(a.node.libp2p.peerId)
    await m.node.libp2p.dial(a.node.libp2p.getMultiaddrs()[0] as never)
    await eventually(() => a.node.syncStatus().some(s => s.lastError?.includes('authentication_failed') === true), 10_000, 'A to reject the forged commit')
    await eventually(() => !a.node.peers().some(p => p.peerId === m.hub.peerId), 10_000, 'A to disconnect M')
    expect(await dumpData(a.hub)).toEqual(before)
    // M reconnects (its own reconnector dials A at once): A pulls from it again only after
    // VIOLATION_BACKOFF's first wait, not in a loop at the speed of a handshake.
    await eventually(() => pulls.length >= 2, 20_000, 'A to pull from M again after the wait')
    expect((pulls[1] as number) - (pulls[0] as number)).toBeGreaterThanOrEqual(VIOLATION_BACKOFF.minMs)
    expect(await dumpData(a.hub)).toEqual(before)
  })

  it('a device that refuses to sync with us is asked again later on the same connection, not given up on until we reconnect', { timeout: 60_000 }, async () => {
    const a = await founder()
    const m = await device(a)
    await eventually(() => a.node.syncStatus().some(s => s.replicating), 10_000, 'A to replicate from M')
    // M refuses every pull from now on, as a hosting process does for an owner it has not opened yet.
    let refusals = 0
    await m.node.libp2p.unhandle(SYNC_PROTOCOL_1_1)
    await m.node.libp2p.handle(SYNC_PROTOCOL, async (stream) => {
      const ch = new FrameChannel(stream, 1 << 20)
      await ch.receive(validatePull)
      refusals++
      await ch.send({ t: 'error', code: 'not_found', message: 'no such tenant here' })
    }, { force: true })
    await m.node.libp2p.hangUp(a.node.libp2p.peerId)
    await m.node.libp2p.dial(a.node.libp2p.getMultiaddrs()[0] as never)
    await eventually(() => refusals >= 1, 10_000, 'A to be refused once')
    const connectedAt = a.node.peers().find(p => p.peerId === m.hub.peerId)
    expect(connectedAt).toBeDefined()
    // Without a new connection, A opens another sync stream (it used to stop pulling until the next connection).
    await eventually(() => refusals >= 2, 20_000, 'A to ask again')
    expect(a.node.syncStatus().find(s => s.hubDid === m.hub.hubDid)?.lastError).toContain('not_found')
  })

  it.each([
    { when: 'the first pull', live: false, answered: 0 },
    { when: 'a waiting (long-poll) pull', live: true, answered: 1 }
  ])('a peer that never answers $when fails the pull `unavailable` after the reply timeout and resets the stream', async ({ live, answered }) => {
    const hub = await tempHub()
    const server = await createHubLibp2p(Ed25519KeyPair.generate(), TCP_ONLY)
    const puller = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    try {
      const pulls: Array<{ wait: boolean }> = []
      let serverSawEnd = false
      await server.handle(SYNC_PROTOCOL, async (stream) => {
        const ch = new FrameChannel(stream, 1 << 20)
        try {
          for (;;) {
            const pull = await ch.receive(validatePull)
            if (pull === null) break
            pulls.push(pull)
            // Answer the first `answered` pulls (an empty feed, caught up), then go silent.
            if (pulls.length <= answered) await ch.send({ t: 'batch', commits: [], last: 0, head: 0 })
          }
        } catch {
          // the puller reset the stream
        }
        serverSawEnd = true
      })
      const stream = await puller.dialProtocol(server.getMultiaddrs()[0] as never, SYNC_PROTOCOL)
      const started = Date.now()
      const err = await pullFrom(stream, {
        store: hub.store,
        peer: hubDidOfPeer(server.peerId),
        lookup: async kid => await hub.keys.resolveKey(kid),
        maxCommitBytes: hub.config.limits.maxCommitBytes,
        live,
        replyTimeoutMs: 300
      }).then(() => undefined, (e: unknown) => e)
      const elapsed = Date.now() - started
      expect(err).toBeInstanceOf(HubError)
      expect(err).toMatchObject({ code: 'unavailable', details: { reason: 'timeout', timeoutMs: 300 } })
      expect(elapsed).toBeGreaterThanOrEqual(250)
      expect(elapsed).toBeLessThan(5000)
      expect(pulls.map(p => p.wait)).toEqual(live ? [false, true] : [false])
      await eventually(() => serverSawEnd, 5000, 'the server to see the stream end')
    } finally {
      await puller.stop()
      await server.stop()
    }
  })

  it('a peer that opens a sync stream and never pulls is told `unavailable` after the reply timeout, and the stream ends', async () => {
    const hub = await tempHub()
    const server = await createHubLibp2p(Ed25519KeyPair.generate(), TCP_ONLY)
    const peer = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    try {
      let served: Promise<void> | undefined
      await server.handle(SYNC_PROTOCOL, async (stream, connection) => {
        served = serveSync({ store: () => hub.store, access: async () => ({ all: true }), peerHubDid: c => hubDidOfPeer(c.remotePeer), log: silentLogger, replyTimeoutMs: 300 }, stream, connection)
        await served
      })
      const stream = await peer.dialProtocol(server.getMultiaddrs()[0] as never, SYNC_PROTOCOL)
      const ch = new FrameChannel(stream, 1 << 20)
      const started = Date.now()
      const reply = await ch.receive(validateSyncServerMessage, AbortSignal.timeout(5000))
      expect(reply).toMatchObject({ t: 'error', code: 'unavailable' })
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
      expect(await ch.receive(validateSyncServerMessage, AbortSignal.timeout(5000)).catch(() => null)).toBeNull()
      await served
    } finally {
      await peer.stop()
      await server.stop()
    }
  })

  it('garbage on the sync protocol resets the stream and changes nothing', async () => {
    const a = await founder()
    const b = await device(a)
    const before = await dumpData(a.hub)
    for (const bad of ['not json', '{"t":"pull"}', JSON.stringify({ t: 'pull', v: 1, tenant: a.hub.did, after: -1, limit: 5, wait: false }), 'x'.repeat(70_000)]) {
      const stream = await b.node.libp2p.dialProtocol(a.node.libp2p.peerId, SYNC_PROTOCOL)
      const ch = new FrameChannel(stream, 1 << 20)
      await ch.send({ raw: bad })
      const reply = await ch.receive(validateSyncServerMessage).catch(() => null)
      if (reply !== null) expect(reply).toMatchObject({ t: 'error', code: 'bad_request' })
      await ch.close()
    }
    // The peer stays usable: a well-formed pull still works.
    const stream = await b.node.libp2p.dialProtocol(a.node.libp2p.peerId, SYNC_PROTOCOL)
    const ch = new FrameChannel(stream, 1 << 20)
    await ch.send({ t: 'pull', v: 1, tenant: a.hub.did, after: 0, limit: 5, wait: false })
    expect(await ch.receive(validateSyncServerMessage)).toMatchObject({ t: 'batch' })
    await ch.close()
    expect(await dumpData(a.hub)).toEqual(before)
  })
})

describe('pairing', () => {
  it('refuses a reused, an expired or a wrong-role invite, and a second hub in the same directory', async () => {
    const a = await founder()
    const { invite } = await a.node.createInvite()
    const d1 = join(await tempDir('pair-'), 'd1')
    const joined = await joinHub(d1, invite)
    expect(joined.did).toBe(a.hub.did)
    await expect(joinHub(join(await tempDir('pair-'), 'd2'), invite)).rejects.toMatchObject({ code: 'authentication_failed' })
    const short = await a.node.createInvite({ ttlMs: 1 })
    await sleep(5)
    await expect(joinHub(join(await tempDir('pair-'), 'd3'), short.invite)).rejects.toMatchObject({ code: 'authentication_failed' })
    const blindInvite = await a.node.createInvite({ role: 'blind' })
    await expect(joinHub(join(await tempDir('pair-'), 'd4'), blindInvite.invite, { role: 'owner-device' })).rejects.toMatchObject({ code: 'permissions_required' })
    const fresh = await a.node.createInvite()
    await expect(joinHub(d1, fresh.invite)).rejects.toMatchObject({ code: 'already_exists' })
    await expect(joinHub(join(await tempDir('pair-'), 'd5'), 'ihub1_garbage')).rejects.toMatchObject({ code: 'bad_request' })
    // Only the one successful join authorized a device.
    expect(a.hub.devices.list().filter(d => d.device !== a.hub.hubDid)).toHaveLength(1)
  })

  it('a joined device without the owner key cannot invite', async () => {
    const a = await founder()
    const b = await device(a)
    await expect(b.node.createInvite()).rejects.toMatchObject({ code: 'permissions_required' })
    void HubNode
    void TCP_ONLY
  })
})
