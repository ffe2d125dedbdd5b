/**
 * What the client SDK sends and receives. Object views are the hub's wire
 * type (src/objects/view.ts, types only): the client layer loads no store
 * code. Names carry a `Client`/`Remote` prefix so that the package
 * root can re-export both sides without clashes.
 */
import type { CommitId, Did, ObjectId } from '../ids.js'
import type { Filter, FilterOp, ObjectView, SortOrder } from '../objects/view.js'

/** An object as the hub returns it from read, query and subscriptions (the hub's own wire type). */
export type RemoteObject = ObjectView

export interface RemoteWriteResult {
  objectId: ObjectId
  commitId: CommitId
}

export interface RemoteUpdateResult extends RemoteWriteResult {
  /** False when the new value equals the current one: nothing was sent. */
  changed: boolean
}

/** The hub's own filter and order types (wire types, src/objects/view.ts). */
export type ClientFilterOp = FilterOp
export type ClientFilter = Filter
export type ClientSortOrder = SortOrder

export interface ClientQuery {
  /** Both `context` and `type` are required unless the caller is the owner. */
  context?: string
  type?: string
  where?: ClientFilter[]
  sort?: ClientSortOrder
  /** 1–1000; the hub's default is 100. */
  limit?: number
  cursor?: string
}

export interface RemoteQueryPage {
  objects: RemoteObject[]
  cursor: string | null
}

export interface RemoteHistoryEntry {
  commitId: CommitId
  operation: string
  committedAt: string
  signer: Did
  envelope: { protected: string, payload: string, signature: string }
  /**
   * True when the client checked the signature itself (signers that are
   * did:key); false when it could not resolve the signer's key locally.
   * A signature that does not verify is an `authentication_failed` error.
   */
  verified: boolean
}

export interface SubscribeQuery {
  context: string
  type: string
  where?: ClientFilter[]
  limit?: number
}

export interface SubscriptionEvent {
  kind: 'changed' | 'deleted'
  object: RemoteObject
}

export interface SubscriptionEnd {
  /**
   * Why it ended: the hub's code (e.g. `permissions_required` after a
   * revocation), `unavailable` when the connection was lost or the client
   * closed, `internal` when the onEvent handler threw; absent after `close()`.
   */
  code?: string
  message?: string
}

export interface Subscription {
  /** The objects matching the query when the subscription started. */
  readonly initial: RemoteObject[]
  /** Resolves once the subscription is over: ended by the hub, closed by us, or the connection lost. */
  readonly ended: Promise<SubscriptionEnd>
  /** Cancel it (sends `cancel`); `ended` then resolves with `{}`. */
  close (): Promise<void>
}

export interface GrantParams {
  grantee: string
  context: string
  type: string
  /** DIF CRUD string: `C`, `R`, `U`, `D` or `-` in that order, e.g. `CRUD`, `-R--`. */
  allow: string
  objectId?: string
  /** When the grant stops working: an ISO date, a Date or milliseconds since the epoch. */
  expiresAt?: string | Date | number
}

export interface GrantResult {
  grantId: string
  commitId: string
}

/** A revocation: `alreadyRevoked` (and no new commit) when the grant was revoked before. */
export interface RevokeResult {
  grantId: string
  commitId: string | null
  alreadyRevoked: boolean
}
