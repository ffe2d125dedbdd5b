/**
 * No echo (issue 18): a commit crosses each device pair once. A hub does not
 * serve a commit back to the peer it ingested it from (store/feed-origins.ts),
 * the puller's watermark still moves past it, and this holds along a line of
 * three hubs and after a restart. The origin is the authenticated connection
 * the commit arrived on, never something a peer says: the wire carries no
 * origin, and a batch that tries to claim one is refused.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../../src/hub.js'
import { SYNC_PROTOCOL, SYNC_PROTOCOL_1_1 } from '../../src/net/constants.js'
import { FrameChannel } from '../../src/net/channel.js'
import { validatePull } from '../../src/net/messages.js'
import { readBatch } from '../../src/net/sync/server.js'
import { FeedOrigins, originsOf } from '../../src/store/feed-origins.js'
import { Layout } from '../../src/store/layout.js'
import { MemoryKv } from '../../src/store/memory-kv.js'
import { WriteQueue } from '../../src/store/write-queue.js'
import type { StartHubNodeOptions } from '../../src/compose.js'
import { cleanup, dumpData, playlist } from '../helpers.js'
import { device, eventually, founder, startHub, stopAll, stopHub, type Running } from '../net-helpers.js'

afterEach(async () => { await stopAll(); await cleanup() })

/**
 * Every Collections commit each hub served, per (server → puller) pair.
 * (Pairing commits — device authorizations handed over in the welcome —
 * enter a store outside sync, have no origin, and may cross once more.)
 */
class Wire {
  readonly served = new Map<string, string[]>()
  opts (name: string): StartHubNodeOptions {
    return {
      onServedBatch: (peer, json) => {
        const ids = (JSON.parse(json) as { commits: Array<{ protected: string, payload: string }> }).commits
          .filter(c => (JSON.parse(Buffer.from(c.protected, 'base64url').toString()) as { interface: string }).interface === 'Collections')
          .map(c => `${c.protected}.${c.payload}`)
        const k = `${name}>${peer}`
        this.served.set(k, [...(this.served.get(k) ?? []), ...ids])
      }
    }
  }

  get (server: string, puller: Running): string[] { return this.served.get(`${server}>${puller.hub.hubDid}`) ?? [] }
}

const count = async (r: Running): Promise<number> => (await r.hub.collections.query({ type: 'MusicPlaylist', limit: 1000 })).objects.length
const settled = async (puller: Running, server: Running): Promise<boolean> => await puller.hub.store.getWatermark(server.hub.hubDid) === server.hub.store.durableSeq

describe('no echo', () => {
  it('two devices: each commit crosses the pair once, watermarks reach both heads, and nothing new is one round trip', { timeout: 60_000 }, async () => {
    const wire = new Wire()
    const a = await founder(wire.opts('A'))
    for (let i = 0; i < 30; i++) await a.hub.collections.create(playlist(`a${i}`))
    const b = await device(a, wire.opts('B'))
    for (let i = 0; i < 10; i++) await b.hub.collections.create(playlist(`b${i}`))
    await eventually(async () => await count(a) === 40 && await count(b) === 40, 20_000, 'both to hold all 40')
    await eventually(async () => await settled(a, b) && await settled(b, a), 20_000, 'both watermarks at the other\'s head')

    const aToB = wire.get('A', b)
    const bToA = wire.get('B', a)
    // Nothing twice in one direction, and nothing in both.
    expect(new Set(aToB).size).toBe(aToB.length)
    expect(new Set(bToA).size).toBe(bToA.length)
    expect(aToB.filter(id => bToA.includes(id))).toEqual([])
    expect(bToA.length).toBe(10) // B's own ten, nothing of A's came back

    const once = await b.node.syncOnce(a.node.multiaddrs()[0] as string)
    expect(once.roundTrips).toBe(1)
    expect(once.received).toBe(0)
  })

  it('three hubs in a line: A→B→C reaches C, and C sends none of it back to B; B\'s writes reach both ends once', { timeout: 60_000 }, async () => {
    const wire = new Wire()
    const a = await founder(wire.opts('A'))
    const c0 = await device(a)
    const b = await device(a, wire.opts('B'))
    // C only knows B, and A and C never connect.
    const cDir = c0.dir
    await stopHub(c0)
    const offline = await Hub.open(cDir)
    for (const p of await offline.local.peers()) await offline.local.forgetPeer(p.peerId)
    await offline.close()
    await a.node.block(c0.hub.peerId)
    const c = await startHub(cDir, { ...wire.opts('C'), bootstrap: b.node.multiaddrs(), blockedPeers: [a.hub.peerId] })

    for (let i = 0; i < 12; i++) await a.hub.collections.create(playlist(`a${i}`))
    for (let i = 0; i < 5; i++) await b.hub.collections.create(playlist(`b${i}`))
    for (let i = 0; i < 3; i++) await c.hub.collections.create(playlist(`c${i}`))
    await eventually(async () => await count(a) === 20 && await count(b) === 20 && await count(c) === 20, 30_000, 'all three to converge')
    await eventually(async () => await settled(a, b) && await settled(b, a) && await settled(b, c) && await settled(c, b), 30_000, 'every watermark at its peer\'s head')

    for (const [server, puller, back] of [['A', b, wire.get('B', a)], ['B', c, wire.get('C', b)], ['B', a, wire.get('A', b)], ['C', b, wire.get('B', c)]] as const) {
      const there = wire.get(server, puller)
      expect(new Set(there).size, `${server} served something twice`).toBe(there.length)
      expect(there.filter(id => back.includes(id)), `${server} sent back what it got`).toEqual([])
    }
    expect(wire.get('C', b).length).toBe(3) // C's own three only
    expect(wire.get('B', a).length).toBe(5 + 3) // B's and C's, none of A's
  })

  it('after a restart the origins hold: a reopened hub still skips what came from the puller, and its watermark moves past them', { timeout: 60_000 }, async () => {
    const a = await founder()
    for (let i = 0; i < 20; i++) await a.hub.collections.create(playlist(`a${i}`))
    const b = await device(a)
    await b.hub.collections.create(playlist('b0'))
    await eventually(async () => await count(b) === 21, 20_000, 'B to hold A\'s 20')
    await b.hub.store.idle()
    const bDir = b.dir
    await stopHub(b)
    const reopened = await Hub.open(bDir)
    try {
      const batch = await readBatch(reopened.store, 0, 1000, { all: true }, a.hub.hubDid)
      const served = (JSON.parse(batch.json) as { commits: Array<{ protected: string }> }).commits
      const names = served.map(c => JSON.parse(Buffer.from(c.protected, 'base64url').toString()) as { interface: string, type?: string })
      // Of the playlists, only B's own one; A's twenty stay home.
      expect(names.filter(h => h.type === 'MusicPlaylist').length).toBe(1)
      expect(batch.last).toBe(reopened.store.durableSeq)
      // A page of 5 is not used up by A's own twenty: one reply still reaches the head (nothing new is one round trip).
      const small = await readBatch(reopened.store, 0, 5, { all: true }, a.hub.hubDid)
      expect(small.last).toBe(reopened.store.durableSeq)
      expect(small.count).toBe(batch.count)
      // Anyone else still gets everything.
      const other = await readBatch(reopened.store, 0, 1000, { all: true }, 'did:key:z6MkOtherDeviceOtherDeviceOtherDeviceOtherDevic')
      expect(other.count).toBe(reopened.store.durableSeq)
    } finally {
      await reopened.close()
    }
  })

  it('a batch that claims where its commits came from is refused and changes nothing', { timeout: 30_000 }, async () => {
    const a = await founder()
    const m = await device(a)
    await eventually(() => a.node.syncStatus().some(s => s.replicating), 10_000, 'A to replicate from M')
    const made = await m.hub.collections.create(playlist('from M'))
    const env = JSON.parse(await m.hub.store.getEnvelope(made.commitId) as string) as unknown
    await eventually(async () => await count(a) === 1, 10_000, 'A to get M\'s playlist')
    const before = await dumpData(a.hub)
    // M speaks 1.0 only from now on (the hub serves 1.1 too, which A would pick).
    await m.node.libp2p.unhandle(SYNC_PROTOCOL_1_1)
    await m.node.libp2p.handle(SYNC_PROTOCOL, async (stream) => {
      const ch = new FrameChannel(stream, 1 << 20)
      await ch.receive(validatePull)
      // "These came from some third device": no such field exists; it may not steer what A serves anyone.
      await ch.send({ t: 'batch', commits: [env], last: 999, head: 999, from: a.hub.hubDid })
    }, { force: true })
    await m.node.libp2p.hangUp(a.node.libp2p.peerId)
    await m.node.libp2p.dial(a.node.libp2p.getMultiaddrs()[0] as never)
    await eventually(() => a.node.syncStatus().some(s => s.lastError?.includes('bad_request') === true), 10_000, 'A to refuse the batch')
    expect(await dumpData(a.hub)).toEqual(before)
    expect(await a.hub.store.getWatermark(m.hub.hubDid)).toBeLessThan(999)
  })
})

describe('feed origins (store/feed-origins.ts)', () => {
  it('keeps one run per page, answers from memory and from disk alike, and leaves gaps and old entries as ours', async () => {
    const kv = new MemoryKv()
    const layout = new Layout('did:key:z6MkTenant')
    const q = new WriteQueue(kv)
    const origins = new FeedOrigins(kv, layout)
    // Positions 1–3 are local writes from before (no runs), as in a store of the previous version.
    origins.start(3)
    await q.enqueue(async tx => { origins.stage(tx, [4, 5, 6, 8], 'did:key:z6MkPeerB') })
    await q.enqueue(async tx => { origins.stage(tx, [9, 10], 'did:key:z6MkPeerC') })
    const keys: string[] = []
    for await (const k of kv.keys({ gte: layout.originsPrefix(), lt: `${layout.originsPrefix()}\uffff` })) keys.push(k.slice(layout.originsPrefix().length))
    expect(keys).toEqual(['0000000000000006', '0000000000000008', '0000000000000010']) // 4–6, 8, 9–10
    const seqs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    const want = [undefined, undefined, undefined, 'did:key:z6MkPeerB', 'did:key:z6MkPeerB', 'did:key:z6MkPeerB', undefined, 'did:key:z6MkPeerB', 'did:key:z6MkPeerC', 'did:key:z6MkPeerC', undefined]
    expect(originsOf(await origins.runs(4, 11), seqs.slice(3))).toEqual(want.slice(3)) // memory
    expect(originsOf(await origins.runs(1, 11), seqs)).toEqual(want) // below the memory floor: disk
    // Reopened: everything from disk.
    const again = new FeedOrigins(kv, layout)
    again.start(11)
    expect(originsOf(await again.runs(1, 11), seqs)).toEqual(want)
    expect(originsOf(await again.runs(7, 9), [7, 8, 9])).toEqual([undefined, 'did:key:z6MkPeerB', 'did:key:z6MkPeerC'])
  })

  it('writes nothing when the batch fails', async () => {
    const kv = new MemoryKv()
    const layout = new Layout('did:key:z6MkTenant')
    const q = new WriteQueue(kv)
    const origins = new FeedOrigins(kv, layout)
    origins.start(0)
    await expect(q.enqueue(async tx => { origins.stage(tx, [1, 2], 'did:key:z6MkPeerB'); throw new Error('item fails') })).rejects.toThrow('item fails')
    expect(await origins.runs(1, 2)).toEqual([])
  })
})
