/**
 * The optional libp2p services a hub loads only when its configuration
 * turns them on (issue 18: a started hub holds only what it needs). mDNS
 * (`network.mdns`) is imported by hub-net-node.ts on demand; a node started
 * with it must still run it, and one started without it must not.
 */
import '../src/shim.js'
import { afterEach, describe, expect, it } from 'vitest'
import { createHubLibp2p, type HubLibp2p } from '../src/net/node.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'

const TCP_ONLY = ['/ip4/127.0.0.1/tcp/0']

describe('optional libp2p services', () => {
  const nodes: HubLibp2p[] = []
  afterEach(async () => { await Promise.allSettled(nodes.splice(0).map(async n => await n.stop())) })

  it('runs mDNS when asked for, loaded on demand', async () => {
    const node = await createHubLibp2p(Ed25519KeyPair.generate(), TCP_ONLY, { mdns: true })
    nodes.push(node)
    const services = node.services as Record<string, unknown>
    expect(services['mdns']).toBeDefined()
    expect(String((services['mdns'] as { [Symbol.toStringTag]?: string })[Symbol.toStringTag])).toMatch(/mdns/i)
    expect(node.status).toBe('started')
  })

  it('has no mDNS service when it is off (the default), and the always-on services are there', async () => {
    const node = await createHubLibp2p(Ed25519KeyPair.generate(), TCP_ONLY)
    nodes.push(node)
    const services = node.services as Record<string, unknown>
    expect(services['mdns']).toBeUndefined()
    expect(services['relay']).toBeUndefined()
    for (const s of ['identify', 'ping', 'dcutr', 'dht']) expect(services[s]).toBeDefined()
  })
})
