/**
 * How commits become an object's value: one more commit at a time
 * (`materialize`, on every write) or all valid commits from scratch
 * (`foldObject`, when a revocation or a rival change recomputes an object),
 * and the index keys that follow from it. Pure but for the index writes
 * staged in a transaction.
 */
import { HubError, BadRequestError } from '../errors.js'
import type { ObjectId } from '../ids.js'
import { committedAtMs, lwwCompare, type Commit } from '../commits/commit.js'
import { utf8d } from '../identity/encoding.js'
import { applyDocChanges, docValue, freeDoc, loadDoc, valueOfCreateChange } from '../objects/automerge.js'
import { checkJsonObject, isJsonObject, type JsonObject } from '../objects/json.js'
import { intersectAccepted } from '../permissions/revocation.js'
import type { Layout } from './layout.js'
import { checkNames, indexKeys, revocationOf, type ObjectMeta } from './object-meta.js'
import type { CollectionPairs } from './collection-pairs.js'
import type { Tx } from './write-queue.js'

/** A value the writing hub computed itself (and, for Automerge, already applied to the cached document). */
export interface LocalValue { value?: JsonObject, docApplied?: boolean }

/** What folding needs from the store: the names a sealed commit's key gives, its plaintext, our Automerge actor. */
export interface FoldInit {
  names: (enc: string) => { context: string, type: string } | undefined
  plaintext: (c: Commit) => Commit | undefined
  actor: string
}

const EMPTY = new Uint8Array(0)

/**
 * Compute an object's new plaintext value from one more commit (`meta` is
 * the object after it, `prev` before). The same checks run whoever built the
 * commit and whether or not it wins, so every hub judges a commit alike.
 */
export function materialize (commit: Commit, meta: ObjectMeta, prev: ObjectMeta | undefined, at: number, maxValueBytes: number, local?: LocalValue): void {
  const h = commit.header
  if (meta.strategy === 'lww') {
    const mine = { id: commit.id, at }
    let value: JsonObject | undefined
    if (h.operation !== 'delete') {
      let parsed: unknown
      try {
        parsed = local?.value ?? JSON.parse(utf8d.decode(commit.payload))
      } catch {
        throw new BadRequestError('lww commit payload is not JSON', { commitId: commit.id })
      }
      if (!isJsonObject(parsed)) throw new BadRequestError('lww commit payload is not a JSON object', { commitId: commit.id })
      // The same checks as a local write, and whether or not this write wins
      // the LWW order, so every hub judges a commit alike in any arrival order.
      if (local?.value === undefined) checkJsonObject(parsed, maxValueBytes)
      checkNames(parsed, meta, commit.id)
      value = parsed
    }
    if (meta.interface === 'Permissions' && (h.operation === 'delete' || prev?.deleted === true)) {
      // A revocation is causal, never a time: it wins over the grant or
      // authorization whatever the clocks say, and stays final. Two
      // revocations of one object keep what both name (each revoking hub
      // named only what it held), in whichever order they arrive.
      if (h.operation !== 'delete') return
      const newer = prev?.lww === undefined || lwwCompare(mine, prev.lww) > 0
      if (newer) meta.lww = mine
      meta.deleted = true
      const named = revocationOf(commit.payload)
      const kept = prev?.deleted === true ? intersectAccepted(prev.revocation ?? '', named ?? '') : named
      if (kept !== undefined) meta.revocation = kept
      return
    }
    if (prev?.lww !== undefined && lwwCompare(mine, prev.lww) < 0) return // an older write: history only
    meta.lww = mine
    if (h.operation === 'delete') {
      meta.deleted = true
      delete meta.value
      return
    }
    meta.value = value
    meta.deleted = false
    return
  }
  // automerge: delete is a tombstone that wins over concurrent updates.
  // A revoked grant keeps its last value so the registry knows what was revoked.
  if (h.operation === 'delete') {
    meta.deleted = true
    if (meta.interface !== 'Permissions') delete meta.value
    return
  }
  if (h.operation === 'create') {
    if (local?.value !== undefined) {
      meta.value = local.value
      return
    }
    meta.value = valueOfCreateChange(commit.payload)
    checkJsonObject(meta.value, maxValueBytes)
    return
  }
  if (local?.docApplied !== true || local.value === undefined) {
    throw new HubError('internal', 'an automerge update must be applied to its document first')
  }
  // Updates concurrent with a delete are kept in history; the object stays
  // deleted. Its value is still checked, as on a hub that got it before the delete.
  if (!meta.deleted) meta.value = local.value
  else checkNames(local.value, meta, commit.id)
}

/**
 * An object's meta computed from scratch from its valid commits (creation
 * first, in ingest order): what a hub that never saw the others holds. Used
 * for Collections objects a revocation or a rival change recomputes.
 */
export function foldObject (objectId: ObjectId, valid: Commit[], logLength: number, how: FoldInit): ObjectMeta {
  const create = valid[0] as Commit
  const h = create.header
  const iso = (c: Commit): string => new Date(committedAtMs(c.header)).toISOString()
  const deps = new Set(valid.flatMap(c => c.header.deps))
  const meta: ObjectMeta = {
    objectId,
    interface: h.interface,
    ...(h.context !== undefined ? { context: h.context } : {}),
    ...(h.type !== undefined ? { type: h.type } : {}),
    ...(h.tag !== undefined ? { tag: h.tag } : {}),
    strategy: h.commit_strategy,
    heads: valid.map(c => c.id).filter(id => !deps.has(id)).sort(),
    deleted: false,
    createdAt: iso(create),
    updatedAt: valid.map(iso).reduce((a, b) => b > a ? b : a),
    createdBy: create.signer,
    commits: logLength
  }
  const named = h.enc === undefined ? undefined : how.names(h.enc)
  if (named !== undefined) { meta.context = named.context; meta.type = named.type }
  const plains = valid.map(c => how.plaintext(c))
  if (meta.strategy === 'lww') {
    let win = valid[0] as Commit
    for (const c of valid) if (lwwCompare({ id: c.id, at: committedAtMs(c.header) }, { id: win.id, at: committedAtMs(win.header) }) > 0) win = c
    meta.lww = { id: win.id, at: committedAtMs(win.header) }
    meta.deleted = win.header.operation === 'delete'
    const plain = plains[valid.indexOf(win)]
    if (!meta.deleted && plain !== undefined) {
      const value: unknown = JSON.parse(utf8d.decode(plain.payload))
      if (isJsonObject(value)) meta.value = value
    }
    return meta
  }
  meta.deleted = valid.some(c => c.header.operation === 'delete')
  if (!meta.deleted && plains.every(p => p !== undefined)) {
    const doc = applyDocChanges(loadDoc(undefined, how.actor), plains.filter(p => p.header.operation !== 'delete').map(p => p.payload))
    meta.value = docValue(doc)
    freeDoc(doc)
  }
  return meta
}

/**
 * Write only the index keys that change (creation-time keys never do), and
 * list the object's (context, type) pair if it is new: the pair list is
 * what a query by context or type merges, so it is kept here, next to the
 * sort entries it leads to, for every writer of a meta (a commit applied, a
 * revocation's recompute) rather than by each caller.
 */
export function reindex (tx: Tx, layout: Layout, pairs: CollectionPairs, prev: ObjectMeta | undefined, next: ObjectMeta | undefined): void {
  pairs.stage(tx, next)
  const before = new Set(indexKeys(layout, prev))
  const after = indexKeys(layout, next)
  for (const k of after) {
    if (before.has(k)) before.delete(k)
    else tx.put(k, EMPTY)
  }
  for (const k of before) tx.del(k)
}

/**
 * The object's meta after one more checked commit (`prev` before it;
 * undefined for a create): heads, counts, times, the names a sealed commit's
 * key gives, and the materialized value — with the store's own invariant
 * that a readable value names the collection its header says.
 */
export function nextMeta (commit: Commit, prev: ObjectMeta | undefined, local: LocalValue | undefined, how: FoldInit, maxValueBytes: number): ObjectMeta {
  const h = commit.header
  const at = committedAtMs(h)
  const committedAt = new Date(at).toISOString()
  let meta: ObjectMeta
  if (prev === undefined) {
    meta = {
      objectId: commit.objectId,
      interface: h.interface,
      ...(h.context !== undefined ? { context: h.context } : {}),
      ...(h.type !== undefined ? { type: h.type } : {}),
      ...(h.tag !== undefined ? { tag: h.tag } : {}),
      strategy: h.commit_strategy,
      heads: [commit.id],
      deleted: false,
      createdAt: committedAt,
      updatedAt: committedAt,
      createdBy: commit.signer,
      commits: 1
    }
  } else {
    const deps = new Set<string>(h.deps)
    meta = {
      ...prev,
      heads: [...prev.heads.filter(x => !deps.has(x)), commit.id].sort(),
      updatedAt: committedAt > prev.updatedAt ? committedAt : prev.updatedAt,
      commits: prev.commits + 1
    }
  }

  // A hub holding the collection's key knows its names and reads the value;
  // a blind hub keeps only the tag, and no value.
  const named = h.enc === undefined ? undefined : how.names(h.enc)
  if (named !== undefined) { meta.context = named.context; meta.type = named.type }
  const plain = local !== undefined ? commit : how.plaintext(commit)
  if (plain !== undefined) materialize(plain, meta, prev, at, maxValueBytes, local)
  else delete meta.value
  // The store's own invariant, whoever built the commit: a readable value
  // names the collection its header (or, sealed, its key) says it is in.
  if (meta.value !== undefined && !meta.deleted && h.operation !== 'delete') checkNames(meta.value, meta, commit.id)
  return meta
}
