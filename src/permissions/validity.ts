/**
 * Commit validity: may this signed commit be part of the owner's data? A pure
 * function of the commit's facts, the acceptance it carries and the owner's
 * grants and devices (revoked ones included, with the sets their revocations
 * name). Every hub evaluates it the same way on every ingest path, so all
 * hubs that have seen the same Permissions objects agree on the valid set.
 *
 * The rule (protocols/sync.md, "Revocation"):
 *  - the owner's own signature is always valid;
 *  - a device's signature is valid while the device is authorized, and after
 *    its revocation only for the commits the revocation names;
 *  - anyone else's (a grantee's) commit is valid only with an acceptance by an
 *    owner device that is trusted the same way, under a grant that allowed it
 *    at the acceptance's time (the acceptor's clock, not the signer's) and
 *    that is either still live or revoked naming this commit — the grant the
 *    acceptance names, when it names one — and whose `committed_at` is at
 *    most {@link MAX_AHEAD_OF_ACCEPTANCE_MS} ahead of the acceptance's time.
 * The signer's clock decides nothing but that bound: LWW orders commits by
 * `committed_at`, so without it an app could date a write in the year 9999
 * and pin the value against every later write of the owner.
 */
import type { InterfaceName } from '../commits/commit.js'
import type { Did, ObjectId } from '../ids.js'
import type { Acceptance } from './acceptance.js'
import { deviceAllows, grantAllows, type Action, type DeviceGrant, type Grant } from './authorize.js'

export interface CommitFacts {
  signer: Did
  owner: Did
  action: Action
  interface: InterfaceName
  /** The collection's names, where this hub knows them (absent on a blind hub for encrypted commits). */
  context?: string
  type?: string
  objectId?: ObjectId
  /** revocationDigest(commit id). */
  digest: string
  acceptance?: Acceptance
  /** The commit's `committed_at` (ms); checked against its acceptance's time when given. */
  committedAt?: number
}

/** How far a grantee's `committed_at` may run ahead of the clock of the hub that accepted it (the request tokens' lifetime). */
export const MAX_AHEAD_OF_ACCEPTANCE_MS = 5 * 60_000

export type Validity =
  | { valid: true, via: 'owner' | 'device' | 'grant', grantId?: string }
  /** `revoked`: invalid only because of a revocation — an honest hub may still hold it (quarantined, not a protocol violation). */
  | { valid: false, revoked: boolean, reason: string }

/** Live, or revoked with this commit named: the authorization still covers it. */
function covers (x: { revoked?: ReadonlySet<string> }, digest: string): boolean {
  return x.revoked === undefined || x.revoked.has(digest)
}

export function judgeCommit (f: CommitFacts, grants: readonly Grant[], devices: readonly DeviceGrant[]): Validity {
  if (f.signer === f.owner) return { valid: true, via: 'owner' }
  const req = { caller: f.signer, owner: f.owner, action: f.action, interface: f.interface, ...(f.context !== undefined ? { context: f.context } : {}), ...(f.type !== undefined ? { type: f.type } : {}), ...(f.objectId !== undefined ? { objectId: f.objectId } : {}), now: 0 }
  const mine = devices.filter(d => d.device === f.signer && deviceAllows(d.role, req))
  if (mine.length > 0) {
    if (mine.some(d => covers(d, f.digest))) return { valid: true, via: 'device' }
    return { valid: false, revoked: true, reason: 'its signer\'s device authorization was revoked before this commit was accepted' }
  }
  if (devices.some(d => d.device === f.signer)) return { valid: false, revoked: false, reason: `a device may not ${f.action} ${f.interface} objects` }
  if (f.interface !== 'Collections') return { valid: false, revoked: false, reason: `only the owner may ${f.action} ${f.interface} objects` }

  const a = f.acceptance
  if (a === undefined) return { valid: false, revoked: false, reason: 'a grantee\'s commit is valid only with an owner device\'s acceptance (it enters through the request protocol)' }
  const acceptors = devices.filter(d => d.device === a.by && d.role === 'owner-device')
  if (acceptors.length === 0) return { valid: false, revoked: false, reason: 'its acceptance is not by an owner device' }
  if (!acceptors.some(d => covers(d, f.digest))) return { valid: false, revoked: true, reason: 'its acceptor\'s device authorization was revoked before this commit was accepted' }
  if (f.committedAt !== undefined && f.committedAt > a.at + MAX_AHEAD_OF_ACCEPTANCE_MS) {
    return { valid: false, revoked: false, reason: 'its committed_at is more than 5 minutes ahead of the hub that accepted it' }
  }

  // Grants are evaluated at the acceptor's clock; revocation by the named set only.
  // When the acceptance names the grant it was accepted under, only that grant
  // counts: a grant made later (the app granted again after a revocation)
  // must not revive a commit the revocation cancelled, or hubs that quarantined
  // it before the new grant would disagree with hubs that receive it after.
  const at = { ...req, now: a.at }
  const named = f.context !== undefined && f.type !== undefined
  const candidates = named
    ? grants.filter(g => (a.grant === undefined || g.id === a.grant) && grantAllows({ ...g, revokedAt: undefined }, at))
    // A hub that cannot read the collection's names (a blind hub) follows the
    // grant the acceptor named, checking all it can: grantee, action, expiry, object.
    : grants.filter(g => g.id === a.grant && grantAllows({ ...g, revokedAt: undefined, context: '', type: '' }, { ...at, context: '', type: '' }))
  if (candidates.length === 0) return { valid: false, revoked: false, reason: 'no grant allowed it when it was accepted' }
  const live = candidates.find(g => covers(g, f.digest))
  if (live !== undefined) return { valid: true, via: 'grant', grantId: live.id }
  return { valid: false, revoked: true, reason: 'the grant that allowed it was revoked before this commit was accepted' }
}
