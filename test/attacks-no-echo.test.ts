/**
 * Attacks on "No echo" (protocols/sync.md): a server does not send a peer
 * the commits it ingested from that peer. Written from the docs by an
 * outside attacker. The promise is only safe while the peer really still
 * holds what it sent; these probes try the ways it may not (a device
 * restored from a copy of its directory, i.e. the same hub key; a
 * re-joined device; an owner restored from `hub backup`), and try to make
 * a lagging puller skip entries it needs. (A device whose store/ alone was
 * wiped cannot sync at all — it lost its pairing — so it must re-join.)
 *
 * A probe that finds the promise holds is a plain `it`; one that finds a
 * hole is `it.fails('HOLE: …')` (the assertion states what SHOULD hold).
 */
import { cp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { joinHub } from '../src/net/pair.js'
import { readBatch } from '../src/net/sync/server.js'
import { cleanup, playlist, tempDir } from './helpers.js'
import { device, eventually, founder, startHub, stopAll, stopHub, type Running } from './net-helpers.js'

afterEach(async () => { await stopAll(); await cleanup() })

const has = async (r: Running, commitId: string): Promise<boolean> => await r.hub.store.getEnvelope(commitId) !== undefined
const settled = async (puller: Running, server: Running): Promise<boolean> => await puller.hub.store.getWatermark(server.hub.hubDid) === server.hub.store.durableSeq
const addr = (r: Running): string => r.node.multiaddrs()[0] as string

/** B (a device of A) writes X, A pulls it (so A records B as X's origin), and both settle. */
async function bWritesX (a: Running, b: Running): Promise<string> {
  const { commitId } = await b.hub.collections.create(playlist('X, written on B'))
  await eventually(async () => await has(a, commitId), 20_000, 'A to pull X from B')
  await eventually(async () => await settled(a, b) && await settled(b, a), 20_000, 'both watermarks at the other\'s head')
  return commitId
}

describe('no echo: a peer that lost what it sent', () => {
  it('FIXED (was a hole): a device restored from a copy of its directory made before it wrote X never gets X back from the only other device (A skips X for B\'s hub DID)', { timeout: 60_000 }, async () => {
    const a = await founder()
    for (let i = 0; i < 3; i++) await a.hub.collections.create(playlist(`a${i}`))
    let b = await device(a)
    await eventually(async () => await settled(b, a) && await settled(a, b), 20_000, 'the pair to settle')
    // A file-system backup of B (same keys, same hub DID), taken while B is stopped.
    const bDir = b.dir
    const copy = join(await tempDir('copy-'), 'b')
    await stopHub(b)
    await cp(bDir, copy, { recursive: true })
    b = await startHub(bDir)
    const x = await bWritesX(a, b)
    // B's disk dies; it is restored from the copy (same hub DID) and syncs with A.
    await stopHub(b)
    await rm(bDir, { recursive: true, force: true })
    await cp(copy, bDir, { recursive: true })
    b = await startHub(bDir)
    const once = await b.node.syncOnce(addr(a))
    expect(once.peer).toBe(a.hub.hubDid)
    // What should hold: A, the only other holder of X, hands X back.
    expect(await has(b, x)).toBe(true)
  })

  it('FIXED (was a hole): after that restore, what B writes next is never pulled by A either (A\'s watermark on B\'s feed is past the positions B reuses)', { timeout: 60_000 }, async () => {
    const a = await founder()
    let b = await device(a)
    await eventually(async () => await settled(b, a) && await settled(a, b), 20_000, 'the pair to settle')
    const bDir = b.dir
    const copy = join(await tempDir('copy-'), 'b')
    await stopHub(b)
    await cp(bDir, copy, { recursive: true })
    b = await startHub(bDir)
    await bWritesX(a, b)
    await stopHub(b)
    await rm(bDir, { recursive: true, force: true })
    await cp(copy, bDir, { recursive: true })
    b = await startHub(bDir)
    const { commitId: y } = await b.hub.collections.create(playlist('Y, written on B after the restore'))
    await a.node.syncOnce(addr(b))
    expect(await has(a, y)).toBe(true)
  })

  it('a device wiped and re-joined (a new hub key) gets its old commits back from the only other device', { timeout: 60_000 }, async () => {
    const a = await founder()
    let b = await device(a)
    const x = await bWritesX(a, b)
    const bDir = b.dir
    const oldDid = b.hub.hubDid
    await stopHub(b)
    await rm(bDir, { recursive: true, force: true })
    const { invite } = await a.node.createInvite({})
    await joinHub(bDir, invite)
    b = await startHub(bDir)
    expect(b.hub.hubDid).not.toBe(oldDid)
    await b.node.syncOnce(addr(a))
    expect(await has(b, x)).toBe(true)
  })

  it('an owner hub restored from its owner backup (a new hub DID) gets back what it wrote, from the device that pulled it', { timeout: 60_000 }, async () => {
    const a = await founder()
    const b = await device(a)
    const { commitId: x } = await a.hub.collections.create(playlist('X, written on the owner hub'))
    await eventually(async () => await has(b, x), 20_000, 'B to pull X')
    const ownerKey = a.hub.ownerKey
    const tenantSecret = a.hub.tenantSecret
    if (ownerKey === undefined || tenantSecret === undefined) throw new Error('the founder holds the owner key')
    await stopHub(a)
    const rDir = join(await tempDir('restored-'), 'r')
    await Hub.init(rDir, { ownerKey, tenantSecret })
    const r = await startHub(rDir, { bootstrap: [addr(b)] })
    expect(r.hub.hubDid).not.toBe(a.hub.hubDid)
    await eventually(async () => await has(r, x), 30_000, 'the restored hub to get X back from B')
  })
})

describe('no echo: watermarks', () => {
  it('a lagging puller paging with small limits never skips an entry it needs, and one reply of the default size reads past its own run', { timeout: 60_000 }, async () => {
    const a = await founder()
    const b = await device(a)
    await eventually(async () => await settled(b, a) && await settled(a, b), 20_000, 'the pair to settle')
    const floor = a.hub.store.durableSeq
    // A feed on A: A's own, then a long run from B (origin B), then A's own, interleaved once more.
    const want: string[] = []
    for (let i = 0; i < 3; i++) want.push((await a.hub.collections.create(playlist(`a${i}`))).commitId)
    let lastB = ''
    for (let i = 0; i < 120; i++) lastB = (await b.hub.collections.create(playlist(`b${i}`))).commitId
    await eventually(async () => await has(a, lastB), 30_000, 'A to pull B\'s run')
    for (let i = 0; i < 3; i++) want.push((await a.hub.collections.create(playlist(`a'${i}`))).commitId)
    await a.hub.store.idle()
    const head = a.hub.store.durableSeq
    for (const limit of [1, 2, 7, 10, 50]) {
      let after = floor
      const got: string[] = []
      let replies = 0
      while (after < head) {
        const batch = await readBatch(a.hub.store, after, limit, { all: true }, b.hub.hubDid)
        expect(batch.last, `limit ${limit}: last moves forward`).toBeGreaterThan(after)
        const commits = (JSON.parse(batch.json) as { commits: Array<{ protected: string, payload: string }> }).commits
        for (const c of commits) {
          const h = JSON.parse(Buffer.from(c.protected, 'base64url').toString()) as { type?: string }
          if (h.type === 'MusicPlaylist') got.push(`${c.protected}.${c.payload}`)
        }
        after = batch.last
        replies++
      }
      const wantEnv = await Promise.all(want.map(async id => JSON.parse(await a.hub.store.getEnvelope(id) as string) as { protected: string, payload: string }))
      expect(got, `limit ${limit}`).toEqual(wantEnv.map(e => `${e.protected}.${e.payload}`))
      if (limit >= 50) expect(replies, 'B\'s 120 are read past in the reply that carries A\'s next ones').toBeLessThanOrEqual(2)
    }
    // Anyone else gets B's run too (the skip is for B alone).
    const other = await readBatch(a.hub.store, floor, 1000, { all: true }, 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK')
    expect(other.count).toBe(head - floor)
  })

  it('nothing new after a long run of the puller\'s own commits is one round trip, and nothing comes back', { timeout: 60_000 }, async () => {
    const a = await founder()
    const b = await device(a)
    let last = ''
    for (let i = 0; i < 60; i++) last = (await b.hub.collections.create(playlist(`b${i}`))).commitId
    await eventually(async () => await has(a, last), 30_000, 'A to pull B\'s run')
    await eventually(async () => await settled(b, a), 20_000, 'B\'s watermark on A at A\'s head')
    const once = await b.node.syncOnce(addr(a))
    expect(once.roundTrips).toBe(1)
    expect(once.received).toBe(0)
  })
})
