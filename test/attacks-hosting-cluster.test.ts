/**
 * Attacks on several hosting processes on one PostgreSQL (docs/hosting.md
 * "Several processes on one PostgreSQL"): a process that does not hold an
 * owner forwards writes through `hub_inbox`, and the holder "verifies the
 * commits again" and handles a request "as if it had arrived there". These
 * probes post, from the non-holder, what a buggy or confused process (or a
 * device steering it) could: another owner's commits under this owner, a
 * forged commit, a request token of another owner; then check the holder's
 * store. Two "processes" in this test process, each with its own pool,
 * lease holder, owners and libp2p node (as test/hosting-cluster.test.ts).
 * The kill -9 of a holder with real child processes is
 * test/faults/hosting-procs.test.ts (H4's, not committed when this was
 * written): not probed here.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { startHostingNode } from '../src/compose.js'
import { createCommit, randomActor } from '../src/client/commits.js'
import type { Did } from '../src/ids.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { peerIdOf } from '../src/identity/peer.js'
import { createDidResolver, KeyResolver } from '../src/identity/resolver.js'
import { HostingCluster, type ClusterOptions } from '../src/net/hosting/cluster.js'
import type { InboxResult } from '../src/net/hosting/inbox.js'
import type { HostingNode } from '../src/net/hosting/node.js'
import { HostedOwners, partitionOf } from '../src/net/hosting/owners.js'
import type { JsonObject } from '../src/objects/json.js'
import { handleRequest } from '../src/request/handler.js'
import { signRequest } from '../src/request/token.js'
import { PgKv } from '../src/store/pg-kv.js'
import { prefixUpper } from '../src/store/prefix-kv.js'
import { cleanup, playlist, tempDir } from './helpers.js'
import { RawClient } from './raw-request-client.js'
import { eventually, founder, stopAll, TCP_ONLY, type Running } from './net-helpers.js'
import { freshNamespace, startPostgres } from './pg-harness.js'
import { silentLogger } from '../src/log.js'

const pg = await startPostgres()
if (pg.cluster === undefined) process.stderr.write(`test/attacks-hosting-cluster.test.ts: skipped: ${pg.reason}\n`)
afterAll(async () => { await pg.cluster?.stop() })

const silent = silentLogger
const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  await stopAll()
  for (const c of closers.splice(0).reverse()) await c().catch(() => {})
  await cleanup()
})

const hostKey = Ed25519KeyPair.generate()
const CTX = 'https://schema.org'

interface Proc { kv: PgKv, cluster: HostingCluster, owners: HostedOwners, node?: HostingNode }

async function proc (ns: string, opts: ClusterOptions): Promise<Proc> {
  const kv = await PgKv.open({ url: pg.cluster?.url ?? '', namespace: ns, maxConnections: 6 })
  const cluster = await HostingCluster.open(kv, silent, opts)
  const owners = await HostedOwners.open({ kv, hostKey, hubDid: hostKey.did, peerId: peerIdOf(hostKey.publicKey), dir: await tempDir('ahc-'), engine: 'postgres', logger: silent, cluster })
  closers.push(async () => { await cluster.stop(); await owners.close(); await kv.close() })
  const node = await startHostingNode(owners, hostKey, new KeyResolver(createDidResolver()), { listen: TCP_ONLY, reconnectMinMs: 100, cluster })
  closers.push(async () => { await node.stop() })
  return { kv, cluster, owners, node }
}

async function keysOf (kv: PgKv, owner: string): Promise<string[]> {
  const p = partitionOf(owner)
  const out: string[] = []
  for await (const k of kv.keys({ gte: p, lt: prefixUpper(p) })) out.push(k)
  return out
}

/** An owner's device that authorized the host as a blind device, and the commits a host gets at pairing. */
async function ownerWithHost (): Promise<{ dev: Running, commits: string[], seen: Set<string> }> {
  const dev = await founder({ discoveryIntervalMs: 0 })
  await dev.hub.devices.authorize(hostKey.did, 'blind', 'host')
  const commits = await Promise.all(dev.hub.store.registry.devices().map(async d => await dev.hub.store.getEnvelope(d.objectId) as string))
  const seen = new Set<string>()
  for await (const e of dev.hub.store.feed(0)) seen.add(e.commitId)
  return { dev, commits, seen }
}

/** The envelopes of an encrypted object just written on `dev` (its collection key first when new). */
async function newCommits (o: { dev: Running, seen: Set<string> }, name: string): Promise<string[]> {
  await o.dev.hub.collections.create(playlist(name), { encrypt: true })
  const ids: string[] = []
  for await (const e of o.dev.hub.store.feed(0)) if (!o.seen.has(e.commitId)) ids.push(e.commitId)
  for (const id of ids) o.seen.add(id)
  return (await o.dev.hub.store.getEnvelopes(ids)).filter((e): e is string => e !== undefined)
}

/** The same envelope with one character of its signature changed. */
function tampered (env: string): string {
  const e = JSON.parse(env) as { signature: string }
  const c = e.signature[5] === 'A' ? 'B' : 'A'
  return JSON.stringify({ ...e, signature: `${e.signature.slice(0, 5)}${c}${e.signature.slice(6)}` })
}

/** Every commit of a forwarded ingest refused (the holder answers per commit), or the whole row. */
function refused (r: InboxResult): boolean {
  return !r.ok || (Array.isArray(r.value) && r.value.length > 0 && r.value.every(v => (v as { ok: boolean }).ok === false))
}

describe.skipIf(pg.cluster === undefined)('several hosting processes: what a non-holder forwards', () => {
  it('the holder verifies forwarded commits again: another owner\'s commits posted under this owner, and a forged commit, change nothing; the honest page lands', { timeout: 60_000 }, async () => {
    const ns = freshNamespace('atk-fwd')
    const opts = { ttlMs: 1500, renewMs: 300, followMs: 100 }
    const a = await proc(ns, opts)
    await eventually(() => a.cluster.held().length === 64, 10_000, 'A holding every shard')
    const b = await proc(ns, opts)
    expect(b.cluster.held()).toEqual([])
    const x = await ownerWithHost()
    const y = await ownerWithHost()
    for (const o of [x, y]) await a.owners.add({ ownerDid: o.dev.hub.did, role: 'blind', commits: o.commits, peers: [] })
    await b.owners.refresh()
    const X = x.dev.hub.did
    const Y = y.dev.hub.did

    const xPage = await newCommits(x, 'X\'s own')
    const yPage = await newCommits(y, 'Y\'s own')
    const beforeX = await keysOf(a.kv, X)
    const beforeY = await keysOf(a.kv, Y)

    // X's commits (sub = X) posted by the non-holder as Y's page.
    const cross = await b.cluster.forward(Y, { kind: 'ingest', envelopes: xPage })
    expect(refused(cross), `X's commits taken as Y's: ${JSON.stringify(cross)}`).toBe(true)
    expect(JSON.stringify(cross)).toContain('wrong_owner')
    // A forged commit of Y (its signature changed), alone and after an honest one.
    const forged = await b.cluster.forward(Y, { kind: 'ingest', envelopes: [tampered(yPage[yPage.length - 1] as string)] })
    expect(refused(forged), `a forged commit: ${JSON.stringify(forged)}`).toBe(true)
    expect(await keysOf(a.kv, Y), 'Y unchanged').toEqual(beforeY)
    expect(await keysOf(a.kv, X), 'X unchanged').toEqual(beforeX)

    // Control: the honest page lands at the holder.
    const honest = await b.cluster.forward(Y, { kind: 'ingest', envelopes: yPage })
    expect(honest.ok && Array.isArray(honest.value) && honest.value.every(v => (v as { ok: boolean }).ok), JSON.stringify(honest)).toBe(true)
    expect((await keysOf(a.kv, Y)).length).toBeGreaterThan(beforeY.length)
  })

  it('a request token of owner X posted under owner Y is not performed on Y', { timeout: 60_000 }, async () => {
    const ns = freshNamespace('atk-req')
    const opts = { ttlMs: 1500, renewMs: 300, followMs: 100 }
    const a = await proc(ns, opts)
    await eventually(() => a.cluster.held().length === 64, 10_000, 'A holding every shard')
    const b = await proc(ns, opts)
    const x = await ownerWithHost()
    const y = await ownerWithHost()
    for (const o of [x, y]) await a.owners.add({ ownerDid: o.dev.hub.did, role: 'blind', commits: o.commits, peers: [] })
    await b.owners.refresh()
    const X = x.dev.hub.did as Did
    const Y = y.dev.hub.did
    const ownerX = x.dev.hub.ownerKey as Ed25519KeyPair
    // An owner's write of a plain (lww) object: the owner needs no grant.
    const c = createCommit({ signer: ownerX, owner: X, value: playlist('X writes') as JsonObject, context: CTX, type: 'MusicPlaylist', strategy: 'lww', actor: randomActor(), committedAt: new Date().toISOString() })
    const jws = signRequest(ownerX, X, 'Collections', 'write', { commit: c.envelope })
    const beforeY = await keysOf(a.kv, Y)
    const r = await b.cluster.forward(Y, { kind: 'request', jws })
    expect(await keysOf(a.kv, Y), 'nothing written for Y').toEqual(beforeY)
    const yHub = a.owners.get(Y)
    expect(await yHub?.hub.store.getEnvelope(c.id)).toBeUndefined()
    // Refused: Y's hub does not take a token addressed to X (seen: not_found, 'this hub does not serve that owner').
    expect(r.ok, JSON.stringify(r)).toBe(false)
  })

  it('a device of owner X, connected to the process that does not hold owner Y, cannot get a write into Y: refused by the holder, nothing but Y\'s audit entry written', { timeout: 60_000 }, async () => {
    const ns = freshNamespace('atk-xy')
    const opts = { ttlMs: 1500, renewMs: 300, followMs: 100 }
    const a = await proc(ns, opts)
    await eventually(() => a.cluster.held().length === 64, 10_000, 'A holding every shard')
    const b = await proc(ns, opts)
    const x = await ownerWithHost()
    const y = await ownerWithHost()
    for (const o of [x, y]) await a.owners.add({ ownerDid: o.dev.hub.did, role: 'blind', commits: o.commits, peers: [] })
    await b.owners.refresh()
    const Y = y.dev.hub.did as Did
    const ownerX = x.dev.hub.ownerKey as Ed25519KeyPair
    // X's owner key signs a write for Y (sub = Y), sent to B over the request protocol.
    const c = createCommit({ signer: ownerX, owner: Y, value: playlist('X writes into Y') as JsonObject, context: CTX, type: 'MusicPlaylist', strategy: 'lww', actor: randomActor(), committedAt: new Date().toISOString() })
    const before = (await keysOf(a.kv, Y)).filter(k => !k.includes('!a!'))
    const client = await RawClient.connect(b.node?.multiaddrs()[0] as string, Y, ownerX)
    try {
      const r = await client.call('Collections', 'write', { commit: c.envelope })
      expect(r.t, JSON.stringify(r)).toBe('error')
    } finally {
      await client.close()
    }
    expect((await keysOf(a.kv, Y)).filter(k => !k.includes('!a!')), 'nothing but audit entries').toEqual(before)
    expect(await a.owners.get(Y)?.hub.store.getEnvelope(c.id)).toBeUndefined()
  })

  const takeOver = async (warm: boolean): Promise<void> => {
    const ns = freshNamespace('atk-replay')
    const opts = { ttlMs: 1500, renewMs: 300, followMs: 100 }
    const a = await proc(ns, opts)
    await eventually(() => a.cluster.held().length === 64, 10_000, 'A holding every shard')
    const b = await proc(ns, opts)
    const y = await ownerWithHost()
    await a.owners.add({ ownerDid: y.dev.hub.did, role: 'blind', commits: y.commits, peers: [] })
    await b.owners.refresh()
    const Y = y.dev.hub.did
    const atB = b.owners.get(Y)
    if (atB === undefined) throw new Error('owner not open at B')
    const jws = signRequest(y.dev.hub.ownerKey as Ed25519KeyPair, Y, 'Permissions', 'list', {}, { lifetimeS: 300 })
    // B has handled a request for Y before — e.g. while it held Y earlier — so its replay cache is loaded (here: the load alone; its record cannot be written, B holds no lease).
    if (warm) await atB.hub.replay.accept('did:key:z6MkwarmupWarmupWarmupWarmupWarmupWarmupWarmupWarm', 'warm-up', Math.floor(Date.now() / 1000) + 60).catch(() => false)
    // Sent to A, the holder, directly: A performs it (and records its jti in the owner's partition); B never saw it.
    const atA = a.owners.get(Y)
    if (atA === undefined) throw new Error('owner not open at A')
    await expect(handleRequest(atA.hub, jws)).resolves.toBeDefined()
    // A stops; B takes the owner over and catches up.
    await a.node?.stop()
    await a.cluster.stop()
    await eventually(() => b.cluster.holds(Y), 15_000, 'B taking Y over')
    // The same token, now at the holder B: what should hold is that it is a replay.
    await expect(handleRequest(atB.hub, jws)).rejects.toMatchObject({ code: 'authentication_failed', message: expect.stringContaining('replay') })
    // Control: a fresh token of the owner is performed at B.
    await expect(handleRequest(atB.hub, signRequest(y.dev.hub.ownerKey as Ed25519KeyPair, Y, 'Permissions', 'list', {}))).resolves.toBeDefined()
  }

  it('a request token the old holder performed is refused as a replay by a process that takes the owner over without having served it before', { timeout: 60_000 }, async () => { await takeOver(false) })

  it('FIXED (was a hole): a process whose replay cache for the owner was already loaded (it served the owner before) refuses, after taking the owner over, a token the old holder performed', { timeout: 60_000 }, async () => { await takeOver(true) })
})
