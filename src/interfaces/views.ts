/** What reads return: an object's value with its metadata. */
import type { CommitId, Did, ObjectId } from '../ids.js'
import type { ObjectMeta } from '../store/object-meta.js'
import type { ObjectView } from '../objects/view.js'

export type { ObjectView } from '../objects/view.js'

export function toView (m: ObjectMeta): ObjectView {
  return {
    objectId: m.objectId,
    interface: m.interface,
    context: m.context ?? null,
    type: m.type ?? null,
    tag: m.tag ?? null,
    value: m.value ?? null,
    heads: m.heads,
    strategy: m.strategy,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
    createdBy: m.createdBy,
    commits: m.commits,
    deleted: m.deleted
  }
}

export interface WriteResult {
  objectId: ObjectId
  commitId: CommitId
}

export interface HistoryEntry {
  commitId: CommitId
  operation: string
  committedAt: string
  signer: Did
  envelope: { protected: string, payload: string, signature: string }
}
