/**
 * A hub in a browser tab (issue 15): a full `owner-device` hub whose home
 * is the origin's IndexedDB (hub-home-web.ts: config and keys;
 * store/browser-kv.ts: the store), on a libp2p node that dials out over
 * WebSockets only (net/hub-net-web.ts: no listening, no mDNS, no
 * DHT). It pairs with an invite from one of the owner's hubs, then syncs
 * with the owner's hubs it knows (the inviter, and every device it learns
 * of), reconnecting with backoff; writes made while offline merge when it
 * is back (Automerge). After a reload, `openBrowserHub({ name })` reopens
 * the same hub: same DID, same data, sync goes on.
 *
 * This module is the package's `./browser` export; its import closure is
 * checked for Node-only code by scripts/check-isomorphic.mjs.
 */
import { BadRequestError, NotFoundError } from '../errors.js'
import { hubHome } from '#hub-home'
import { Hub } from '../hub.js'
import type { Collections } from '../interfaces/collections.js'
import type { Logger } from '../log.js'
import { HubNode } from '../net/hub-node.js'
import { joinHub } from '../net/pair.js'
import type { SyncPeerStatus } from '../net/sync-status.js'

export { HubError } from '../errors.js'
export type { SyncPeerStatus } from '../net/sync-status.js'

/** Reconnection backoff of a tab: quick first retries (a tab's network comes and goes), capped low. */
const TAB_RECONNECT_MIN_MS = 250
const TAB_RECONNECT_MAX_MS = 5_000

export interface OpenBrowserHubOptions {
  /** The hub's name in this origin (1–64 letters, digits, `.`, `_`, `-`). */
  name: string
  /**
   * An invite (`ihub1_…`, from `hub device invite` on one of the owner's
   * hubs): pair as a new owner device when no hub of this name exists yet.
   * Ignored when it exists (the invite stays unspent).
   */
  invite?: string
  /** The device name the inviting hub records. */
  deviceName?: string
  /** Start the network (default true); false opens the hub offline. */
  network?: boolean
  logger?: Logger
  reconnectMinMs?: number
  reconnectMaxMs?: number
}

export class BrowserHub {
  readonly hub: Hub
  #node: HubNode | undefined
  readonly #opts: OpenBrowserHubOptions

  private constructor (hub: Hub, opts: OpenBrowserHubOptions) {
    this.hub = hub
    this.#opts = opts
  }

  /** Open (or, with an invite, first pair) the hub named `opts.name`. */
  static async open (opts: OpenBrowserHubOptions): Promise<BrowserHub> {
    const home = hubHome(opts.name)
    if (!await home.exists()) {
      if (opts.invite === undefined) throw new NotFoundError(`no hub named ${opts.name} in this browser: pair it with an invite first`, { reason: 'no_hub' })
      await joinHub(home, opts.invite, { role: 'owner-device', ...(opts.deviceName !== undefined ? { name: opts.deviceName } : {}) })
    }
    const hub = await Hub.open(home, opts.logger !== undefined ? { logger: opts.logger } : {})
    if (hub.config.role !== 'owner-device') {
      await hub.close()
      throw new BadRequestError(`hub ${opts.name} is a ${hub.config.role} hub; a tab runs owner devices only`, { reason: 'not_owner_device' })
    }
    const bh = new BrowserHub(hub, opts)
    try {
      if (opts.network !== false) await bh.goOnline()
    } catch (err) {
      await hub.close()
      throw err
    }
    return bh
  }

  /** Whether a hub named `name` exists in this origin. */
  static async exists (name: string): Promise<boolean> {
    return await Hub.exists(hubHome(name))
  }

  get did (): string { return this.hub.did }
  get hubDid (): string { return this.hub.hubDid }
  get peerId (): string { return this.hub.peerId }
  get collections (): Collections { return this.hub.collections }
  get online (): boolean { return this.#node !== undefined }

  /** Start dialing the owner's hubs (the peers pairing named, the devices learned since), with backoff. */
  async goOnline (): Promise<void> {
    if (this.#node !== undefined) return
    this.#node = await HubNode.start(this.hub, {
      listen: null,
      // No DHT announcements from a tab: it finds its owner's hubs through the peers it knows.
      discoveryIntervalMs: 0,
      reconnectMinMs: this.#opts.reconnectMinMs ?? TAB_RECONNECT_MIN_MS,
      reconnectMaxMs: this.#opts.reconnectMaxMs ?? TAB_RECONNECT_MAX_MS
    })
  }

  /** Stop the network (the hub stays open: writes keep landing locally and sync when back online). */
  async goOffline (): Promise<void> {
    const node = this.#node
    this.#node = undefined
    await node?.stop()
  }

  /** Per known device of the owner: connected or not, how far each side has pulled. */
  syncStatus (): SyncPeerStatus[] {
    return this.#node?.syncStatus() ?? []
  }

  async close (): Promise<void> {
    await this.goOffline()
    await this.hub.close()
  }
}

/** Open the hub named `name` in this tab (pairing first when an invite is given and it does not exist yet). */
export async function openBrowserHub (opts: OpenBrowserHubOptions): Promise<BrowserHub> {
  return await BrowserHub.open(opts)
}
