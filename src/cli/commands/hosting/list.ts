/** `hub hosting list`: the owners hosted, their quotas, usage and (while running) traffic. */
import { hubCommand } from '../../spec.js'
import { quotaText } from './quotas.js'
import { withOwners } from './shared.js'

export const hostingList = hubCommand({
  name: 'hosting list',
  group: 'Hub',
  summary: 'the owners this hosting hub serves: quotas, usage, requests and sync lag',
  params: {},
  input: () => ({}),
  async run ({ hub }) {
    return await withOwners(hub, async (owners, node) => {
      const live = new Map((node?.metrics() ?? []).map(m => [m.owner, m]))
      return {
        running: node !== undefined,
        items: owners.list().map(o => {
          const m = live.get(o.owner)
          return { ...o, ...(m !== undefined ? { requests: m.requests, refusedRequests: m.refusedRequests, servedCommits: m.servedCommits, syncLag: m.syncLag, devicesConnected: m.devicesConnected } : {}) }
        })
      }
    })
  },
  human (r) {
    if (r.items.length === 0) return 'no owners hosted yet (hub hosting add-owner --invite …)\n'
    return r.items.map(o => `${o.owner}\n  since ${o.addedAt}; ${o.usage.objects} objects, ${o.usage.bytes} bytes; quotas: ${quotaText(o.quotas)}` +
      (o.requests !== undefined ? `\n  ${o.requests} requests (${String(o.refusedRequests)} refused), ${String(o.devicesConnected)} device(s) connected, sync lag ${String(o.syncLag)}` : '')).join('\n') + '\n'
  }
})
