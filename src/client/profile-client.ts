/** The Profile API of HubClient: the owner's public profile, readable by anyone. */
import { asRemoteObject } from './replies.js'
import type { RequestOptions, Requester } from './requester.js'
import type { RemoteObject } from './types.js'

export class ProfileClient {
  readonly #client: Requester
  constructor (client: Requester) { this.#client = client }

  /** The owner's public profile, or null if none is set. Anyone may read it. */
  async read (opts: RequestOptions = {}): Promise<RemoteObject | null> {
    const r = await this.#client.request('Profile', 'read', {}, opts)
    return r === null ? null : asRemoteObject(r)
  }
}
