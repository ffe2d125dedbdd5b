/** `hub following`: the owners this hub follows, and their streams. */
import { page, pageTable } from '../format.js'
import { hubCommand } from '../spec.js'

export const following = hubCommand({
  name: 'following',
  group: 'Permissions and sharing',
  summary: 'the owners this hub follows: where, and (with a running hub) whether their stream is live',
  params: {},
  input: () => ({}),
  async run ({ hub, net }) {
    const live = new Map((net?.followStatus() ?? []).map(s => [s.owner, s]))
    return page((await hub.local.follows()).map(f => {
      const s = live.get(f.owner)
      return { owner: f.owner, peers: f.addrs, streaming: s?.streaming ?? false, lastSync: s?.lastSync ?? null, lastError: s?.lastError ?? null }
    }))
  },
  human: r => pageTable(r, 'followed owner(s)', [
    ['OWNER', f => f.owner], ['STREAMING', f => f.streaming], ['LAST SYNC', f => f.lastSync], ['LAST ERROR', f => f.lastError], ['PEERS', f => f.peers.join(' ')]
  ])
})
