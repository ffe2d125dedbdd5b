/**
 * Compiled validators for the commit formats. The JSON Schemas in
 * `protocols/` are the single source of truth; the TypeScript types below
 * mirror them and `commit.test.ts` checks the two agree.
 */
import { protocolValidator } from '../protocol-schemas.js'
import type { CommitId, Did, ObjectId } from '../ids.js'

export type InterfaceName = 'Collections' | 'Profile' | 'Permissions' | 'Keys'
export type Operation = 'create' | 'update' | 'delete'
export type CommitStrategy = 'automerge' | 'lww'

export interface CommitHeader {
  alg: 'EdDSA'
  kid: string
  interface: InterfaceName
  context?: string
  type?: string
  operation: Operation
  committed_at: string
  commit_strategy: CommitStrategy
  sub: Did
  object_id?: ObjectId
  deps: CommitId[]
  /** Content key id when the payload is a JWE (edge encryption). */
  enc?: string
  /** Opaque collection tag that replaces context/type on encrypted commits. */
  tag?: string
}

/** JWS flattened JSON serialization. */
export interface CommitEnvelope {
  protected: string
  payload: string
  signature: string
  /** Unprotected header: the acceptance of a grantee's commit (not signed by the commit's signer). */
  header?: { acc: string }
}

export const validateHeader = protocolValidator<CommitHeader>('https://identity-hub.local/schemas/commit-header/v1')
export const validateEnvelope = protocolValidator<CommitEnvelope>('https://identity-hub.local/schemas/commit-envelope/v1')

export function schemaErrorText (errors: typeof validateHeader.errors): string {
  const e = errors?.[0]
  return e === undefined ? 'invalid' : `${e.instancePath === '' ? '(root)' : e.instancePath} ${e.message ?? 'is invalid'}`
}
