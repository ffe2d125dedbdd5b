/**
 * Serving /identity-hub/sync/1.0.0 and 1.1.0 for this hub's owner — or, on a hosting
 * hub, for each owner it hosts (`resolve`): the sync server (sync/server.ts)
 * bound to the tenant's store and access policy, with every pull by
 * someone other than the tenant's own devices written to that tenant's
 * audit log, and the commits served counted.
 */
import type { Connection, Stream } from '@libp2p/interface'
import type { Logger } from '../log.js'
import type { AuditLog } from '../store/audit.js'
import type { TenantStore } from '../store/tenant-store.js'
import { MAX_INBOUND_SYNC_STREAMS, SYNC_PROTOCOLS } from './constants.js'
import { hubDidOfPeer } from './node.js'
import type { SyncAccessPolicy } from './sync-access.js'
import { serveSync } from './sync/server.js'

/** What serving one tenant takes: its store, its access policy, its audit log. */
export interface ServedTenant {
  store: TenantStore
  policy: SyncAccessPolicy
  audit: Pick<AuditLog, 'append'>
  /** Counts served commits per tenant (metrics); optional. */
  onServed?: (commits: number) => void
}

export type SyncServingComponents = ({
  /** Our owner's DID: the only tenant served. */
  tenant: string
  store: TenantStore
  policy: SyncAccessPolicy
  audit: Pick<AuditLog, 'append'>
} | {
  /** A hosting hub: the tenant a pull names, if it is hosted here (undefined otherwise). */
  resolve: (tenant: string) => ServedTenant | undefined
}) & {
  log: Logger
  /** Observe every sync batch served, exactly as sent (diagnostics, tests). */
  onServedBatch?: (peerHubDid: string, json: string) => void
}

/** Longest reason written to the audit log: a peer controls part of it. */
const MAX_AUDIT_REASON = 300

export class SyncServing {
  readonly #c: SyncServingComponents
  #servedCommits = 0
  /** The streams being served, by peer hub DID. */
  readonly #active = new Map<string, Set<Promise<void>>>()

  readonly #resolve: (tenant: string) => ServedTenant | undefined
  /** The tenant of each store served, for its policy and audit log. */
  readonly #byStore = new WeakMap<TenantStore, ServedTenant>()

  constructor (components: SyncServingComponents) {
    this.#c = components
    if ('resolve' in components) {
      this.#resolve = components.resolve
    } else {
      const one: ServedTenant = { store: components.store, policy: components.policy, audit: components.audit }
      const tenant = components.tenant
      this.#resolve = t => t === tenant ? one : undefined
    }
  }

  #tenant (t: string): TenantStore | undefined {
    const served = this.#resolve(t)
    if (served === undefined) return undefined
    this.#byStore.set(served.store, served)
    return served.store
  }

  #served (store: TenantStore): ServedTenant {
    const s = this.#byStore.get(store)
    if (s === undefined) throw new Error('a store served without its tenant')
    return s
  }

  /** Total commits served to peers since start (for benchmarks). */
  get servedCommits (): number { return this.#servedCommits }

  /**
   * Resolves when every stream we serve to `peerHubDid` has ended, or after
   * `ms`. A revoked device's streams end by themselves (each sends the
   * revocation, then the refusal), so the node waits for that before it
   * hangs up, or the device would never hear why.
   */
  async ended (peerHubDid: string, ms: number): Promise<void> {
    const streams = this.#active.get(peerHubDid)
    if (streams === undefined || streams.size === 0) return
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.allSettled([...streams]),
      new Promise<void>(resolve => { timer = setTimeout(resolve, ms) })
    ])
    clearTimeout(timer)
  }

  /** The stream handler for SYNC_PROTOCOLS (register it for each). */
  readonly handle = async (stream: Stream, connection: Connection): Promise<void> => {
    // libp2p limits inbound streams per protocol id; the limit is per connection for both versions together.
    const open = connection.streams.filter(s => s.direction === 'inbound' && SYNC_PROTOCOLS.includes(s.protocol)).length
    if (open > MAX_INBOUND_SYNC_STREAMS) {
      stream.abort(new Error(`too many inbound sync streams (limit ${MAX_INBOUND_SYNC_STREAMS})`))
      return
    }
    const peer = hubDidOfPeer(connection.remotePeer)
    const serving = this.#serve(stream, connection)
    let set = this.#active.get(peer)
    if (set === undefined) this.#active.set(peer, set = new Set())
    set.add(serving)
    try {
      await serving
    } finally {
      set.delete(serving)
      if (set.size === 0) this.#active.delete(peer)
    }
  }

  async #serve (stream: Stream, connection: Connection): Promise<void> {
    const c = this.#c
    await serveSync({
      store: tenant => this.#tenant(tenant),
      access: async (store, peer, as) => await this.#served(store).policy.access(store, peer, as),
      revocationNotice: (store, peer) => this.#served(store).policy.revocationNotice(store, peer),
      peerHubDid: conn => hubDidOfPeer(conn.remotePeer),
      log: c.log,
      ...('resolve' in c ? { hideUnknownTenants: true } : {}),
      onServed: (peer, n, json, store) => {
        this.#servedCommits += n
        if (store !== undefined) this.#served(store).onServed?.(n)
        c.onServedBatch?.(peer, json)
      },
      onAccess: async (store, peer, as, allowed, reason) => {
        // Our own devices are not audited (they act as the owner); everyone else is.
        if (store.registry.device(peer) !== undefined) return
        const served = this.#served(store)
        // The owner sees why the policy refused (the peer only got permissions_required).
        const why = allowed || as === undefined ? undefined : served.policy.refusal(as)
        const detail = [reason, why].filter(x => x !== undefined).join(': ').slice(0, MAX_AUDIT_REASON)
        await served.audit.append({
          caller: as?.did ?? peer, interface: 'Sync', method: 'pull', target: `hub ${peer}`,
          decision: allowed ? 'allowed' : 'denied', ...(allowed ? {} : { code: 'permissions_required' }), ...(detail !== '' ? { reason: detail } : {})
        })
      }
    }, stream, connection)
  }
}
