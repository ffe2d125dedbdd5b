/**
 * The Profile interface: one public object per DID. Anyone may read it
 * (authorize() answers `public` for Profile reads); only the owner writes it.
 * `@context`/`@type` default to schema.org `Person` when the value has none.
 */
import { BadRequestError } from '../errors.js'
import type { Signer } from '../identity/keys.js'
import { checkJsonObject, contextAndType, type JsonObject } from '../objects/json.js'
import type { KvStore } from '../store/kv.js'
import { runQuery } from '../store/query.js'
import type { TenantStore } from '../store/tenant-store.js'
import { toView, type ObjectView, type WriteResult } from './views.js'

export const DEFAULT_PROFILE_CONTEXT = 'https://schema.org'
export const DEFAULT_PROFILE_TYPE = 'Person'

export class Profile {
  readonly #store: TenantStore
  readonly #kv: KvStore
  readonly #signer: Signer
  readonly #maxValueBytes: number

  constructor (args: { store: TenantStore, kv: KvStore, signer: Signer, maxValueBytes: number }) {
    this.#store = args.store
    this.#kv = args.kv
    this.#signer = args.signer
    this.#maxValueBytes = args.maxValueBytes
  }

  /** The profile, or null if the owner has not set one. */
  async get (): Promise<ObjectView | null> {
    const page = await runQuery(this.#kv, this.#store, { interface: 'Profile', limit: 1 })
    const first = page.objects[0]
    return first === undefined ? null : toView(first)
  }

  /** Set the whole profile value (creating it the first time). */
  async set (value: unknown): Promise<WriteResult & { changed: boolean }> {
    checkJsonObject(value, this.#maxValueBytes)
    const v: JsonObject = { '@context': DEFAULT_PROFILE_CONTEXT, '@type': DEFAULT_PROFILE_TYPE, ...(value as JsonObject) }
    const { context, type } = contextAndType(v)
    const current = await this.get()
    if (current === null) {
      const r = await this.#store.create({ iface: 'Profile', value: v, context, type, strategy: 'automerge', signer: this.#signer })
      return { objectId: r.objectId, commitId: r.commitId, changed: true }
    }
    if (current.context !== context || current.type !== type) throw new BadRequestError('the profile\'s "@context" and "@type" cannot change')
    const r = await this.#store.update(current.objectId, v, this.#signer)
    return { objectId: r.objectId, commitId: r.commitId, changed: r.changed }
  }
}
