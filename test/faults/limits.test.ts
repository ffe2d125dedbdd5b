/**
 * Per-peer resource limits (issue 7), against a real hub over real libp2p
 * streams: the frame size of both protocols (the limit itself is accepted,
 * one byte more is refused and the stream ended), inbound streams per
 * connection and protocol, and the per-peer request rate (a token bucket:
 * REQUEST_RATE_PER_SECOND sustained, REQUEST_BURST at once).
 *
 * Values (src/net/constants.ts, src/request/server.ts):
 *   sync frame ≤ MAX_FRAME_BYTES (4 MiB), request frame ≤ MAX_REQUEST_FRAME_BYTES (3 MiB),
 *   ≤ MAX_INBOUND_SYNC_STREAMS (4) and ≤ MAX_INBOUND_REQUEST_STREAMS (8) streams per connection,
 *   REQUEST_RATE_PER_SECOND (200/s) sustained and REQUEST_BURST (400, two seconds of it) per remote peer id.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '@libp2p/interface'
import { createHubLibp2p, type HubLibp2p } from '../../src/net/node.js'
import { MAX_FRAME_BYTES, MAX_INBOUND_REQUEST_STREAMS, MAX_INBOUND_SYNC_STREAMS, REQUEST_BURST, REQUEST_PROTOCOL, REQUEST_RATE_PER_SECOND, SYNC_PROTOCOL } from '../../src/net/constants.js'
import { MAX_REQUEST_FRAME_BYTES } from '../../src/request/server.js'
import { PeerRateLimiter } from '../../src/request/rate-limit.js'
import { Ed25519KeyPair } from '../../src/identity/keys.js'
import { concat, utf8 } from '../../src/identity/encoding.js'
import { signRequest } from '../../src/request/token.js'
import { cleanup, dumpData, playlist, tempHub } from '../helpers.js'
import { handleRequest } from '../../src/request/handler.js'
import { eventually, founder, stopAll, type Running } from '../net-helpers.js'
import { varint, Wire, type Next } from './wire.js'

const nodes: HubLibp2p[] = []
afterEach(async () => {
  for (const n of nodes.splice(0)) await Promise.resolve(n.stop()).catch(() => {})
  await stopAll()
  await cleanup()
})

// ------------------------------------------------------------------ wire helpers

async function client (): Promise<HubLibp2p> {
  const n = await createHubLibp2p(Ed25519KeyPair.generate(), null)
  nodes.push(n)
  return n
}

async function dial (node: HubLibp2p, r: Running): Promise<Connection> {
  return await node.dial(multiaddr(r.node.multiaddrs()[0] as string), { signal: AbortSignal.timeout(10_000) })
}

async function open (conn: Connection, protocol: string): Promise<Wire | Error> {
  try {
    return new Wire(await conn.newStream(protocol, { signal: AbortSignal.timeout(5000) }))
  } catch (err) {
    return err as Error
  }
}

/** Open a stream and use it once: did the hub serve it (reply) or refuse it (stream ended)? */
async function served (conn: Connection, protocol: string, r: Running, signer: Ed25519KeyPair): Promise<{ served: boolean, outcome: Next['t'] | 'open-failed' | 'write-failed', reply?: Record<string, unknown> }> {
  const w = await open(conn, protocol)
  if (w instanceof Error) return { served: false, outcome: 'open-failed' }
  const msg = protocol === SYNC_PROTOCOL
    ? { t: 'pull', v: 1, tenant: r.hub.did, after: 0, limit: 10, wait: false }
    : { t: 'request', id: 1, jws: signRequest(signer, r.hub.did, 'Profile', 'read', {}) }
  if (!await w.frame(msg)) return { served: false, outcome: 'write-failed' }
  const n = await w.next(5000)
  return n.t === 'frame' ? { served: true, outcome: n.t, reply: n.value } : { served: false, outcome: n.t }
}

const JUNK_JWS = 'a.b.c' // passes the frame schema, fails verification at once (bad_request)

// ------------------------------------------------------------------ frame size

describe('message size', () => {
  it('sync: a frame of MAX_FRAME_BYTES is read; one byte more is refused (too_large) and the stream ended', async () => {
    const a = await founder()
    await a.hub.collections.create(playlist('kept'))
    const before = await dumpData(a.hub)
    const conn = await dial(await client(), a)

    // Exactly the limit: a valid pull padded with JSON whitespace. It is read and
    // answered (this stranger may not pull: permissions_required), not refused for size.
    const atLimit = await open(conn, SYNC_PROTOCOL) as Wire
    const pull = JSON.stringify({ t: 'pull', v: 1, tenant: a.hub.did, after: 0, limit: 10, wait: false })
    expect(await atLimit.frame(pull + ' '.repeat(MAX_FRAME_BYTES - pull.length))).toBe(true)
    expect(await atLimit.next(15_000)).toMatchObject({ t: 'frame', value: { t: 'error', code: 'permissions_required' } })

    // One byte over: refused as soon as the length prefix is read.
    const over = await open(conn, SYNC_PROTOCOL) as Wire
    const sent = over.write(concat(varint(MAX_FRAME_BYTES + 1), utf8.encode(pull), new Uint8Array(MAX_FRAME_BYTES + 1 - pull.length).fill(0x20)))
    const first = await over.next(15_000)
    expect(first).toMatchObject({ t: 'frame', value: { t: 'error', code: 'too_large' } })
    expect(await over.next(15_000)).toMatchObject({ t: 'end' })
    await sent
    // The hub has ended its side (error, then close: sync.md); nothing more can come from it.
    await eventually(() => over.stream.remoteWriteStatus !== 'writable' || over.stream.status !== 'open', 5000, 'the hub to end the oversized sync stream')

    // A length claim far past the limit, with no body at all, is refused just the same.
    const claim = await open(conn, SYNC_PROTOCOL) as Wire
    await claim.write(varint(2 ** 40))
    expect(await claim.next(5000)).toMatchObject({ t: 'frame', value: { t: 'error', code: 'too_large' } })

    expect(await dumpData(a.hub)).toEqual(before)
    expect((await served(conn, SYNC_PROTOCOL, a, Ed25519KeyPair.generate())).reply).toMatchObject({ t: 'error', code: 'permissions_required' })
  })

  it('request: a frame of MAX_REQUEST_FRAME_BYTES is read; one byte more resets the stream', async () => {
    const a = await founder()
    const before = await dumpData(a.hub)
    const conn = await dial(await client(), a)
    const w = await open(conn, REQUEST_PROTOCOL) as Wire
    const req = JSON.stringify({ t: 'request', id: 7, jws: JUNK_JWS })
    expect(await w.frame(req + ' '.repeat(MAX_REQUEST_FRAME_BYTES - req.length))).toBe(true)
    expect(await w.next(15_000)).toMatchObject({ t: 'frame', value: { t: 'error', id: 7, code: 'bad_request' } })
    // The stream is still usable after a full-size frame.
    await w.frame({ t: 'request', id: 8, jws: signRequest(Ed25519KeyPair.generate(), a.hub.did, 'Profile', 'read', {}) })
    expect(await w.next()).toMatchObject({ t: 'frame', value: { t: 'response', id: 8 } })

    const over = await open(conn, REQUEST_PROTOCOL) as Wire
    const sent = over.write(concat(varint(MAX_REQUEST_FRAME_BYTES + 1), utf8.encode(req), new Uint8Array(MAX_REQUEST_FRAME_BYTES + 1 - req.length).fill(0x20)))
    expect(await over.next(15_000)).toMatchObject({ t: 'end' })
    await sent
    await eventually(() => over.stream.status !== 'open', 5000, 'the oversized request stream to be reset')

    const claim = await open(conn, REQUEST_PROTOCOL) as Wire
    await claim.write(varint(2 ** 40))
    expect(await claim.next(5000)).toMatchObject({ t: 'end' })

    expect(await dumpData(a.hub)).toEqual(before)
    expect((await served(conn, REQUEST_PROTOCOL, a, Ed25519KeyPair.generate())).reply).toMatchObject({ t: 'response', id: 1 })
  })

  // BUG (found by this suite; the fix belongs in src/net/channel.ts): a length
  // prefix of 8 or more bytes that all have the continuation bit set is never
  // refused. lpStream (@libp2p/utils 7.4) keeps reading one byte at a time
  // while uint8-varint throws RangeError ("incomplete"), and only checks
  // maxLengthLength after a successful decode, which never comes. The hub keeps
  // every byte (≈100 B of heap per byte sent) and spends its event loop on it:
  // 1 MiB of 0xff on one request stream = +106 MiB retained heap and ~17 s of
  // blocked event loop, stream still open. Fix: pass FrameChannel's lpStream a
  // `lengthDecoder` that throws (a non-RangeError, e.g. TooLargeError) once the
  // prefix is longer than varint(maxFrameBytes). Remove `.fails` when fixed.
  it('a length prefix that never ends is refused like an oversized one (sync and request)', async () => {
    const a = await founder()
    const conn = await dial(await client(), a)
    for (const protocol of [SYNC_PROTOCOL, REQUEST_PROTOCOL]) {
      const w = await open(conn, protocol) as Wire
      await w.write(new Uint8Array(4096).fill(0xff))
      const n = await w.next(2000)
      expect(n.t === 'end' || (n.t === 'frame' && n.value.code === 'too_large'), `${protocol}: ${JSON.stringify(n)}`).toBe(true)
    }
  })
})

// ------------------------------------------------------------------ inbound streams

describe('inbound streams per connection', () => {
  for (const [protocol, max] of [[SYNC_PROTOCOL, MAX_INBOUND_SYNC_STREAMS], [REQUEST_PROTOCOL, MAX_INBOUND_REQUEST_STREAMS]] as const) {
    it(`${protocol}: ${max} at once are served, one more is refused, and a closed one frees its slot`, async () => {
      const a = await founder()
      const signer = Ed25519KeyPair.generate()
      const conn = await dial(await client(), a)
      const held: Wire[] = []
      for (let i = 0; i < max; i++) {
        const w = await open(conn, protocol)
        if (w instanceof Error) throw w
        held.push(w)
      }
      // The next one is refused: reset by the hub (or never negotiated), never answered.
      const extra = await served(conn, protocol, a, signer)
      expect(extra.served).toBe(false)
      expect(extra.outcome, 'the refused stream is reset, not left waiting').not.toBe('timeout')
      // The held streams are all still open and served.
      expect(held.every(w => w.stream.status === 'open')).toBe(true)
      const last = held[max - 1] as Wire
      const msg = protocol === SYNC_PROTOCOL
        ? { t: 'pull', v: 1, tenant: a.hub.did, after: 0, limit: 10, wait: false }
        : { t: 'request', id: 5, jws: signRequest(signer, a.hub.did, 'Profile', 'read', {}) }
      await last.frame(msg)
      expect((await last.next()).t).toBe('frame')

      // Another connection (another peer) has its own allowance.
      const other = await served(await dial(await client(), a), protocol, a, signer)
      expect(other.served).toBe(true)

      // Closing held streams frees their slots: the limit is on concurrent streams, not a total.
      for (const w of held) w.stream.abort(new Error('done'))
      await eventually(async () => (await served(conn, protocol, a, signer)).served, 5000, 'a slot to free up')
    })
  }
})

describe('streams the hub must end', () => {
  // BUG (src/request/server.ts): when the client ends a request stream cleanly
  // (closes its writing side), serveRequests returns without closing the hub's
  // side. The stream stays half-open in the connection (until libp2p's 120 s
  // inactivity timeout) and keeps its MAX_INBOUND_REQUEST_STREAMS slot: after 8
  // such streams every new request stream on that connection is reset. A sync
  // stream ended the same way is closed by the hub (serveSync calls ch.close()).
  // Fix: `await ch.close()` after the receive loop ends on `null`. Remove `.fails` when fixed.
  it('a request stream the client ends cleanly is closed by the hub (its slot is freed)', async () => {
    const a = await founder()
    const conn = await dial(await client(), a)
    const w = await open(conn, REQUEST_PROTOCOL) as Wire
    await w.stream.close()
    expect(await w.next(1500)).toMatchObject({ t: 'end' })
  })

  it('a sync stream the client ends cleanly is closed by the hub', async () => {
    const a = await founder()
    const conn = await dial(await client(), a)
    for (let i = 0; i < MAX_INBOUND_SYNC_STREAMS + 2; i++) {
      const w = await open(conn, SYNC_PROTOCOL) as Wire
      await w.stream.close()
      expect(await w.next(5000)).toMatchObject({ t: 'end' })
    }
  })
})

describe('audit entries', () => {
  // BUG (src/request/handler.ts): the audit entry's `target` is the request's
  // own parameter (`target.describe`, or `String(params.objectId ?? params.type)`),
  // never truncated (only `reason` is, to 300). Any stranger — denied requests
  // are audited too — makes the hub store ≈1–2 MB per request in the owner's
  // audit log, at the request rate limit: disk filled at the attacker's upload
  // speed. Fix: cap `target` (and `describe`) e.g. to 300 characters, and build it
  // without String() on arbitrary values. Remove `.fails` when fixed.
  it('an audit entry is bounded in size whatever the request carries', async () => {
    const hub = await tempHub()
    const stranger = Ed25519KeyPair.generate()
    const jws = signRequest(stranger, hub.did, 'Collections', 'query', { context: 'x'.repeat(1_000_000), type: 'MusicPlaylist' })
    await expect(handleRequest(hub, jws)).rejects.toMatchObject({ code: 'permissions_required' })
    const [entry] = await hub.audit.list()
    expect(JSON.stringify(entry).length).toBeLessThan(8192)
  })
})

// ------------------------------------------------------------------ request rate

describe('request rate per peer', () => {
  it('unit: a token bucket per peer, refilled at the rate, capped at the burst, bounded in memory', () => {
    let now = 0
    const l = new PeerRateLimiter({ ratePerSecond: 10, burst: 20, now: () => now })
    let ok = 0
    for (let i = 0; i < 50; i++) if (l.take('A')) ok++
    expect(ok).toBe(20)
    expect(l.take('B')).toBe(true) // other peers are unaffected
    expect(l.retryAfterMs('A')).toBe(100)
    now += 99
    expect(l.take('A')).toBe(false)
    now += 1
    expect(l.take('A')).toBe(true)
    expect(l.take('A')).toBe(false)
    now += 60_000 // long idle: back to the burst, not beyond it
    ok = 0
    for (let i = 0; i < 50; i++) if (l.take('A')) ok++
    expect(ok).toBe(20)
    now -= 30_000 // a clock going backwards adds nothing
    expect(l.take('A')).toBe(false)
    // Many peers: buckets that have refilled are forgotten, so memory follows the active peers.
    now += 100_000
    for (let i = 0; i < 10_000; i++) { l.take(`p${i}`); now += 10 }
    expect(l.size).toBeLessThan(2100)
    expect(() => new PeerRateLimiter({ ratePerSecond: 0, burst: 1 })).toThrow(RangeError)
  })

  it(`a burst over ${REQUEST_BURST} gets unavailable ("rate limit"), the stream stays open, other peers are unaffected, and the peer recovers`, async () => {
    const a = await founder()
    const app = Ed25519KeyPair.generate()
    const greedy = await dial(await client(), a)
    // Two streams of one peer share one budget.
    const s1 = await open(greedy, REQUEST_PROTOCOL) as Wire
    const s2 = await open(greedy, REQUEST_PROTOCOL) as Wire
    const N = REQUEST_BURST + 900
    const t0 = performance.now()
    const frames = Array.from({ length: N }, (_, i) => {
      const body = utf8.encode(JSON.stringify({ t: 'request', id: i, jws: JUNK_JWS }))
      return concat(varint(body.length), body)
    })
    await Promise.all([
      s1.write(concat(...frames.filter((_, i) => i % 2 === 0))),
      s2.write(concat(...frames.filter((_, i) => i % 2 === 1)))
    ])
    const replies: Array<Record<string, unknown>> = []
    for (const w of [s1, s2]) {
      for (let i = 0; i < N / 2; i++) {
        const n = await w.next(10_000)
        if (n.t !== 'frame') throw new Error(`reply ${i}: ${JSON.stringify(n)}`)
        replies.push(n.value)
      }
    }
    const elapsedS = (performance.now() - t0) / 1000
    const limited = replies.filter(m => m.code === 'unavailable' && String(m.message).startsWith('rate limit'))
    const passed = replies.filter(m => !(m.code === 'unavailable' && String(m.message).startsWith('rate limit')))
    console.log(`rate limit: ${N} requests from one peer on 2 streams in ${elapsedS.toFixed(2)} s: ${passed.length} passed, ${limited.length} refused with "rate limit"`)
    // Every request got exactly one reply; at most the burst plus what refilled meanwhile got through.
    expect(new Set(replies.map(m => m.id)).size).toBe(N)
    expect(passed.length).toBeGreaterThanOrEqual(REQUEST_BURST)
    expect(passed.length).toBeLessThanOrEqual(REQUEST_BURST + Math.ceil(REQUEST_RATE_PER_SECOND * elapsedS) + 1)
    expect(limited.length).toBeGreaterThan(0)
    expect(limited.length).toBe(N - passed.length)
    expect(limited[0]).toMatchObject({ t: 'error', code: 'unavailable' })
    expect(String(limited[0]?.message)).toMatch(new RegExp(`rate limit: at most ${REQUEST_RATE_PER_SECOND} requests per second per peer \\(burst ${REQUEST_BURST}\\); retry in \\d+ ms`))
    expect(s1.stream.status).toBe('open')
    expect(s2.stream.status).toBe('open')

    // Meanwhile another peer is served normally (its own bucket).
    const other = await served(await dial(await client(), a), REQUEST_PROTOCOL, a, app)
    expect(other.reply).toMatchObject({ t: 'response', id: 1 })

    // The greedy peer, still over its limit right now, recovers after waiting (on the same stream).
    await s1.frame({ t: 'request', id: 100_000, jws: signRequest(app, a.hub.did, 'Profile', 'read', {}) })
    const now = await s1.next()
    if (now.t === 'frame' && now.value.code === 'unavailable') {
      const wait = Number(/retry in (\d+) ms/.exec(String(now.value.message))?.[1] ?? 1000)
      await new Promise(resolve => setTimeout(resolve, wait + 50))
    }
    await s1.frame({ t: 'request', id: 100_001, jws: signRequest(app, a.hub.did, 'Profile', 'read', {}) })
    expect(await s1.next()).toMatchObject({ t: 'frame', value: { t: 'response', id: 100_001 } })
  })
})
