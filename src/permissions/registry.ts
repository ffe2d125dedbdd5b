/**
 * The live view of a tenant's Permissions objects — PermissionGrants and
 * DeviceAuthorizations — that authorize() consults. The tenant store updates
 * it inside the write queue, as each Permissions commit is applied, so a
 * commit later in the same group already sees the grant before it.
 *
 * A deleted grant or device is kept, with the set of commits its revocation
 * named (`revoked`): those stay valid when they arrive late through another
 * hub, nothing else that relied on it does (see validity.ts). `revokedAt`
 * is for display only: no decision about a commit uses a clock.
 */
import type { Did, ObjectId } from '../ids.js'
import type { JsonObject } from '../objects/json.js'
import type { Grant } from './authorize.js'
import { decodeAccepted } from './revocation.js'

export const HUB_NS = 'https://identity-hub.local/ns/v1'
export const GRANT_TYPE = 'PermissionGrant'
export const DEVICE_TYPE = 'DeviceAuthorization'

export type DeviceRole = 'owner-device' | 'blind'

export interface DeviceAuthorization {
  objectId: ObjectId
  owner: Did
  device: Did
  role: DeviceRole
  name?: string
  createdAt: string
  revokedAt?: number
  /** Once revoked: the digests of the commits its revocation keeps valid (see revocation.ts). */
  revoked?: ReadonlySet<string>
}

/** What the registry needs to know of a Permissions object. */
export interface PermissionRecord {
  objectId: ObjectId
  type?: string
  createdBy: Did
  createdAt: string
  deleted: boolean
  updatedAt: string
  value?: JsonObject
  /** The accepted set the revocation (the delete) named, encoded; absent for revocations that named none. */
  revocation?: string
}

function str (v: unknown): string | undefined { return typeof v === 'string' ? v : undefined }

export class GrantRegistry {
  readonly owner: Did
  readonly #grants = new Map<string, Grant>()
  readonly #devices = new Map<string, DeviceAuthorization>()
  #version = 0

  constructor (owner: Did) {
    this.owner = owner
  }

  /** Bumped on every change; lets long-lived streams notice revocations cheaply. */
  get version (): number { return this.#version }

  /** Every grant, revoked ones included (with revokedAt): for validating commits made before a revocation. */
  grants (): Grant[] { return [...this.#grants.values()] }
  devices (): DeviceAuthorization[] { return [...this.#devices.values()] }

  /**
   * Grants and devices for a decision made *now* (a request, a subscription,
   * a sync stream): a revoked one is gone, whatever its revocation time says.
   * (Commit validation uses grants()/devices(), where a commit made before
   * the revocation stays valid.)
   */
  liveGrants (): Grant[] { return this.grants().filter(g => g.revokedAt === undefined) }
  liveDevices (): DeviceAuthorization[] { return this.devices().filter(d => d.revokedAt === undefined) }

  /** The live (unrevoked) authorization of a hub DID, if any. */
  device (hubDid: string): DeviceAuthorization | undefined {
    for (const d of this.#devices.values()) {
      if (d.device === hubDid && d.revokedAt === undefined) return d
    }
    return undefined
  }

  /**
   * Apply the new state of a Permissions object; returns a function that
   * undoes it (used when the surrounding write fails). Objects not signed
   * by the owner are ignored: only the owner can grant.
   */
  apply (rec: PermissionRecord, previousValue?: JsonObject): () => void {
    const id = rec.objectId
    const prevGrant = this.#grants.get(id)
    const prevDevice = this.#devices.get(id)
    const restore = (): void => {
      if (prevGrant === undefined) this.#grants.delete(id); else this.#grants.set(id, prevGrant)
      if (prevDevice === undefined) this.#devices.delete(id); else this.#devices.set(id, prevDevice)
      this.#version++
    }
    if (rec.createdBy !== this.owner) return () => {}
    const value = rec.value ?? previousValue
    const revokedAt = rec.deleted ? Date.parse(rec.updatedAt) : undefined
    // A revocation that named no set (or a malformed one) keeps nothing valid: failing closed.
    let revoked: ReadonlySet<string> | undefined
    if (rec.deleted) {
      try { revoked = rec.revocation === undefined ? new Set() : decodeAccepted(rec.revocation) } catch { revoked = new Set() }
    }
    if (rec.type === DEVICE_TYPE && value !== undefined) {
      const device = str(value.device)
      const role = value.role === 'blind' ? 'blind' : 'owner-device'
      if (device !== undefined && value.owner === this.owner) {
        this.#devices.set(id, {
          objectId: id,
          owner: this.owner,
          device: device as Did,
          role,
          ...(str(value.name) !== undefined ? { name: str(value.name) as string } : {}),
          createdAt: rec.createdAt,
          ...(revokedAt !== undefined ? { revokedAt } : {}),
          ...(revoked !== undefined ? { revoked } : {})
        })
      }
    } else if (rec.type === GRANT_TYPE && value !== undefined) {
      const grantee = str(value.grantee)
      const context = str(value.context)
      const type = str(value.type)
      const allow = str(value.allow)
      if (grantee !== undefined && context !== undefined && type !== undefined && allow !== undefined && value.owner === this.owner) {
        const expires = str(value.expires_at)
        const objectId = str(value.object_id)
        this.#grants.set(id, {
          id,
          owner: this.owner,
          grantee: grantee as Did,
          context,
          type,
          allow,
          ...(objectId !== undefined ? { objectId: objectId as ObjectId } : {}),
          ...(expires !== undefined && !Number.isNaN(Date.parse(expires)) ? { expiresAt: Date.parse(expires) } : {}),
          ...(revokedAt !== undefined ? { revokedAt } : {}),
          ...(revoked !== undefined ? { revoked } : {})
        })
      }
    }
    this.#version++
    return restore
  }
}
