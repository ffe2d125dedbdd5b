/**
 * The request server's own deadlines: a client that sends requests and
 * stops reading its replies does not hold the stream (and every reply
 * behind it) forever; the stream is reset once a reply has waited past
 * the reply timeout.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { silentLogger } from '../src/log.js'
import { FrameChannel } from '../src/net/channel.js'
import { REQUEST_PROTOCOL } from '../src/net/constants.js'
import { createHubLibp2p } from '../src/net/node.js'
import { PeerRateLimiter } from '../src/request/rate-limit.js'
import { MAX_REQUEST_FRAME_BYTES, serveRequests } from '../src/request/server.js'
import { signRequest } from '../src/request/token.js'
import { cleanup, tempHub } from './helpers.js'
import { TCP_ONLY } from './net-helpers.js'

afterAll(cleanup)

describe('request server deadlines', () => {
  it('resets the stream of a client that stops taking its replies', { timeout: 60_000 }, async () => {
    const hub = await tempHub()
    // Three ~700 KB values: one query page is ~2 MB, so a few unread pages fill every buffer on the way.
    for (let i = 0; i < 3; i++) await hub.collections.create({ '@context': 'https://schema.org', '@type': 'Blob', i, data: 'x'.repeat(700_000) })
    const server = await createHubLibp2p(Ed25519KeyPair.generate(), TCP_ONLY)
    const client = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    try {
      let served: Promise<void> | undefined
      const limiter = new PeerRateLimiter({ ratePerSecond: 1000, burst: 1000 })
      await server.handle(REQUEST_PROTOCOL, async (stream, connection) => {
        served = serveRequests(hub, silentLogger, stream, connection.remotePeer.toString(), limiter, { replyTimeoutMs: 500 })
        await served
      }, { maxInboundStreams: 4 })
      const stream = await client.dialProtocol(server.getMultiaddrs()[0] as never, REQUEST_PROTOCOL)
      const ch = new FrameChannel(stream, MAX_REQUEST_FRAME_BYTES)
      // A client that stops reading: paused (the muxer tells the hub to stop
      // sending), and with room to hold whatever arrives, so its own stream
      // never resets on overflow.
      stream.maxReadBufferLength = 1 << 30
      stream.pause()
      // The owner asks for the big page, again and again, and never reads.
      const owner = hub.ownerKey as Ed25519KeyPair
      for (let id = 1; id <= 30; id++) {
        await ch.send({ t: 'request', id, jws: signRequest(owner, hub.did, 'Collections', 'query', { context: 'https://schema.org', type: 'Blob', limit: 3 }) })
      }
      await expect.poll(() => served !== undefined).toBe(true)
      // Without the deadline this never settles: the server waits on its first unread replies forever.
      await served
      await expect.poll(() => stream.status).not.toBe('open')
    } finally {
      await client.stop()
      await server.stop()
      await hub.close()
    }
  })
})
