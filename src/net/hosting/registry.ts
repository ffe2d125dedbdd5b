/**
 * The hosting node a hub runs as, if it is a hosting hub that is started
 * (`hub start` on a directory made by `hub hosting init`): found by the
 * hosting commands and the metrics endpoint from the hub they are given,
 * as orgOf(hub) finds the organization half.
 */
import type { Hub } from '../../hub.js'
import type { HostingNode } from './node.js'

const nodes = new WeakMap<Hub, HostingNode>()

export function hostingOf (hub: Hub): HostingNode | undefined {
  return nodes.get(hub)
}

export function setHosting (hub: Hub, node: HostingNode | undefined): void {
  if (node === undefined) nodes.delete(hub)
  else nodes.set(hub, node)
}
