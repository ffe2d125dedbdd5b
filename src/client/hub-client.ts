/**
 * HubClient: how an app (or another person, or the owner from elsewhere)
 * uses an owner's hub over /identity-hub/request/1.0.0.
 *
 * Every request is a JWS signed by the caller's DID key; every write is a
 * commit signed by that same key, built here from the app's value (an
 * Automerge change or, for LWW objects, the whole value). The hub only
 * verifies, authorizes and stores: it never signs for the app. This module
 * imports no store code.
 */
import { AuthenticationError, BadRequestError, ConflictError, HubError, NotFoundError, TooLargeError } from '../errors.js'
import { asCommitId, asDid, isDid, type CommitId, type Did, type ObjectId } from '../ids.js'
import { parseCommit, verifyCommit, type Commit, type CommitStrategy } from '../commits/commit.js'
import type { Ed25519KeyPair, Signer } from '../identity/keys.js'
import type { ContentKey } from '../encryption/content-keys.js'
import { openEnvelopes, type EnvelopeRecord } from './decrypt.js'
import { publicKeyFromDidKey } from '../identity/did-key.js'
import { utf8 } from '../identity/encoding.js'
import { changeDoc, docValue, freeDoc, loadDoc, updateDoc, type AmDoc } from '../objects/automerge.js'
import { checkJsonObject, contextAndType, deepEqual, isJsonObject, type JsonObject } from '../objects/json.js'
import { signRequest, type RequestInterface, type RequestMethod } from '../request/token.js'
import { createCommit, followUpCommit, isStrategy, randomActor, type CommitTarget } from './commits.js'
import { RequestConnection } from './connection.js'
import { DEFAULT_REQUEST_TIMEOUT_MS, MAX_REQUEST_JWS_CHARS } from './constants.js'
import type {
  ClientQuery, GrantParams, GrantResult, RemoteHistoryEntry, RemoteObject, RemoteQueryPage, RemoteUpdateResult,
  RemoteWriteResult, SubscribeQuery, Subscription, SubscriptionEnd, SubscriptionEvent
} from './types.js'

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

export interface RequestOptions {
  timeoutMs?: number
}

const OBJECT_ID = /^b[a-z2-7]{58}$/
/** Retries of read → export → read when the object changes in between. */
const STATE_ATTEMPTS = 4

function objectIdParam (id: unknown): ObjectId {
  if (typeof id !== 'string' || !OBJECT_ID.test(id)) throw new BadRequestError('malformed object id')
  return id as ObjectId
}

function unexpected (what: string): HubError {
  return new HubError('bad_request', `the hub sent an unexpected ${what}`)
}

function asRecord (v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw unexpected(what)
  return v as Record<string, unknown>
}

function asRemoteObject (v: unknown): RemoteObject {
  const o = asRecord(v, 'object view')
  if (typeof o.objectId !== 'string' || !Array.isArray(o.heads) || !o.heads.every(h => typeof h === 'string') || !isStrategy(o.strategy)) throw unexpected('object view')
  if (o.value !== null && o.value !== undefined && !isJsonObject(o.value)) throw unexpected('object value')
  return o as unknown as RemoteObject
}

function asWriteResult (v: unknown): RemoteWriteResult {
  const o = asRecord(v, 'write result')
  if (typeof o.objectId !== 'string' || typeof o.commitId !== 'string') throw unexpected('write result')
  return { objectId: o.objectId as ObjectId, commitId: o.commitId as CommitId }
}

function asPage (v: unknown): RemoteQueryPage {
  const o = asRecord(v, 'query result')
  if (!Array.isArray(o.objects)) throw unexpected('query result')
  const cursor = o.cursor === undefined || o.cursor === null ? null : o.cursor
  if (cursor !== null && typeof cursor !== 'string') throw unexpected('query cursor')
  return { objects: o.objects.map(asRemoteObject), cursor }
}

function sameHeads (a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  const s = new Set(a)
  return b.every(x => s.has(x))
}

function queryParams (q: ClientQuery | SubscribeQuery): Record<string, unknown> {
  const p: Record<string, unknown> = {}
  for (const k of ['context', 'type', 'where', 'sort', 'limit', 'cursor'] as const) {
    const v = (q as Record<string, unknown>)[k]
    if (v !== undefined) p[k] = v
  }
  return p
}

/** What an update needs to know about the object before it signs. */
interface ObjectState {
  view: RemoteObject
  target: CommitTarget
  /** The Automerge document at exactly `target.heads` (automerge objects, when asked for). */
  docBytes?: Uint8Array
}

export class HubClient {
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
    const jws = this.#sign('Collections', 'subscribe', params)
    const ms = opts.timeoutMs ?? this.#timeoutMs
    const conn = this.#conn
    return await new Promise<Subscription>((resolve, reject) => {
      let started = false
      let finished = false
      let endWith!: (e: SubscriptionEnd) => void
      const ended = new Promise<SubscriptionEnd>(r => { endWith = r })
      const early: SubscriptionEvent[] = []
      const finish = (e: SubscriptionEnd): void => {
        if (finished) return
        finished = true
        endWith(e)
      }
      const deliver = (ev: SubscriptionEvent): void => {
        if (finished) return
        let out: void | Promise<void>
        try {
          out = onEvent(ev)
        } catch (err) {
          out = Promise.reject(err)
        }
        if (out instanceof Promise) {
          out.catch((err: unknown) => {
            // A failing handler ends its own subscription, visibly.
            finish({ code: 'internal', message: `the event handler failed: ${(err as Error)?.message ?? String(err)}` })
            void conn.sendCancel(id).catch(() => {})
          })
        }
      }
      const fail = (e: HubError): void => { clearTimeout(timer); reject(e) }
      const id = conn.register({
        response (result) {
          if (started || finished) return
          let initial: RemoteObject[]
          try {
            const r = asRecord(result, 'subscription result')
            if (!Array.isArray(r.objects)) throw unexpected('subscription result')
            initial = r.objects.map(asRemoteObject)
          } catch (err) {
            finished = true
            fail(err as HubError)
            conn.violation((err as Error).message)
            return
          }
          started = true
          clearTimeout(timer)
          resolve({
            initial,
            ended,
            async close () {
              if (finished) return
              finish({})
              await conn.sendCancel(id).catch(() => {})
            }
          })
          // Events that raced ahead of the response are delivered after it, in order.
          queueMicrotask(() => { for (const ev of early.splice(0)) deliver(ev) })
        },
        error (err) {
          if (!started) { finished = true; fail(err) } else finish({ code: err.code, message: err.message })
        },
        event (raw) {
          if (finished) return
          const kind = raw.kind
          let object: RemoteObject
          try {
            if (kind !== 'changed' && kind !== 'deleted') throw unexpected('event kind')
            object = asRemoteObject(raw.object)
          } catch (err) {
            conn.violation((err as Error).message)
            return
          }
          const ev: SubscriptionEvent = { kind, object }
          if (started) deliver(ev)
          else early.push(ev)
        },
        end (code, message) {
          if (!started) {
            finished = true
            fail(new HubError(code !== undefined && code !== '' ? hubCode(code) : 'unavailable', message ?? 'the subscription ended before it started'))
            return
          }
          finish({ ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) })
        }
      })
      const timer = setTimeout(() => {
        if (started) return
        finished = true
        void conn.sendCancel(id).catch(() => {})
        reject(new HubError('unavailable', `Collections.subscribe got no reply within ${ms} ms`))
      }, ms)
      conn.sendRequest(id, jws).catch((err: unknown) => {
        clearTimeout(timer)
        conn.forget(id)
        finished = true
        reject(err)
      })
    })
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

function hubCode (code: string): HubError['code'] {
  const known: ReadonlyArray<HubError['code']> = ['bad_request', 'not_found', 'authentication_failed', 'permissions_required', 'conflict', 'too_large', 'wrong_owner', 'missing_deps', 'already_exists', 'unsupported', 'unavailable', 'internal']
  return (known as readonly string[]).includes(code) ? code as HubError['code'] : 'internal'
}

/** How long fetched collection keys are reused before asking again. */
const KEY_CACHE_MS = 10_000

export class CollectionsClient {
  readonly #client: HubClient
  readonly #signer: Signer
  readonly #owner: Did
  /** One Automerge actor per client: two clients of one app never reuse a (actor, seq) pair. */
  readonly #actor = randomActor()
  /** Updates and deletes of one object run one at a time within this client. */
  readonly #locks = new Map<string, Promise<unknown>>()
  /** Collection keys fetched recently (a key version stays valid after rotation; the hub still authorizes every write). */
  readonly #keyCache = new Map<string, { keys: ContentKey[], at: number }>()
  #lastAt = 0

  constructor (client: HubClient, signer: Signer, owner: Did) {
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
      const state = await this.#state(oid, true)
      if (ct.context !== state.target.context || ct.type !== state.target.type) throw new ConflictError('an update cannot change "@context" or "@type"')
      if (state.target.strategy === 'lww') {
        if (state.view.value !== null && deepEqual(state.view.value, next)) return this.#unchanged(state)
        return await this.#sendUpdate(state, utf8.encode(JSON.stringify(next)))
      }
      return await this.#withDoc(state, doc => updateDoc(doc, next, this.#actor))
    })
  }

  /**
   * Edit in place. For automerge objects `fn` gets the Automerge draft
   * (existing strings are Automerge ImmutableString, as in the embedded
   * API); for LWW objects it gets a plain copy of the value.
   */
  async change (objectId: string, fn: (draft: Record<string, unknown>) => void): Promise<RemoteUpdateResult> {
    const oid = objectIdParam(objectId)
    return await this.#locked(oid, async () => {
      const state = await this.#state(oid, true)
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
      const { target, view } = await this.#state(oid, false)
      const key = view.tag !== null ? await this.#sealingKey(target.context, target.type, true) : undefined
      const commit = followUpCommit({ signer: this.#signer, owner: this.#owner, target, operation: 'delete', payload: new Uint8Array(0), committedAt: this.#now(target.strategy === 'lww' ? view.updatedAt : undefined), ...(key !== undefined ? { key } : {}) })
      return await this.#send('delete', commit)
    })
  }

  async read (objectId: string, opts: RequestOptions = {}): Promise<RemoteObject> {
    return asRemoteObject(await this.#client.request('Collections', 'read', { objectId: objectIdParam(objectId) }, opts))
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
    return (await this.#export(objectIdParam(objectId), opts)).bytes
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

  async #export (oid: ObjectId, opts: RequestOptions = {}): Promise<{ bytes: Uint8Array, heads?: CommitId[] }> {
    const r = asRecord(await this.#client.request('Collections', 'export', { objectId: oid }, opts), 'export result')
    if (typeof r.data !== 'string') throw unexpected('export result')
    const bytes = new Uint8Array(Buffer.from(r.data, 'base64'))
    const heads = Array.isArray(r.heads) && r.heads.length > 0 && r.heads.every(h => typeof h === 'string') ? r.heads.map(h => asCommitId(h as string)) : undefined
    return heads !== undefined ? { bytes, heads } : { bytes }
  }

  /**
   * The object's current heads (and, for an automerge update, its document
   * at exactly those heads). `read` gives the strategy and heads; `export`
   * the document. If the export carries its own `heads` they are used;
   * otherwise a second `read` confirms the heads did not move meanwhile
   * (the set of commits only grows, so equal heads mean the same commits),
   * retrying a few times before giving up with `conflict`.
   */
  async #state (oid: ObjectId, withDoc: boolean): Promise<ObjectState> {
    let view = await this.read(oid)
    for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt++) {
      if (view.deleted) throw new NotFoundError(`object ${oid} was deleted`, { objectId: oid, deleted: true })
      if (view.context === null || view.type === null) throw new ConflictError('this object has no readable context and type (encrypted?)')
      const target: CommitTarget = { objectId: oid, context: view.context, type: view.type, strategy: view.strategy, heads: [...view.heads] }
      if (!withDoc || view.strategy !== 'automerge') return { view, target }
      const exp = await this.#export(oid)
      if (exp.heads !== undefined) return { view, target: { ...target, heads: exp.heads }, docBytes: exp.bytes }
      const again = await this.read(oid)
      if (sameHeads(view.heads, again.heads)) return { view: again, target, docBytes: exp.bytes }
      view = again
    }
    throw new ConflictError(`object ${oid} kept changing while the client was reading it; try again`)
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

export class ProfileClient {
  readonly #client: HubClient
  constructor (client: HubClient) { this.#client = client }

  /** The owner's public profile, or null if none is set. Anyone may read it. */
  async read (opts: RequestOptions = {}): Promise<RemoteObject | null> {
    const r = await this.#client.request('Profile', 'read', {}, opts)
    return r === null ? null : asRemoteObject(r)
  }
}

/** Grants; the hub answers these only when the caller is the owner. */
export class PermissionsClient {
  readonly #client: HubClient
  constructor (client: HubClient) { this.#client = client }

  async grant (g: GrantParams, opts: RequestOptions = {}): Promise<GrantResult> {
    const params: Record<string, unknown> = { grantee: g.grantee, context: g.context, type: g.type, allow: g.allow }
    if (g.objectId !== undefined) params.object_id = g.objectId
    if (g.expiresAt !== undefined) {
      const t = g.expiresAt instanceof Date ? g.expiresAt.getTime() : typeof g.expiresAt === 'number' ? g.expiresAt : Date.parse(g.expiresAt)
      if (!Number.isFinite(t)) throw new BadRequestError('expiresAt must be a date')
      params.expires_at = new Date(t).toISOString()
    }
    return asGrantResult(await this.#client.request('Permissions', 'grant', params, opts))
  }

  async revoke (grantId: string, opts: RequestOptions = {}): Promise<GrantResult> {
    return asGrantResult(await this.#client.request('Permissions', 'revoke', { grantId }, opts))
  }

  async list (opts: RequestOptions = {}): Promise<{ grants: JsonObject[] }> {
    const r = asRecord(await this.#client.request('Permissions', 'list', {}, opts), 'grant list')
    if (!Array.isArray(r.grants) || !r.grants.every(isJsonObject)) throw unexpected('grant list')
    return { grants: r.grants }
  }
}

function asGrantResult (v: unknown): GrantResult {
  const o = asRecord(v, 'grant result')
  if (typeof o.grantId !== 'string' || typeof o.commitId !== 'string') throw unexpected('grant result')
  return { grantId: o.grantId, commitId: o.commitId }
}
