/**
 * The Collections API of HubClient. Every write is a commit this client
 * builds and signs with the app's key (an Automerge change, or the whole
 * value for LWW objects), sealed with the collection's newest key when the
 * collection is encrypted; an update or delete first fetches the object's
 * heads, so it needs R as well.
 */
import { AuthenticationError, BadRequestError, ConflictError, HubError } from '../errors.js'
import type { CommitId, Did } from '../ids.js'
import { parseCommit, verifyCommit, type Commit, type CommitStrategy } from '../commits/commit.js'
import type { Ed25519KeyPair, Signer } from '../identity/keys.js'
import type { ContentKey } from '../encryption/content-keys.js'
import { publicKeyFromDidKey } from '../identity/did-key.js'
import { utf8 } from '../identity/encoding.js'
import { changeDoc, docValue, freeDoc, loadDoc, updateDoc, type AmDoc } from '../objects/automerge.js'
import { checkJsonObject, contextAndType, deepEqual, type JsonObject } from '../objects/json.js'
import { createCommit, followUpCommit, isStrategy, randomActor } from './commits.js'
import { openEnvelopes, type EnvelopeRecord } from './decrypt.js'
import { exportObject, fetchState, readObject, type ObjectState } from './object-state.js'
import { asPage, asRecord, asWriteResult, objectIdParam, queryParams, unexpected } from './replies.js'
import type { RequestOptions, Requester } from './requester.js'
import type {
  ClientQuery, RemoteHistoryEntry, RemoteObject, RemoteQueryPage, RemoteUpdateResult, RemoteWriteResult, SubscribeQuery, Subscription, SubscriptionEvent
} from './types.js'

/** How long fetched collection keys are reused before asking again. */
const KEY_CACHE_MS = 10_000

export class CollectionsClient {
  readonly #client: Requester
  readonly #signer: Signer
  readonly #owner: Did
  /** One Automerge actor per client: two clients of one app never reuse a (actor, seq) pair. */
  readonly #actor = randomActor()
  /** Updates and deletes of one object run one at a time within this client. */
  readonly #locks = new Map<string, Promise<unknown>>()
  /** Collection keys fetched recently (a key version stays valid after rotation; the hub still authorizes every write). */
  readonly #keyCache = new Map<string, { keys: ContentKey[], at: number }>()
  #lastAt = 0

  constructor (client: Requester, signer: Signer, owner: Did) {
    this.#client = client
    this.#signer = signer
    this.#owner = owner
  }

  /**
   * The content keys of an encrypted collection that are sealed to this app
   * (needs `R` on it). Keep them: with `decryptCommit` they read commits of
   * those key versions wherever they come from, even after a revocation.
   */
  async keys (q: { context: string, type: string }, opts: RequestOptions = {}): Promise<ContentKey[]> {
    const r = await this.#client.request('Keys', 'list', { context: q.context, type: q.type }, opts) as { envelopes: EnvelopeRecord[] }
    if (!('x25519PrivateKey' in this.#signer)) throw new BadRequestError('opening key envelopes needs an Ed25519 key pair identity')
    return openEnvelopes(this.#signer as Ed25519KeyPair, r.envelopes)
  }

  /** Create an object. `value` needs a string `@context` and `@type`; strategy `automerge` by default. */
  async write (value: unknown, opts: { strategy?: CommitStrategy } = {}): Promise<RemoteWriteResult> {
    checkJsonObject(value)
    const v = value as JsonObject
    const { context, type } = contextAndType(v)
    const strategy = opts.strategy ?? 'automerge'
    if (!isStrategy(strategy)) throw new BadRequestError('strategy must be automerge or lww')
    const key = await this.#sealingKey(context, type, false)
    const commit = createCommit({ signer: this.#signer, owner: this.#owner, value: v, context, type, strategy, actor: this.#actor, committedAt: this.#now(), ...(key !== undefined ? { key } : {}) })
    return await this.#send('write', commit)
  }

  /**
   * The newest key of an encrypted collection this app holds, to seal what
   * it writes there. `required`: the object is known to be encrypted, so a
   * missing key is an error; otherwise no key (or no R to ask for one)
   * means the collection is written in clear — and an encrypted collection
   * then refuses the write with `conflict`.
   */
  async #sealingKey (context: string, type: string, required: boolean): Promise<ContentKey | undefined> {
    const id = `${context}\n${type}`
    const cached = this.#keyCache.get(id)
    let keys: ContentKey[] = []
    if (cached !== undefined && Date.now() - cached.at < KEY_CACHE_MS && !(required && cached.keys.length === 0)) {
      keys = cached.keys
    } else if ('x25519PrivateKey' in this.#signer) {
      try {
        keys = await this.keys({ context, type })
      } catch (err) {
        if (!(err instanceof HubError) || err.code !== 'permissions_required') throw err
      }
      this.#keyCache.set(id, { keys, at: Date.now() })
    }
    const newest = keys.sort((a, b) => Number(b.kid.split('.')[1]) - Number(a.kid.split('.')[1]))[0]
    if (required && newest === undefined) throw new ConflictError('the object is in an encrypted collection and this app holds none of its keys (it needs R)')
    return newest
  }

  /**
   * Replace an object's value. The client fetches the object, computes the
   * minimal Automerge change (or, for LWW, sends the whole value), signs it
   * with the current heads as deps, and sends it. `@context`/`@type` cannot
   * change. Needs the grant's R as well as U.
   */
  async update (objectId: string, nextValue: unknown): Promise<RemoteUpdateResult> {
    const oid = objectIdParam(objectId)
    checkJsonObject(nextValue)
    const next = nextValue as JsonObject
    const ct = contextAndType(next)
    return await this.#locked(oid, async () => {
      const state = await fetchState(this.#client, oid, true)
      if (ct.context !== state.target.context || ct.type !== state.target.type) throw new ConflictError('an update cannot change "@context" or "@type"')
      if (state.target.strategy === 'lww') {
        if (state.view.value !== null && deepEqual(state.view.value, next)) return this.#unchanged(state)
        return await this.#sendUpdate(state, utf8.encode(JSON.stringify(next)))
      }
      return await this.#withDoc(state, doc => updateDoc(doc, next, this.#actor))
    })
  }

  /**
   * Edit in place. `fn` gets a plain JSON copy of the value (strings are
   * plain strings, as in the embedded API); for automerge objects the
   * minimal edit from the old value to the draft is recorded, exactly as
   * update() would record the same result (objects/automerge.ts changeDoc).
   */
  async change (objectId: string, fn: (draft: Record<string, unknown>) => void): Promise<RemoteUpdateResult> {
    const oid = objectIdParam(objectId)
    return await this.#locked(oid, async () => {
      const state = await fetchState(this.#client, oid, true)
      if (state.target.strategy === 'lww') {
        if (state.view.value === null) throw new ConflictError('the hub returned no value for this object')
        const draft = structuredClone(state.view.value)
        fn(draft)
        checkJsonObject(draft)
        this.#sameKind(state, draft)
        if (deepEqual(state.view.value, draft)) return this.#unchanged(state)
        return await this.#sendUpdate(state, utf8.encode(JSON.stringify(draft)))
      }
      return await this.#withDoc(state, doc => {
        const out = changeDoc(doc, this.#actor, fn)
        if (out.change !== undefined) {
          const value = docValue(out.doc)
          checkJsonObject(value)
          this.#sameKind(state, value)
        }
        return out
      })
    })
  }

  /** Tombstone an object. Needs D (and R, to learn its heads). */
  async delete (objectId: string): Promise<RemoteWriteResult> {
    const oid = objectIdParam(objectId)
    return await this.#locked(oid, async () => {
      const { target, view } = await fetchState(this.#client, oid, false)
      const key = view.tag !== null ? await this.#sealingKey(target.context, target.type, true) : undefined
      const commit = followUpCommit({ signer: this.#signer, owner: this.#owner, target, operation: 'delete', payload: new Uint8Array(0), committedAt: this.#now(target.strategy === 'lww' ? view.updatedAt : undefined), ...(key !== undefined ? { key } : {}) })
      return await this.#send('delete', commit)
    })
  }

  async read (objectId: string, opts: RequestOptions = {}): Promise<RemoteObject> {
    return await readObject(this.#client, objectIdParam(objectId), opts)
  }

  /** A page of objects. Non-owners must give both `context` and `type`. */
  async query (q: ClientQuery, opts: RequestOptions = {}): Promise<RemoteQueryPage> {
    return asPage(await this.#client.request('Collections', 'query', queryParams(q), opts))
  }

  /**
   * Every commit of the object. Signatures of did:key signers are checked
   * here too (`verified: true`), and every commit id is recomputed.
   */
  async history (objectId: string, opts: RequestOptions = {}): Promise<{ commits: RemoteHistoryEntry[] }> {
    const r = asRecord(await this.#client.request('Collections', 'history', { objectId: objectIdParam(objectId) }, opts), 'history')
    if (!Array.isArray(r.commits)) throw unexpected('history')
    const commits: RemoteHistoryEntry[] = []
    for (const raw of r.commits) {
      const e = asRecord(raw, 'history entry')
      let c: Commit
      try {
        c = parseCommit(e.envelope, Infinity)
      } catch {
        throw unexpected('history envelope')
      }
      if (e.commitId !== c.id) throw new AuthenticationError('a history entry does not match its envelope', { commitId: c.id })
      let verified = false
      if (c.signer.startsWith('did:key:')) {
        await verifyCommit(c, kid => publicKeyFromDidKey(kid.slice(0, kid.indexOf('#'))))
        verified = true
      }
      commits.push({ commitId: c.id, operation: c.header.operation, committedAt: c.header.committed_at, signer: c.signer, envelope: c.envelope, verified })
    }
    return { commits }
  }

  /** The object as a standard Automerge binary document. */
  async export (objectId: string, opts: RequestOptions = {}): Promise<Uint8Array> {
    return (await exportObject(this.#client, objectIdParam(objectId), opts)).bytes
  }

  /**
   * A live query on one context and type: `initial` holds the current
   * matches, then `onEvent` gets every change (`changed` / `deleted`)
   * until `close()`, the connection ends, or the hub ends it — `ended`
   * then resolves, with `code: 'permissions_required'` when the grant was
   * revoked or expired.
   */
  async subscribe (q: SubscribeQuery, onEvent: (e: SubscriptionEvent) => void | Promise<void>, opts: RequestOptions = {}): Promise<Subscription> {
    if (typeof q?.context !== 'string' || typeof q.type !== 'string') throw new BadRequestError('subscribe needs a context and a type')
    return await this.#client.subscribeRequest(queryParams(q), onEvent, opts)
  }

  // ------------------------------------------------------------ internals

  /** ISO time, strictly increasing within this client; for LWW, also after the object's last update so ours wins. */
  #now (after?: string): string {
    const floor = after !== undefined && !Number.isNaN(Date.parse(after)) ? Date.parse(after) + 1 : 0
    const t = Math.max(Date.now(), this.#lastAt + 1, floor)
    this.#lastAt = t
    return new Date(t).toISOString()
  }

  async #locked<T> (oid: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(oid) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => {})
    this.#locks.set(oid, tail)
    try {
      return await run
    } finally {
      if (this.#locks.get(oid) === tail) this.#locks.delete(oid)
    }
  }

  #sameKind (state: ObjectState, value: JsonObject): void {
    const ct = contextAndType(value)
    if (ct.context !== state.target.context || ct.type !== state.target.type) throw new ConflictError('a change cannot alter "@context" or "@type"')
  }

  #unchanged (state: ObjectState): RemoteUpdateResult {
    return { objectId: state.target.objectId, commitId: [...state.target.heads].sort()[0] as CommitId, changed: false }
  }

  async #withDoc (state: ObjectState, edit: (doc: AmDoc) => { doc: AmDoc, change: Uint8Array | undefined }): Promise<RemoteUpdateResult> {
    if (state.docBytes === undefined) throw new HubError('internal', 'no document to edit')
    let doc: AmDoc
    try {
      doc = loadDoc(state.docBytes, this.#actor)
    } catch {
      throw unexpected('Automerge document')
    }
    let change: Uint8Array | undefined
    try {
      const out = edit(doc)
      doc = out.doc
      change = out.change
    } finally {
      try { freeDoc(doc) } catch { /* already freed */ }
    }
    if (change === undefined) return this.#unchanged(state)
    return await this.#sendUpdate(state, change)
  }

  async #sendUpdate (state: ObjectState, payload: Uint8Array): Promise<RemoteUpdateResult> {
    const key = state.view.tag !== null ? await this.#sealingKey(state.target.context, state.target.type, true) : undefined
    const commit = followUpCommit({
      signer: this.#signer,
      owner: this.#owner,
      target: state.target,
      operation: 'update',
      payload,
      committedAt: this.#now(state.target.strategy === 'lww' ? state.view.updatedAt : undefined),
      ...(key !== undefined ? { key } : {})
    })
    return { ...await this.#send('update', commit), changed: true }
  }

  async #send (method: 'write' | 'update' | 'delete', commit: Commit): Promise<RemoteWriteResult> {
    const r = asWriteResult(await this.#client.request('Collections', method, { commit: commit.envelope }))
    if (r.commitId !== commit.id || r.objectId !== commit.objectId) throw new HubError('bad_request', 'the hub acknowledged a different commit than the one sent', { sent: commit.id, acknowledged: r.commitId })
    return { objectId: commit.objectId, commitId: commit.id }
  }
}
