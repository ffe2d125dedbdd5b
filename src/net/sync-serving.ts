/**
 * Serving /identity-hub/sync/1.0.0 for this hub's owner: the sync server
 * (sync/server.ts) bound to our tenant store and the access policy, with
 * every pull by someone other than our own devices written to the audit
 * log, and the commits served counted.
 */
import type { Connection, Stream } from '@libp2p/interface'
import type { Logger } from '../log.js'
import type { AuditLog } from '../store/audit.js'
import type { TenantStore } from '../store/tenant-store.js'
import { hubDidOfPeer } from './node.js'
import type { SyncAccessPolicy } from './sync-access.js'
import { serveSync } from './sync/server.js'

export interface SyncServingComponents {
  /** Our owner's DID: the only tenant served. */
  tenant: string
  store: TenantStore
  policy: SyncAccessPolicy
  audit: Pick<AuditLog, 'append'>
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

  constructor (components: SyncServingComponents) {
    this.#c = components
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

  /** The stream handler for SYNC_PROTOCOL. */
  readonly handle = async (stream: Stream, connection: Connection): Promise<void> => {
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
      store: tenant => tenant === c.tenant ? c.store : undefined,
      access: async (store, peer, as) => await c.policy.access(store, peer, as),
      revocationNotice: (store, peer) => c.policy.revocationNotice(store, peer),
      peerHubDid: conn => hubDidOfPeer(conn.remotePeer),
      log: c.log,
      onServed: (peer, n, json) => {
        this.#servedCommits += n
        c.onServedBatch?.(peer, json)
      },
      onAccess: async (store, peer, as, allowed, reason) => {
        // Our own devices are not audited (they act as the owner); everyone else is.
        if (store.registry.device(peer) !== undefined) return
        // The owner sees why the policy refused (the peer only got permissions_required).
        const why = allowed || as === undefined ? undefined : c.policy.refusal(as)
        const detail = [reason, why].filter(x => x !== undefined).join(': ').slice(0, MAX_AUDIT_REASON)
        await c.audit.append({
          caller: as?.did ?? peer, interface: 'Sync', method: 'pull', target: `hub ${peer}`,
          decision: allowed ? 'allowed' : 'denied', ...(allowed ? {} : { code: 'permissions_required' }), ...(detail !== '' ? { reason: detail } : {})
        })
      }
    }, stream, connection)
  }
}
