/**
 * The checks every commit passes before it is written, on every path (local
 * write, request, sync, follow, doctor replay): owner, object, header
 * against the object, deps, and validity (permissions/validity.ts) with
 * what this hub knows of the collection's names. Returns the object's meta
 * before the commit, or why the commit must be quarantined; anything else
 * invalid throws a typed error.
 */
import { BadRequestError, MissingDepsError, NotFoundError, PermissionsRequiredError, WrongOwnerError } from '../errors.js'
import type { CommitId, Did, ObjectId } from '../ids.js'
import { committedAtMs, type Commit } from '../commits/commit.js'
import type { Keyring } from '../encryption/keyring.js'
import type { Acceptance } from '../permissions/acceptance.js'
import type { GrantRegistry } from '../permissions/registry.js'
import { revocationDigest } from '../permissions/revocation.js'
import { judgeCommit, type Validity } from '../permissions/validity.js'
import type { ObjectMeta } from './object-meta.js'
import type { Tx } from './write-queue.js'

export interface JudgeComponents {
  tenant: Did
  registry: GrantRegistry
  keyring: Keyring
}

export interface CheckComponents extends JudgeComponents {
  getMeta: (id: ObjectId, tx: Tx) => Promise<ObjectMeta | undefined>
  hasCommit: (id: CommitId, tx: Tx) => Promise<boolean>
  /** Known to exist without a read: in `existing` (read up front for a batch), applied since, or staged. */
  known: (id: string, tx: Tx, existing: Set<string>) => boolean
  /** Quarantined on disk or staged so in `tx`'s group. */
  quarantined: (id: string, tx: Tx) => boolean
}

/** The object before the commit, and either why to quarantine it or whether it needs an acceptance. */
export interface Checked { prev: ObjectMeta | undefined, quarantine?: string, needsAcceptance?: boolean }

/**
 * Owner, object, header, deps and validity checks. Returns the object's
 * meta before the commit, or why the commit must be quarantined (it relies
 * on a revocation that did not name it, or on a quarantined commit).
 * Anything else invalid throws.
 */
export async function checkCommit (k: CheckComponents, tx: Tx, commit: Commit, existing: Set<string> | undefined, acceptance: Acceptance | undefined): Promise<Checked> {
  const h = commit.header
  if (h.sub !== k.tenant) throw new WrongOwnerError(`commit is for ${h.sub}, not ${k.tenant}`, { commitId: commit.id })
  const prev = h.operation === 'create' ? undefined : await k.getMeta(commit.objectId, tx)
  // Building on a quarantined commit quarantines a commit that is otherwise
  // valid; it excuses nothing else (a stranger's commit is still refused).
  let quarantine: string | undefined
  if (h.operation !== 'create') {
    if (h.deps.some(d => k.quarantined(d, tx))) quarantine = 'it depends on a quarantined commit'
    if (prev === undefined) {
      if (!k.quarantined(commit.objectId, tx)) throw new NotFoundError(`object ${commit.objectId} not found`, { objectId: commit.objectId })
      quarantine ??= 'its object\'s creation is quarantined'
    }
    const sameCollection = prev === undefined || (h.tag !== undefined ? prev.tag === h.tag : (prev.tag === undefined && prev.context === h.context && prev.type === h.type))
    if (prev !== undefined && (prev.interface !== h.interface || !sameCollection || prev.strategy !== h.commit_strategy)) {
      throw new BadRequestError('commit header does not match its object (interface, context, type or strategy)', { commitId: commit.id })
    }
    const missing: CommitId[] = []
    // The object's heads are stored commits (a meta is written in the batch of
    // its head commits), so a dep among them needs no read: a local update's
    // deps are exactly the heads, and the read is a thread-pool round trip.
    const heads = prev === undefined ? undefined : new Set<string>(prev.heads)
    for (const d of h.deps) {
      const present = heads?.has(d) === true || (existing === undefined ? await k.hasCommit(d, tx) : k.known(d, tx, existing))
      if (!present) missing.push(d)
    }
    if (missing.length > 0) throw new MissingDepsError(`commit ${commit.id} depends on commits this hub does not have`, { commitId: commit.id, missing })
  }
  const v = judge(k, commit, h.operation === 'create' ? undefined : commit.objectId, acceptance)
  if (!v.valid) {
    if (!v.revoked) throw new PermissionsRequiredError(`signer may not ${h.operation} here: ${v.reason}`, { commitId: commit.id })
    return { prev, quarantine: quarantine ?? v.reason }
  }
  if (quarantine !== undefined) return { prev, quarantine }
  return { prev, needsAcceptance: v.via === 'grant' }
}

/** Commit validity (permissions/validity.ts) with what this hub knows of the collection's names. */
export function judge (k: JudgeComponents, commit: Commit, objectId: ObjectId | undefined, acceptance: Acceptance | undefined): Validity {
  const h = commit.header
  // An encrypted commit names only its collection tag; a hub holding the
  // key knows the names, and grants are checked against those. A blind
  // hub does not: it follows the grant the acceptance names.
  const names: { context?: string, type?: string } = h.tag === undefined ? h : (k.keyring.current(h.tag) ?? {})
  return judgeCommit({
    signer: commit.signer,
    owner: k.tenant,
    action: h.operation,
    interface: h.interface,
    ...(names.context !== undefined ? { context: names.context } : {}),
    ...(names.type !== undefined ? { type: names.type } : {}),
    ...(objectId !== undefined ? { objectId } : {}),
    digest: revocationDigest(commit.id),
    committedAt: committedAtMs(h),
    ...(acceptance !== undefined ? { acceptance } : {})
  }, k.registry.grants(), k.registry.devices())
}
