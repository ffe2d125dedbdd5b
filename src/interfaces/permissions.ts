/**
 * The Permissions interface: PermissionGrants, owner-signed objects that
 * replicate to every hub of the owner. Evaluated by authorize() through the
 * registry; revoking deletes the grant (its revocation time is kept).
 */
import { BadRequestError, NotFoundError, PermissionsRequiredError } from '../errors.js'
import { isDid, type Did } from '../ids.js'
import type { Ed25519KeyPair } from '../identity/keys.js'
import { publicKeyFromDidKey } from '../identity/did-key.js'
import { isValidAllow, type Grant } from '../permissions/authorize.js'
import { GRANT_TYPE, HUB_NS } from '../permissions/registry.js'
import type { TenantStore } from '../store/tenant-store.js'
import type { JsonObject } from '../objects/json.js'
import type { CollectionKeys } from './collection-keys.js'

export interface GrantInput {
  grantee: string
  context: string
  type: string
  allow: string
  objectId?: string
  /** RFC 3339; must be in the future. */
  expiresAt?: string
}

export interface GrantView {
  grantId: string
  owner: string
  grantee: string
  context: string
  type: string
  allow: string
  objectId: string | null
  expiresAt: string | null
  revokedAt: string | null
  /** Neither revoked nor expired now. */
  active: boolean
}

export function toGrantView (g: Grant, now = Date.now()): GrantView {
  return {
    grantId: g.id,
    owner: g.owner,
    grantee: g.grantee,
    context: g.context,
    type: g.type,
    allow: g.allow,
    objectId: g.objectId ?? null,
    expiresAt: g.expiresAt === undefined ? null : new Date(g.expiresAt).toISOString(),
    revokedAt: g.revokedAt === undefined ? null : new Date(g.revokedAt).toISOString(),
    active: g.revokedAt === undefined && (g.expiresAt === undefined || now < g.expiresAt)
  }
}

export class Permissions {
  readonly #store: TenantStore
  readonly #owner: Ed25519KeyPair | undefined
  readonly #keys: (() => CollectionKeys) | undefined

  constructor (args: { store: TenantStore, ownerKey: Ed25519KeyPair | undefined, keys?: () => CollectionKeys }) {
    this.#store = args.store
    this.#owner = args.ownerKey
    this.#keys = args.keys
  }

  #requireOwner (): Ed25519KeyPair {
    if (this.#owner === undefined) throw new PermissionsRequiredError('only a hub holding the owner key can grant or revoke')
    return this.#owner
  }

  async grant (input: GrantInput): Promise<{ grantId: string, commitId: string }> {
    const owner = this.#requireOwner()
    if (!isDid(input.grantee)) throw new BadRequestError('grantee must be a DID')
    if (typeof input.context !== 'string' || input.context === '' || typeof input.type !== 'string' || input.type === '') throw new BadRequestError('a grant needs a context and a type')
    if (typeof input.allow !== 'string' || !isValidAllow(input.allow) || input.allow === '----') throw new BadRequestError('allow must be a CRUD string such as -R--, CR-- or CRUD')
    if (input.grantee === owner.did) throw new BadRequestError('the owner needs no grant')
    if (input.grantee.startsWith('did:key:')) {
      // Checked before anything is written: sealing collection keys to the grantee needs its key.
      try { publicKeyFromDidKey(input.grantee) } catch (err) { throw new BadRequestError(`grantee: ${(err as Error).message}`) }
    }
    let expires: string | undefined
    if (input.expiresAt !== undefined) {
      const t = Date.parse(input.expiresAt)
      if (Number.isNaN(t)) throw new BadRequestError('expires_at must be an RFC 3339 time')
      if (t <= Date.now()) throw new BadRequestError('expires_at is in the past')
      expires = new Date(t).toISOString()
    }
    if (input.objectId !== undefined && !/^b[a-z2-7]{58}$/.test(input.objectId)) throw new BadRequestError('object_id must be an object id')
    const value: JsonObject = {
      '@context': HUB_NS,
      '@type': GRANT_TYPE,
      owner: owner.did,
      grantee: input.grantee,
      context: input.context,
      type: input.type,
      allow: input.allow,
      ...(input.objectId !== undefined ? { object_id: input.objectId } : {}),
      ...(expires !== undefined ? { expires_at: expires } : {})
    }
    const r = await this.#store.create({ iface: 'Permissions', value, context: HUB_NS, type: GRANT_TYPE, strategy: 'lww', signer: owner })
    // Reading an encrypted collection needs its key: seal the current keys to the grantee too.
    if (input.allow[1] === 'R' && input.objectId === undefined) await this.#keys?.().addReaders([input.grantee], { context: input.context, type: input.type })
    return { grantId: r.objectId, commitId: r.commitId }
  }

  /**
   * Revoke a grant. Idempotent: revoking a revoked grant changes nothing and
   * says so (`alreadyRevoked`, no new commit), so a retried revoke is safe.
   */
  async revoke (grantId: string): Promise<{ grantId: string, commitId: string | null, alreadyRevoked: boolean, revokedAt: string }> {
    const owner = this.#requireOwner()
    const g = this.#store.registry.grants().find(x => x.id === grantId)
    if (g === undefined) throw new NotFoundError(`no grant ${grantId}`)
    if (g.revokedAt !== undefined) return { grantId, commitId: null, alreadyRevoked: true, revokedAt: new Date(g.revokedAt).toISOString() }
    const r = await this.#store.revoke(g.id as Parameters<TenantStore['revoke']>[0], owner)
    // A revoked reader keeps the keys it has; commits from now on use a new key it is not sealed to.
    const keys = this.#keys?.()
    if (g.allow[1] === 'R' && keys?.current(g.context, g.type) !== undefined) await keys.rotate(g.context, g.type)
    return { grantId, commitId: r.commitId, alreadyRevoked: false, revokedAt: new Date().toISOString() }
  }

  list (opts: { grantee?: Did | string } = {}): GrantView[] {
    const now = Date.now()
    return this.#store.registry.grants()
      .filter(g => opts.grantee === undefined || g.grantee === opts.grantee)
      .map(g => toGrantView(g, now))
  }
}
