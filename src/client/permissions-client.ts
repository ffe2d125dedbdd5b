/** The Permissions API of HubClient: grants, answered only when the caller is the owner. */
import { BadRequestError } from '../errors.js'
import type { JsonObject } from '../objects/json.js'
import { isJsonObject } from '../objects/json.js'
import { asGrantResult, asRecord, asRevokeResult, unexpected } from './replies.js'
import type { RequestOptions, Requester } from './requester.js'
import type { GrantParams, GrantResult, RevokeResult } from './types.js'

/** Grants; the hub answers these only when the caller is the owner. */
export class PermissionsClient {
  readonly #client: Requester
  constructor (client: Requester) { this.#client = client }

  async grant (g: GrantParams, opts: RequestOptions = {}): Promise<GrantResult> {
    const params: Record<string, unknown> = { grantee: g.grantee, context: g.context, type: g.type, allow: g.allow }
    if (g.objectId !== undefined) params.object_id = g.objectId
    if (g.expiresAt !== undefined) {
      const t = g.expiresAt instanceof Date ? g.expiresAt.getTime() : typeof g.expiresAt === 'number' ? g.expiresAt : Date.parse(g.expiresAt)
      if (!Number.isFinite(t)) throw new BadRequestError('expiresAt must be a date')
      params.expires_at = new Date(t).toISOString()
    }
    return asGrantResult(await this.#client.request('Permissions', 'grant', params, opts))
  }

  async revoke (grantId: string, opts: RequestOptions = {}): Promise<RevokeResult> {
    return asRevokeResult(await this.#client.request('Permissions', 'revoke', { grantId }, opts))
  }

  async list (opts: RequestOptions = {}): Promise<{ grants: JsonObject[] }> {
    const r = asRecord(await this.#client.request('Permissions', 'list', {}, opts), 'grant list')
    if (!Array.isArray(r.grants) || !r.grants.every(isJsonObject)) throw unexpected('grant list')
    return { grants: r.grants }
  }
}
