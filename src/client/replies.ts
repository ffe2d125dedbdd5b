/**
 * Checking what the hub answers. The SDK trusts nothing it receives: every
 * reply is checked for the shape its caller relies on, and a wrong one is a
 * `bad_request` ("the hub sent an unexpected …") rather than a TypeError
 * somewhere in the app. Also the request parameters these replies answer.
 */
import { BadRequestError, HubError } from '../errors.js'
import type { CommitId, ObjectId } from '../ids.js'
import { isJsonObject } from '../objects/json.js'
import { isStrategy } from './commits.js'
import type { ClientQuery, GrantResult, RemoteObject, RevokeResult, RemoteQueryPage, RemoteWriteResult, SubscribeQuery } from './types.js'

const OBJECT_ID = /^b[a-z2-7]{58}$/

/** An object id the app passed, checked before it is sent. */
export function objectIdParam (id: unknown): ObjectId {
  if (typeof id !== 'string' || !OBJECT_ID.test(id)) throw new BadRequestError('malformed object id')
  return id as ObjectId
}

export function unexpected (what: string): HubError {
  return new HubError('bad_request', `the hub sent an unexpected ${what}`)
}

export function asRecord (v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw unexpected(what)
  return v as Record<string, unknown>
}

export function asRemoteObject (v: unknown): RemoteObject {
  const o = asRecord(v, 'object view')
  if (typeof o.objectId !== 'string' || !Array.isArray(o.heads) || !o.heads.every(h => typeof h === 'string') || !isStrategy(o.strategy)) throw unexpected('object view')
  if (o.value !== null && o.value !== undefined && !isJsonObject(o.value)) throw unexpected('object value')
  return o as unknown as RemoteObject
}

export function asWriteResult (v: unknown): RemoteWriteResult {
  const o = asRecord(v, 'write result')
  if (typeof o.objectId !== 'string' || typeof o.commitId !== 'string') throw unexpected('write result')
  return { objectId: o.objectId as ObjectId, commitId: o.commitId as CommitId }
}

export function asPage (v: unknown): RemoteQueryPage {
  const o = asRecord(v, 'query result')
  if (!Array.isArray(o.objects)) throw unexpected('query result')
  const cursor = o.cursor === undefined || o.cursor === null ? null : o.cursor
  if (cursor !== null && typeof cursor !== 'string') throw unexpected('query cursor')
  return { objects: o.objects.map(asRemoteObject), cursor }
}

export function asGrantResult (v: unknown): GrantResult {
  const o = asRecord(v, 'grant result')
  if (typeof o.grantId !== 'string' || typeof o.commitId !== 'string') throw unexpected('grant result')
  return { grantId: o.grantId, commitId: o.commitId }
}

export function asRevokeResult (v: unknown): RevokeResult {
  const o = asRecord(v, 'revoke result')
  if (typeof o.grantId !== 'string' || (typeof o.commitId !== 'string' && o.commitId !== null)) throw unexpected('revoke result')
  return { grantId: o.grantId, commitId: o.commitId, alreadyRevoked: o.alreadyRevoked === true }
}

/** The query fields the hub knows, and only those that are set. */
export function queryParams (q: ClientQuery | SubscribeQuery): Record<string, unknown> {
  const p: Record<string, unknown> = {}
  for (const k of ['context', 'type', 'where', 'sort', 'limit', 'cursor'] as const) {
    const v = (q as Record<string, unknown>)[k]
    if (v !== undefined) p[k] = v
  }
  return p
}
