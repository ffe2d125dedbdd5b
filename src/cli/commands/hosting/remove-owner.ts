/** `hub hosting remove-owner OWNER_DID`: stop hosting an owner and delete its partition (nothing else). */
import { text } from '../../params.js'
import { arg } from '../../input.js'
import { hubCommand } from '../../spec.js'
import { withOwners } from './shared.js'

export const hostingRemoveOwner = hubCommand({
  name: 'hosting remove-owner',
  group: 'Hub',
  summary: 'stop hosting an owner and delete everything stored for it here',
  arguments: [{ name: 'OWNER_DID', description: 'the owner\'s DID, from "hub hosting list"' }],
  params: { owner: text({ nonEmpty: true }) },
  input: cli => ({ owner: arg(cli, 0, 'OWNER_DID') }),
  async run ({ hub }, p) {
    return await withOwners(hub, async (owners, node) => {
      const keysDeleted = node !== undefined ? await node.removeOwner(p.owner) : await owners.remove(p.owner)
      return { removed: p.owner, keysDeleted }
    })
  },
  human: r => `no longer hosting ${r.removed} (${r.keysDeleted} keys deleted)\n`
})
