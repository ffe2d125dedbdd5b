/**
 * The client SDK (`identity-hub/client`): apps use an owner's hub over
 * /identity-hub/request/1.0.0. It loads libp2p but no store code. The shim
 * must stay the first import.
 */
import '../shim.js'

export { HubClient, CollectionsClient, ProfileClient, PermissionsClient, type HubClientOptions, type RequestOptions } from './hub-client.js'
export type {
  RemoteObject, RemoteWriteResult, RemoteUpdateResult, RemoteQueryPage, RemoteHistoryEntry,
  ClientQuery, ClientFilter, ClientFilterOp, ClientSortOrder,
  SubscribeQuery, Subscription, SubscriptionEvent, SubscriptionEnd, GrantParams, GrantResult, RevokeResult
} from './types.js'
export { REQUEST_PROTOCOL, MAX_REQUEST_FRAME_BYTES, DEFAULT_REQUEST_TIMEOUT_MS } from './constants.js'
export { readKeyFile, writeKeyFile, createKeyFile } from '#client/key-file'
export { openEnvelopes, decryptCommit, type EnvelopeRecord } from './decrypt.js'
export { Ed25519KeyPair, type Signer } from '../identity/keys.js'
export { BrowserKeyStore, DEFAULT_KEY_STORE_NAME, MAX_KEY_LABEL_LENGTH, type BrowserKeyInfo, type BrowserKeyBackup } from './browser-keys.js'
// The error classes, so an app can tell a refusal (`permissions_required`) from a lost connection (`unavailable`).
export { HubError, type ErrorCode } from '../errors.js'
