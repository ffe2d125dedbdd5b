import { describe, expect, it } from 'vitest'
import { Ed25519KeyPair } from '../identity/keys.js'
import type { Did, ObjectId } from '../ids.js'
import type { DeviceAuthorization } from '../permissions/registry.js'
import { peerIdOfHubDid } from './node.js'
import { PeerTable } from './peers.js'
import { syncStatus } from './sync-status.js'

const did = (): Did => Ed25519KeyPair.generate().did as Did
const auth = (device: Did, extra: Partial<DeviceAuthorization> = {}): DeviceAuthorization =>
  ({ objectId: 'b' as ObjectId, owner: 'did:key:zowner' as Did, device, role: 'owner-device', createdAt: '2025-01-01T00:00:00Z', ...extra })

describe('syncStatus', () => {
  it('lists live devices other than us, with what the peer table knows of them', () => {
    const [me, seen, unseen, revoked] = [did(), did(), did(), did()]
    const peers = new PeerTable(100)
    const s = peers.ensure(peerIdOfHubDid(seen).toString(), seen)
    Object.assign(s, { connected: true, head: 10, watermark: 4, received: 4, lastError: 'x: y' })
    const devices = [auth(me), auth(seen, { name: 'phone' }), auth(unseen, { role: 'blind' }), auth(revoked, { revokedAt: 1 })]
    const out = syncStatus({ devices: () => devices }, me, peers)
    expect(out.map(o => o.hubDid)).toEqual([seen, unseen])
    expect(out[0]).toMatchObject({ name: 'phone', connected: true, replicating: false, head: 10, watermark: 4, behind: 6, received: 4, lastError: 'x: y' })
    expect(out[1]).toMatchObject({ name: null, role: 'blind', connected: false, behind: 0, lastSync: null, peerId: peerIdOfHubDid(unseen).toString() })
  })
})
