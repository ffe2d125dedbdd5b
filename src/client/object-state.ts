/**
 * What an update or delete must know about an object before it signs: its
 * current heads (the new commit's deps) and, for an Automerge update, the
 * document at exactly those heads — fetched from the hub, which never signs
 * for the app.
 */
import { ConflictError, NotFoundError } from '../errors.js'
import { asCommitId, type CommitId, type ObjectId } from '../ids.js'
import { fromB64 } from '../identity/encoding.js'
import type { CommitTarget } from './commits.js'
import { asRecord, asRemoteObject, unexpected } from './replies.js'
import type { RequestOptions, Requester } from './requester.js'
import type { RemoteObject } from './types.js'

/** Retries of read → export → read when the object changes in between. */
const STATE_ATTEMPTS = 4

export interface ObjectState {
  view: RemoteObject
  target: CommitTarget
  /** The Automerge document at exactly `target.heads` (automerge objects, when asked for). */
  docBytes?: Uint8Array
}

export async function readObject (client: Requester, oid: ObjectId, opts: RequestOptions = {}): Promise<RemoteObject> {
  return asRemoteObject(await client.request('Collections', 'read', { objectId: oid }, opts))
}

/** The object's Automerge document, and the heads it is at when the hub says so. */
export async function exportObject (client: Requester, oid: ObjectId, opts: RequestOptions = {}): Promise<{ bytes: Uint8Array, heads?: CommitId[] }> {
  const r = asRecord(await client.request('Collections', 'export', { objectId: oid }, opts), 'export result')
  if (typeof r.data !== 'string') throw unexpected('export result')
  const bytes = fromB64(r.data)
  const heads = Array.isArray(r.heads) && r.heads.length > 0 && r.heads.every(h => typeof h === 'string') ? r.heads.map(h => asCommitId(h as string)) : undefined
  return heads !== undefined ? { bytes, heads } : { bytes }
}

function sameHeads (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  const s = new Set(a)
  return b.every(x => s.has(x))
}

/**
 * The object's current heads (and, for an automerge update, its document
 * at exactly those heads). `read` gives the strategy and heads; `export`
 * the document. If the export carries its own `heads` they are used;
 * otherwise a second `read` confirms the heads did not move meanwhile
 * (the set of commits only grows, so equal heads mean the same commits),
 * retrying a few times before giving up with `conflict`.
 */
export async function fetchState (client: Requester, oid: ObjectId, withDoc: boolean): Promise<ObjectState> {
  let view = await readObject(client, oid)
  for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt++) {
    if (view.deleted) throw new NotFoundError(`object ${oid} was deleted`, { objectId: oid, deleted: true })
    if (view.context === null || view.type === null) throw new ConflictError('this object has no readable context and type (encrypted?)')
    const target: CommitTarget = { objectId: oid, context: view.context, type: view.type, strategy: view.strategy, heads: [...view.heads] }
    if (!withDoc || view.strategy !== 'automerge') return { view, target }
    const exp = await exportObject(client, oid)
    if (exp.heads !== undefined) return { view, target: { ...target, heads: exp.heads }, docBytes: exp.bytes }
    const again = await readObject(client, oid)
    if (sameHeads(view.heads, again.heads)) return { view: again, target, docBytes: exp.bytes }
    view = again
  }
  throw new ConflictError(`object ${oid} kept changing while the client was reading it; try again`)
}
