/**
 * The commits an app signs: the hub cannot sign for it, and every hub that
 * later receives a commit checks the app's signature against the owner's
 * grant. Pure functions over the commit and object layers.
 */
import { platformCrypto } from '#platform/crypto'
import { BadRequestError } from '../errors.js'
import type { CommitId, Did, ObjectId } from '../ids.js'
import type { Commit, CommitStrategy, UnsignedHeader } from '../commits/commit.js'
import type { ContentKey } from '../encryption/content-keys.js'
import { collectionFields, signSealed } from '../encryption/commit-seal.js'
import type { Signer } from '../identity/keys.js'
import { hex, utf8 } from '../identity/encoding.js'
import { createChange } from '../objects/automerge.js'
import type { JsonObject } from '../objects/json.js'

/** A fresh Automerge actor (hex). One per client, so two processes of one app never reuse a sequence number. */
export function randomActor (): string {
  return hex(platformCrypto.randomBytes(16))
}

/** What an update or delete commit must repeat from the object it targets. */
export interface CommitTarget {
  objectId: ObjectId
  context: string
  type: string
  strategy: CommitStrategy
  heads: CommitId[]
}

export function isStrategy (s: unknown): s is CommitStrategy {
  return s === 'automerge' || s === 'lww'
}

/** A create commit for `value` (already checked), signed by the app; sealed under `key` for an encrypted collection. */
export function createCommit (args: { signer: Signer, owner: Did, value: JsonObject, context: string, type: string, strategy: CommitStrategy, actor: string, committedAt: string, key?: ContentKey }): Commit {
  if (!isStrategy(args.strategy)) throw new BadRequestError('strategy must be automerge or lww')
  const fields: UnsignedHeader = {
    interface: 'Collections',
    ...collectionFields(args.context, args.type, args.key),
    operation: 'create',
    committed_at: args.committedAt,
    commit_strategy: args.strategy,
    sub: args.owner,
    deps: []
  }
  const payload = args.strategy === 'automerge' ? createChange(args.value, args.actor) : utf8.encode(JSON.stringify(args.value))
  return signSealed(fields, payload, args.signer, args.key)
}

/** An update (payload: an Automerge change or the whole LWW value) or delete (empty payload) of `target`. */
export function followUpCommit (args: { signer: Signer, owner: Did, target: CommitTarget, operation: 'update' | 'delete', payload: Uint8Array, committedAt: string, key?: ContentKey }): Commit {
  const t = args.target
  if (t.heads.length === 0) throw new BadRequestError('the object has no heads')
  const fields: UnsignedHeader = {
    interface: 'Collections',
    ...collectionFields(t.context, t.type, args.key),
    operation: args.operation,
    committed_at: args.committedAt,
    commit_strategy: t.strategy,
    sub: args.owner,
    object_id: t.objectId,
    deps: [...t.heads].sort()
  }
  return signSealed(fields, args.payload, args.signer, args.key)
}
