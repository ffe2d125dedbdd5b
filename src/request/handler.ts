/**
 * The hub side of one request: every method runs the same steps in the
 * same order — verify the token, check the audience and replay, derive what
 * the request touches, authorize() it, act, and record it in the audit log
 * (for anyone but the owner). Subscriptions are handled by server.ts on top
 * of `authorizeRead` and `subscriptionFilter` from here.
 */
import { AuthenticationError, BadRequestError, ConflictError, HubError, NotFoundError, PermissionsRequiredError, WrongOwnerError, toHubError } from '../errors.js'
import { fromB64u, utf8d } from '../identity/encoding.js'
import { asDid, type Did } from '../ids.js'
import type { Hub } from '../hub.js'
import { parseCommit, verifyCommit, type Commit, type VerifiedCommit } from '../commits/commit.js'
import { authorize, type AccessRequest, type Action, type Decision } from '../permissions/authorize.js'
import type { Filter, SortOrder } from '../store/query.js'
import type { ObjectView } from '../interfaces/views.js'
import { parseObjectId } from '../interfaces/collections.js'
import { verifyRequest, type RequestClaims } from './token.js'
import { ATTESTATION_LIFETIME_S, signAttestation } from '../permissions/attestation.js'

export interface Target { action: Action, context?: string, type?: string, objectId?: string, describe: string }

/** A verified request that passed audience and replay checks. */
export interface AcceptedRequest {
  claims: RequestClaims
  caller: Did
  isOwner: boolean
}

function str (v: unknown, name: string, required = true): string | undefined {
  if (v === undefined && !required) return undefined
  if (typeof v !== 'string' || v === '') throw new BadRequestError(`params.${name} must be a non-empty string`)
  return v
}

/** A bounded, printable rendering of an untrusted value for the audit log (strings only; anything else is '?'). */
function short (v: unknown, max: number): string {
  return typeof v === 'string' ? v.slice(0, max) : '?'
}

/**
 * A did:key id names its key itself: resolving it is a pure function of the
 * id (a base58 decode per request, seen in the hub's profile under request
 * load), so its result is kept, bounded. Other DID methods are resolved
 * every time: their documents change (key rotation). Failures are not kept.
 */
const DID_KEY_CACHE_MAX = 4096
const didKeyCache = new Map<string, Uint8Array>()

async function requestKey (hub: Hub, kid: string): Promise<Uint8Array> {
  if (!kid.startsWith('did:key:')) return await hub.keys.resolveKey(kid)
  let key = didKeyCache.get(kid)
  if (key === undefined) {
    key = await hub.keys.resolveKey(kid)
    if (didKeyCache.size >= DID_KEY_CACHE_MAX) didKeyCache.clear()
    didKeyCache.set(kid, key)
  }
  return key
}

/** Steps 1–3: token, audience, replay. */
export async function acceptRequest (hub: Hub, jws: string): Promise<AcceptedRequest> {
  const claims = await verifyRequest(jws, async kid => await requestKey(hub, kid))
  if (claims.aud !== hub.did || claims.sub !== hub.did) throw new NotFoundError('this hub does not serve that owner')
  if (!await hub.replay.accept(claims.iss, claims.jti, claims.exp)) throw new AuthenticationError('request replayed (jti already used)')
  return { claims, caller: asDid(claims.iss), isOwner: claims.iss === hub.did }
}

export function decide (hub: Hub, caller: Did, iface: AccessRequest['interface'], t: Target): Decision {
  // (Keys requests are mapped to Collections by the caller of decide.)
  return authorize({
    caller,
    owner: hub.did,
    action: t.action,
    interface: iface,
    ...(t.context !== undefined ? { context: t.context } : {}),
    ...(t.type !== undefined ? { type: t.type } : {}),
    ...(t.objectId !== undefined ? { objectId: t.objectId as AccessRequest['objectId'] } : {}),
    now: Date.now()
  }, hub.store.registry.liveGrants(), hub.store.registry.liveDevices())
}

/**
 * `Devices.attest`: a device attestation (permissions/attestation.ts) is
 * issued to the caller's own hub DID only, and only while this hub sees it as
 * a live owner device. Nobody else — the owner DID, a blind hub, a revoked
 * device, a stranger — gets one.
 */
export function decideAttest (hub: Hub, caller: Did): Decision {
  return hub.store.registry.device(caller)?.role === 'owner-device'
    ? { allowed: true, via: 'device' }
    : { allowed: false, reason: `${caller} is not a live owner device of this owner` }
}

async function objectTarget (hub: Hub, id: unknown, action: Action): Promise<Target> {
  const oid = parseObjectId(id)
  const meta = await hub.store.getMeta(oid)
  if (meta === undefined || meta.interface !== 'Collections') throw new NotFoundError(`object ${oid} not found`, { objectId: oid })
  return { action, ...(meta.context !== undefined ? { context: meta.context } : {}), ...(meta.type !== undefined ? { type: meta.type } : {}), objectId: oid, describe: oid }
}

async function commitTarget (hub: Hub, req: AcceptedRequest, operation: 'create' | 'update' | 'delete'): Promise<{ target: Target, commit: VerifiedCommit }> {
  const parsed = parseCommit(req.claims.params.commit, hub.config.limits.maxCommitBytes)
  if (parsed.signer !== req.caller) throw new AuthenticationError('the commit must be signed by the requester')
  if (parsed.header.operation !== operation) throw new BadRequestError(`Collections.${req.claims.method} carries ${operation} commits`)
  if (parsed.header.interface !== 'Collections') throw new BadRequestError('only Collections commits go through this method')
  if (parsed.header.sub !== hub.did) throw new WrongOwnerError('the commit is for another owner')
  const commit = await verifyCommit(parsed, async kid => await hub.keys.resolveKey(kid))
  // A sealed create names only its collection tag; a hub holding the key knows the names.
  const names: { context?: string, type?: string } = commit.header.tag !== undefined ? (hub.store.keyring.current(commit.header.tag) ?? {}) : commit.header
  const target: Target = operation === 'create'
    ? { action: 'create', ...(names.context !== undefined ? { context: names.context } : {}), ...(names.type !== undefined ? { type: names.type } : {}), describe: `${names.context ?? '?'} ${names.type ?? '?'}` }
    : await objectTarget(hub, commit.objectId, operation)
  return { target, commit }
}

/** What a request addresses, resolved before authorization. */
export async function targetOf (hub: Hub, req: AcceptedRequest): Promise<{ target: Target, commit?: VerifiedCommit }> {
  const { interface: iface, method, params } = req.claims
  const key = `${iface}.${method}`
  switch (key) {
    case 'Collections.write': return await commitTarget(hub, req, 'create')
    case 'Collections.update': return await commitTarget(hub, req, 'update')
    case 'Collections.delete': return await commitTarget(hub, req, 'delete')
    case 'Collections.read':
    case 'Collections.history':
    case 'Collections.export':
      return { target: await objectTarget(hub, params.objectId, 'read') }
    case 'Collections.query':
    case 'Collections.subscribe': {
      const context = str(params.context, 'context', !req.isOwner)
      const type = str(params.type, 'type', !req.isOwner)
      return { target: { action: 'read', ...(context !== undefined ? { context } : {}), ...(type !== undefined ? { type } : {}), describe: `${context ?? '*'} ${type ?? '*'}` } }
    }
    case 'Keys.list': {
      // The key envelopes of an encrypted collection: readable by whoever may read the collection.
      const context = str(params.context, 'context') as string
      const type = str(params.type, 'type') as string
      return { target: { action: 'read', context, type, describe: `keys of ${context} ${type}` } }
    }
    case 'Profile.read': return { target: { action: 'read', describe: 'profile' } }
    case 'Permissions.grant': return { target: { action: 'create', describe: 'grant' } }
    case 'Permissions.revoke': return { target: { action: 'delete', describe: `grant ${String(params.grantId)}` } }
    case 'Permissions.list': return { target: { action: 'read', describe: 'grants' } }
    case 'Devices.attest': return { target: { action: 'read', describe: 'device attestation' } }
    default: throw new BadRequestError(`${key} is not a method`)
  }
}

function queryOf (params: Record<string, unknown>): { where?: Filter[], sort?: SortOrder, limit?: number, cursor?: string } {
  const out: { where?: Filter[], sort?: SortOrder, limit?: number, cursor?: string } = {}
  if (params.where !== undefined) {
    if (!Array.isArray(params.where)) throw new BadRequestError('params.where must be a list of filters')
    out.where = params.where as Filter[]
  }
  if (params.sort !== undefined) out.sort = params.sort as SortOrder
  if (params.limit !== undefined) out.limit = params.limit as number
  if (params.cursor !== undefined) out.cursor = params.cursor as string
  return out
}

/**
 * An encrypted collection only takes sealed commits: a plaintext write would
 * put the app's data in clear next to encrypted objects (and out of the blind
 * hubs' reach). Checked only after authorization, so whether a collection is
 * encrypted is told only to a caller who may write there.
 */
async function requireSealedIfEncrypted (hub: Hub, commit: Commit): Promise<void> {
  const h = commit.header
  if (h.enc !== undefined || h.operation === 'delete') return
  const encrypted = h.operation === 'create'
    ? (h.context !== undefined && h.type !== undefined && hub.store.keyring.currentByNames(h.context, h.type) !== undefined)
    : (await hub.store.getMeta(commit.objectId))?.tag !== undefined
  if (encrypted) throw new ConflictError('this collection is encrypted: the commit must be sealed with its key (an app needs R to obtain it)')
}

/** Act on an authorized request. */
export async function perform (hub: Hub, req: AcceptedRequest, target: Target, commit: VerifiedCommit | undefined, decision?: Decision): Promise<unknown> {
  const { interface: iface, method, params } = req.claims
  switch (`${iface}.${method}`) {
    case 'Collections.write':
    case 'Collections.update':
    case 'Collections.delete': {
      await requireSealedIfEncrypted(hub, commit as Commit)
      // The commit enters the owner's hubs here: this hub's clock judged the
      // grant, and its acceptance travels with the commit (permissions/acceptance.ts).
      const grantId = decision?.allowed === true && decision.via === 'grant' ? decision.grantId : undefined
      const r = await hub.store.ingest(commit as VerifiedCommit, { accept: { at: Date.now(), ...(grantId !== undefined ? { grant: grantId } : {}) } })
      return { objectId: r.objectId, commitId: r.commitId, stored: r.stored }
    }
    case 'Collections.read': return await hub.collections.read(target.objectId as string)
    case 'Collections.history': return await hub.collections.history(target.objectId as string)
    case 'Collections.export': {
      const bytes = await hub.collections.export(target.objectId as string)
      return { objectId: target.objectId, data: Buffer.from(bytes).toString('base64') }
    }
    case 'Collections.query':
      return await hub.collections.query({ ...(target.context !== undefined ? { context: target.context } : {}), ...(target.type !== undefined ? { type: target.type } : {}), ...queryOf(params) })
    case 'Profile.read': return await hub.profile.get()
    case 'Keys.list': {
      const envelopes = []
      for (const k of hub.store.keyring.all()) {
        if (k.context !== target.context || k.type !== target.type) continue
        const meta = await hub.store.getMeta(k.objectId)
        if (meta?.value !== undefined) envelopes.push({ kid: k.key.kid, tag: k.tag, version: k.version, envelope: meta.value.envelope })
      }
      return { envelopes: envelopes.sort((a, b) => a.version - b.version) }
    }
    case 'Permissions.grant':
      return await hub.permissions.grant({
        grantee: params.grantee as string,
        context: params.context as string,
        type: params.type as string,
        allow: params.allow as string,
        ...(typeof params.object_id === 'string' ? { objectId: params.object_id } : {}),
        ...(typeof params.expires_at === 'string' ? { expiresAt: params.expires_at } : {})
      })
    case 'Permissions.revoke': return await hub.permissions.revoke(str(params.grantId, 'grantId') as string)
    case 'Permissions.list': return { grants: hub.permissions.list() }
    case 'Devices.attest': {
      // Only after decideAttest(): the caller is a live owner device. Asked
      // before whether we hold the key, so a stranger learns neither.
      if (hub.ownerKey === undefined) throw new HubError('unavailable', 'this hub holds no owner key: ask another of the owner\'s hubs')
      const lifetimeS = params.lifetimeS ?? ATTESTATION_LIFETIME_S
      if (typeof lifetimeS !== 'number' || !Number.isSafeInteger(lifetimeS) || lifetimeS < 1 || lifetimeS > ATTESTATION_LIFETIME_S) {
        throw new BadRequestError(`params.lifetimeS must be an integer from 1 to ${ATTESTATION_LIFETIME_S}`)
      }
      return { attestation: signAttestation(hub.ownerKey, { device: req.caller, lifetimeS }).attestation }
    }
    default: throw new BadRequestError(`${iface}.${method} is not a method`)
  }
}

/**
 * A subscription token the owner's write holder already accepted (a
 * hosting hub of several processes, request/hosting-router.ts): its replay
 * record and audit entry are the holder's. Verified and authorized again
 * here, for the stream this process serves from the feed it follows,
 * without a second replay record (this process writes nothing for the
 * owner) or audit entry. Only ever called after the holder said yes to
 * this very token, so a replayed token is refused there first.
 */
export async function admitAccepted (hub: Hub, jws: string): Promise<{ accepted: AcceptedRequest, target: Target }> {
  const claims = await verifyRequest(jws, async kid => await requestKey(hub, kid))
  if (claims.aud !== hub.did || claims.sub !== hub.did) throw new NotFoundError('this hub does not serve that owner')
  if (claims.interface !== 'Collections' || claims.method !== 'subscribe') throw new BadRequestError('only a subscription is admitted on another process\'s acceptance')
  const accepted: AcceptedRequest = { claims, caller: asDid(claims.iss), isOwner: claims.iss === hub.did }
  const { target } = await targetOf(hub, accepted)
  const decision = decide(hub, accepted.caller, 'Collections', target)
  if (!decision.allowed) throw refusal(target, decision.reason)
  return { accepted, target }
}

/**
 * Handle one request token end to end (except subscriptions' streaming).
 * Returns the result or throws a HubError; audits non-owner requests.
 */
export async function handleRequest (hub: Hub, jws: string): Promise<{ accepted: AcceptedRequest, target: Target, result: unknown }> {
  let accepted: AcceptedRequest
  try {
    accepted = await acceptRequest(hub, jws)
  } catch (err) {
    await auditUnauthenticated(hub, jws, toHubError(err))
    throw err
  }
  let target: Target | undefined
  try {
    const t = await targetOf(hub, accepted)
    target = t.target
    // Key envelopes are authorized as a read of their collection.
    const iface = accepted.claims.interface
    const decision = iface === 'Devices' ? decideAttest(hub, accepted.caller) : decide(hub, accepted.caller, iface === 'Keys' ? 'Collections' : iface, target)
    if (!decision.allowed) {
      // Existence is only hidden from a caller who may not read the object anyway.
      const mayRead = target.objectId !== undefined && target.action !== 'read' && decide(hub, accepted.caller, 'Collections', { ...target, action: 'read' }).allowed
      throw refusal(mayRead ? { ...target, objectId: undefined } : target, decision.reason)
    }
    const allowed = (): Promise<unknown> => hub.audit.append({ caller: accepted.caller, interface: accepted.claims.interface, method: accepted.claims.method, target: short(target?.describe ?? '', 300), decision: 'allowed', via: decision.via, ...(decision.grantId !== undefined ? { grantId: decision.grantId } : {}) })
    // A change is audited BEFORE it is made: once in the store it syncs to every device, so an audit batch that fails
    // (or a crash in between) must not leave it unaudited. If it then fails, the catch below adds the failure.
    // A read is audited after it ran and before it is answered, so nothing is answered unaudited either.
    const changes = !accepted.isOwner && target.action !== 'read'
    if (changes) await allowed()
    let result: unknown
    try {
      result = accepted.claims.method === 'subscribe' ? undefined : await perform(hub, accepted, target, t.commit, decision)
    } catch (err) {
      throw hiddenFromNonReader(hub, accepted, target, err)
    }
    if (!accepted.isOwner && !changes) await allowed()
    return { accepted, target, result }
  } catch (err) {
    const e = toHubError(err)
    if (!accepted.isOwner) {
      // The owner sees the real reason of a refusal (the caller saw a neutral one).
      const denied = e.cause instanceof PermissionsRequiredError ? e.cause : e.code === 'permissions_required' ? e : undefined
      const real = e.cause instanceof HubError ? e.cause : e
      await hub.audit.append({
        caller: accepted.caller,
        interface: accepted.claims.interface,
        method: accepted.claims.method,
        target: short(target?.describe ?? accepted.claims.params.objectId ?? accepted.claims.params.type, 300),
        decision: denied !== undefined ? 'denied' : 'allowed',
        code: denied !== undefined ? 'permissions_required' : real.code,
        reason: (denied ?? real).message.slice(0, 300)
      })
    }
    throw e
  }
}

/**
 * The error a caller gets when authorization says no. For an object it may
 * not touch that is exactly the error of an id that does not exist (no
 * oracle: neither existence nor the object's collection leaks); for a
 * collection the caller named itself, a refusal that names nothing else.
 * The real reason is kept, for the owner's audit log, as the error's cause.
 */
/** What the store may say about an existing object that it also says, as not_found, about an unknown id. */
const OBJECT_ANSWERS = new Set(['not_found', 'bad_request', 'missing_deps', 'conflict'])

/**
 * An update or delete by a caller who may not read the object (a grant with
 * U or D but no R) fails in the store with reasons only an existing object
 * has (another strategy, a parent commit it lacks…): answer what an unknown
 * id gets, so such a caller learns neither existence nor shape. The owner's
 * audit log keeps the real error (its `cause`).
 */
function hiddenFromNonReader (hub: Hub, accepted: AcceptedRequest, target: Target, err: unknown): unknown {
  if (accepted.isOwner || target.objectId === undefined || target.action === 'read' || target.action === 'create') return err
  const e = toHubError(err)
  if (!OBJECT_ANSWERS.has(e.code)) return err
  if (decide(hub, accepted.caller, 'Collections', { ...target, action: 'read' }).allowed) return err
  return new NotFoundError(`object ${target.objectId} not found`, { objectId: target.objectId }, { cause: e })
}

export function refusal (target: Pick<Target, 'action' | 'objectId'>, reason: string): HubError {
  const cause = new PermissionsRequiredError(reason)
  if (target.objectId !== undefined) return new NotFoundError(`object ${target.objectId} not found`, { objectId: target.objectId }, { cause })
  return new PermissionsRequiredError(`no grant allows this ${target.action}`, undefined, { cause })
}

/**
 * A request that failed before its caller was authenticated (forged
 * signature, replay, expired…) is still recorded for the owner it was
 * addressed to, under the DID it *claimed*, marked unauthenticated.
 */
async function auditUnauthenticated (hub: Hub, jws: string, e: ReturnType<typeof toHubError>): Promise<void> {
  let claims: Partial<RequestClaims> = {}
  try {
    const parsed: unknown = JSON.parse(utf8d.decode(fromB64u(jws.split('.')[1] ?? '')))
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) claims = parsed as Partial<RequestClaims>
  } catch { /* not even readable */ }
  if (claims.aud !== hub.did) return
  await hub.audit.append({
    caller: typeof claims.iss === 'string' ? `${claims.iss.slice(0, 200)} (unauthenticated)` : 'unknown (unauthenticated)',
    interface: short(claims.interface, 32),
    method: short(claims.method, 32),
    target: '?',
    decision: 'denied',
    code: e.code,
    reason: e.message.slice(0, 300)
  })
}

/** For subscriptions: does `view` match the subscribed collection and filters? */
export function subscriptionMatches (view: ObjectView, target: Target, where: Filter[]): boolean {
  if (view.interface !== 'Collections') return false
  if (target.context !== undefined && view.context !== target.context) return false
  if (target.type !== undefined && view.type !== target.type) return false
  return where.every(f => {
    const v = view.value?.[f.field]
    if (v === undefined) return false
    if (f.op === 'eq') return v === f.value
    if (typeof v !== typeof f.value || v === null || typeof v === 'object' || typeof v === 'boolean') return false
    const c = v < (f.value as typeof v) ? -1 : v > (f.value as typeof v) ? 1 : 0
    return f.op === 'gt' ? c > 0 : f.op === 'gte' ? c >= 0 : f.op === 'lt' ? c < 0 : c <= 0
  })
}

