/** Real hubs on real libp2p nodes over loopback TCP, for scenario tests. */
import { join } from 'node:path'
import { Hub } from '../src/hub.js'
import type { HubNode } from '../src/net/hub-node.js'
import type { StartHubNodeOptions } from '../src/compose.js'
import { startHubNode } from '../src/cli/network.js'
import { joinHub } from '../src/net/pair.js'
import { tempDir } from './helpers.js'

export interface Running { hub: Hub, node: HubNode, dir: string }

const running: Running[] = []

export const TCP_ONLY = ['/ip4/127.0.0.1/tcp/0']

export async function startHub (dir: string, opts: StartHubNodeOptions = {}): Promise<Running> {
  const hub = await Hub.open(dir)
  const node = await startHubNode(hub, { listen: TCP_ONLY, discoveryIntervalMs: 0, reconnectMinMs: 100, reconnectMaxMs: 1000, ...opts })
  const r = { hub, node, dir }
  running.push(r)
  return r
}

export async function stopHub (r: Running): Promise<void> {
  const i = running.indexOf(r)
  if (i >= 0) running.splice(i, 1)
  await r.node.stop()
  await r.hub.close()
}

/** A founding hub, started. */
export async function founder (opts: StartHubNodeOptions = {}): Promise<Running> {
  const dir = join(await tempDir('net-'), 'a')
  await Hub.init(dir)
  return await startHub(dir, opts)
}

/** A new device paired with `with`, started. */
export async function device (withHub: Running, opts: StartHubNodeOptions & { role?: 'owner-device' | 'blind' } = {}): Promise<Running> {
  const { role: _role, ...nodeOpts } = opts
  const dir = join(await tempDir('net-'), 'dev')
  const { invite } = await withHub.node.createInvite(opts.role !== undefined ? { role: opts.role } : {})
  await joinHub(dir, invite, opts.role !== undefined ? { role: opts.role } : {})
  return await startHub(dir, nodeOpts)
}

export async function stopAll (): Promise<void> {
  for (const r of running.splice(0).reverse()) {
    await r.node.stop().catch(() => {})
    await r.hub.close().catch(() => {})
  }
}

/** Poll until `fn` returns true (no fixed sleeps in assertions). */
export async function eventually (fn: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (await fn()) return
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}
