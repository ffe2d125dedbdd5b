/**
 * Revocation by causality, against real LevelDB hubs (protocols/commit.md
 * "Validity" and "Quarantine", protocols/sync.md "Revocation"). Commits move
 * between two hubs of one owner the way sync moves them: envelopes ingested
 * in the sender's feed order, quarantined commits never served — plus, where
 * a scenario needs it, copies of commits a hub held before it learned of a
 * revocation (an honest peer may still serve those).
 */
import fc from 'fast-check'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { signCommit, serializeCommit, parseCommit, withAcceptance, type UnsignedHeader, type VerifiedCommit } from '../src/commits/commit.js'
import { asCommitId, asObjectId, type Did } from '../src/ids.js'
import { b64u, utf8 } from '../src/identity/encoding.js'
import { Ed25519KeyPair, type Signer } from '../src/identity/keys.js'
import { createChange, loadDoc, updateDoc } from '../src/objects/automerge.js'
import type { JsonObject } from '../src/objects/json.js'
import { signAcceptance, ACCEPTANCE_TYP } from '../src/permissions/acceptance.js'
import { GRANT_TYPE, HUB_NS } from '../src/permissions/registry.js'
import { decodeAccepted, MAX_REVOCATION_COMMITS, revocationDigest } from '../src/permissions/revocation.js'
import { handleRequest } from '../src/request/handler.js'
import { signRequest } from '../src/request/token.js'
import { doctor } from '../src/store/doctor.js'
import { prefixEnd } from '../src/store/kv.js'
import type { IngestResult } from '../src/store/tenant-store.js'
import { cleanup, playlist, tempDir, tempHub } from './helpers.js'

afterEach(cleanup)

const CTX = 'https://schema.org'
const TYPE = 'MusicPlaylist'
const APP_ACTOR = 'a1'.repeat(16)

// ------------------------------------------------------------------ helpers

/** Two hubs of one owner (both hold the owner key), each knowing the other's device authorization. */
async function pair (): Promise<[Hub, Hub]> {
  const a = await tempHub()
  const b = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
  await sync(a, b)
  await sync(b, a)
  return [a, b]
}

/** What one sync pass delivers: `from`'s feed in order, quarantined commits skipped (as readBatch does). */
async function sync (from: Hub, to: Hub, skip: Set<string> = new Set()): Promise<number> {
  let n = 0
  for await (const { commitId } of from.store.feed(0)) {
    if (from.store.isQuarantined(commitId) || skip.has(commitId)) continue
    const r = await to.ingest(await from.store.getEnvelope(commitId) as string)
    if (r.stored) n++
  }
  return n
}

/** Copies of commits `from` holds (as an honest hub that had them before the revocation still serves them). */
async function copy (from: Hub, to: Hub, ids: string[]): Promise<IngestResult[]> {
  const out: IngestResult[] = []
  for (const id of ids) out.push(await to.ingest(await from.store.getEnvelope(id) as string))
  return out
}

function appCreate (app: Signer, owner: Did, value: Record<string, unknown>, committedAt = new Date().toISOString(), strategy: 'automerge' | 'lww' = 'automerge'): VerifiedCommit {
  const payload = strategy === 'automerge' ? createChange(value as JsonObject, APP_ACTOR) : utf8.encode(JSON.stringify(value))
  return signCommit({ interface: 'Collections', context: CTX, type: String(value['@type']), operation: 'create', committed_at: committedAt, commit_strategy: strategy, sub: owner, deps: [] }, payload, app)
}

/** An update of `objectId` as `hub` holds it now, signed by `signer` (Automerge: the minimal change; LWW: the whole value). */
async function signedUpdate (hub: Hub, signer: Signer, objectId: string, next: Record<string, unknown>, committedAt = new Date().toISOString(), actor = APP_ACTOR): Promise<VerifiedCommit> {
  const meta = await hub.store.getMeta(objectId)
  if (meta === undefined) throw new Error(`no object ${objectId}`)
  let payload: Uint8Array
  if (meta.strategy === 'automerge') {
    const { change } = updateDoc(loadDoc(await hub.collections.export(objectId), actor), next as JsonObject, actor)
    if (change === undefined) throw new Error('no change')
    payload = change
  } else {
    payload = utf8.encode(JSON.stringify(next))
  }
  return signCommit({
    interface: meta.interface, context: meta.context as string, type: meta.type as string, operation: 'update', committed_at: committedAt,
    commit_strategy: meta.strategy, sub: hub.did, object_id: asObjectId(objectId), deps: [...meta.heads].sort()
  }, payload, signer)
}

async function signedDelete (hub: Hub, signer: Signer, objectId: string, committedAt = new Date().toISOString()): Promise<VerifiedCommit> {
  const meta = await hub.store.getMeta(objectId)
  if (meta === undefined) throw new Error(`no object ${objectId}`)
  return signCommit({
    interface: meta.interface, context: meta.context as string, type: meta.type as string, operation: 'delete', committed_at: committedAt,
    commit_strategy: meta.strategy, sub: hub.did, object_id: asObjectId(objectId), deps: [...meta.heads].sort()
  }, new Uint8Array(0), signer)
}

/** The request path's entry: this hub accepts the grantee's commit by its own clock. */
async function accept (hub: Hub, c: VerifiedCommit, grantId: string): Promise<IngestResult> {
  return await hub.store.ingest(c, { accept: { at: Date.now(), grant: grantId } })
}

/** Everything a client can observe of some objects: values, heads, existence, timestamps — and a query. */
async function observe (hub: Hub, ids: string[]): Promise<unknown> {
  const objects: Record<string, unknown> = {}
  for (const id of ids) {
    try {
      const v = await hub.collections.read(id)
      objects[id] = { value: v.value, heads: v.heads, createdAt: v.createdAt, updatedAt: v.updatedAt, createdBy: v.createdBy, commits: v.commits, deleted: v.deleted }
    } catch (err) {
      objects[id] = (err as { code?: string }).code
    }
  }
  const query = (await hub.collections.query({ type: TYPE, limit: 1000 })).objects.sort((x, y) => x.objectId < y.objectId ? -1 : 1)
  const byName = (await hub.collections.query({ type: TYPE, where: [{ field: 'name', op: 'eq', value: 'Shared' }] })).objects.map(o => o.objectId).sort()
  const history: Record<string, unknown> = {}
  for (const id of ids) history[id] = await hub.collections.history(id).then(h => h.commits.map(c => c.commitId), (err: { code?: string }) => err.code)
  return { objects, query, byName, history }
}

/** Ids of every commit a hub keeps quarantined. */
async function quarantinedIds (hub: Hub): Promise<string[]> {
  const prefix = hub.store.layout.quarantinedPrefix()
  const out: string[] = []
  for await (const k of hub.kv.keys({ gte: prefix, lt: prefixEnd(prefix) })) out.push(k.slice(prefix.length))
  return out.sort()
}

async function feedIds (hub: Hub): Promise<string[]> {
  const out: string[] = []
  for await (const e of hub.store.feed(0)) out.push(e.commitId)
  return out
}

function envelopeWith (c: VerifiedCommit, acc: string): string {
  return serializeCommit(withAcceptance(c, acc))
}

/** A compact JWS shaped like an acceptance, signed by whoever (a forger). */
function forgedAcceptance (signer: Signer, claims: Record<string, unknown>, kid = signer.kid): string {
  const h = b64u(JSON.stringify({ alg: 'EdDSA', typ: ACCEPTANCE_TYP, kid }))
  const p = b64u(JSON.stringify(claims))
  return `${h}.${p}.${b64u(signer.sign(utf8.encode(`${h}.${p}`)))}`
}

async function grantApp (hub: Hub, app: Signer, allow = 'CRUD'): Promise<string> {
  return (await hub.permissions.grant({ grantee: app.did, context: CTX, type: TYPE, allow })).grantId
}

// ------------------------------------------------------------------ (a)

describe('a revoked grantee cannot backdate its way in', () => {
  it('a commit signed after the revocation is refused whatever its committed_at says, with no, a copied or a forged acceptance', async () => {
    const a = await tempHub()
    const app = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Mine', ['One']))
    const grantId = await grantApp(a, app)
    const u1 = await signedUpdate(a, app, objectId, playlist('Mine', ['One', 'By app']))
    expect(await accept(a, u1, grantId)).toMatchObject({ stored: true })
    const acc1 = (JSON.parse(await a.store.getEnvelope(u1.id) as string) as { header: { acc: string } }).header.acc
    await a.permissions.revoke(grantId)
    const before = await observe(a, [objectId])
    const feedBefore = await feedIds(a)

    const backdated = await signedUpdate(a, app, objectId, playlist('Mine', ['One', 'By app', 'Backdated']), '2001-01-01T00:00:00.000Z')
    const stranger = Ed25519KeyPair.generate()
    const claimsFor = (by: string, at = Date.parse('2001-01-01')): Record<string, unknown> => ({ c: backdated.id, by, at, g: grantId })
    const attempts: Array<[string, string, string]> = [
      ['no acceptance (as sync would deliver it)', serializeCommit(backdated), 'permissions_required'],
      ['the acceptance of another commit, copied', envelopeWith(backdated, acc1), 'bad_request'],
      ['an acceptance signed by the app itself', envelopeWith(backdated, forgedAcceptance(app, claimsFor(app.did))), 'permissions_required'],
      ['an acceptance by a key that is no device', envelopeWith(backdated, forgedAcceptance(stranger, claimsFor(stranger.did))), 'permissions_required'],
      ['an acceptance claiming the hub as acceptor, signed by another key', envelopeWith(backdated, forgedAcceptance(stranger, claimsFor(a.hubDid), `${a.hubDid}#${a.hubDid.slice(8)}`)), 'authentication_failed'],
      ['a genuine acceptance by a live owner device dated before the revocation', envelopeWith(backdated, signAcceptance({ commit: backdated.id, by: a.hubDid, at: Date.parse('2001-01-01'), grant: grantId }, a.hubKey)), 'quarantined']
    ]
    for (const [what, env, code] of attempts) {
      if (code === 'quarantined') {
        // Only an owner device can sign this (it would never, after the revocation): even then, the set decides.
        expect(await a.ingest(env), what).toMatchObject({ stored: false, quarantined: true })
        continue
      }
      await expect(a.ingest(env), what).rejects.toMatchObject({ code })
      expect(await a.store.hasCommit(backdated.id), what).toBe(false)
      expect(a.store.isQuarantined(backdated.id), what).toBe(false)
    }
    expect(await observe(a, [objectId])).toEqual(before)
    expect(await feedIds(a)).toEqual(feedBefore)
  })

  it('the request path refuses it too, at any acceptance time, and stores nothing', async () => {
    const a = await tempHub()
    const app = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Mine'))
    const grantId = await grantApp(a, app)
    // Through the real request handler while the grant is live: stored, with this hub's acceptance.
    const created = appCreate(app, a.did, playlist('By app'))
    const ok = await handleRequest(a, signRequest(app, a.did, 'Collections', 'write', { commit: JSON.parse(serializeCommit(created)) }))
    expect(ok.result).toMatchObject({ objectId: created.id, stored: true })
    const env = JSON.parse(await a.store.getEnvelope(created.id) as string) as { header?: { acc: string } }
    expect(env.header?.acc).toEqual(expect.any(String))
    await a.permissions.revoke(grantId)
    const before = await observe(a, [objectId, created.id])

    const late = await signedUpdate(a, app, objectId, playlist('Mine', ['x', 'y']), new Date(0).toISOString())
    await expect(handleRequest(a, signRequest(app, a.did, 'Collections', 'update', { commit: JSON.parse(serializeCommit(late)) }))).rejects.toMatchObject({ code: expect.stringMatching(/^(not_found|permissions_required)$/) })
    for (const at of [0, Date.parse('2001-01-01'), Date.now() - 60_000, Date.now()]) {
      await expect(a.store.ingest(late, { accept: { at, grant: grantId } })).rejects.toMatchObject({ code: 'permissions_required' })
    }
    expect(await a.store.hasCommit(late.id)).toBe(false)
    expect(a.store.isQuarantined(late.id)).toBe(false)
    expect(await observe(a, [objectId, created.id])).toEqual(before)
  })

  it('property: no committed_at (past, future, at the revocation) gets a revoked app\'s new commit in, on any hub of the owner', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Mine'))
    const lww = await a.collections.create(playlist('Lww'), { strategy: 'lww' })
    const grantId = await grantApp(a, app)
    const revokedAt = Date.now()
    await a.permissions.revoke(grantId)
    await sync(a, b)
    const before = [await observe(a, [objectId, lww.objectId]), await observe(b, [objectId, lww.objectId])]
    await fc.assert(fc.asyncProperty(
      fc.oneof(fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) }), fc.integer({ min: revokedAt - 5, max: revokedAt + 5 })),
      fc.constantFrom('update', 'lww', 'create', 'delete'),
      async (t, kind) => {
        const at = new Date(t).toISOString()
        const c = kind === 'update'
          ? await signedUpdate(a, app, objectId, playlist('Mine', [`t${t}`]), at)
          : kind === 'lww'
            ? await signedUpdate(a, app, lww.objectId, playlist('Lww', [`t${t}`]), at)
            : kind === 'create'
              ? appCreate(app, a.did, playlist(`t${t}`), at)
              : await signedDelete(a, app, objectId, at)
        for (const h of [a, b]) {
          await expect(h.ingest(serializeCommit(c))).rejects.toMatchObject({ code: 'permissions_required' })
          expect(await h.store.hasCommit(c.id)).toBe(false)
        }
      }), { numRuns: 40 })
    expect([await observe(a, [objectId, lww.objectId]), await observe(b, [objectId, lww.objectId])]).toEqual(before)
  })

  it('a commit the revocation names stays valid when it arrives late, on a hub that learned of the revocation first', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Mine'))
    const grantId = await grantApp(a, app)
    const u1 = await signedUpdate(a, app, objectId, playlist('Mine', ['x', 'By app']))
    await accept(a, u1, grantId)
    const revocation = await a.store.revoke(asObjectId(grantId), a.ownerKey as Ed25519KeyPair)
    expect(revocation.kept).toBe(1)
    const set = (JSON.parse(Buffer.from(parseCommit(await a.store.getEnvelope(revocation.commitId) as string).envelope.payload, 'base64url').toString()) as { accepted: string, n: number })
    expect(set.n).toBe(1)
    expect(decodeAccepted(set.accepted)).toEqual(new Set([revocationDigest(u1.id)]))
    // B gets the revocation before the commit it names.
    await sync(a, b, new Set([u1.id]))
    expect(b.store.registry.grants().find(g => g.id === grantId)?.revoked).toBeDefined()
    expect(await copy(a, b, [u1.id])).toMatchObject([{ stored: true }])
    expect(await observe(b, [objectId])).toEqual(await observe(a, [objectId]))
  })
})

// ------------------------------------------------------------------ (b)

describe('a revocation racing accepted writes converges', () => {
  it('B accepted app writes before it learned of A\'s revocation: both end with the same valid set, values, heads, queries and quarantine', async () => {
    const [a, b] = await pair()
    const owner = a.ownerKey as Ed25519KeyPair
    const app = Ed25519KeyPair.generate()
    const shared = await a.collections.create(playlist('Shared', ['One']))
    const lww = await a.collections.create(playlist('Lww'), { strategy: 'lww' })
    const doomed = await a.collections.create(playlist('Doomed'))
    const grantId = await grantApp(a, app)
    await sync(a, b)

    // On B, through its request path, before it hears of any revocation.
    const u1 = await signedUpdate(b, app, shared.objectId, playlist('Shared', ['One', 'By app']))
    const c1 = appCreate(app, b.did, playlist('Created by app'))
    const l1 = await signedUpdate(b, app, lww.objectId, playlist('Lww', ['by app']))
    const d1 = await signedDelete(b, app, doomed.objectId)
    for (const c of [u1, c1, l1, d1]) expect(await accept(b, c, grantId)).toMatchObject({ stored: true })
    // Owner edits on B built on the app's writes.
    // A real edit (a draft that leaves the value as it is records nothing, as update() does).
    const e1 = await b.collections.change(shared.objectId, d => { d.name = 'Shared, renamed on B'; d.numTracks = 2 })
    expect(e1.changed).toBe(true)
    const e2 = await b.collections.update(c1.id, playlist('Created by app', ['owner added']))
    expect((await b.collections.read(shared.objectId)).value?.track).toHaveLength(2)
    await expect(b.collections.read(doomed.objectId)).rejects.toMatchObject({ code: 'not_found' })

    // Meanwhile A edits and revokes, knowing none of that.
    await a.collections.change(shared.objectId, d => { d.numTracks = 7 })
    const rev = await a.store.revoke(asObjectId(grantId), owner)
    expect(rev.kept).toBe(0)

    // B learns of the revocation.
    await sync(a, b)
    const cancelled = [u1.id, c1.id, l1.id, d1.id, e1.commitId, e2.commitId]
    for (const id of cancelled) expect(b.store.isQuarantined(id), id).toBe(true)
    // O is what A holds: the owner's edit on A, nothing of the app's or of the owner's edit built on it.
    expect((await b.collections.read(shared.objectId)).value).toEqual({ ...playlist('Shared', ['One']), numTracks: 7 })
    expect((await b.collections.read(shared.objectId)).value).toEqual((await a.collections.read(shared.objectId)).value)
    expect((await b.collections.read(lww.objectId)).value).toEqual(playlist('Lww'))
    expect((await b.collections.read(doomed.objectId)).value).toEqual(playlist('Doomed'))
    await expect(b.collections.read(c1.id)).rejects.toMatchObject({ code: 'not_found' })

    // A receives B's copies (from a hub that had them before the revocation): quarantined on arrival.
    const results = await copy(b, a, cancelled)
    for (const r of results) expect(r).toMatchObject({ stored: false, quarantined: true })
    // Nothing more flows either way, and a repeated copy changes nothing.
    expect(await sync(b, a)).toBe(0)
    expect(await sync(a, b)).toBe(0)
    expect(await copy(b, a, cancelled)).toMatchObject(cancelled.map(() => ({ stored: false })))

    const ids = [shared.objectId, lww.objectId, doomed.objectId, c1.id]
    expect(await observe(b, ids)).toEqual(await observe(a, ids))
    expect(await quarantinedIds(a)).toEqual([...cancelled].sort())
    expect(await quarantinedIds(b)).toEqual([...cancelled].sort())

    // Both keep working on the recomputed objects and stay converged.
    await b.collections.change(shared.objectId, d => { (d.track as unknown[]).push({ name: 'After, on B' }) })
    await a.collections.update(lww.objectId, playlist('Lww', ['after, on A']))
    await sync(a, b); await sync(b, a)
    expect(await observe(b, ids)).toEqual(await observe(a, ids))
    expect(((await a.collections.read(shared.objectId)).value?.track as JsonObject[]).map(t => t.name)).toEqual(['One', 'After, on B'])
  })

  it('an owner edit built on a quarantined commit is quarantined on every hub, in any arrival order', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Shared'))
    const grantId = await grantApp(a, app)
    await sync(a, b)
    const u1 = await signedUpdate(b, app, objectId, playlist('Shared', ['x', 'app']))
    await accept(b, u1, grantId)
    const e1 = await b.collections.update(objectId, playlist('Shared', ['x', 'app', 'owner']))
    const e2 = await b.collections.update(objectId, playlist('Shared', ['x', 'app', 'owner', 'again']))
    await a.store.revoke(asObjectId(grantId), a.ownerKey as Ed25519KeyPair)
    // A gets B's writes first (B has not seen the revocation): quarantined on arrival, the owner's too.
    expect(await copy(b, a, [u1.id, e1.commitId, e2.commitId])).toMatchObject([{ quarantined: true }, { quarantined: true }, { quarantined: true }])
    await sync(a, b)
    for (const h of [a, b]) for (const id of [u1.id, e1.commitId, e2.commitId]) expect(h.store.isQuarantined(id)).toBe(true)
    expect(await observe(a, [objectId])).toEqual(await observe(b, [objectId]))
    expect((await a.collections.read(objectId)).value).toEqual(playlist('Shared'))
  })

  it('a stranger cannot get a commit kept by building it on a quarantined one', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const stranger = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Shared'))
    const grantId = await grantApp(a, app)
    await sync(a, b)
    const c1 = appCreate(app, b.did, playlist('By app'))
    await accept(b, c1, grantId)
    const u1 = await signedUpdate(b, app, objectId, playlist('Shared', ['x', 'app']))
    await accept(b, u1, grantId)
    const hang = [await signedUpdate(b, stranger, objectId, playlist('Shared', ['x', 'app', 'junk'])), await signedUpdate(b, stranger, c1.id, playlist('By app', ['junk']))]
    await a.store.revoke(asObjectId(grantId), a.ownerKey as Ed25519KeyPair)
    await copy(b, a, [c1.id, u1.id])
    expect(a.store.isQuarantined(u1.id) && a.store.isQuarantined(c1.id)).toBe(true)
    // Signed by nobody the owner ever authorized: a protocol violation, not a quarantine.
    for (const c of hang) {
      await expect(a.ingest(serializeCommit(c))).rejects.toMatchObject({ code: 'permissions_required' })
      expect(await a.store.hasCommit(c.id)).toBe(false)
    }
    // A commit for another owner stays wrong_owner even on top of a quarantined commit.
    const other = Ed25519KeyPair.generate()
    const wrong = signCommit({ interface: 'Collections', context: CTX, type: TYPE, operation: 'update', committed_at: new Date().toISOString(), commit_strategy: 'automerge', sub: other.did, object_id: asObjectId(objectId), deps: [u1.id] }, new Uint8Array([1]), other)
    await expect(a.ingest(serializeCommit(wrong))).rejects.toMatchObject({ code: 'wrong_owner' })
  })

  it('two hubs revoking the same grant concurrently converge on one valid set', async () => {
    const [a, b] = await pair()
    const owner = a.ownerKey as Ed25519KeyPair
    const app = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Shared'))
    const grantId = await grantApp(a, app)
    await sync(a, b)
    const onA = appCreate(app, a.did, playlist('accepted on A'))
    await accept(a, onA, grantId)
    const onB = appCreate(app, b.did, playlist('accepted on B'))
    await accept(b, onB, grantId)
    const ua = await signedUpdate(a, app, objectId, playlist('Shared', ['x', 'from A']))
    await accept(a, ua, grantId)
    // Both revoke before either hears of the other's writes or revocation.
    await a.store.revoke(asObjectId(grantId), owner)
    await b.store.revoke(asObjectId(grantId), owner)
    await sync(a, b); await sync(b, a)
    // Copies of what each had accepted reach the other (served before the revocations were known).
    await copy(a, b, [onA.id, ua.id].filter(id => !b.store.isQuarantined(id)))
    await copy(b, a, [onB.id].filter(id => !a.store.isQuarantined(id)))
    await sync(a, b); await sync(b, a)
    const ids = [objectId, onA.id, onB.id]
    expect(await observe(a, ids)).toEqual(await observe(b, ids))
    for (const id of [onA.id, onB.id, ua.id]) expect(a.store.isQuarantined(id)).toBe(b.store.isQuarantined(id))
    // The registries agree on which commits the grant's revocation keeps.
    const setOf = (h: Hub): string[] => [...(h.store.registry.grants().find(g => g.id === grantId)?.revoked ?? new Set<string>())].sort()
    expect(setOf(a)).toEqual(setOf(b))
  })
})

describe('a revocation is causal, not a time', () => {
  it('revokes a grant whose creation was stamped by a clock ahead of the revoking hub\'s', async () => {
    const [a, b] = await pair()
    const owner = a.ownerKey as Ed25519KeyPair
    const app = Ed25519KeyPair.generate()
    // The grant was made on a hub whose clock runs an hour ahead.
    const value = { '@context': HUB_NS, '@type': GRANT_TYPE, owner: a.did, grantee: app.did, context: CTX, type: TYPE, allow: 'CRUD' }
    const grant = signCommit({ interface: 'Permissions', context: HUB_NS, type: GRANT_TYPE, operation: 'create', committed_at: new Date(Date.now() + 3_600_000).toISOString(), commit_strategy: 'lww', sub: a.did, deps: [] }, utf8.encode(JSON.stringify(value)), owner)
    await a.ingest(serializeCommit(grant))
    await sync(a, b)
    const kept = appCreate(app, a.did, playlist('accepted while live'))
    await accept(a, kept, grant.id)
    await sync(a, b)
    // B, with a right clock, revokes it: its delete is "older" than the create by LWW order.
    await b.permissions.revoke(grant.id)
    await sync(b, a)
    for (const h of [a, b]) {
      const g = h.store.registry.grants().find(x => x.id === grant.id)
      expect(g?.revokedAt, h === a ? 'A' : 'B').toBeDefined()
      expect(g?.revoked).toEqual(new Set([revocationDigest(kept.id)]))
      expect(h.store.registry.liveGrants()).toEqual([])
      const late = appCreate(app, h.did, playlist('after the revocation'))
      await expect(accept(h, late, grant.id)).rejects.toMatchObject({ code: 'permissions_required' })
      expect((await h.collections.read(kept.id)).value).toEqual(playlist('accepted while live'))
    }
    // A later owner-signed update of the revoked grant does not bring it back.
    const revived = signCommit({ interface: 'Permissions', context: HUB_NS, type: GRANT_TYPE, operation: 'update', committed_at: new Date(Date.now() + 7_200_000).toISOString(), commit_strategy: 'lww', sub: a.did, object_id: asObjectId(grant.id), deps: (await a.store.getMeta(grant.id))?.heads ?? [] }, utf8.encode(JSON.stringify(value)), owner)
    await a.ingest(serializeCommit(revived))
    expect(a.store.registry.liveGrants()).toEqual([])
  })

  it('a grant made after a revocation does not revive commits the revocation cancelled (every hub agrees, whenever they arrive)', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Shared'))
    const g1 = await grantApp(a, app)
    await sync(a, b)
    // B accepts under g1; A revokes g1 without knowing; B quarantines when it hears.
    const x = await signedUpdate(b, app, objectId, playlist('Shared', ['x', 'by app under g1']))
    await accept(b, x, g1)
    const c = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    await sync(b, c) // C got x while it was valid
    await a.permissions.revoke(g1)
    await sync(a, b)
    expect(b.store.isQuarantined(x.id)).toBe(true)
    // The owner grants the app again.
    const g2 = await grantApp(a, app)
    await sync(a, b)
    // A learns of x only now (from C, which still serves it): it was cancelled by g1's revocation, g2 changes nothing.
    expect(await copy(c, a, [x.id])).toMatchObject([{ stored: false, quarantined: true }])
    await sync(a, c)
    expect(c.store.isQuarantined(x.id)).toBe(true)
    for (const h of [a, b, c]) expect(await observe(h, [objectId])).toEqual(await observe(a, [objectId]))
    // The app's new writes under g2 are fine.
    const y = await signedUpdate(a, app, objectId, playlist('Shared', ['x', 'by app under g2']))
    expect(await accept(a, y, g2)).toMatchObject({ stored: true })
  })
})

// ------------------------------------------------------------------ (c)

/** A device without the owner key, authorized by `a` (its own hub key signs its commits). */
async function keylessDevice (a: Hub): Promise<Hub> {
  const dir = join(await tempDir(), 'device')
  const key = Ed25519KeyPair.generate()
  await a.devices.authorize(key.did, 'owner-device', 'phone')
  const commits: string[] = []
  for await (const { commitId } of a.store.feed(0)) commits.push(await a.store.getEnvelope(commitId) as string)
  await Hub.initJoined(dir, key, { ownerDid: a.did, role: 'owner-device', commits, peers: [] })
  const d = await Hub.open(dir)
  opened.push(d)
  return d
}
/** Hubs opened here (not by tempHub): closed before cleanup() removes their directories (after-hooks run in reverse order). */
const opened: Hub[] = []
afterEach(async () => {
  for (const h of opened.splice(0)) await h.close()
})

describe('device revocation', () => {
  it('what the revoker had stays valid everywhere; what it never saw is quarantined where it is, refused-quarantined where it arrives', async () => {
    const [a, b] = await pair()
    const d = await keylessDevice(a)
    expect(d.ownerKey).toBeUndefined()
    const { objectId } = await a.collections.create(playlist('Shared', ['One']))
    await sync(a, b); await sync(a, d)

    // Seen by A before the revocation.
    const x1 = await d.collections.create(playlist('phone 1'))
    const x2 = await d.collections.update(objectId, playlist('Shared', ['One', 'phone']))
    await sync(d, a); await sync(d, b)
    // Never seen by A; B has them.
    const x3 = await d.collections.create(playlist('phone 2'))
    const x4 = await d.collections.update(objectId, playlist('Shared', ['One', 'phone', 'phone again']))
    const x5 = await d.collections.update(x1.objectId, playlist('phone 1', ['edited']))
    await sync(d, b)
    const unseen = [x3.commitId, x4.commitId, x5.commitId]
    for (const id of unseen) expect(await a.store.hasCommit(asCommitId(id))).toBe(false)

    const rev = await a.devices.revoke(d.hubDid)
    const env = parseCommit(await a.store.getEnvelope(rev.commitId) as string)
    const named = decodeAccepted((JSON.parse(Buffer.from(env.payload).toString()) as { accepted: string }).accepted)
    expect(named).toEqual(new Set([x1.commitId, x2.commitId].map(revocationDigest)))

    // B hears of it: the unseen ones are quarantined, the rest stay.
    await sync(a, b)
    for (const id of unseen) expect(b.store.isQuarantined(id), id).toBe(true)
    for (const id of [x1.commitId, x2.commitId]) expect(b.store.isQuarantined(id), id).toBe(false)
    expect((await b.collections.read(objectId)).value).toEqual(playlist('Shared', ['One', 'phone']))
    expect((await b.collections.read(x1.objectId)).value).toEqual(playlist('phone 1'))
    await expect(b.collections.read(x3.objectId)).rejects.toMatchObject({ code: 'not_found' })

    // The device itself hears of it and agrees.
    await sync(a, d)
    for (const id of unseen) expect(d.store.isQuarantined(id)).toBe(true)

    // A gets the unseen ones (from a hub that had them): quarantined on arrival.
    for (const r of await copy(d, a, unseen)) expect(r).toMatchObject({ stored: false, quarantined: true })
    // And a backdated commit the revoked device signs now, with any committed_at.
    const late = await signedUpdate(a, d.hubKey, objectId, playlist('Shared', ['late']), '2001-01-01T00:00:00.000Z', 'd1'.repeat(16))
    expect(await a.ingest(serializeCommit(late))).toMatchObject({ stored: false, quarantined: true })
    // The device's own hub refuses its new local writes.
    await expect(d.collections.create(playlist('after revocation'))).rejects.toMatchObject({ code: 'permissions_required' })

    // A fresh hub of the owner, fed from A, ends with the same valid set.
    const c = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    await sync(a, c); await sync(b, c)
    await copy(d, c, unseen)
    const ids = [objectId, x1.objectId, x3.objectId]
    const view = await observe(a, ids)
    expect(await observe(b, ids)).toEqual(view)
    expect(await observe(c, ids)).toEqual(view)
    expect(await observe(d, ids)).toEqual(view)
  })

  it('commits a revoked device accepted: named ones stay valid, the others are quarantined', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Shared'))
    const grantId = await grantApp(a, app)
    await sync(a, b)
    // B accepts two app commits; A sees only the first before it revokes B.
    const k1 = appCreate(app, b.did, playlist('kept'))
    await accept(b, k1, grantId)
    await sync(b, a)
    const k2 = await signedUpdate(b, app, objectId, playlist('Shared', ['x', 'unseen']))
    await accept(b, k2, grantId)
    await a.devices.revoke(b.hubDid)
    expect(a.store.isQuarantined(k1.id)).toBe(false)
    expect(await copy(b, a, [k2.id])).toMatchObject([{ quarantined: true }])
    await sync(a, b)
    expect(b.store.isQuarantined(k1.id)).toBe(false)
    expect(b.store.isQuarantined(k2.id)).toBe(true)
    // B, revoked, can no longer accept anything.
    await expect(accept(b, appCreate(app, b.did, playlist('after')), grantId)).rejects.toMatchObject({ code: 'permissions_required' })
    expect(await observe(a, [objectId, k1.id])).toEqual(await observe(b, [objectId, k1.id]))
  })
})

// ------------------------------------------------------------------ (d)

describe('a readable value names the collection its header says', () => {
  function ownerCommit (hub: Hub, fields: Partial<UnsignedHeader>, payload: Uint8Array): VerifiedCommit {
    return signCommit({ interface: 'Collections', context: CTX, type: TYPE, operation: 'create', committed_at: new Date().toISOString(), commit_strategy: 'automerge', sub: hub.did, deps: [], ...fields } as UnsignedHeader, payload, hub.ownerKey as Ed25519KeyPair)
  }

  it('creates whose value says another @context/@type are bad_request, and nothing is stored', async () => {
    const hub = await tempHub()
    const feed = await feedIds(hub)
    const cases: VerifiedCommit[] = [
      ownerCommit(hub, { type: 'Diary' }, createChange(playlist('x') as JsonObject, APP_ACTOR)),
      ownerCommit(hub, { context: 'https://example.org' }, createChange(playlist('x') as JsonObject, APP_ACTOR)),
      ownerCommit(hub, {}, createChange({ ...playlist('x'), '@type': 'Diary' } as JsonObject, APP_ACTOR)),
      ownerCommit(hub, {}, createChange({ name: 'no names at all' }, APP_ACTOR)),
      ownerCommit(hub, { type: 'Diary', commit_strategy: 'lww' }, utf8.encode(JSON.stringify(playlist('x')))),
      ownerCommit(hub, { commit_strategy: 'lww' }, utf8.encode(JSON.stringify({ ...playlist('x'), '@context': ['https://schema.org'] })))
    ]
    for (const c of cases) {
      await expect(hub.ingest(serializeCommit(c))).rejects.toMatchObject({ code: 'bad_request' })
      expect(await hub.store.hasCommit(c.id)).toBe(false)
      expect(await hub.store.getMeta(c.id)).toBeUndefined()
    }
    // The request path checks the same.
    const app = Ed25519KeyPair.generate()
    const grantId = await grantApp(hub, app)
    const bad = signCommit({ interface: 'Collections', context: CTX, type: TYPE, operation: 'create', committed_at: new Date().toISOString(), commit_strategy: 'automerge', sub: hub.did, deps: [] }, createChange({ ...playlist('x'), '@type': 'Diary' } as JsonObject, APP_ACTOR), app)
    await expect(accept(hub, bad, grantId)).rejects.toMatchObject({ code: 'bad_request' })
    expect(await hub.store.hasCommit(bad.id)).toBe(false)
    expect((await feedIds(hub)).length).toBe(feed.length + 1) // just the grant
  })

  it('an update that changes @type or @context is refused, on every path and in every arrival order', async () => {
    const [a, b] = await pair()
    const owner = a.ownerKey as Ed25519KeyPair
    const am = await a.collections.create(playlist('am'))
    const lw = await a.collections.create(playlist('lww'), { strategy: 'lww' })
    await sync(a, b)
    const amBad = await signedUpdate(a, owner, am.objectId, { ...playlist('am'), '@type': 'Diary' })
    const amBadCtx = await signedUpdate(a, owner, am.objectId, { ...playlist('am'), '@context': 'https://example.org' })
    const amDropType = await signedUpdate(a, owner, am.objectId, { '@context': CTX, name: 'am' })
    const lwBad = await signedUpdate(a, owner, lw.objectId, { ...playlist('lww'), '@type': 'Diary' })
    for (const c of [amBad, amBadCtx, amDropType, lwBad]) {
      await expect(a.ingest(serializeCommit(c))).rejects.toMatchObject({ code: 'bad_request' })
      expect(await a.store.hasCommit(c.id)).toBe(false)
    }
    expect((await a.collections.read(am.objectId)).value).toEqual(playlist('am'))
    expect((await a.collections.read(lw.objectId)).value).toEqual(playlist('lww'))

    // LWW: a mismatched value that loses the LWW order (older committed_at) is refused just the same,
    // or a hub that receives it after a newer write would keep it and one that receives it first would not.
    const newer = await signedUpdate(a, owner, lw.objectId, playlist('lww', ['newer']), '2090-01-01T00:00:00.000Z')
    const olderBad = await signedUpdate(a, owner, lw.objectId, { ...playlist('lww'), '@type': 'Diary' }, '2080-01-01T00:00:00.000Z')
    const olderGarbage = signCommit({ ...parseCommit(serializeCommit(olderBad)).header, committed_at: '2080-01-01T00:00:01.000Z' } as never, utf8.encode('not json'), owner)
    expect(await a.ingest(serializeCommit(newer))).toMatchObject({ stored: true })
    for (const c of [olderBad, olderGarbage]) {
      await expect(a.ingest(serializeCommit(c))).rejects.toMatchObject({ code: 'bad_request' })
      await expect(b.ingest(serializeCommit(c))).rejects.toMatchObject({ code: 'bad_request' })
    }

    // Automerge: an update concurrent with a delete that changes @type is refused whether or not the delete came first.
    const am2 = await a.collections.create(playlist('am2'))
    await sync(a, b)
    const sneaky = await signedUpdate(a, owner, am2.objectId, { ...playlist('am2'), '@type': 'Diary' })
    await a.collections.delete(am2.objectId)
    await expect(a.ingest(serializeCommit(sneaky))).rejects.toMatchObject({ code: 'bad_request' })
    await expect(b.ingest(serializeCommit(sneaky))).rejects.toMatchObject({ code: 'bad_request' })
    expect(await a.store.hasCommit(sneaky.id)).toBe(false)
  })
})

// ------------------------------------------------------------------ (e)

describe('quarantine is durable', () => {
  it('a reopened hub keeps its quarantined set and values, and still quarantines what builds on it', async () => {
    const dir = join(await tempDir(), 'a')
    await Hub.init(dir)
    let a = await Hub.open(dir)
    const b = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    await sync(a, b); await sync(b, a)
    const app = Ed25519KeyPair.generate()
    const { objectId } = await a.collections.create(playlist('Shared'))
    const grantId = await grantApp(a, app)
    await sync(a, b)
    const u1 = await signedUpdate(b, app, objectId, playlist('Shared', ['x', 'app']))
    await accept(b, u1, grantId)
    const c1 = appCreate(app, b.did, playlist('app'))
    await accept(b, c1, grantId)
    const e1 = await b.collections.update(objectId, playlist('Shared', ['x', 'app', 'owner']))
    await a.store.revoke(asObjectId(grantId), a.ownerKey as Ed25519KeyPair)
    await copy(b, a, [u1.id, c1.id])
    const before = { q: await quarantinedIds(a), view: await observe(a, [objectId, c1.id]) }
    expect(before.q).toEqual([u1.id, c1.id].sort())
    await a.close()

    a = await Hub.open(dir)
    try {
      expect(await quarantinedIds(a)).toEqual(before.q)
      for (const id of [u1.id, c1.id]) expect(a.store.isQuarantined(id)).toBe(true)
      expect(await observe(a, [objectId, c1.id])).toEqual(before.view)
      expect(a.store.registry.grants().find(g => g.id === grantId)?.revoked).toEqual(new Set())
      // What builds on a quarantined commit is still recognised as such after the restart.
      expect(await copy(b, a, [e1.commitId])).toMatchObject([{ quarantined: true }])
      // And B, once it hears of the revocation, agrees after its own restart-free recompute.
      await sync(a, b)
      expect(await observe(b, [objectId, c1.id])).toEqual(await observe(a, [objectId, c1.id]))

      // B quarantined its commits when it applied the revocation; a restart keeps that too.
      const bView = await observe(b, [objectId, c1.id])
      const bq = await quarantinedIds(b)
      expect(bq).toEqual([u1.id, c1.id, e1.commitId].sort())
      await b.close()
      const b2 = await Hub.open(b.dir)
      opened.push(b2)
      expect(await quarantinedIds(b2)).toEqual(bq)
      expect(await observe(b2, [objectId, c1.id])).toEqual(bView)
      expect(await sync(b2, a)).toBe(0)

      // hub doctor: quarantined data is no problem on the hub that quarantined it when the revocation came…
      const rb = await doctor(b2)
      expect(rb.tenants.flatMap(t => t.problems)).toEqual([])
      // …nor, but for one known false positive, on the hub that quarantined it on arrival: such a commit has
      // no feed entry (it is never served), and the doctor reports it as orphan_commit — a signed-data
      // problem, which also keeps the doctor from repairing that object (see the report; doctor.ts is not ours to edit).
      const ra = await doctor(a, { repair: true })
      const flagged = ra.tenants.flatMap(t => t.problems)
      expect(flagged.filter(p => !(p.code === 'orphan_commit' && p.commitId !== undefined && a.store.isQuarantined(p.commitId)))).toEqual([])
      // A repair never touches what quarantine keeps.
      expect(await quarantinedIds(a)).toEqual([u1.id, c1.id, e1.commitId].sort())
      expect(await observe(a, [objectId, c1.id])).toEqual(bView)
    } finally {
      await a.close()
    }
  })
})

// ------------------------------------------------------------------ (f)

describe('the size of a revocation', () => {
  it('names every commit of a party with many commits, and they all stay valid where they arrive late', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const grantId = await grantApp(a, app)
    const commits = Array.from({ length: 300 }, (_, i) => appCreate(app, a.did, playlist(`app ${i}`)))
    await Promise.all(commits.map(async c => await accept(a, c, grantId)))
    const rev = await a.store.revoke(asObjectId(grantId), a.ownerKey as Ed25519KeyPair)
    expect(rev.kept).toBe(300)
    await sync(a, b, new Set(commits.map(c => c.id)))
    const results = await copy(a, b, commits.map(c => c.id))
    expect(results.every(r => r.stored)).toBe(true)
    expect((await b.collections.query({ type: TYPE, limit: 1000 })).objects).toHaveLength(300)
  })

  it(`a revocation at the cap (${MAX_REVOCATION_COMMITS}) replicates; one over it is too_large and changes nothing`, async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const grantId = await grantApp(a, app)
    await sync(a, b)
    // The revoking hub counts the r! index: stand-ins for commits the app made (their envelopes are irrelevant here).
    const L = a.store.layout
    const fill = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 5000) {
        await a.kv.batch(Array.from({ length: Math.min(5000, to - i) }, (_, j) => ({ type: 'put' as const, key: L.relies(app.did, asCommitId(`bafkreifake${(i + j).toString().padStart(8, '0')}`)), value: new Uint8Array(0) })))
      }
    }
    await fill(0, MAX_REVOCATION_COMMITS + 1)
    await expect(a.permissions.revoke(grantId)).rejects.toMatchObject({ code: 'too_large' })
    expect(a.store.registry.grants().find(g => g.id === grantId)?.revokedAt).toBeUndefined()
    await a.kv.batch([{ type: 'del', key: L.relies(app.did, asCommitId(`bafkreifake${MAX_REVOCATION_COMMITS.toString().padStart(8, '0')}`)) }])
    const rev = await a.store.revoke(asObjectId(grantId), a.ownerKey as Ed25519KeyPair)
    expect(rev.kept).toBe(MAX_REVOCATION_COMMITS)
    // Every other hub must be able to take it: it is within the commit size limit.
    const env = await a.store.getEnvelope(rev.commitId) as string
    expect(env.length).toBeLessThanOrEqual(a.config.limits.maxCommitBytes)
    expect(await b.ingest(env)).toMatchObject({ stored: true })
    expect(b.store.registry.grants().find(g => g.id === grantId)?.revoked?.size).toBe(MAX_REVOCATION_COMMITS)
  }, 120_000)
})

