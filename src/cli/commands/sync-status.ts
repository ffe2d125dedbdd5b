/** `hub sync status`: per device, connection and replication state — and whether this device itself is revoked. */
import { table } from '../format.js'
import { hubCommand } from '../spec.js'

export const syncStatus = hubCommand({
  name: 'sync status',
  group: 'Devices and sync',
  summary: 'per device: connected, last sync, watermark, head, commits behind',
  params: {},
  input: () => ({}),
  async run ({ hub, net }) {
    const me = hub.devices.list().find(d => d.device === hub.hubDid)
    const self = { hubDid: hub.hubDid, revokedAt: me?.revokedAt !== undefined ? new Date(me.revokedAt).toISOString() : null }
    if (net !== undefined) return { running: true, self, peers: net.syncStatus() }
    // Without a daemon: what this hub has pulled from each peer so far (the persisted watermarks).
    const marks = await hub.store.watermarks()
    return {
      running: false,
      self,
      peers: hub.devices.list().filter(d => d.device !== hub.hubDid && d.revokedAt === undefined).map(d => ({
        hubDid: d.device, name: d.name ?? null, role: d.role, connected: false, watermark: marks.get(d.device) ?? 0
      }))
    }
  },
  human (r) {
    const warn = r.self.revokedAt !== null ? `THIS DEVICE WAS REVOKED by the owner at ${r.self.revokedAt}: other hubs no longer sync with it\n` : ''
    const head = r.running ? '' : 'no daemon running: the watermarks below are what this hub pulled so far\n'
    if (r.peers.length === 0) return warn + head + 'no other devices\n'
    return warn + head + table(r.peers as Array<Record<string, unknown>>, [
      ['DEVICE', p => p.hubDid], ['NAME', p => p.name], ['ROLE', p => p.role], ['CONNECTED', p => p.connected],
      ['LAST SYNC', p => p.lastSync], ['WATERMARK', p => p.watermark], ['HEAD', p => p.head], ['BEHIND', p => p.behind]
    ])
  }
})
