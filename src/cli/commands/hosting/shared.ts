/** What the hosting commands share: the owners of the hosting hub they run on, live (the daemon's node) or opened for the command. */
import { BadRequestError } from '../../../errors.js'
import type { Hub } from '../../../hub.js'
import type { HostedOwners } from '../../../net/hosting/owners.js'
import type { HostingNode } from '../../../net/hosting/node.js'
import { hostingOf } from '../../../net/hosting/registry.js'

export function checkHosting (hub: Hub): void {
  if (hub.config.hosting === undefined) throw new BadRequestError(`${hub.dir} is not a hosting hub (create one with "hub hosting init")`, { reason: 'not_hosting' })
}

/** Run `fn` on the hub's hosted owners: the running node's when the daemon runs, else opened (and closed) for this command. */
export async function withOwners<T> (hub: Hub, fn: (owners: HostedOwners, node: HostingNode | undefined) => Promise<T>): Promise<T> {
  checkHosting(hub)
  const node = hostingOf(hub)
  if (node !== undefined) return await fn(node.owners, node)
  const { HostedOwners } = await import('../../../net/hosting/owners.js')
  const owners = await HostedOwners.open({ kv: hub.kv, hostKey: hub.hubKey, hubDid: hub.hubDid, peerId: hub.peerId, dir: hub.dir, engine: hub.storeInfo.engine, logger: hub.log })
  try {
    return await fn(owners, undefined)
  } finally {
    await owners.close()
  }
}
