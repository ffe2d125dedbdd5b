/**
 * Many owners behind one hosting hub (issue 17): one libp2p node, one key,
 * one store; 20 owners, each paired with the host by an invite of its own
 * device; their devices sync through the host (some owners have a second
 * device that never meets the first: it gets everything through the host);
 * a hostile device of owner A asks the host for owner B's tenant on every
 * protocol and gets what a stranger gets for a DID nobody hosts; quotas
 * refuse past the limit and change nothing; removing an owner deletes its
 * partition and nothing else (doctor clean). On LevelDB, and on PostgreSQL
 * when the harness can start a cluster. Real libp2p nodes over loopback TCP.
 */
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { parseCommit } from '../src/commits/commit.js'
import { startHostingNode } from '../src/compose.js'
import { Hub } from '../src/hub.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { peerIdOf } from '../src/identity/peer.js'
import { createDidResolver, KeyResolver } from '../src/identity/resolver.js'
import { FrameChannel } from '../src/net/channel.js'
import { MAX_FRAME_BYTES, PAIR_PROTOCOL, REQUEST_PROTOCOL, SYNC_PROTOCOL } from '../src/net/constants.js'
import { HostedOwners, partitionOf } from '../src/net/hosting/owners.js'
import { HOSTING_MAX_CONNECTIONS, type HostingNode } from '../src/net/hosting/node.js'
import { validateSyncServerMessage } from '../src/net/messages.js'
import { blindMayHold } from '../src/net/sync-access.js'
import { signRequest, validateServerMessage } from '../src/request/token.js'
import { doctor } from '../src/store/doctor.js'
import type { KvStore } from '../src/store/kv.js'
import { LevelKv } from '../src/store/level-kv.js'
import { PgKv } from '../src/store/pg-kv.js'
import { prefixUpper } from '../src/store/prefix-kv.js'
import type { TenantStore } from '../src/store/tenant-store.js'
import { cleanup, playlist, tempDir } from './helpers.js'
import { eventually, founder, startHub, stopAll, TCP_ONLY, type Running } from './net-helpers.js'
import { joinHub } from '../src/net/pair.js'
import { freshNamespace, startPostgres } from './pg-harness.js'
import { silentLogger } from '../src/log.js'

const OWNERS = 20
/** Owners that also get a second device, which meets only the host. */
const SECOND_DEVICES = 4

const pg = await startPostgres()
if (pg.cluster === undefined) process.stderr.write(`test/hosting.test.ts: the PostgreSQL run is skipped: ${pg.reason}\n`)
afterAll(async () => { await pg.cluster?.stop() })

interface Host { node: HostingNode, owners: HostedOwners, kv: KvStore, dir: string, close: () => Promise<void> }

async function startHost (engine: 'leveldb' | 'postgres'): Promise<Host> {
  const dir = await tempDir('host-')
  const kv: KvStore = engine === 'postgres'
    ? await PgKv.open({ url: pg.cluster?.url ?? '', namespace: freshNamespace('host'), maxConnections: 8 })
    : await LevelKv.open(join(dir, 'store'))
  const hostKey = Ed25519KeyPair.generate()
  const owners = await HostedOwners.open({ kv, hostKey, hubDid: hostKey.did, peerId: peerIdOf(hostKey.publicKey), dir, engine, logger: silent })
  const node = await startHostingNode(owners, hostKey, new KeyResolver(createDidResolver()), { listen: TCP_ONLY, reconnectMinMs: 100 })
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await node.stop()
    await owners.close()
    await kv.close()
  }
  hosts.push(close)
  return { node, owners, kv, dir, close }
}

const silent = silentLogger
const hosts: Array<() => Promise<void>> = []

afterEach(async () => {
  await stopAll()
  for (const c of hosts.splice(0)) await c().catch(() => {})
  await cleanup()
})

/** Commit ids of a store's feed, in order (quarantined ones left out), with their headers. */
async function feedOf (store: TenantStore): Promise<Array<{ id: string, blindOk: boolean }>> {
  await store.idle()
  const entries: Array<{ seq: number, commitId: string }> = []
  for await (const e of store.feed(0, 100_000)) entries.push(e)
  const envs = await store.getEnvelopes(entries.map(e => e.commitId))
  return entries.map((e, i) => ({ id: e.commitId, blindOk: blindMayHold(parseCommit(envs[i] as string, Infinity).header) }))
    .filter(e => !store.isQuarantined(e.id))
}

async function keysUnder (kv: KvStore, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const k of kv.keys({ gte: prefix, lt: prefixUpper(prefix) })) out.push(k)
  return out
}

/** One raw frame exchange on `protocol` from `from`'s node to the host. */
async function ask (from: Running, host: Host, protocol: string, msg: object): Promise<Record<string, unknown> | null> {
  const stream = await from.node.libp2p.dialProtocol(host.node.libp2p.peerId, protocol, { signal: AbortSignal.timeout(10_000) })
  const ch = new FrameChannel(stream, MAX_FRAME_BYTES)
  try {
    await ch.send(msg, AbortSignal.timeout(10_000))
    const reply = protocol === SYNC_PROTOCOL ? await ch.receive(validateSyncServerMessage, AbortSignal.timeout(10_000)) : await ch.receive(validateServerMessage, AbortSignal.timeout(10_000))
    return reply as unknown as Record<string, unknown> | null
  } finally {
    await ch.close().catch(() => { ch.abort(new Error('done')) })
  }
}

interface Owner { first: Running, second?: Running, did: string }

/** `OWNERS` owners hosted by `host`, each with an encrypted object written; the first SECOND_DEVICES with a second device behind the host only. */
async function populate (host: Host): Promise<Owner[]> {
  const owners: Owner[] = []
  for (let i = 0; i < OWNERS; i++) {
    const first = await founder({ discoveryIntervalMs: 0 })
    const { invite } = await first.node.createInvite({ role: 'blind' })
    await host.node.addOwner(invite)
    owners.push({ first, did: first.hub.did })
  }
  for (const o of owners.slice(0, SECOND_DEVICES)) {
    const dir = join(await tempDir('dev2-'), 'hub')
    const { invite } = await o.first.node.createInvite()
    await joinHub(dir, invite)
    const peerOfSecond = (await Hub.open(dir).then(async h => { const p = h.peerId; await h.close(); return p }))
    // The two devices never talk: everything the second gets comes through the host.
    await o.first.node.block(peerOfSecond)
    o.second = await startHub(dir, { bootstrap: host.node.multiaddrs(), blockedPeers: [o.first.hub.peerId], discoveryIntervalMs: 0 })
  }
  return owners
}

const engines = [['leveldb'], ...(pg.cluster !== undefined ? [['postgres']] : [])] as Array<['leveldb' | 'postgres']>

describe.each(engines)('a hosting hub on %s', engine => {
  it(`${OWNERS} owners behind one node: every device converges through the host, blind (no plaintext held)`, async () => {
    const host = await startHost(engine)
    const owners = await populate(host)
    expect(host.owners.size).toBe(OWNERS)
    // One identity and one address for all.
    expect(new Set(host.owners.all().map(o => o.hub.peerId))).toEqual(new Set([host.node.libp2p.peerId.toString()]))
    // Sized for every owner's devices, not libp2p's one-owner default of 300 (which would prune devices in a loop).
    const manager = (host.node.libp2p as unknown as { components: { connectionManager: { getMaxConnections: () => number } } }).components.connectionManager
    expect(manager.getMaxConnections()).toBe(HOSTING_MAX_CONNECTIONS)
    const written = new Map<string, string[]>()
    for (const [i, o] of owners.entries()) {
      const ids: string[] = []
      for (let k = 0; k < 3; k++) ids.push((await o.first.hub.collections.create(playlist(`owner ${i} secret ${k}`), { encrypt: true })).objectId)
      // A plaintext object (another collection): a blind host must never hold it.
      await o.first.hub.collections.create({ '@context': 'https://schema.org', '@type': 'Book', name: `owner ${i} plaintext` })
      written.set(o.did, ids)
    }
    // The host holds exactly what a blind device of each owner may hold.
    for (const o of owners) {
      const tenant = host.owners.get(o.did)
      expect(tenant).toBeDefined()
      await eventually(async () => {
        const want = (await feedOf(o.first.hub.store)).filter(e => e.blindOk).map(e => e.id).sort()
        const have = (await feedOf(tenant?.hub.store as TenantStore)).map(e => e.id).sort()
        return JSON.stringify(want) === JSON.stringify(have)
      }, 60_000, `the host converging on ${o.did}`)
      const plaintext = (await feedOf(o.first.hub.store)).filter(e => !e.blindOk).map(e => e.id)
      expect(plaintext.length).toBeGreaterThan(0)
      const held = new Set((await feedOf(tenant?.hub.store as TenantStore)).map(e => e.id))
      for (const id of plaintext) expect(held.has(id)).toBe(false)
    }
    // Second devices read every encrypted object, though they never met the first device.
    for (const o of owners.filter(x => x.second !== undefined)) {
      for (const id of written.get(o.did) ?? []) {
        await eventually(async () => (await o.second?.hub.collections.read(id).catch(() => undefined))?.value !== undefined, 60_000, `second device of ${o.did} reading ${id}`)
        expect((await o.second?.hub.collections.read(id))?.value).toEqual((await o.first.hub.collections.read(id)).value)
      }
      // And what the second device writes reaches the first, through the host.
      const back = (await (o.second as Running).hub.collections.create(playlist('from the second device'), { encrypt: true })).objectId
      await eventually(async () => (await o.first.hub.collections.read(back).catch(() => undefined))?.value?.name === 'from the second device', 60_000, 'the first device reading the second\'s write')
    }
    // Metrics per owner.
    const m = host.node.metrics()
    expect(m).toHaveLength(OWNERS)
    for (const x of m) expect(x.objects).toBeGreaterThanOrEqual(3)
  }, 240_000)

  it('a hostile device of owner A asking the host for owner B, on every protocol, learns what it would for a DID nobody hosts', async () => {
    const host = await startHost(engine)
    const a = await founder({ discoveryIntervalMs: 0 })
    const b = await founder({ discoveryIntervalMs: 0 })
    for (const f of [a, b]) await host.node.addOwner((await f.node.createInvite({ role: 'blind' })).invite)
    await b.hub.collections.create(playlist('B private'), { encrypt: true })
    const bTenant = host.owners.get(b.hub.did)
    await eventually(async () => (await feedOf(bTenant?.hub.store as TenantStore)).length === (await feedOf(b.hub.store)).filter(e => e.blindOk).length, 30_000, 'the host holding B')
    const nobody = Ed25519KeyPair.generate().did
    const before = await keysUnder(host.kv, partitionOf(b.hub.did) + 't!')

    // Sync: B's tenant, plain and with A's own proof passed off as B's; an unknown tenant.
    const proof = JSON.parse(await a.hub.store.getEnvelope(a.hub.store.registry.devices().find(d => d.device === a.hub.hubDid)?.objectId as never) as string)
    const pulls = [
      { t: 'pull', v: 1, tenant: b.hub.did, after: 0, limit: 100, wait: false },
      { t: 'pull', v: 1, tenant: b.hub.did, after: 0, limit: 100, wait: false, as: { did: b.hub.did, proof } },
      { t: 'pull', v: 1, tenant: b.hub.did, after: 0, limit: 100, wait: false, as: { did: a.hub.did, proof } }
    ]
    const unknown = await ask(a, host, SYNC_PROTOCOL, { t: 'pull', v: 1, tenant: nobody, after: 0, limit: 100, wait: false })
    expect(unknown).toMatchObject({ t: 'error', code: 'permissions_required' })
    for (const p of pulls) expect(await ask(a, host, SYNC_PROTOCOL, p)).toEqual(unknown)

    // Requests: B's owner named by A's device key and by A's owner key, each method; the same for a DID nobody hosts.
    const methods = [['Collections', 'query', { type: 'MusicPlaylist' }], ['Collections', 'read', { objectId: 'x' }], ['Collections', 'write', {}], ['Permissions', 'list', {}], ['Devices', 'attest', { lifetimeS: 60 }]] as const
    for (const signer of [a.hub.hubKey, a.hub.ownerKey as Ed25519KeyPair]) {
      for (const [iface, method, params] of methods) {
        const forB = await ask(a, host, REQUEST_PROTOCOL, { t: 'request', id: 1, jws: signRequest(signer, b.hub.did, iface, method, params) })
        const forNobody = await ask(a, host, REQUEST_PROTOCOL, { t: 'request', id: 1, jws: signRequest(signer, nobody, iface, method, params) })
        expect(forB).toEqual({ t: 'error', id: 1, code: 'not_found', message: 'this hub does not serve that owner' })
        expect(forB).toEqual(forNobody)
      }
    }
    // Pairing is served by no one on a host.
    await expect(a.node.libp2p.dialProtocol(host.node.libp2p.peerId, PAIR_PROTOCOL)).rejects.toThrow()

    // Nothing of B changed; B's audit log saw the probes; A's own requests still work.
    expect(await keysUnder(host.kv, partitionOf(b.hub.did) + 't!')).toEqual(expect.arrayContaining(before))
    const audit = await bTenant?.hub.audit.list({ limit: 100 })
    expect(JSON.stringify(audit)).toContain(a.hub.hubDid)
    const mine = await ask(a, host, REQUEST_PROTOCOL, { t: 'request', id: 2, jws: signRequest(a.hub.ownerKey as Ed25519KeyPair, a.hub.did, 'Permissions', 'list', {}) })
    expect(mine?.t).toBe('response')
  }, 120_000)

  it('quotas: objects and bytes refused past the limit (too_large, quota_exceeded, which quota) with nothing changed; requests/s refused (unavailable)', async () => {
    const host = await startHost(engine)
    const a = await founder({ discoveryIntervalMs: 0 })
    await host.node.addOwner((await a.node.createInvite({ role: 'blind' })).invite)
    const tenant = host.owners.get(a.hub.did)
    if (tenant === undefined) throw new Error('not hosted')
    await eventually(async () => (await feedOf(tenant.hub.store)).length === (await feedOf(a.hub.store)).filter(e => e.blindOk).length, 30_000, 'initial sync')
    await host.node.stop() // ingest below is by hand: no replicator races it
    const usage = tenant.quota.usage
    await host.owners.setQuotas(a.hub.did, { objects: usage.objects })
    // A new encrypted object's commits (its collection key first), made on the device, offered to the host by hand.
    const { objectId } = await a.hub.collections.create(playlist('over quota'), { encrypt: true })
    const have = new Set((await feedOf(tenant.hub.store)).map(e => e.id))
    const envs = await a.hub.store.getEnvelopes((await feedOf(a.hub.store)).filter(e => e.blindOk && !have.has(e.id)).map(e => e.id))
    expect(envs.length).toBeGreaterThan(0)
    const snapshot = await keysUnder(host.kv, partitionOf(a.hub.did))
    let refused: unknown
    for (const env of envs) {
      try { await tenant.hub.ingest(env as string) } catch (err) { refused = err; break }
    }
    expect(refused).toMatchObject({ code: 'too_large', details: { reason: 'quota_exceeded', quota: 'objects', limit: usage.objects } })
    expect(tenant.quota.usage.objects).toBe(usage.objects)
    expect(await tenant.hub.store.getMeta(objectId)).toBeUndefined()
    // Bytes: room for nothing more.
    await host.owners.setQuotas(a.hub.did, { bytes: tenant.quota.usage.bytes })
    const more = (await a.hub.collections.create(playlist('bytes'), { encrypt: true })).objectId
    const extra = await a.hub.store.getEnvelopes(await a.hub.store.objectCommitIds(more))
    await expect(tenant.hub.ingest(extra[0] as string)).rejects.toMatchObject({ code: 'too_large', details: { reason: 'quota_exceeded', quota: 'bytes' } })
    const after = await keysUnder(host.kv, partitionOf(a.hub.did))
    // Only local bookkeeping (the audit log, nothing of the tenant's data) may differ.
    const data = (ks: string[]): string[] => ks.filter(k => !/!(a|w)!/.test(k) && !k.includes('!n!'))
    expect(data(after)).toEqual(data(snapshot))
    expect(host.owners.list().find(o => o.owner === a.hub.did)).toMatchObject({ quotas: { bytes: tenant.quota.usage.bytes }, usage: { objects: usage.objects } })
  }, 120_000)

  it('structured logs of a tenant carry the tenant', async () => {
    const lines: Array<{ msg: string, fields: Record<string, unknown> | undefined }> = []
    const rec = (msg: string, fields?: Record<string, unknown>): void => { lines.push({ msg, fields }) }
    const logger = { debug: rec, info: rec, warn: rec, error: rec, child: () => logger }
    const dir = await tempDir('host-log-')
    const kv = await LevelKv.open(join(dir, 'store'))
    const hostKey = Ed25519KeyPair.generate()
    const owners = await HostedOwners.open({ kv, hostKey, hubDid: hostKey.did, peerId: peerIdOf(hostKey.publicKey), dir, engine, logger })
    try {
      const dev = await founder({ discoveryIntervalMs: 0 })
      await dev.hub.devices.authorize(hostKey.did, 'blind', 'host')
      const commits = await Promise.all(dev.hub.store.registry.devices().map(async d => await dev.hub.store.getEnvelope(d.objectId) as string))
      const hosted = await owners.add({ ownerDid: dev.hub.did, role: 'blind', commits, peers: [] })
      expect(hosted.hub.did).toBe(dev.hub.did)
      expect(lines.find(l => l.msg === 'hub opened')?.fields).toMatchObject({ tenant: dev.hub.did })
    } finally {
      await owners.close()
      await kv.close()
    }
  })

  it('requests per second: past the owner\'s quota, unavailable with reason quota_exceeded', async () => {
    const host = await startHost(engine)
    const a = await founder({ discoveryIntervalMs: 0 })
    await host.node.addOwner((await a.node.createInvite({ role: 'blind' })).invite, { requestsPerSecond: 1 })
    const key = a.hub.ownerKey as Ed25519KeyPair
    const first = await ask(a, host, REQUEST_PROTOCOL, { t: 'request', id: 1, jws: signRequest(key, a.hub.did, 'Permissions', 'list', {}) })
    expect(first?.t).toBe('response')
    const second = await ask(a, host, REQUEST_PROTOCOL, { t: 'request', id: 2, jws: signRequest(key, a.hub.did, 'Permissions', 'list', {}) })
    expect(second).toMatchObject({ t: 'error', code: 'unavailable' })
    expect(String(second?.message)).toContain('quota')
    expect(host.node.metrics()[0]).toMatchObject({ requests: 1, refusedRequests: 1 })
  }, 60_000)

  it('remove-owner deletes that owner\'s partition and nothing else; the others stay doctor-clean; its device is refused like a stranger', async () => {
    const host = await startHost(engine)
    const fs: Running[] = []
    for (let i = 0; i < 3; i++) {
      const f = await founder({ discoveryIntervalMs: 0 })
      await host.node.addOwner((await f.node.createInvite({ role: 'blind' })).invite)
      await f.hub.collections.create(playlist(`o${i}`), { encrypt: true })
      fs.push(f)
    }
    for (const f of fs) {
      const t = host.owners.get(f.hub.did) as { hub: Hub }
      await eventually(async () => (await feedOf(t.hub.store)).length === (await feedOf(f.hub.store)).filter(e => e.blindOk).length, 30_000, 'sync')
    }
    const [gone, ...kept] = fs as [Running, ...Running[]]
    const commitsOf = async (f: Running): Promise<string[]> => await keysUnder(host.kv, partitionOf(f.hub.did) + `t!`).then(ks => ks.filter(k => /!(c|f|o)!/.test(k)))
    const keptBefore = await Promise.all(kept.map(commitsOf))
    const n = await host.node.removeOwner(gone.hub.did)
    expect(n).toBeGreaterThan(0)
    expect(await keysUnder(host.kv, partitionOf(gone.hub.did))).toEqual([])
    expect(host.owners.get(gone.hub.did)).toBeUndefined()
    expect(host.owners.list().map(o => o.owner).sort()).toEqual(kept.map(f => f.hub.did).sort())
    expect(await Promise.all(kept.map(commitsOf))).toEqual(keptBefore)
    for (const f of kept) {
      const report = await doctor(host.owners.get(f.hub.did)?.hub as Hub, {})
      expect(report.clean).toBe(true)
    }
    // Removing it again, or an owner never hosted: not_found.
    await expect(host.node.removeOwner(gone.hub.did)).rejects.toMatchObject({ code: 'not_found' })
    const refusal = await ask(gone, host, SYNC_PROTOCOL, { t: 'pull', v: 1, tenant: gone.hub.did, after: 0, limit: 10, wait: false })
    expect(refusal).toMatchObject({ t: 'error', code: 'permissions_required' })
    // Adding the same owner twice is refused before the invite is spent.
    const { invite } = await kept[0]?.node.createInvite({ role: 'blind' }) as { invite: string }
    await expect(host.node.addOwner(invite)).rejects.toMatchObject({ code: 'already_exists' })
  }, 120_000)
})
