import { describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { Ed25519KeyPair } from '../identity/keys.js'
import { silentLogger as log } from '../log.js'
import { DhtDiscovery, discoveryCid, type DhtDiscoveryComponents } from './discovery.js'
import { peerIdOfHubDid } from './node.js'
import { PeerTable } from './peers.js'

function fakeRouting (providers: Array<{ id: PeerId, multiaddrs: ReturnType<typeof multiaddr>[] }>, connections = 1) {
  const provided: string[] = []
  const looked: string[] = []
  const self = peerIdOfHubDid(Ed25519KeyPair.generate().did)
  const libp2p = {
    peerId: self,
    getConnections: () => new Array(connections).fill({}),
    contentRouting: {
      provide: async (cid: { toString: () => string }) => { provided.push(cid.toString()) },
      findProviders: async function * (cid: { toString: () => string }) {
        looked.push(cid.toString())
        yield { id: self, multiaddrs: [] }
        for (const p of providers) yield p
      }
    }
  }
  return { libp2p: libp2p as unknown as DhtDiscoveryComponents['libp2p'], provided, looked }
}

describe('DhtDiscovery', () => {
  it('announces under the discovery key and puts every other provider up for dialling at once', async () => {
    const key = new Uint8Array(32).fill(7)
    const other = Ed25519KeyPair.generate().did
    const id = peerIdOfHubDid(other)
    const f = fakeRouting([{ id, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/4001')] }])
    const peers = new PeerTable(100)
    peers.ensure(id.toString(), other).nextDialAt = Date.now() + 60_000
    const d = new DhtDiscovery({ libp2p: f.libp2p, discoveryKey: () => key, peers, log })
    await d.tick()
    const cid = (await discoveryCid(key)).toString()
    expect(f.provided).toEqual([cid])
    expect(f.looked).toEqual([cid])
    // Ourselves skipped; the other hub known with its address and due now.
    expect(peers.values().map(p => p.hubDid)).toEqual([other])
    expect(peers.get(id.toString())).toMatchObject({ addrs: ['/ip4/127.0.0.1/tcp/4001'], nextDialAt: 0 })
  })

  it('does nothing without a discovery key or without any connection', async () => {
    for (const [key, connections] of [[undefined, 1], [new Uint8Array(32), 0]] as const) {
      const f = fakeRouting([], connections)
      await new DhtDiscovery({ libp2p: f.libp2p, discoveryKey: () => key, peers: new PeerTable(100), log }).tick()
      expect(f.provided).toEqual([])
      expect(f.looked).toEqual([])
    }
  })
})
