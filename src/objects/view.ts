/**
 * The wire form of an object: what reads, queries and subscriptions return,
 * on the hub (interfaces/views.ts builds it) and in the client SDK alike.
 * Types only, so the SDK can share it without loading store code.
 */
import type { CommitStrategy } from '../commits/schema.js'
import type { CommitId, Did, ObjectId } from '../ids.js'
import type { JsonObject, JsonPrimitive } from './json.js'

export interface ObjectView {
  objectId: ObjectId
  interface: string
  context: string | null
  type: string | null
  /** The collection tag when the object is in an encrypted collection (its commits name only this). */
  tag: string | null
  value: JsonObject | null
  heads: CommitId[]
  strategy: CommitStrategy
  createdAt: string
  updatedAt: string
  createdBy: Did
  commits: number
  deleted: boolean
}

/** Query filters and orders, as the hub's query and the SDK both take them. */
export type FilterOp = 'eq' | 'gt' | 'gte' | 'lt' | 'lte'
/** A filter on a top-level scalar field. */
export interface Filter { field: string, op: FilterOp, value: JsonPrimitive }
export type SortOrder = 'created' | '-created' | 'updated' | '-updated'
