import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { hubInstancesFromDidDocument } from '../src/net/hub-node.js'
import { joinHub } from '../src/net/pair.js'
import { cleanup, tempDir } from './helpers.js'
import { device, eventually, founder, startHub, stopAll } from './net-helpers.js'

afterEach(async () => { await stopAll(); await cleanup() })

describe('discovery', () => {
  it('devices find each other through DHT provider records under a key only they can compute', async () => {
    const fast = { discoveryIntervalMs: 300 }
    const a = await founder(fast)
    const b = await device(a, fast)
    // C pairs, then forgets every address it was given: it only knows B.
    const cDir = join(await tempDir('disc-'), 'c')
    const { invite } = await a.node.createInvite()
    await joinHub(cDir, invite)
    const offline = await Hub.open(cDir)
    for (const p of await offline.local.peers()) await offline.local.forgetPeer(p.peerId)
    await offline.close()
    const c = await startHub(cDir, { ...fast, bootstrap: b.node.multiaddrs() })
    await eventually(() => c.node.peers().some(p => p.peerId === a.hub.peerId), 20_000, 'C to find and dial A')
    expect(c.node.syncStatus().find(s => s.hubDid === a.hub.hubDid)?.connected).toBe(true)
    // The DHT key is derived from the tenant secret, not from the DID.
    expect(Buffer.from(a.hub.discoveryKey() as Uint8Array).toString('hex')).not.toContain(Buffer.from(a.hub.did).toString('hex'))
    expect(c.hub.discoveryKey()).toEqual(a.hub.discoveryKey())
  })

  it('reads IdentityHub service instances from a DID document', () => {
    expect(hubInstancesFromDidDocument({
      '@context': 'https://www.w3.org/ns/did/v1',
      id: 'did:web:example.com',
      service: [
        { id: '#hub', type: 'IdentityHub', serviceEndpoint: { instances: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWx', 7] } },
        { id: '#other', type: 'LinkedDomains', serviceEndpoint: 'https://example.com' }
      ]
    })).toEqual(['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWx'])
  })

  it('reconnects to a known device that comes back on a new port', async () => {
    const a = await founder()
    const b = await device(a)
    await eventually(() => a.node.syncStatus()[0]?.connected === true, 10_000, 'A and B connected')
    // A records B's listen addresses once identify completes.
    await eventually(async () => (await a.hub.local.peers()).some(p => p.peerId === b.hub.peerId && p.addrs.length > 0), 10_000, 'A to remember B')
    const aDir = a.dir
    const { stopHub } = await import('./net-helpers.js')
    await stopHub(a)
    const a2 = await startHub(aDir) // new OS-chosen port
    // A remembers B's listen addresses from identify, so it redials B.
    await eventually(() => a2.node.syncStatus()[0]?.connected === true, 15_000, 'A to reconnect to B')
    await a2.hub.collections.create({ '@context': 'https://schema.org', '@type': 'Note', text: 'after restart' })
    await eventually(async () => (await b.hub.collections.query({ type: 'Note' })).objects.length === 1, 10_000, 'B to receive the note')
  })
})
