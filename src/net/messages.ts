/** Compiled validators for the wire messages; the schemas live in protocols/. */
import { protocolValidator } from '../protocol-schemas.js'
import type { CommitEnvelope } from '../commits/commit.js'

/**
 * `as`: the owner the puller pulls for, and its proof of being that owner's
 * device — `proof` (its DeviceAuthorization) to a hub of the same owner,
 * `attestation` (a short-lived device attestation, permissions/attestation.ts)
 * to another owner's hub. The schema requires at least one of them.
 */
export interface PullMessage {
  t: 'pull', v: 1, tenant: string, after: number, limit: number, wait: boolean, as?: { did: string, proof?: CommitEnvelope, attestation?: string }
  /** 1.1 only (protocols/sync.md, Restored hubs): the server's tag of the entry at `after`, as the batch that reached it gave it. */
  afterTag?: string
  /** 1.1 only: send also what was taken from the puller (it lost some). */
  echo?: boolean
  /** 1.1 only: the puller's own durable feed head. */
  mine?: number
}
export interface BatchMessage {
  t: 'batch', commits: CommitEnvelope[], last: number, head: number
  /** 1.1 only: the server's tag of its feed entry at `last` (absent when `last` is 0). */
  lastTag?: string
  /** 1.1 only: `after`/`afterTag` do not match the server's feed; pull again from 0. */
  reset?: true
}
export interface ErrorMessage { t: 'error', code: string, message: string }
export type SyncServerMessage = BatchMessage | ErrorMessage

export interface Invite { v: 1, owner: string, peer: string, addrs: string[], token: string, exp: number }
export interface JoinMessage { t: 'join', v: 1, token: string, role: 'owner-device' | 'blind', name?: string }
export interface WelcomeMessage { t: 'welcome', owner: string, role: 'owner-device' | 'blind', tenantSecret?: string, commits: CommitEnvelope[], addrs: string[] }
export type PairReply = WelcomeMessage | ErrorMessage

const get = protocolValidator

export const validatePull = get<PullMessage>('https://identity-hub.local/schemas/sync/v1#/definitions/pull')
export const validateSyncServerMessage = get<SyncServerMessage>('https://identity-hub.local/schemas/sync/v1#/definitions/serverMessage')
export const validatePull11 = get<PullMessage>('https://identity-hub.local/schemas/sync/v1#/definitions/pull11')
export const validateSyncServerMessage11 = get<SyncServerMessage>('https://identity-hub.local/schemas/sync/v1#/definitions/serverMessage11')
export const validateInvite = get<Invite>('https://identity-hub.local/schemas/pair/v1#/definitions/invite')
export const validateJoin = get<JoinMessage>('https://identity-hub.local/schemas/pair/v1#/definitions/join')
export const validatePairReply = get<PairReply>('https://identity-hub.local/schemas/pair/v1#/definitions/reply')
