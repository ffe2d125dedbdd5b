/**
 * Several hosting processes on one PostgreSQL (issue 17, net/hosting/
 * cluster.ts), two "processes" in this test process — each its own pool,
 * lease holder, HostedOwners and libp2p node, under the one host key:
 *  - fenced writes: the process that does not hold an owner's shard writes
 *    nothing (LeaseLostError); one whose lease was expired in the database
 *    (a pause past its TTL, by the database's clock) and taken over writes
 *    nothing either, though it still believes it holds the lease;
 *  - forwarding and following: a device connected only to the process that
 *    does not hold its owner gets its writes to the holder (through the
 *    inbox) and that process's feed follows the holder's; a request sent
 *    to it is performed by the holder, and nothing forwarded is echoed;
 *  - subscriptions through that process: accepted by the holder (a replay
 *    of the token is refused), events from the followed feed, ended by a
 *    revocation made through the holder.
 * The kill -9 scenario with real child processes is test/hosting-procs.test.ts.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { startHostingNode } from '../src/compose.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { peerIdOf } from '../src/identity/peer.js'
import { createDidResolver, KeyResolver } from '../src/identity/resolver.js'
import { FrameChannel } from '../src/net/channel.js'
import { MAX_FRAME_BYTES, REQUEST_PROTOCOL } from '../src/net/constants.js'
import { HostingCluster, type ClusterOptions } from '../src/net/hosting/cluster.js'
import { createHubLibp2p } from '../src/net/node.js'
import type { HostingNode } from '../src/net/hosting/node.js'
import { HostedOwners, partitionOf } from '../src/net/hosting/owners.js'
import { signRequest, validateServerMessage } from '../src/request/token.js'
import { PgKv } from '../src/store/pg-kv.js'
import { originsOf } from '../src/store/feed-origins.js'
import { prefixUpper } from '../src/store/prefix-kv.js'
import { cleanup, playlist, tempDir } from './helpers.js'
import { eventually, founder, stopAll, TCP_ONLY, type Running } from './net-helpers.js'
import { freshNamespace, startPostgres } from './pg-harness.js'
import { silentLogger } from '../src/log.js'

const pg = await startPostgres()
if (pg.cluster === undefined) process.stderr.write(`test/hosting-cluster.test.ts: skipped: ${pg.reason}\n`)
afterAll(async () => { await pg.cluster?.stop() })

const silent = silentLogger
const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  await stopAll()
  for (const c of closers.splice(0).reverse()) await c().catch(() => {})
  await cleanup()
})

const hostKey = Ed25519KeyPair.generate()

interface Proc { kv: PgKv, cluster: HostingCluster, owners: HostedOwners }

/** One hosting "process" without a network node: its own pool, lease holder and owners. */
async function proc (ns: string, opts: ClusterOptions): Promise<Proc> {
  const kv = await PgKv.open({ url: pg.cluster?.url ?? '', namespace: ns, maxConnections: 6 })
  const cluster = await HostingCluster.open(kv, silent, opts)
  const owners = await HostedOwners.open({ kv, hostKey, hubDid: hostKey.did, peerId: peerIdOf(hostKey.publicKey), dir: await tempDir('hc-'), engine: 'postgres', logger: silent, cluster })
  closers.push(async () => { await cluster.stop(); await owners.close(); await kv.close() })
  return { kv, cluster, owners }
}

async function keysOf (kv: PgKv, owner: string): Promise<string[]> {
  const p = partitionOf(owner)
  const out: string[] = []
  for await (const k of kv.keys({ gte: p, lt: prefixUpper(p) })) out.push(k)
  return out
}

/** An owner's device (a real hub) that has authorized the host as a blind device: the commits a host gets at pairing. */
async function ownerWithHost (): Promise<{ dev: Running, commits: string[] }> {
  const dev = await founder({ discoveryIntervalMs: 0 })
  await dev.hub.devices.authorize(hostKey.did, 'blind', 'host')
  const commits = await Promise.all(dev.hub.store.registry.devices().map(async d => await dev.hub.store.getEnvelope(d.objectId) as string))
  return { dev, commits }
}

/** The envelopes of an encrypted object just written on `dev` (its collection key first when new). */
async function newCommits (dev: Running, name: string, after: Set<string>): Promise<string[]> {
  await dev.hub.collections.create(playlist(name), { encrypt: true })
  const ids: string[] = []
  for await (const e of dev.hub.store.feed(0)) if (!after.has(e.commitId)) ids.push(e.commitId)
  for (const id of ids) after.add(id)
  const envs = await dev.hub.store.getEnvelopes(ids)
  return envs.filter((e): e is string => e !== undefined)
}

const hooks = { catchUp: async () => {}, perform: async () => ({ ok: true as const, value: null }), follow: async () => {} }

describe.skipIf(pg.cluster === undefined)('several hosting processes on one PostgreSQL', () => {
  it('fenced writes: the process without the lease writes nothing; a holder paused past its lease and taken over writes nothing when it wakes', async () => {
    const ns = freshNamespace('fence')
    // A renews only every 20 s: once its lease is expired in the database it still believes it holds it.
    const a = await proc(ns, { shards: 1, ttlMs: 60_000, renewMs: 20_000 })
    a.cluster.start(hooks)
    await eventually(() => a.cluster.holds('x'), 10_000, 'A taking the shard')
    const b = await proc(ns, { shards: 1, ttlMs: 60_000, renewMs: 50 })
    b.cluster.start(hooks)

    const { dev, commits } = await ownerWithHost()
    await a.owners.add({ ownerDid: dev.hub.did, role: 'blind', commits, peers: [] })
    await b.owners.refresh()
    const atB = b.owners.get(dev.hub.did)
    const atA = a.owners.get(dev.hub.did)
    if (atA === undefined || atB === undefined) throw new Error('owner not open in both')
    const seen = new Set<string>()
    for await (const e of dev.hub.store.feed(0)) seen.add(e.commitId)
    const first = await newCommits(dev, 'one', seen)
    expect(first.length).toBeGreaterThan(0)

    // B does not hold the shard: its write is refused and changes nothing.
    const before = await keysOf(a.kv, dev.hub.did)
    await expect(atB.hub.ingest(first[0])).rejects.toMatchObject({ code: 'unavailable', details: { reason: 'lease_lost' } })
    expect(await keysOf(a.kv, dev.hub.did)).toEqual(before)
    // A does.
    for (const env of first) await atA.hub.ingest(env)
    const afterA = await keysOf(a.kv, dev.hub.did)
    expect(afterA.length).toBeGreaterThan(before.length)

    // A "pauses" past its lease: the database's clock expires it; B takes over.
    await a.kv.pool.query('UPDATE hub_leases SET expires_at = now() WHERE ns = $1', [ns])
    await eventually(() => b.cluster.holds('x'), 10_000, 'B taking over')
    expect(a.cluster.holds('x')).toBe(true) // A has not noticed
    const second = await newCommits(dev, 'two', seen)
    await expect(atA.hub.ingest(second[0])).rejects.toMatchObject({ code: 'unavailable', details: { reason: 'lease_lost' } })
    expect(await keysOf(a.kv, dev.hub.did)).toEqual(afterA)
    // B, having caught up, writes.
    await atB.hub.store.follow()
    for (const env of second) await atB.hub.ingest(env)
    expect((await keysOf(a.kv, dev.hub.did)).length).toBeGreaterThan(afterA.length)
  }, 60_000)

  it('a device connected only to the process without its owner\'s lease: its writes reach the holder through the inbox, that process\'s feed follows, a request there is performed by the holder', async () => {
    const ns = freshNamespace('fwd')
    const opts = { ttlMs: 1500, renewMs: 300, followMs: 100 }
    const a = await proc(ns, opts)
    const nodes: HostingNode[] = []
    const start = async (p: Proc): Promise<HostingNode> => {
      const node = await startHostingNode(p.owners, hostKey, new KeyResolver(createDidResolver()), { listen: TCP_ONLY, reconnectMinMs: 100, cluster: p.cluster })
      nodes.push(node)
      closers.push(async () => { await node.stop() })
      return node
    }
    const nodeA = await start(a)
    await eventually(() => a.cluster.held().length === 64, 10_000, 'A holding every shard')
    const b = await proc(ns, opts)
    const nodeB = await start(b)
    expect(b.cluster.held()).toEqual([])
    expect(nodeB.libp2p.peerId.toString()).toBe(nodeA.libp2p.peerId.toString())

    // The owner pairs through B (which does not hold it): B forwards the welcome to A.
    const dev = await founder({ discoveryIntervalMs: 0 })
    await nodeB.addOwner((await dev.node.createInvite({ role: 'blind' })).invite)
    await eventually(async () => a.owners.get(dev.hub.did) !== undefined || (await a.owners.ensure(dev.hub.did)) !== undefined, 10_000, 'A opening the owner')
    const atA = a.owners.get(dev.hub.did)
    const atB = b.owners.get(dev.hub.did)
    if (atA === undefined || atB === undefined) throw new Error('owner not open in both')

    // The device knows only B's address; it writes; B pulls and forwards; A ingests; B follows.
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await dev.hub.collections.create(playlist(`through B ${i}`), { encrypt: true })).objectId)
    for (const id of ids) {
      await eventually(async () => (await atA.hub.store.getMeta(id)) !== undefined, 30_000, `A holding ${id}`)
      await eventually(async () => (await atB.hub.store.getMeta(id)) !== undefined, 30_000, `B serving ${id}`)
    }
    await eventually(() => atB.hub.store.durableSeq === atA.hub.store.durableSeq, 10_000, 'B\'s feed head following A\'s')
    const feed = async (s: typeof atA.hub.store): Promise<string[]> => { const out: string[] = []; for await (const e of s.feed(0)) out.push(`${e.seq}:${e.commitId}`); return out }
    expect(await feed(atB.hub.store)).toEqual(await feed(atA.hub.store))
    // No echo across processes: A recorded the device as the origin of what B forwarded (as if A had pulled it), so
    // neither process serves the device its own commits back; B, following, reads the same record.
    const seqOf = new Map((await feed(atA.hub.store)).map(e => [e.split(':')[1] as string, Number(e.split(':')[0])]))
    const seqs = ids.map(id => seqOf.get(id) as number)
    for (const s of [atA.hub.store, atB.hub.store]) {
      expect(originsOf(await s.feedOrigins(1, s.durableSeq), seqs)).toEqual(ids.map(() => dev.hub.hubDid))
    }

    // A request to B for the owner: performed by A — the same token sent to A afterwards is a replay A has seen.
    const jws = signRequest(dev.hub.ownerKey as Ed25519KeyPair, dev.hub.did, 'Permissions', 'list', {})
    const askNode = async (node: HostingNode): Promise<unknown> => {
      const stream = await dev.node.libp2p.dialProtocol(node.libp2p.peerId, REQUEST_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const ch = new FrameChannel(stream, MAX_FRAME_BYTES)
      try {
        await ch.send({ t: 'request', id: 7, jws }, AbortSignal.timeout(10_000))
        return await ch.receive(validateServerMessage, AbortSignal.timeout(20_000))
      } finally {
        await ch.close().catch(() => {})
      }
    }
    expect(await askNode(nodeB)).toEqual({ t: 'response', id: 7, result: { grants: [] } })
    await dev.node.libp2p.hangUp(nodeB.libp2p.peerId)
    await dev.node.libp2p.dial(nodeA.multiaddrs().map(a => multiaddr(a)))
    expect(await askNode(nodeA)).toMatchObject({ t: 'error', id: 7 })
  }, 120_000)
  it('a subscription through the process without the owner\'s lease: accepted by the holder, it sees writes made through the holder; a revoked grant ends it', async () => {
    const ns = freshNamespace('sub')
    const opts = { ttlMs: 1500, renewMs: 300, followMs: 100 }
    const start = async (p: Proc): Promise<HostingNode> => {
      const node = await startHostingNode(p.owners, hostKey, new KeyResolver(createDidResolver()), { listen: TCP_ONLY, reconnectMinMs: 100, cluster: p.cluster })
      closers.push(async () => { await node.stop() })
      return node
    }
    const a = await proc(ns, opts)
    const nodeA = await start(a)
    await eventually(() => a.cluster.held().length === 64, 10_000, 'A holding every shard')
    const b = await proc(ns, opts)
    const nodeB = await start(b)
    // The owner pairs through A (the holder); its device stays connected to A only.
    const dev = await founder({ discoveryIntervalMs: 0 })
    await nodeA.addOwner((await dev.node.createInvite({ role: 'blind' })).invite)
    // A dials the device back once; on a loaded machine that dial can time out, and the device knows no address of the host.
    if (dev.node.libp2p.getConnections(nodeA.libp2p.peerId).length === 0) await dev.node.libp2p.dial(nodeA.multiaddrs().map(x => multiaddr(x)), { signal: AbortSignal.timeout(20_000) })
    // B opens the owner on one of its refreshes (read afresh each time: an owner may be reopened).
    await eventually(() => b.owners.get(dev.hub.did) !== undefined, 10_000, 'B opening the owner')
    const app = Ed25519KeyPair.generate()
    const { grantId } = await dev.hub.permissions.grant({ grantee: app.did, context: 'https://schema.org', type: 'MusicPlaylist', allow: '-R--' })
    await eventually(() => b.owners.get(dev.hub.did)?.hub.store.registry.liveGrants().some(g => g.id === grantId) === true, 30_000, 'B following the grant')

    // Two subscribers, each its own libp2p peer, connected to B only: the owner (every collection) and the app (its grant's).
    const toB = async (jws: string): Promise<{ ch: FrameChannel, first: unknown }> => {
      const lp = await createHubLibp2p(Ed25519KeyPair.generate(), TCP_ONLY)
      closers.push(async () => { await lp.stop() })
      const conn = await lp.dial(nodeB.multiaddrs().map(x => multiaddr(x)), { signal: AbortSignal.timeout(10_000) })
      const ch = new FrameChannel(await conn.newStream(REQUEST_PROTOCOL, { signal: AbortSignal.timeout(10_000) }), MAX_FRAME_BYTES)
      await ch.send({ t: 'request', id: 1, jws }, AbortSignal.timeout(10_000))
      return { ch, first: await ch.receive(validateServerMessage, AbortSignal.timeout(20_000)) }
    }
    const subscribe = async (jws: string): Promise<FrameChannel> => {
      const { ch, first } = await toB(jws)
      expect(first).toMatchObject({ t: 'response', id: 1 })
      return ch
    }
    const ownerJws = signRequest(dev.hub.ownerKey as Ed25519KeyPair, dev.hub.did, 'Collections', 'subscribe', {})
    const ownerSub = await subscribe(ownerJws)
    const appSub = await subscribe(signRequest(app, dev.hub.did, 'Collections', 'subscribe', { context: 'https://schema.org', type: 'MusicPlaylist' }))
    // The holder accepted the token (its replay cache): sent to B again, it is refused as a replay there.
    const again = await toB(ownerJws)
    expect(again.first).toMatchObject({ t: 'error', id: 1, code: 'authentication_failed' })
    await again.ch.close().catch(() => {})
    // A write through A (the device pulls into A only) reaches B's subscriber by B's follow.
    const { objectId } = await dev.hub.collections.create(playlist('through A'), { encrypt: true })
    for (;;) {
      const m = await ownerSub.receive(validateServerMessage, AbortSignal.timeout(30_000))
      expect(m).toMatchObject({ t: 'event', id: 1 })
      if (m?.t === 'event' && (m.event.object as { objectId?: string } | undefined)?.objectId === objectId) break
    }
    // The grant revoked through A: B's follow brings the revocation, and the app's subscription ends.
    await dev.hub.permissions.revoke(grantId)
    let end: unknown
    for (;;) {
      end = await appSub.receive(validateServerMessage, AbortSignal.timeout(30_000))
      if ((end as { t?: string } | null)?.t !== 'event') break
    }
    expect(end).toMatchObject({ t: 'end', id: 1, code: 'permissions_required' })
    await ownerSub.close().catch(() => {})
    await appSub.close().catch(() => {})
  }, 120_000)
})
