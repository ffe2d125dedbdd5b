/**
 * The one authorization decision of the hub, as a pure function. The request
 * handler, the sync filter and commit validation all call it, so a rule can
 * never be enforced in one path and forgotten in another.
 */
import type { InterfaceName } from '../commits/commit.js'
import type { Did, ObjectId } from '../ids.js'

export type Action = 'create' | 'read' | 'update' | 'delete'

export interface AccessRequest {
  caller: Did
  owner: Did
  action: Action
  interface: InterfaceName
  context?: string
  type?: string
  objectId?: ObjectId
  /** Milliseconds since the epoch at which to evaluate expiry. */
  now: number
}

/** A PermissionGrant as evaluated (the stored object carries more fields). */
export interface Grant {
  id: string
  owner: Did
  grantee: Did
  context: string
  type: string
  /** DIF CRUD string, e.g. `-R--`, `CR--`, `CRUD`. */
  allow: string
  objectId?: ObjectId
  /** Milliseconds since the epoch; absent = no expiry. */
  expiresAt?: number
  /** When the owner deleted the grant; requests at or after it are denied. */
  revokedAt?: number
  /**
   * Present once revoked: digests of the commits the revoking hub had
   * accepted under this grant (see revocation.ts). Commit validity uses this,
   * never `revokedAt`.
   */
  revoked?: ReadonlySet<string>
}

/** A hub instance authorized by the owner to act for it (see registry.ts). */
export interface DeviceGrant {
  device: Did
  role: 'owner-device' | 'blind'
  revokedAt?: number
  /** Present once revoked: digests of the commits that relied on this device and stay valid. */
  revoked?: ReadonlySet<string>
}

export type Decision =
  | { allowed: true, via: 'owner' | 'public' | 'grant' | 'device', grantId?: string }
  | { allowed: false, reason: string }

const ACTION_INDEX: Record<Action, number> = { create: 0, read: 1, update: 2, delete: 3 }
const ACTION_LETTER: Record<Action, string> = { create: 'C', read: 'R', update: 'U', delete: 'D' }

export function isValidAllow (allow: string): boolean {
  return /^[C-][R-][U-][D-]$/.test(allow)
}

export function grantAllows (grant: Grant, req: AccessRequest): boolean {
  if (grant.owner !== req.owner || grant.grantee !== req.caller) return false
  if (!isValidAllow(grant.allow)) return false
  if (grant.allow[ACTION_INDEX[req.action]] !== ACTION_LETTER[req.action]) return false
  if (grant.expiresAt !== undefined && !(req.now < grant.expiresAt)) return false
  if (grant.revokedAt !== undefined && !(req.now < grant.revokedAt)) return false
  if (req.interface !== 'Collections') return false
  if (grant.context !== req.context || grant.type !== req.type) return false
  if (grant.objectId !== undefined && grant.objectId !== req.objectId) return false
  return true
}

/**
 * Owner devices act for the owner except on Permissions writes. A blind hub
 * is allowed nothing here: it holds ciphertext for the owner and gets
 * exactly what sync gives it (sync decides that itself, never through this
 * function), so a request it signs is treated like a stranger's — no read
 * of any interface, no decryption done for it.
 */
export function deviceAllows (role: DeviceGrant['role'], req: AccessRequest): boolean {
  if (role === 'owner-device') return req.interface !== 'Permissions' || req.action === 'read'
  return false
}

/**
 * Decide whether `req` may proceed given the owner's live (unrevoked) grants.
 * The owner may do anything; anyone may read a Profile; everything else
 * needs a grant naming the caller, the action, the context and type (and,
 * if the grant is scoped to one object, that object), unexpired at `now`.
 */
export function authorize (req: AccessRequest, grants: readonly Grant[], devices: readonly DeviceGrant[] = []): Decision {
  if (req.caller === req.owner) return { allowed: true, via: 'owner' }
  if (req.interface === 'Profile' && req.action === 'read') return { allowed: true, via: 'public' }
  // An owner device acts for the owner on Collections and Profile. Grants and
  // device authorizations themselves need the owner's own key.
  // A hub DID may hold several device authorizations (re-paired, or paired
  // with another role elsewhere); any live one that allows the action does,
  // so the decision never depends on the order they were applied in.
  const mine = devices.filter(d => d.device === req.caller && (d.revokedAt === undefined || req.now < d.revokedAt))
  if (mine.length > 0) {
    if (mine.some(d => deviceAllows(d.role, req))) return { allowed: true, via: 'device' }
    return { allowed: false, reason: `a ${mine.map(d => d.role).join('/')} hub may not ${req.action} ${req.interface} objects` }
  }
  if (req.interface !== 'Collections') return { allowed: false, reason: `only the owner may ${req.action} ${req.interface} objects` }
  for (const g of grants) {
    if (grantAllows(g, req)) return { allowed: true, via: 'grant', grantId: g.id }
  }
  return { allowed: false, reason: `no grant lets ${req.caller} ${req.action} ${req.context ?? '?'} ${req.type ?? '?'}` }
}
