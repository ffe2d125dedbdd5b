/** `hub device revoke HUB_DID`. */
import { text } from '../params.js'
import { arg } from '../input.js'
import { hubCommand } from '../spec.js'

export const deviceRevoke = hubCommand({
  name: 'device revoke',
  group: 'Devices and sync',
  summary: 'revoke a device: it gets nothing more from any hub that learns of it',
  arguments: [{ name: 'HUB_DID', description: 'the device\'s hub DID (or its authorization\'s object id), from "hub device list"' }],
  params: { device: text() },
  input: cli => ({ device: arg(cli, 0, 'HUB_DID') }),
  async run ({ hub }, p) {
    const r = await hub.devices.revoke(p.device)
    return { revoked: p.device, objectId: r.objectId, commitId: r.commitId }
  },
  human: r => `revoked ${r.revoked}\n  commit ${r.commitId}\n`
})
