/** Protocol ids and the limits every hub enforces on its peers. */
import { RECONNECT_BACKOFF } from './backoff.js'
/** Sync as every hub spoke it first; still served, and spoken with a peer that has nothing newer. */
export const SYNC_PROTOCOL = '/identity-hub/sync/1.0.0'
/** Sync with feed tags, reset and echo (protocols/sync.md, Restored hubs). */
export const SYNC_PROTOCOL_1_1 = '/identity-hub/sync/1.1.0'
/** What a hub serves and dials, preferred first (multistream-select picks the first the peer handles). */
export const SYNC_PROTOCOLS = [SYNC_PROTOCOL_1_1, SYNC_PROTOCOL]
export const PAIR_PROTOCOL = '/identity-hub/pair/1.0.0'
export const REQUEST_PROTOCOL = '/identity-hub/request/1.0.0'
/**
 * Largest request or reply frame on /identity-hub/request/1.0.0. A 1 MiB
 * commit, base64url in a JWS, fits. Declared here, at the net layer, so a
 * hub node can speak the request protocol without importing request/ (which
 * sits below net); request/server.ts and client/constants.ts hold the same
 * value and src/net/constants.test.ts keeps them equal.
 */
export const MAX_REQUEST_FRAME_BYTES = 3 * 1024 * 1024
/** Request streams one connection may open at once. */
export const MAX_INBOUND_REQUEST_STREAMS = 8
/**
 * Requests one remote peer (all its connections and streams together) may
 * make per second, sustained. Past it, requests are answered `unavailable`
 * ("rate limit") without being verified; the stream stays open.
 */
export const REQUEST_RATE_PER_SECOND = 200
/**
 * Requests one peer may make at once after being idle (the token bucket's
 * size): two seconds of the sustained rate, room for an app's start-up
 * (connect, read its collections, subscribe) without letting one peer queue
 * thousands of signature checks at once. Whoever starts the node may pass
 * another (startHubNode's `requestRateLimit`); the requests benchmark does,
 * for its ~550 back-to-back requests on one client.
 */
export const REQUEST_BURST = 2 * REQUEST_RATE_PER_SECOND
export const DHT_PROTOCOL = '/identity-hub/kad/1.0.0'

/** Largest frame (one JSON message) a hub reads. A batch never exceeds it. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** A batch stops growing past this many bytes of commits (one commit may still be up to 1 MiB). */
export const MAX_BATCH_BYTES = 2 * 1024 * 1024
/** Commits per batch a puller asks for. */
export const BATCH_COMMITS = 500
/** A waiting pull is answered (empty) after this long, so both ends know the other is alive. */
export const LONG_POLL_MS = 25_000
/** Sync streams one connection may open to us at once (one per tenant is normal). */
export const MAX_INBOUND_SYNC_STREAMS = 4
/** How long a single frame may take to arrive once a reply is due. */
export const REPLY_TIMEOUT_MS = LONG_POLL_MS + 15_000
/** Reconnection backoff for known devices (the policy lives in backoff.ts). */
export const RECONNECT_MIN_MS = RECONNECT_BACKOFF.minMs
export const RECONNECT_MAX_MS = RECONNECT_BACKOFF.maxMs
/** How often a hub re-announces and looks itself up in the DHT. */
export const DISCOVERY_INTERVAL_MS = 30_000
/** Default invite lifetime. */
export const INVITE_TTL_MS = 15 * 60_000
