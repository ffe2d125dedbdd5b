import { describe, expect, it } from 'vitest'
import { Ed25519KeyPair } from '../identity/keys.js'
import { silentLogger as log } from '../log.js'
import type { FollowRecord } from '../store/local-state.js'
import type { TenantStore } from '../store/tenant-store.js'
import { AttestationHolder, type Attested } from './attestations.js'
import { Follows, type FollowsComponents } from './follows.js'
import { peerIdOfHubDid } from './node.js'
import { PeerTable } from './peers.js'
import type { PullOptions } from './sync/client.js'

const owner = 'did:key:zours'
const theirHub = Ed25519KeyPair.generate().did

function setup (pull: FollowsComponents['pull']) {
  const saved: FollowRecord[] = []
  let n = 0
  let stopped = false
  const attestations = new AttestationHolder({
    obtain: async (): Promise<Attested> => { n++; const now = Date.now(); return { attestation: `a${n}`, issuedAt: now, expiresAt: now + 60_000, renewAt: now + 30_000 } },
    wanted: () => false
  })
  const c: FollowsComponents = {
    libp2p: { dial: async () => ({ remotePeer: peerIdOfHubDid(theirHub), newStream: async () => ({}) }) } as unknown as FollowsComponents['libp2p'],
    owner,
    local: {
      putFollow: async f => { saved.push(f) },
      deleteFollow: async o => { const i = saved.findIndex(f => f.owner === o); if (i >= 0) saved.splice(i, 1) }
    },
    tenant: async () => ({}) as TenantStore,
    lookup: () => new Uint8Array(32),
    maxCommitBytes: 1024,
    peers: new PeerTable(100),
    attestations,
    stopped: () => stopped,
    log,
    ...(pull !== undefined ? { pull } : {})
  }
  return { follows: new Follows(c), saved, attestations, stop: () => { stopped = true } }
}

describe('Follows', () => {
  it('unfollow stops the pull loop and forgets the follow; unfollowing a stranger changes nothing', async () => {
    let aborted!: () => void
    let pulling!: () => void
    const ended = new Promise<void>(resolve => { aborted = resolve })
    const started = new Promise<void>(resolve => { pulling = resolve })
    const { follows, saved } = setup(async (_s, opts: PullOptions) => {
      pulling()
      await new Promise<void>(resolve => opts.signal?.addEventListener('abort', () => resolve(), { once: true }))
      aborted()
      throw new Error('aborted')
    })
    await follows.follow('did:key:ztheirs', ['/ip4/127.0.0.1/tcp/1'])
    await started
    expect(await follows.unfollow('did:key:zstranger')).toBe(false)
    expect(saved).toHaveLength(1)
    expect(await follows.unfollow('did:key:ztheirs')).toBe(true)
    await ended
    expect(saved).toEqual([])
    expect(follows.status()).toEqual([])
    expect(follows.size).toBe(0)
    follows.stop()
  })

  it('never follows its own owner', async () => {
    const { follows, saved } = setup(undefined)
    await expect(follows.follow(owner, ['/ip4/127.0.0.1/tcp/1'])).rejects.toMatchObject({ code: 'bad_request' })
    expect(saved).toEqual([])
  })

  it('remembers the follow, and every pull presents the attestation held when it is sent', async () => {
    const seen: string[] = []
    let release!: () => void
    const pulling = new Promise<void>(resolve => { release = resolve })
    const { follows, saved, attestations, stop } = setup(async (_s, opts: PullOptions) => {
      seen.push(opts.as?.attestation ?? '')
      await attestations.get(true) // renewed while the stream lasts
      seen.push(opts.as?.attestation ?? '')
      release()
      await new Promise(resolve => setTimeout(resolve, 50))
      throw new Error('stream reset')
    })
    await follows.follow('did:key:ztheirs', ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/1'])
    expect(saved).toEqual([{ owner: 'did:key:ztheirs', addrs: ['/ip4/127.0.0.1/tcp/1'] }])
    await pulling
    expect(seen).toEqual(['a1', 'a2'])
    expect(only(follows.status())).toMatchObject({ owner: 'did:key:ztheirs', peer: theirHub, streaming: true, attestationError: null })
    await new Promise(resolve => setTimeout(resolve, 80))
    expect(only(follows.status())).toMatchObject({ streaming: false, lastError: 'internal: stream reset' })
    stop()
    follows.stop()
  })
})

function only<T> (list: T[]): T {
  expect(list).toHaveLength(1)
  return list[0] as T
}
