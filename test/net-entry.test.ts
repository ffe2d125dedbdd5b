/**
 * The public `identity-hub/net` entry (src/net-entry.ts): `HubNode.start`
 * there is the composed node, which serves the request protocol — what the
 * README's embedded example relies on — while the bare node of src/net
 * serves only what it is given.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HubNode } from '../src/net-entry.js'
import { HubNode as BareHubNode } from '../src/net/hub-node.js'
import { HubClient } from '../src/client/index.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { cleanup, playlist, tempHub } from './helpers.js'

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s()
  await cleanup()
})

const TCP = ['/ip4/127.0.0.1/tcp/0']

describe('identity-hub/net', () => {
  it('HubNode.start serves app requests, as the README example shows', async () => {
    const hub = await tempHub()
    await hub.collections.create(playlist('embedded'))
    const app = Ed25519KeyPair.generate()
    await hub.permissions.grant({ grantee: app.did, context: 'https://schema.org', type: 'MusicPlaylist', allow: '-R--' })
    const node = await HubNode.start(hub, { listen: TCP, discoveryIntervalMs: 0 })
    stops.push(async () => { await node.stop() })
    const client = await HubClient.connect({ hub: node.multiaddrs()[0] as string, identity: app, owner: hub.did })
    stops.push(async () => { await client.close() })
    const { objects } = await client.collections.query({ context: 'https://schema.org', type: 'MusicPlaylist' })
    expect(objects.map(o => o.value?.name)).toEqual(['embedded'])
  })

  it('the bare node without an injected request server refuses the request protocol', async () => {
    const hub = await tempHub()
    const node = await BareHubNode.start(hub, { listen: TCP, discoveryIntervalMs: 0 })
    stops.push(async () => { await node.stop() })
    const app = Ed25519KeyPair.generate()
    await expect((async () => {
      const client = await HubClient.connect({ hub: node.multiaddrs()[0] as string, identity: app, owner: hub.did })
      stops.push(async () => { await client.close() })
      await client.collections.query({ context: 'https://schema.org', type: 'MusicPlaylist' })
    })()).rejects.toBeDefined()
  })
})
