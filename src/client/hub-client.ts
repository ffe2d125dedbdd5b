/**
 * HubClient: how an app (or another person, or the owner from elsewhere)
 * uses an owner's hub over /identity-hub/request/1.0.0.
 *
 * Every request is a JWS signed by the caller's DID key; every write is a
 * commit signed by that same key, built by this SDK from the app's value (an
 * Automerge change or, for LWW objects, the whole value). The hub only
 * verifies, authorizes and stores: it never signs for the app. This module
 * imports no store code.
 */
import { BadRequestError, HubError, TooLargeError } from '../errors.js'
import { asDid, isDid, type Did } from '../ids.js'
import type { Signer } from '../identity/keys.js'
import { signRequest, type RequestInterface, type RequestMethod } from '../request/token.js'
import { CollectionsClient } from './collections-client.js'
import { RequestConnection } from './connection.js'
import { DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_JWS_CHARS } from './constants.js'
import { PermissionsClient } from './permissions-client.js'
import { ProfileClient } from './profile-client.js'
import type { RequestOptions, Requester } from './requester.js'
import { openSubscription } from './subscription.js'
import type { Subscription, SubscriptionEvent } from './types.js'

// The per-interface clients live in their own modules; re-exported so this
// module keeps exporting everything it did.
export { CollectionsClient } from './collections-client.js'
export { PermissionsClient } from './permissions-client.js'
export { ProfileClient } from './profile-client.js'
export type { RequestOptions } from './requester.js'

export interface HubClientOptions {
  /** The hub's multiaddr, ending in `/p2p/<peer id>` (e.g. from `hub status --json`). */
  hub: string
  /** The caller's key: an app identity from `hub identity new`, or any Ed25519 key pair. */
  identity: Signer
  /** The owner DID whose hub and data are addressed. */
  owner: string
  /** Per-request timeout (and dial timeout); default 15 s. */
  timeoutMs?: number
}

export class HubClient implements Requester {
  /** The owner DID addressed. */
  readonly owner: Did
  /** The caller's DID (the signer of every request and commit). */
  readonly did: Did
  readonly collections: CollectionsClient
  readonly profile: ProfileClient
  readonly permissions: PermissionsClient
  readonly #conn: RequestConnection
  readonly #identity: Signer
  readonly #timeoutMs: number

  private constructor (conn: RequestConnection, identity: Signer, owner: Did, timeoutMs: number) {
    this.#conn = conn
    this.#identity = identity
    this.owner = owner
    this.did = identity.did
    this.#timeoutMs = timeoutMs
    this.collections = new CollectionsClient(this, identity, owner)
    this.profile = new ProfileClient(this)
    this.permissions = new PermissionsClient(this)
  }

  /** Dial the hub and open the request stream. Fails with `unavailable` if the hub cannot be reached. */
  static async connect (opts: HubClientOptions): Promise<HubClient> {
    if (typeof opts.owner !== 'string' || !isDid(opts.owner)) throw new BadRequestError('owner must be a DID')
    if (opts.identity === undefined || typeof opts.identity.sign !== 'function' || !isDid(opts.identity.did)) throw new BadRequestError('identity must be a key pair (Signer) with a DID')
    const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new BadRequestError('timeoutMs must be a positive number')
    const conn = await RequestConnection.open(opts.hub, timeoutMs)
    return new HubClient(conn, opts.identity, asDid(opts.owner), timeoutMs)
  }

  /** The hub's libp2p peer id. */
  get hubPeerId (): string { return this.#conn.hubPeerId }

  /**
   * Resolves when the connection is over: `undefined` after close(), else
   * the HubError that ended it (the hub hung up: `unavailable`; it sent a
   * message that breaks the protocol: `bad_request`). A closed client does
   * not reconnect: connect again.
   */
  get closed (): Promise<HubError | undefined> { return this.#conn.closed }

  /**
   * Send one signed request and wait for its reply. The typed methods
   * below are built on this; it is public for methods they do not cover.
   */
  async request (iface: RequestInterface, method: RequestMethod, params: Record<string, unknown>, opts: RequestOptions = {}): Promise<unknown> {
    const jws = this.#sign(iface, method, params)
    const ms = opts.timeoutMs ?? this.#timeoutMs
    return await new Promise<unknown>((resolve, reject) => {
      // Callbacks run only after `timer` is set: replies arrive asynchronously.
      const id = this.#conn.register({
        response: r => { clearTimeout(timer); resolve(r) },
        error: e => { clearTimeout(timer); reject(e) }
      })
      const timer = setTimeout(() => {
        this.#conn.forget(id)
        reject(new HubError('unavailable', `${iface}.${method} got no reply within ${ms} ms`))
      }, ms)
      this.#conn.sendRequest(id, jws).catch((err: unknown) => {
        clearTimeout(timer)
        this.#conn.forget(id)
        reject(err)
      })
    })
  }

  /** A live query: see CollectionsClient.subscribe. */
  async subscribeRequest (params: Record<string, unknown>, onEvent: (e: SubscriptionEvent) => void | Promise<void>, opts: RequestOptions = {}): Promise<Subscription> {
    return await openSubscription(this.#conn, this.#sign('Collections', 'subscribe', params), opts.timeoutMs ?? this.#timeoutMs, onEvent)
  }

  #sign (iface: RequestInterface, method: RequestMethod, params: Record<string, unknown>): string {
    const jws = signRequest(this.#identity, this.owner, iface, method, params)
    if (jws.length > MAX_REQUEST_JWS_CHARS) throw new TooLargeError(`the request is ${jws.length} characters, over the hub's ${MAX_REQUEST_JWS_CHARS}`, { limit: MAX_REQUEST_JWS_CHARS })
    return jws
  }

  /** Close the stream and stop the libp2p node. Open requests fail with `unavailable`; subscriptions end. */
  async close (): Promise<void> {
    await this.#conn.close()
  }
}
