/**
 * Identity Hub — public API. The shim must stay the first import.
 */
import './shim.js'
import { Hub } from './hub.js'
import { orgOf } from './org/hub-org.js'
import type { OrgStore } from './org/org-store.js'
import type { HolderVerification, VerifyHolderOptions } from './org/dcp/verify-client.js'
import type { VerificationReport, VerifyPresentationOptions } from './org/dcp/verifier.js'

export { Hub, readConfig, type HubConfig, type HubRole, type InitOptions, type InitResult, type OpenOptions } from './hub.js'
export * from './errors.js'
export type { Did, CommitId, ObjectId } from './ids.js'
export { Ed25519KeyPair, type Signer } from './identity/keys.js'
export { didKeyDocument, didKeyFromPublicKey, publicKeyFromDidKey, type DidDocument } from './identity/did-key.js'
export { createDidResolver, KeyResolver, didWebUrl } from './identity/resolver.js'
export { signCommit, parseCommit, verifyCommit, commitIdOf, type Commit, type CommitHeader, type CommitEnvelope, type CommitStrategy } from './commits/commit.js'
export { authorize, type AccessRequest, type Grant, type Decision } from './permissions/authorize.js'
export type { Query, QueryPage, Filter, SortOrder } from './store/query.js'
export type { ObjectView, WriteResult, HistoryEntry } from './interfaces/views.js'
export type { JsonObject, JsonValue } from './objects/json.js'
export { createLogger, type Logger } from './log.js'

// The organization half is attached to a hub from outside (docs/architecture.md, Layers).
export { orgOf, issuanceOf } from './org/hub-org.js'
// The DCP verifier: ask a holder for credentials and check the answer (`hub dcp verify`).
// Loaded on first call: it pulls in the DCP schema compiler (~90 ms), which most embedders never need.
export type { VerifyHolderOptions, HolderVerification } from './org/dcp/verify-client.js'
export type {
  FindingCode, Problem as VerificationFinding, CheckResult, VerificationReport, PresentationReport, CredentialReport,
  VerifyPresentationOptions, CredentialStatusSource
} from './org/dcp/verifier.js'
/** Query a holder's CredentialService as participant `opts.verifierPid` and verify the answer (org/dcp/verify-client.ts). */
export async function verifyHolder (org: OrgStore, opts: VerifyHolderOptions): Promise<HolderVerification> {
  const m = await import('./org/dcp/verify-client.js')
  return await m.verifyHolder(org, opts)
}
/** Verify a PresentationResponseMessage (org/dcp/verifier.ts): a report of findings, never an exception for what the holder sent. */
export async function verifyPresentationResponse (msg: unknown, opts: VerifyPresentationOptions): Promise<VerificationReport> {
  const m = await import('./org/dcp/verifier.js')
  return await m.verifyPresentationResponse(msg, opts)
}

// The app SDK: loads libp2p only on the first connect.
export * from './client/index.js'

// Deprecated alias, for embedders of the package: `hub.org` is `orgOf(hub)`.
// Defined here, at the public entry point, because the personal datastore
// (hub.ts) must not import the organization half.
declare module './hub.js' {
  interface Hub {
    /** @deprecated use `orgOf(hub)` (identity-hub). */
    readonly org: OrgStore
  }
}
Object.defineProperty(Hub.prototype, 'org', {
  configurable: true,
  get (this: Hub): OrgStore { return orgOf(this) }
})
