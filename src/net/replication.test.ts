import { describe, expect, it } from 'vitest'
import type { CommitEnvelope, CommitHeader } from '../commits/commit.js'
import { HubError, PermissionsRequiredError } from '../errors.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { silentLogger as log } from '../log.js'
import type { TenantStore } from '../store/tenant-store.js'
import { peerIdOfHubDid } from './node.js'
import { PeerTable } from './peers.js'
import { Replication, type ReplicationComponents } from './replication.js'
import type { PullOptions, PullResult } from './sync/client.js'

const me = Ed25519KeyPair.generate().did
const peer = Ed25519KeyPair.generate().did
const PROOF = { protected: 'p', payload: 'x', signature: 's' }

/** Our store as the replicator sees it: our own authorization and the peer's role. */
function fakeStore (role: 'owner-device' | 'blind' = 'owner-device'): TenantStore {
  return {
    registry: {
      devices: () => [{ device: me, objectId: 'bme' }],
      device: (d: string) => d === peer ? { device: peer, role } : undefined
    },
    getEnvelope: async () => JSON.stringify(PROOF)
  } as unknown as TenantStore
}

const done = (): PullResult => ({ bytesSent: 0, bytesReceived: 0, roundTrips: 1, received: 0, stored: 0, watermark: 0, head: 0, behind: 0, caughtUp: true })

/**
 * A replicator against a scripted peer: `script[i]` is what the i-th
 * stream's pull does; every pull's options are recorded.
 */
async function run (script: Array<'refuse' | 'ok' | 'fail'>, role?: 'owner-device' | 'blind'): Promise<{ pulls: PullOptions[], hungUp: number }> {
  const pulls: PullOptions[] = []
  let hungUp = 0
  const peers = new PeerTable(100)
  const s = peers.ensure(peerIdOfHubDid(peer).toString(), peer)
  s.connected = true
  let finished!: () => void
  const over = new Promise<void>(resolve => { finished = resolve })
  const c: ReplicationComponents = {
    libp2p: { dialProtocol: async () => ({}), hangUp: async () => { hungUp++ } } as unknown as ReplicationComponents['libp2p'],
    store: fakeStore(role),
    owner: 'did:key:zowner',
    hubDid: me,
    lookup: () => new Uint8Array(32),
    maxCommitBytes: 1024,
    peers,
    isDevice: d => d === peer,
    stopped: () => false,
    log,
    pull: async (_stream, opts) => {
      pulls.push(opts)
      const step = script[pulls.length - 1]
      if (pulls.length >= script.length) { s.connected = false; finished() }
      if (step === 'refuse') throw new PermissionsRequiredError('who are you')
      if (step === 'fail') throw new HubError('unavailable', 'stream reset')
      return done()
    }
  }
  new Replication(c).start(s)
  await over
  // Let the loop notice the disconnect and end.
  await new Promise(resolve => setTimeout(resolve, 10))
  return { pulls, hungUp }
}

describe('Replication: when our DeviceAuthorization is presented', () => {
  it('never to a peer that knows us, on any reconnect', async () => {
    const { pulls } = await run(['ok', 'fail', 'ok'])
    expect(pulls.map(p => p.as)).toEqual([undefined, undefined, undefined])
  })

  it('only after a refusal, at once, and not again on the next stream once accepted', async () => {
    const { pulls } = await run(['refuse', 'ok', 'ok'])
    expect(pulls.map(p => p.as?.proof)).toEqual([undefined, PROOF as CommitEnvelope, undefined])
    expect(pulls[1]?.as?.did).toBe('did:key:zowner')
  })

  it('asks a peer that refuses us with our proof too again only later (REFUSED_REPLICATION_BACKOFF), and stops waiting at once when stopped', async () => {
    const pulls: PullOptions[] = []
    const peers = new PeerTable(100)
    const s = peers.ensure(peerIdOfHubDid(peer).toString(), peer)
    s.connected = true
    const c: ReplicationComponents = {
      libp2p: { dialProtocol: async () => ({}), hangUp: async () => {} } as unknown as ReplicationComponents['libp2p'],
      store: fakeStore(), owner: 'did:key:zowner', hubDid: me, lookup: () => new Uint8Array(32), maxCommitBytes: 1024, peers, isDevice: () => true, stopped: () => false, log,
      pull: async (_stream, opts) => { pulls.push(opts); throw new PermissionsRequiredError('no') }
    }
    new Replication(c).start(s)
    for (let i = 0; i < 100 && pulls.length < 2; i++) await new Promise(resolve => setTimeout(resolve, 5))
    // Refused without, then with our proof: then it waits (REFUSED_REPLICATION_BACKOFF.minMs = 2 s) instead of giving up or hammering.
    expect(pulls.map(p => p.as?.proof !== undefined)).toEqual([false, true])
    expect(s.lastError).toMatch(/^permissions_required/)
    expect(s.replicator).toBeDefined()
    s.replicator?.abort()
    for (let i = 0; i < 100 && s.replicator !== undefined; i++) await new Promise(resolve => setTimeout(resolve, 5))
    expect(s.replicator).toBeUndefined()
    expect(pulls).toHaveLength(2)
  })

  it('a blind peer may only hand us what a blind hub may hold', async () => {
    const { pulls } = await run(['ok'], 'blind')
    const accepts = pulls[0]?.accepts
    expect(accepts?.({ interface: 'Collections' } as unknown as CommitHeader)).toBe(false)
    expect(accepts?.({ interface: 'Collections', enc: {} } as unknown as CommitHeader)).toBe(true)
    const { pulls: plain } = await run(['ok'])
    expect(plain[0]?.accepts).toBeUndefined()
  })
})
