/** `hub info`: who this hub is. */
import { fields } from '../format.js'
import { hubCommand } from '../spec.js'

export const info = hubCommand({
  name: 'info',
  group: 'Hub',
  summary: 'the owner DID, this hub\'s DID, peer id, role and directory',
  params: {},
  input: () => ({}),
  run: async ({ hub }) => ({ did: hub.did, hubDid: hub.hubDid, peerId: hub.peerId, role: hub.config.role, dir: hub.dir }),
  human: r => fields([['owner DID', r.did], ['hub DID', r.hubDid], ['peer id', r.peerId], ['role', r.role], ['dir', r.dir]])
})
