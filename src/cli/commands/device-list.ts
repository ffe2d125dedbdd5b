/** `hub device list`: the owner's devices. */
import { page, pageTable } from '../format.js'
import { hubCommand } from '../spec.js'

export const deviceList = hubCommand({
  name: 'device list',
  group: 'Devices and sync',
  summary: 'the owner\'s devices, revoked ones with revokedAt',
  params: {},
  input: () => ({}),
  run: async ({ hub }) => page(hub.devices.list().map(d => ({
    hubDid: d.device,
    objectId: d.objectId,
    role: d.role,
    name: d.name ?? null,
    createdAt: d.createdAt,
    revokedAt: d.revokedAt === undefined ? null : new Date(d.revokedAt).toISOString(),
    self: d.device === hub.hubDid
  }))),
  human: r => pageTable(r, 'device(s)', [
    ['HUB DID', d => d.hubDid + (d.self ? ' (this hub)' : '')], ['ROLE', d => d.role], ['NAME', d => d.name],
    ['ADDED', d => d.createdAt], ['REVOKED', d => d.revokedAt]
  ])
})
