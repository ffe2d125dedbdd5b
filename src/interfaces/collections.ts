/**
 * The Collections interface: the owner's JSON objects, each tagged by its
 * `@context` and `@type`. Every method parses its input, then acts on the
 * tenant store; authorization of non-owners happens at the request layer
 * through the same `authorize()` the store uses for commits.
 */
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js'
import { asObjectId, type ObjectId } from '../ids.js'
import { parseCommit, verifyCommit, type CommitStrategy, type KeyLookup } from '../commits/commit.js'
import type { Signer } from '../identity/keys.js'
import { createDoc, saveDoc, freeDoc } from '../objects/automerge.js'
import { checkJsonObject, contextAndType, type JsonObject } from '../objects/json.js'
import type { KvStore } from '../store/kv.js'
import { runQuery, type Query } from '../store/query.js'
import type { ObjectMeta, TenantStore } from '../store/tenant-store.js'
import type { CollectionKeys } from './collection-keys.js'
import { toView, type HistoryEntry, type ObjectView, type WriteResult } from './views.js'

const OBJECT_ID = /^b[a-z2-7]{58}$/

export function parseObjectId (id: unknown): ObjectId {
  if (typeof id !== 'string' || !OBJECT_ID.test(id)) throw new BadRequestError('malformed object id')
  return asObjectId(id)
}

export class Collections {
  readonly #store: TenantStore
  readonly #kv: KvStore
  readonly #signer: Signer
  readonly #maxValueBytes: number
  readonly #lookup: KeyLookup
  readonly #encryption: (() => CollectionKeys) | undefined

  constructor (args: { store: TenantStore, kv: KvStore, signer: Signer, maxValueBytes: number, lookup: KeyLookup, encryption?: () => CollectionKeys }) {
    this.#encryption = args.encryption
    this.#store = args.store
    this.#kv = args.kv
    this.#signer = args.signer
    this.#maxValueBytes = args.maxValueBytes
    this.#lookup = args.lookup
  }

  /**
   * Create an object. It is encrypted when its collection is (it has a
   * content key), or when `encrypt` is set — which makes the collection
   * encrypted from now on.
   */
  async create (value: unknown, opts: { strategy?: CommitStrategy, encrypt?: boolean, keepPlaintext?: boolean } = {}): Promise<WriteResult> {
    checkJsonObject(value, this.#maxValueBytes)
    const obj = value as JsonObject
    const { context, type } = contextAndType(obj)
    const strategy = opts.strategy ?? 'automerge'
    if (strategy !== 'automerge' && strategy !== 'lww') throw new BadRequestError('strategy must be automerge or lww')
    const keys = this.#encryption?.()
    const key = opts.encrypt === true
      ? await (keys ?? (() => { throw new BadRequestError('this hub cannot encrypt') })()).encrypt(context, type, { keepPlaintext: opts.keepPlaintext === true })
      : keys?.current(context, type)
    const r = await this.#store.create({ iface: 'Collections', value: obj, context, type, strategy, signer: this.#signer, ...(key !== undefined ? { key } : {}) })
    return { objectId: r.objectId, commitId: r.commitId }
  }

  /** Replace the whole value; the hub records the minimal change. */
  async update (id: string, value: unknown): Promise<WriteResult & { changed: boolean }> {
    const oid = parseObjectId(id)
    checkJsonObject(value, this.#maxValueBytes)
    const meta = await this.#live(oid)
    const { context, type } = contextAndType(value as JsonObject)
    if (context !== meta.context || type !== meta.type) throw new ConflictError('an update cannot change "@context" or "@type"')
    const r = await this.#store.update(oid, value as JsonObject, this.#signer)
    return { objectId: r.objectId, commitId: r.commitId, changed: r.changed }
  }

  /**
   * Edit in place: `fn` gets a mutable plain JSON copy of the value (as
   * `read` returns it) and the hub records what it changed — for the
   * automerge strategy the minimal edit, exactly as `update` would for the
   * same result (objects/automerge.ts, the one string rule). `@context`/`@type`
   * must not change.
   */
  async change (id: string, fn: (draft: Record<string, unknown>) => void): Promise<WriteResult & { changed: boolean }> {
    const oid = parseObjectId(id)
    const meta = await this.#live(oid)
    const r = await this.#store.update(oid, draft => {
      fn(draft)
      if (draft['@context'] !== meta.context || draft['@type'] !== meta.type) throw new ConflictError('a change cannot alter "@context" or "@type"')
    }, this.#signer)
    return { objectId: r.objectId, commitId: r.commitId, changed: r.changed }
  }

  async delete (id: string): Promise<WriteResult> {
    const oid = parseObjectId(id)
    await this.#live(oid)
    const r = await this.#store.delete(oid, this.#signer)
    return { objectId: r.objectId, commitId: r.commitId }
  }

  async read (id: string): Promise<ObjectView> {
    return toView(await this.#live(parseObjectId(id)))
  }

  async query (q: Omit<Query, 'interface'> = {}): Promise<{ objects: ObjectView[], cursor: string | null }> {
    const page = await runQuery(this.#kv, this.#store, { ...q, interface: 'Collections' })
    return { objects: page.objects.map(toView), cursor: page.cursor }
  }

  /** Every commit of the object (deleted ones too), each signature verified. */
  async history (id: string): Promise<{ commits: HistoryEntry[] }> {
    const oid = parseObjectId(id)
    const meta = await this.#store.getMeta(oid)
    if (meta === undefined || meta.interface !== 'Collections') throw new NotFoundError(`object ${oid} not found`, { objectId: oid })
    const ids = await this.#store.objectCommitIds(oid)
    const commits: HistoryEntry[] = []
    for (const cid of ids) {
      const env = await this.#store.getEnvelope(cid)
      if (env === undefined) throw new NotFoundError(`commit ${cid} is missing`)
      const c = parseCommit(env, Infinity)
      await verifyCommit(c, this.#lookup)
      commits.push({ commitId: c.id, operation: c.header.operation, committedAt: c.header.committed_at, signer: c.signer, envelope: c.envelope })
    }
    return { commits }
  }

  /** The object as a standard Automerge binary document. */
  async export (id: string): Promise<Uint8Array> {
    const oid = parseObjectId(id)
    const meta = await this.#store.getMeta(oid)
    if (meta === undefined || meta.interface !== 'Collections') throw new NotFoundError(`object ${oid} not found`, { objectId: oid })
    if (meta.value === undefined && !meta.deleted) throw new ConflictError('this hub cannot read the object')
    if (meta.strategy === 'automerge') return await this.#store.docBytes(meta)
    if (meta.value === undefined) throw new ConflictError('the object is deleted')
    const { doc } = createDoc(meta.value, '00')
    const bytes = saveDoc(doc)
    freeDoc(doc)
    return bytes
  }

  async #live (oid: ObjectId): Promise<ObjectMeta> {
    const meta = await this.#store.getMeta(oid)
    if (meta === undefined || meta.interface !== 'Collections') throw new NotFoundError(`object ${oid} not found`, { objectId: oid })
    if (meta.deleted) throw new NotFoundError(`object ${oid} was deleted`, { objectId: oid, deleted: true })
    return meta
  }
}
