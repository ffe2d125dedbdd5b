/**
 * Device authorizations: owner-signed Permissions objects that let a hub
 * instance (named by its hub DID = libp2p PeerId) act for the owner. They
 * replicate like any object, so a revocation reaches every hub.
 */
import { ConflictError, NotFoundError, PermissionsRequiredError } from '../errors.js'
import type { Did } from '../ids.js'
import type { Ed25519KeyPair } from '../identity/keys.js'
import { DEVICE_TYPE, HUB_NS, type DeviceAuthorization, type DeviceRole } from '../permissions/registry.js'
import type { TenantStore, IngestResult } from '../store/tenant-store.js'

export class Devices {
  readonly #store: TenantStore
  readonly #owner: Ed25519KeyPair | undefined

  constructor (args: { store: TenantStore, ownerKey: Ed25519KeyPair | undefined }) {
    this.#store = args.store
    this.#owner = args.ownerKey
  }

  #requireOwner (): Ed25519KeyPair {
    if (this.#owner === undefined) throw new PermissionsRequiredError('only a hub holding the owner key can authorize or revoke devices')
    return this.#owner
  }

  /** Every authorization, revoked ones included (with `revokedAt`). */
  list (): DeviceAuthorization[] {
    return this.#store.registry.devices().sort((a, b) => a.createdAt < b.createdAt ? -1 : 1)
  }

  isAuthorized (hubDid: string): DeviceAuthorization | undefined {
    return this.#store.registry.device(hubDid)
  }

  async authorize (hubDid: Did, role: DeviceRole, name?: string): Promise<IngestResult> {
    const owner = this.#requireOwner()
    if (this.isAuthorized(hubDid) !== undefined) throw new ConflictError(`${hubDid} is already an authorized device`)
    return await this.#store.create({
      iface: 'Permissions',
      value: { '@context': HUB_NS, '@type': DEVICE_TYPE, owner: owner.did, device: hubDid, role, ...(name !== undefined ? { name } : {}) },
      context: HUB_NS,
      type: DEVICE_TYPE,
      strategy: 'lww',
      signer: owner
    })
  }

  /** Revoke by hub DID or by the authorization's object id. */
  async revoke (hubDidOrId: string): Promise<IngestResult> {
    const owner = this.#requireOwner()
    const live = this.list().find(d => d.revokedAt === undefined && (d.device === hubDidOrId || d.objectId === hubDidOrId))
    if (live === undefined) throw new NotFoundError(`no live device authorization for ${hubDidOrId}`)
    return await this.#store.revoke(live.objectId, owner)
  }
}
