/**
 * What the store keeps per object and tells about a write: the derived
 * record of an object (its meta), the result of an ingest, and the pure
 * helpers every part of the store shares to read a meta (whom a revocation
 * revokes, which index keys an object occupies, whether a value names its
 * collection). No storage here, so the caches and the query planner can use
 * these types without importing the store itself.
 */
import { BadRequestError } from '../errors.js'
import type { CommitId, Did, ObjectId } from '../ids.js'
import type { Commit, CommitStrategy, InterfaceName } from '../commits/commit.js'
import { sha256Hex, utf8d } from '../identity/encoding.js'
import { isJsonObject, type JsonObject } from '../objects/json.js'
import { DEVICE_TYPE, GRANT_TYPE } from '../permissions/registry.js'
import { encodeIndexValue, isIndexable, type Layout, scopesOf } from './layout.js'

export interface ObjectMeta {
  objectId: ObjectId
  interface: InterfaceName
  context?: string
  type?: string
  tag?: string
  strategy: CommitStrategy
  heads: CommitId[]
  deleted: boolean
  createdAt: string
  updatedAt: string
  createdBy: Did
  commits: number
  /** Materialized plaintext value; absent where the hub cannot read it. */
  value?: JsonObject
  /** LWW: the commit whose value currently wins. */
  lww?: { id: CommitId, at: number }
  /** Automerge: the commit count the stored snapshot covers. */
  snapshotCommits?: number
  /** Permissions, once deleted: the accepted set its revocation named (encoded, see permissions/revocation.ts). */
  revocation?: string
}

export interface CommitEvent {
  tenant: Did
  seq: number
  commit: Commit
  meta: ObjectMeta
}

export interface IngestResult {
  commitId: CommitId
  objectId: ObjectId
  /** False when the hub already had this commit (nothing was written), or quarantined it. */
  stored: boolean
  seq?: number
  /** Kept but invalid: it relies on a revoked grant or device that did not name it (see validity.ts). */
  quarantined?: boolean
}

/** How a commit enters the store, beyond the commit itself. */
export interface IngestOptions {
  /**
   * The commit enters the owner's hubs here, through the request protocol:
   * this hub checked the grant (`grant`) at `at` by its own clock, and signs
   * the acceptance that travels with the commit. Anything invalid is refused
   * (never quarantined: the caller is the signer).
   */
  accept?: { at: number, grant?: string }
}

/** Whom revoking this Permissions object revokes: a grant's grantee, an authorization's device. */
export function revokedParty (meta: ObjectMeta): string | undefined {
  if (meta.interface !== 'Permissions' || meta.value === undefined) return undefined
  const v = meta.type === GRANT_TYPE ? meta.value.grantee : meta.type === DEVICE_TYPE ? meta.value.device : undefined
  return typeof v === 'string' ? v : undefined
}

/** The encoded accepted set a revocation's payload names, if it names one. */
export function revocationOf (payload: Uint8Array): string | undefined {
  if (payload.length === 0) return undefined
  try {
    const v: unknown = JSON.parse(utf8d.decode(payload))
    const accepted = isJsonObject(v) ? v.accepted : undefined
    return typeof accepted === 'string' ? accepted : undefined
  } catch {
    return undefined
  }
}

/** A readable value must carry the `@context`/`@type` its header (or, sealed, its key) names. */
export function checkNames (v: JsonObject, meta: Pick<ObjectMeta, 'context' | 'type'>, commitId: CommitId): void {
  if (v['@context'] !== meta.context || v['@type'] !== meta.type) {
    throw new BadRequestError('the commit\'s value names another "@context"/"@type" than its header', { commitId })
  }
}

/** Every index key an object occupies (none when deleted or unreadable). */
export function indexKeys (L: Layout, meta: ObjectMeta | undefined): string[] {
  if (meta === undefined || meta.deleted) return []
  const out: string[] = []
  if (meta.context !== undefined && meta.type !== undefined) {
    for (const scope of scopesOf(meta.context, meta.type)) {
      out.push(`${L.sortPrefix(meta.interface, scope, 'c')}${meta.createdAt}!${meta.objectId}`)
      out.push(`${L.sortPrefix(meta.interface, scope, 'u')}${meta.updatedAt}!${meta.objectId}`)
    }
    if (meta.value !== undefined) {
      for (const [field, v] of Object.entries(meta.value)) {
        if (field === '@context' || field === '@type' || !isIndexable(v)) continue
        out.push(`${L.fieldPrefix(meta.interface, meta.type, field)}${encodeIndexValue(v)}!${meta.objectId}`)
      }
    }
  } else if (meta.tag !== undefined) {
    const scope = `G${meta.tag}`
    out.push(`${L.sortPrefix(meta.interface, scope, 'c')}${meta.createdAt}!${meta.objectId}`)
    out.push(`${L.sortPrefix(meta.interface, scope, 'u')}${meta.updatedAt}!${meta.objectId}`)
  }
  return out
}

/** A stable Automerge actor id (hex, 16 bytes) for a hub instance. */
export function actorFor (hubDid: string): string {
  return sha256Hex(`identity-hub actor ${hubDid}`).slice(0, 32)
}
