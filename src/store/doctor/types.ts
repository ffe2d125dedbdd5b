/**
 * The doctor's vocabulary: what it needs of a hub, its options, and the
 * problems and reports it hands back. Shared by every step of a check
 * (signed.ts, replay.ts, derived.ts, live-state.ts) and by doctor.ts.
 */
import type { Did } from '../../ids.js'
import type { KeyLookup } from '../../commits/commit.js'
import type { Ed25519KeyPair } from '../../identity/keys.js'
import type { KvStore } from '../kv.js'
import type { TenantStore } from '../tenant-store.js'

/** What the doctor needs of a Hub (structural, so store/ does not import hub.ts). */
export interface DoctorHub {
  /** The hub directory: the scratch store of a rebuild lives in it while the check runs. */
  readonly dir: string
  readonly did: Did
  readonly hubDid: Did
  readonly kv: KvStore
  readonly store: TenantStore
  readonly keys: { resolveKey: KeyLookup }
  /** The keys the hub opens key envelopes with (see `keyringFor`); a blind hub opens none. */
  readonly config: { readonly role: string }
  readonly hubKey: Ed25519KeyPair
  readonly ownerKey: Ed25519KeyPair | undefined
  tenant: (did: string) => Promise<TenantStore>
}

export interface DoctorOptions {
  /** Rewrite derived data that differs from the rebuilt store. Default false. */
  repair?: boolean
  /** Attempts when the hub keeps writing during a check. Default 3. */
  attempts?: number
}

export type ProblemCode =
  // signed data (reported, never repaired)
  | 'unparseable_commit' | 'id_mismatch' | 'bad_signature' | 'unverifiable_signature'
  | 'missing_commit' | 'orphan_commit' | 'duplicate_feed_entry' | 'replay_failed'
  // derived data (repaired)
  | 'missing_meta' | 'extra_meta' | 'meta_mismatch'
  | 'missing_object_log_entry' | 'extra_object_log_entry' | 'object_log_mismatch'
  | 'missing_index' | 'extra_index'
  | 'missing_permission_entry' | 'extra_permission_entry'
  | 'bad_snapshot' | 'orphan_snapshot'
  // in-memory state of the running hub
  | 'stale_registry' | 'stale_keyring'

export interface DoctorProblem {
  code: ProblemCode
  /** `signed`: commits and feed; `derived`: rewritable keys; `memory`: the live hub's state. */
  kind: 'signed' | 'derived' | 'memory'
  key?: string
  objectId?: string
  commitId?: string
  seq?: number
  detail: string
}

export interface TenantReport {
  tenant: string
  /** Stored commits (`c!`). */
  commits: number
  /** Feed entries (`f!`). */
  feed: number
  /** Objects in the rebuilt store. */
  objects: number
  /** What the (first) check found. */
  problems: DoctorProblem[]
  /** Derived keys written or deleted by the repair (0 without --repair). */
  repaired: number
  /** With --repair: what the check after the repair still finds. */
  remaining?: DoctorProblem[]
  clean: boolean
  notes: string[]
}

export interface DoctorReport {
  clean: boolean
  repair: boolean
  tenants: TenantReport[]
}

const SIGNED_CODES = new Set<ProblemCode>(['unparseable_commit', 'id_mismatch', 'bad_signature', 'unverifiable_signature', 'missing_commit', 'orphan_commit', 'duplicate_feed_entry', 'replay_failed'])
const MEMORY_CODES = new Set<ProblemCode>(['stale_registry', 'stale_keyring'])

/** Records a problem; its `kind` follows from its code, so no step can file one under the wrong kind. */
export type AddProblem = (p: Omit<DoctorProblem, 'kind'>) => void

/** A problem list and the one function every step adds to it with (in the order found). */
export function problemList (): { problems: DoctorProblem[], add: AddProblem } {
  const problems: DoctorProblem[] = []
  const add: AddProblem = p => {
    problems.push({ ...p, kind: SIGNED_CODES.has(p.code) ? 'signed' : MEMORY_CODES.has(p.code) ? 'memory' : 'derived' })
  }
  return { problems, add }
}
