/**
 * What the per-interface clients (collections, profile, permissions) need
 * of a HubClient: sending signed requests. Declared apart so they depend on
 * this, not on HubClient, which constructs them.
 */
import type { RequestInterface, RequestMethod } from '../request/token.js'
import type { Subscription, SubscriptionEvent } from './types.js'

export interface RequestOptions {
  timeoutMs?: number
}

export interface Requester {
  request: (iface: RequestInterface, method: RequestMethod, params: Record<string, unknown>, opts?: RequestOptions) => Promise<unknown>
  subscribeRequest: (params: Record<string, unknown>, onEvent: (e: SubscriptionEvent) => void | Promise<void>, opts?: RequestOptions) => Promise<Subscription>
}
