/**
 * Identity Hub — public API. The shim must stay the first import.
 */
import './shim.js'

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

// The app SDK: loads libp2p only on the first connect.
export * from './client/index.js'
