/**
 * The organization half of a hub, attached from outside: the personal
 * datastore (src/hub.ts) knows nothing of it (docs/architecture.md, Layers).
 * `orgOf(hub)` creates the hub's OrgStore on first use — sealing key derived
 * from the hub's own key, credentials verified through the hub's resolver —
 * and registers with the hub what it needs from it: the did:web documents it
 * hosts (answered before the network), and closing with the hub.
 */
import { HubError } from '../errors.js'
import type { Hub } from '../hub.js'
import type { IssuanceDeps, IssuanceService } from './issuance.js'
import { verifyCredentialSignature } from './credentials.js'
import { OrgStore } from './org-store.js'
import { Vault } from './vault.js'

const orgs = new WeakMap<Hub, OrgStore>()
const issuances = new WeakMap<Hub, Promise<IssuanceService>>()

/**
 * The hub's organization store: participant contexts, key pairs, DID
 * documents, credentials. `now` (milliseconds) is its clock — what it
 * stamps records with and judges a credential's validity by — taken on
 * first use only, like issuanceOf's options: the HTTP server passes its own
 * clock, so that a test that moves the server's time moves the store's too.
 */
export function orgOf (hub: Hub, opts: { now?: () => number } = {}): OrgStore {
  let org = orgs.get(hub)
  if (org === undefined) {
    org = new OrgStore({
      ...(opts.now !== undefined ? { now: opts.now } : {}),
      kv: hub.kv,
      // Sealing key derived from this hub's own key: org private keys are bound to this hub.
      vault: new Vault(hub.hubKey.exportSeed()),
      logger: hub.log,
      verifyCredential: async jwt => { await verifyCredentialSignature(jwt, async did => await hub.resolveDocument(did)) }
    })
    orgs.set(hub, org)
    const store = org
    hub.addDocumentSource(async did => did.startsWith('did:web:') ? await store.servedDocument(did) : undefined)
    hub.onClose(async () => { await store.idle() })
  }
  return org
}

/**
 * DCP credential issuance for the hub's participants (org/issuance.ts):
 * created on first use and loaded then (it pulls in the DCP schema
 * compiler, which other commands do not pay for); its queue stops when the
 * hub closes, before the store does.
 *
 * `options` count on first creation only (later calls get the same
 * service): an injected clock (`now`, which tests share between hubs to
 * drive renewal), delivery retries, renewal lead and poll interval.
 */
export type IssuanceOptions = Partial<Pick<IssuanceDeps, 'now' | 'retryDelaysMs' | 'renewalLeadS' | 'pollIntervalMs' | 'timeoutMs'>>

export async function issuanceOf (hub: Hub, options: IssuanceOptions = {}): Promise<IssuanceService> {
  let p = issuances.get(hub)
  if (p === undefined) {
    p = (async () => {
      const { IssuanceService } = await import('./issuance.js')
      if (hub.closed) throw new HubError('unavailable', 'the hub is closed')
      const service = new IssuanceService({
        org: orgOf(hub),
        resolveDocument: async did => await hub.resolveDocument(did),
        logger: hub.log,
        ...options,
        ...(hub.statusListSize !== undefined ? { statusListSize: hub.statusListSize } : {})
      })
      // Registered after the org store's hook, so it runs first (hooks run newest first).
      hub.onClose(async () => { await service.close() })
      return service
    })()
    issuances.set(hub, p)
    p.catch(() => { issuances.delete(hub) })
  }
  return await p
}
