/**
 * Sync 1.1 (protocols/sync.md, Restored hubs): version negotiation with
 * 1.0 peers both ways, the feed tag kept with the watermark (and the old
 * bare watermark still read), a peer that lies about what it saw at
 * `after`, and the rate limit on resetting our own watermarks. The
 * restore scenarios themselves are in attacks-no-echo.test.ts.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import type { Hub } from '../src/hub.js'
import { silentLogger } from '../src/log.js'
import { FrameChannel } from '../src/net/channel.js'
import { MAX_FRAME_BYTES, SYNC_PROTOCOL, SYNC_PROTOCOL_1_1, SYNC_PROTOCOLS } from '../src/net/constants.js'
import { validateSyncServerMessage11 } from '../src/net/messages.js'
import { createHubLibp2p, hubDidOfPeer } from '../src/net/node.js'
import { pullFrom } from '../src/net/sync/client.js'
import { SELF_RESET_INTERVAL_MS, selfReset } from '../src/net/sync/feed-tag.js'
import { serveSync } from '../src/net/sync/server.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { cleanup, playlist, tempHub } from './helpers.js'
import { device, eventually, founder, stopAll, TCP_ONLY } from './net-helpers.js'

afterEach(async () => { await stopAll(); await cleanup() })

type Libp2p = Awaited<ReturnType<typeof createHubLibp2p>>

/** A libp2p node serving `hub`'s feed to anyone (access: all) on `protocols`, recording every batch as sent. */
async function server (hub: Hub, protocols: string | string[]): Promise<{ node: Libp2p, served: string[] }> {
  const node = await createHubLibp2p(Ed25519KeyPair.generate(), TCP_ONLY)
  const served: string[] = []
  await node.handle(protocols, async (stream: Stream, connection: Connection) => {
    await serveSync({ store: () => hub.store, access: async () => ({ all: true }), peerHubDid: c => hubDidOfPeer(c.remotePeer), log: silentLogger, onServed: (_p, _n, json) => { served.push(json) } }, stream, connection)
  })
  return { node, served }
}

/** Two hubs of one owner: `from` with `n` playlists, `into` empty. */
async function pair (n: number): Promise<{ from: Hub, into: Hub }> {
  const from = await tempHub()
  const into = await tempHub({ init: { ownerKey: from.ownerKey as Ed25519KeyPair } })
  for (let i = 0; i < n; i++) await from.collections.create(playlist(`p${i}`))
  await from.store.idle()
  return { from, into }
}

async function pullOnce (into: Hub, stream: Stream, peer: string): Promise<void> {
  await pullFrom(stream, { store: into.store, peer, lookup: async kid => await into.keys.resolveKey(kid), maxCommitBytes: into.config.limits.maxCommitBytes, live: false })
}

describe('sync 1.1 and 1.0 peers', () => {
  it('a 1.1 puller against a server that serves only 1.0 speaks 1.0, and gets everything', async () => {
    const { from, into } = await pair(5)
    const s = await server(from, SYNC_PROTOCOL)
    const puller = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    try {
      const stream = await puller.dialProtocol(s.node.getMultiaddrs()[0] as never, SYNC_PROTOCOLS)
      expect(stream.protocol).toBe(SYNC_PROTOCOL)
      // The 1.0 server's schema refuses any 1.1 field (bad_request), so this passing means none was sent.
      await pullOnce(into, stream, hubDidOfPeer(s.node.peerId))
      expect(await into.store.getWatermarkMark(hubDidOfPeer(s.node.peerId))).toEqual({ seq: from.store.durableSeq })
      expect(s.served.join('')).not.toContain('lastTag')
      for await (const e of from.store.feed(0)) expect(await into.store.getEnvelope(e.commitId)).toBeDefined()
    } finally {
      await puller.stop()
      await s.node.stop()
    }
  })

  it('a 1.0 puller against a server that serves both gets 1.0 batches; a 1.1 puller gets tags and keeps the last one with its watermark', async () => {
    const { from, into } = await pair(5)
    const s = await server(from, SYNC_PROTOCOLS)
    const puller = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    const peer = hubDidOfPeer(s.node.peerId)
    try {
      const old = await puller.dialProtocol(s.node.getMultiaddrs()[0] as never, SYNC_PROTOCOL)
      expect(old.protocol).toBe(SYNC_PROTOCOL)
      // pullFrom reads a 1.0 stream with the strict 1.0 schema: a 1.1 field in a batch would fail it.
      await pullOnce(into, old, peer)
      expect(s.served.join('')).not.toContain('lastTag')
      expect(await into.store.getWatermarkMark(peer)).toEqual({ seq: from.store.durableSeq })

      await from.collections.create(playlist('one more'))
      await from.store.idle()
      const next = await puller.dialProtocol(s.node.getMultiaddrs()[0] as never, SYNC_PROTOCOLS)
      expect(next.protocol).toBe(SYNC_PROTOCOL_1_1)
      await pullOnce(into, next, peer)
      const mark = await into.store.getWatermarkMark(peer)
      expect(mark.seq).toBe(from.store.durableSeq)
      expect(mark.tag).toMatch(/^[0-9a-f]{32}$/)
      expect(mark.echo).toBeUndefined()
      expect(s.served[s.served.length - 1]).toContain(`"lastTag":"${mark.tag as string}"`)
      // The number every other reader uses is unchanged.
      expect(await into.store.getWatermark(peer)).toBe(from.store.durableSeq)
      expect((await into.store.watermarks()).get(peer)).toBe(from.store.durableSeq)
    } finally {
      await puller.stop()
      await s.node.stop()
    }
  })

  it('a watermark in the old form (the bare position) is read, checked for existence only, and gains a tag with the next page', async () => {
    const { from, into } = await pair(4)
    const s = await server(from, SYNC_PROTOCOLS)
    const puller = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    const peer = hubDidOfPeer(s.node.peerId)
    try {
      // setWatermark with a number writes exactly what stores before 1.1 wrote: String(seq).
      await into.store.setWatermark(peer, 2)
      expect(await into.store.getWatermarkMark(peer)).toEqual({ seq: 2 })
      await pullOnce(into, await puller.dialProtocol(s.node.getMultiaddrs()[0] as never, SYNC_PROTOCOLS), peer)
      const mark = await into.store.getWatermarkMark(peer)
      expect(mark.seq).toBe(from.store.durableSeq)
      expect(mark.tag).toMatch(/^[0-9a-f]{32}$/)
      // Entries 3.. came; 1 and 2 were taken as already seen (no reset: the entry at 2 exists).
      expect(s.served.some(j => j.includes('"reset"'))).toBe(false)
    } finally {
      await puller.stop()
      await s.node.stop()
    }
  })

  it('a server whose feed no longer has the entry the tag names answers reset, and the puller pulls again from 0', async () => {
    const { from, into } = await pair(3)
    const s = await server(from, SYNC_PROTOCOLS)
    const puller = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    const peer = hubDidOfPeer(s.node.peerId)
    try {
      // What a copy of another feed looked like to us: a position this feed has, with another commit there.
      await into.store.setWatermark(peer, { seq: 2, tag: '0'.repeat(32) })
      await pullOnce(into, await puller.dialProtocol(s.node.getMultiaddrs()[0] as never, SYNC_PROTOCOLS), peer)
      expect(s.served[0]).toContain('"reset":true')
      for await (const e of from.store.feed(0)) expect(await into.store.getEnvelope(e.commitId)).toBeDefined()
      expect((await into.store.getWatermarkMark(peer)).seq).toBe(from.store.durableSeq)
    } finally {
      await puller.stop()
      await s.node.stop()
    }
  })
})

describe('the echo pass', () => {
  it('after our watermarks are reset, the live pull reopens from 0 with echo, gets our own commits back too, and clears the mark at the head', { timeout: 60_000 }, async () => {
    const a = await founder()
    const b = await device(a)
    for (let i = 0; i < 3; i++) await a.hub.collections.create(playlist(`a${i}`))
    let last = ''
    for (let i = 0; i < 5; i++) last = (await b.hub.collections.create(playlist(`b${i}`))).commitId
    await eventually(async () => await a.hub.store.getEnvelope(last) !== undefined, 20_000, 'A to pull B\'s five')
    await eventually(async () => await b.hub.store.getWatermark(a.hub.hubDid) === a.hub.store.durableSeq, 20_000, 'B to settle on A')
    const served = a.node.servedCommits
    await b.hub.store.resetWatermarks()
    await eventually(async () => {
      const m = await b.hub.store.getWatermarkMark(a.hub.hubDid)
      return m.seq === a.hub.store.durableSeq && m.echo !== true && m.tag !== undefined
    }, 20_000, 'B\'s echo pass on A to reach A\'s head')
    // Everything in A's feed went to B, B's own five included (no echo would have skipped them).
    expect(a.node.servedCommits - served).toBeGreaterThanOrEqual(a.hub.store.durableSeq)
  })
})

describe('a peer that lies about what it saw', () => {
  it('a device claiming another commit at `after` costs a re-pull, once per interval, and withholds nothing; a stranger\'s claim changes nothing', { timeout: 60_000 }, async () => {
    const a = await founder()
    const b = await device(a)
    for (let i = 0; i < 3; i++) await a.hub.collections.create(playlist(`a${i}`))
    await a.hub.store.idle()
    const ask = async (from: Libp2p, after: number, afterTag: string): Promise<unknown> => {
      const stream = await from.dialProtocol(a.node.libp2p.getMultiaddrs()[0] as never, SYNC_PROTOCOL_1_1)
      const ch = new FrameChannel(stream, MAX_FRAME_BYTES)
      await ch.send({ t: 'pull', v: 1, tenant: a.hub.did, after, limit: 1000, wait: false, afterTag })
      const reply = await ch.receive(validateSyncServerMessage11, AbortSignal.timeout(15_000))
      await ch.close().catch(() => {})
      return reply
    }
    const epoch = a.hub.store.watermarkEpoch
    // A stranger first: refused before its claim is looked at.
    const stranger = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    try {
      expect(await ask(stranger, a.hub.store.durableSeq, '0'.repeat(32))).toMatchObject({ t: 'error', code: 'permissions_required' })
    } finally {
      await stranger.stop()
    }
    expect(a.hub.store.watermarkEpoch).toBe(epoch)
    // The device lies: told to start again, and A re-pulls from its peers once.
    expect(await ask(b.node.libp2p, a.hub.store.durableSeq, '0'.repeat(32))).toMatchObject({ t: 'batch', commits: [], last: 0, reset: true })
    expect(a.hub.store.watermarkEpoch).toBe(epoch + 1)
    // Lying again within the interval: the same answer, no second reset of A's own watermarks.
    expect(await ask(b.node.libp2p, a.hub.store.durableSeq, 'f'.repeat(32))).toMatchObject({ reset: true })
    expect(a.hub.store.watermarkEpoch).toBe(epoch + 1)
    // Nothing is withheld: from 0 the liar gets every commit A has.
    const all = await ask(b.node.libp2p, 0, '0'.repeat(32)) as { commits: unknown[], last: number }
    expect(all.last).toBe(a.hub.store.durableSeq)
    // And A converges with B as before.
    const { commitId } = await b.hub.collections.create(playlist('after the lie'))
    await eventually(async () => await a.hub.store.getEnvelope(commitId) !== undefined, 20_000, 'A to pull B\'s next write')
  })

  it('our own watermarks are reset at most once per SELF_RESET_INTERVAL_MS per store, each to 0 with echo', async () => {
    const hub = await tempHub()
    await hub.store.setWatermark('did:key:z6MkpeerOne', 12)
    await hub.store.setWatermark('did:key:z6MkpeerTwo', { seq: 7, tag: 'a'.repeat(32) })
    const t0 = 1_000_000
    expect(await selfReset(hub.store, t0)).toBe(true)
    expect(await hub.store.getWatermarkMark('did:key:z6MkpeerOne')).toEqual({ seq: 0, echo: true })
    expect(await hub.store.getWatermarkMark('did:key:z6MkpeerTwo')).toEqual({ seq: 0, echo: true })
    await hub.store.setWatermark('did:key:z6MkpeerOne', 5)
    expect(await selfReset(hub.store, t0 + SELF_RESET_INTERVAL_MS - 1)).toBe(false)
    expect(await hub.store.getWatermark('did:key:z6MkpeerOne')).toBe(5)
    expect(await selfReset(hub.store, t0 + SELF_RESET_INTERVAL_MS)).toBe(true)
    expect(await hub.store.getWatermarkMark('did:key:z6MkpeerOne')).toEqual({ seq: 0, echo: true })
  })

  it('a watermark write of a pull that began before a reset is dropped', async () => {
    const hub = await tempHub()
    const epoch = hub.store.watermarkEpoch
    await hub.store.resetWatermarks()
    await hub.store.setWatermark('did:key:z6MkpeerOne', 40, epoch)
    expect(await hub.store.getWatermark('did:key:z6MkpeerOne')).toBe(0)
    await hub.store.setWatermark('did:key:z6MkpeerOne', 40, hub.store.watermarkEpoch)
    expect(await hub.store.getWatermark('did:key:z6MkpeerOne')).toBe(40)
  })
})
