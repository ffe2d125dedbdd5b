import { describe, expect, it } from 'vitest'
import { Ed25519KeyPair } from '../identity/keys.js'
import { PeerBlocklist, Reconnector, type ReconnectorComponents } from './connection-policy.js'
import { peerIdOfHubDid } from './node.js'
import { PeerTable } from './peers.js'

const did = (): string => Ed25519KeyPair.generate().did

describe('PeerBlocklist', () => {
  it('refuses blocked peers and revoked devices, and lets a re-authorized device back in', () => {
    const [me, live, revoked] = [did(), did(), did()]
    const b = new PeerBlocklist(['12D3blocked'])
    const devices = [{ device: me }, { device: live }, { device: revoked }]
    let revokedIs = true
    const registry = { devices: () => devices, device: (d: string) => d === revoked && revokedIs ? undefined : devices.find(x => x.device === d) } as unknown as Parameters<PeerBlocklist['syncRevocations']>[0]
    b.syncRevocations(registry, me)
    const id = (d: string): string => peerIdOfHubDid(d).toString()
    expect([b.has('12D3blocked'), b.has(id(live)), b.has(id(revoked)), b.isRevoked(id(revoked))]).toEqual([true, false, true, true])
    revokedIs = false
    b.syncRevocations(registry, me)
    expect(b.has(id(revoked))).toBe(false)
    b.unblock('12D3blocked')
    b.block(id(live))
    expect([b.has('12D3blocked'), b.isBlocked(id(live))]).toEqual([false, true])
  })
})

/** A reconnector whose dials all fail (or succeed), with the dialled peer ids recorded. */
function setup (opts: { ok?: boolean, devices?: string[] } = {}) {
  const dialled: string[] = []
  const peers = new PeerTable(100)
  const blocklist = new PeerBlocklist()
  const libp2p = {
    getConnections: () => [],
    dial: async (addrs: Array<{ toString: () => string }>) => {
      dialled.push(String(addrs[0]).split('/p2p/')[1] ?? '')
      if (opts.ok !== true) throw new Error('connection refused')
      return {}
    }
  } as unknown as ReconnectorComponents['libp2p']
  const r = new Reconnector({ libp2p, peers, blocklist, peerId: 'me', isDevice: d => opts.devices?.includes(d) ?? false, bootstrap: [], minBackoffMs: 100, maxBackoffMs: 350 })
  return { r, peers, blocklist, dialled }
}

const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 5)) }

describe('Reconnector', () => {
  it('redials a device with doubling backoff up to the maximum, and from the minimum again once connected', async () => {
    const dev = did()
    const { r, peers, dialled } = setup({ devices: [dev] })
    const s = peers.ensure(peerIdOfHubDid(dev).toString(), dev, ['/ip4/127.0.0.1/tcp/1'])
    const backoffs: number[] = []
    for (let i = 0; i < 4; i++) {
      s.nextDialAt = 0
      r.tick()
      await settle()
      backoffs.push(s.backoffMs)
    }
    expect(dialled).toHaveLength(4)
    expect(dialled[0]).toBe(s.peerId)
    expect(backoffs).toEqual([200, 350, 350, 350])
    expect(s.lastError).toBe('unreachable: connection refused')
    // Not due yet: no dial.
    r.tick()
    await settle()
    expect(dialled).toHaveLength(4)
    r.connected(s.peerId)
    expect(s.backoffMs).toBe(100)
  })

  it('dials only devices, never blocked or revoked ones, and not while connected', async () => {
    const [dev, stranger] = [did(), did()]
    const { r, peers, blocklist, dialled } = setup({ devices: [dev] })
    const d = peers.ensure(peerIdOfHubDid(dev).toString(), dev, ['/ip4/127.0.0.1/tcp/1'])
    peers.ensure(peerIdOfHubDid(stranger).toString(), stranger, ['/ip4/127.0.0.1/tcp/2'])
    blocklist.block(d.peerId)
    r.tick()
    await settle()
    expect(dialled).toEqual([])
    blocklist.unblock(d.peerId)
    d.connected = true
    r.tick()
    await settle()
    expect(dialled).toEqual([])
    d.connected = false
    r.retryNow(d.peerId)
    r.tick()
    await settle()
    expect(dialled).toEqual([d.peerId])
  })

  it('takes a DID document address with a peer id as a dial target, and skips our own', () => {
    const dev = did()
    const { r, peers } = setup()
    const id = peerIdOfHubDid(dev).toString()
    r.candidate(`/ip4/10.0.0.1/tcp/4001/p2p/${id}`)
    r.candidate('/ip4/10.0.0.2/tcp/4001/p2p/me')
    expect(peers.values().map(p => [p.peerId, p.hubDid, p.addrs])).toEqual([[id, dev, [`/ip4/10.0.0.1/tcp/4001/p2p/${id}`]]])
  })
})
