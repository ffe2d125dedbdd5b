/**
 * Findings of the outside review of issue 11, against real LevelDB hubs of
 * one owner (commits moved the way sync moves them, as in revocation.test.ts):
 *  - an app that signs two different Automerge changes in one (actor, seq)
 *    slot and sends one to each hub must not split the object for good nor
 *    make two honest hubs call each other protocol violators;
 *  - an app may not date an LWW write far ahead and pin the value;
 *  - `hub doctor` is clean on a hub that quarantined a commit on arrival.
 */
import * as A from '@automerge/automerge'
import { afterEach, describe, expect, it } from 'vitest'
import type { Hub } from '../src/hub.js'
import { signCommit, type VerifiedCommit } from '../src/commits/commit.js'
import { asObjectId, type Did } from '../src/ids.js'
import { utf8 } from '../src/identity/encoding.js'
import { Ed25519KeyPair, type Signer } from '../src/identity/keys.js'
import { actorFor } from '../src/store/tenant-store.js'
import { doctor } from '../src/store/doctor.js'
import { MAX_AHEAD_OF_ACCEPTANCE_MS } from '../src/permissions/validity.js'
import { cleanup, playlist, tempHub } from './helpers.js'

afterEach(cleanup)

const CTX = 'https://schema.org'
const TYPE = 'MusicPlaylist'

async function pair (): Promise<[Hub, Hub]> {
  const a = await tempHub()
  const b = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
  await sync(a, b)
  await sync(b, a)
  return [a, b]
}

/** One sync pass: `from`'s feed in order, quarantined commits skipped; every ingest must succeed (no protocol violation). */
async function sync (from: Hub, to: Hub): Promise<void> {
  for await (const { commitId } of from.store.feed(0)) {
    if (from.store.isQuarantined(commitId)) continue
    await to.ingest(await from.store.getEnvelope(commitId) as string)
  }
}

function header (owner: Did, f: { operation: 'create' | 'update', objectId?: string, deps?: string[], strategy?: 'automerge' | 'lww', committedAt?: number }) {
  return {
    interface: 'Collections' as const,
    context: CTX,
    type: TYPE,
    operation: f.operation,
    committed_at: new Date(f.committedAt ?? Date.now()).toISOString(),
    commit_strategy: f.strategy ?? 'automerge' as const,
    sub: owner,
    ...(f.objectId !== undefined ? { object_id: asObjectId(f.objectId) } : {}),
    deps: (f.deps ?? []).map(d => d as VerifiedCommit['id'])
  }
}

/** Two changes by `actor` in the same slot (the next seq after `base`), setting name to `x` and `y`. */
function rivals (base: Uint8Array, actor: string, x: string, y: string): [Uint8Array, Uint8Array] {
  const doc = A.load<Record<string, unknown>>(base, { actor })
  const one = A.change(A.clone(doc, { actor }), d => { d.name = x })
  const two = A.change(A.clone(doc, { actor }), d => { d.name = y })
  return [A.getLastLocalChange(one) as Uint8Array, A.getLastLocalChange(two) as Uint8Array]
}

async function accept (hub: Hub, c: VerifiedCommit, grant: string): Promise<unknown> {
  return await hub.store.ingest(c, { accept: { at: Date.now(), grant } })
}

const name = async (hub: Hub, id: string): Promise<unknown> => (await hub.collections.read(id)).value?.name

describe('rival Automerge changes in one (actor, seq) slot', () => {
  it('an app sending one to each hub: both hubs keep the same one, with what was built on the other quarantined, and keep syncing', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const { grantId } = await a.permissions.grant({ grantee: app.did, context: CTX, type: TYPE, allow: 'CRUD' })
    const { objectId, commitId } = await a.collections.create(playlist('zero'))
    await sync(a, b)

    const actor = 'aa'.repeat(16)
    const [x, y] = rivals(await a.collections.export(objectId), actor, 'ONE', 'TWO')
    const c1 = signCommit(header(a.did, { operation: 'update', objectId, deps: [commitId] }), x, app)
    const c2 = signCommit(header(a.did, { operation: 'update', objectId, deps: [commitId] }), y, app)
    expect(await accept(a, c1, grantId)).toMatchObject({ stored: true })
    expect(await accept(b, c2, grantId)).toMatchObject({ stored: true })
    // The owner builds on what each hub holds.
    const onA = await a.collections.change(objectId, d => { d.numTracks = 10 })
    const onB = await b.collections.change(objectId, d => { d.numTracks = 20 })

    await sync(a, b)
    await sync(b, a)
    await sync(a, b)
    const [win, lose, built, loserHub] = c1.id < c2.id ? [c1, c2, onB, b] : [c2, c1, onA, a]
    // Where the loser was accepted it is quarantined (with the owner's edit on
    // it); the other hub quarantines it on arrival, or never gets it (a hub
    // does not serve what it quarantined).
    expect(loserHub.store.isQuarantined(lose.id)).toBe(true)
    expect(loserHub.store.isQuarantined(built.commitId)).toBe(true)
    for (const h of [a, b]) {
      expect(await name(h, objectId)).toBe(win === c1 ? 'ONE' : 'TWO')
      for (const id of [lose.id, built.commitId]) expect(h.store.isQuarantined(id) || !await h.store.hasCommit(id as VerifiedCommit['id'])).toBe(true)
      expect(h.store.isQuarantined(win.id)).toBe(false)
    }
    expect((await a.collections.read(objectId)).value).toEqual((await b.collections.read(objectId)).value)
    expect((await a.collections.read(objectId)).heads).toEqual((await b.collections.read(objectId)).heads)

    // Both keep working on the object and stay converged.
    await a.collections.change(objectId, d => { d.after = 'on A' })
    await b.collections.create(playlist('new on B'))
    await sync(a, b)
    await sync(b, a)
    expect((await b.collections.read(objectId)).value?.after).toBe('on A')
    expect((await a.collections.read(objectId)).value).toEqual((await b.collections.read(objectId)).value)
    expect((await a.collections.query({ type: TYPE })).objects.length).toBe(2)
  })

  it('the request path refuses a rival of a change the hub already holds (conflict), and stores nothing', async () => {
    const hub = await tempHub()
    const app = Ed25519KeyPair.generate()
    const { grantId } = await hub.permissions.grant({ grantee: app.did, context: CTX, type: TYPE, allow: 'CRUD' })
    const { objectId, commitId } = await hub.collections.create(playlist('zero'))
    const [x, y] = rivals(await hub.collections.export(objectId), 'ab'.repeat(16), 'ONE', 'TWO')
    const c1 = signCommit(header(hub.did, { operation: 'update', objectId, deps: [commitId] }), x, app)
    const c2 = signCommit(header(hub.did, { operation: 'update', objectId, deps: [commitId] }), y, app)
    await accept(hub, c1, grantId)
    await expect(accept(hub, c2, grantId)).rejects.toMatchObject({ code: 'conflict' })
    expect(await hub.store.hasCommit(c2.id)).toBe(false)
    expect(await name(hub, objectId)).toBe('ONE')
  })

  it('an app cannot displace the owner\'s change by reusing the owner hub\'s actor and slot, whatever its commit id', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const { grantId } = await a.permissions.grant({ grantee: app.did, context: CTX, type: TYPE, allow: 'CRUD' })
    const { objectId, commitId } = await a.collections.create(playlist('zero'))
    await sync(a, b)
    const base = await a.collections.export(objectId)
    const own = await a.collections.change(objectId, d => { d.name = 'by the owner' })
    // The owner's change took the next slot of A's actor; the app forges one
    // in the same slot, grinding committed_at until its id sorts first.
    let first: VerifiedCommit | undefined
    for (let i = 0; i < 1000 && first === undefined; i++) {
      const [x] = rivals(base, actorFor(a.hubDid), 'by the app', 'unused')
      const c = signCommit(header(a.did, { operation: 'update', objectId, deps: [commitId], committedAt: Date.now() - i }), x, app)
      if (c.id < own.commitId) first = c
    }
    if (first === undefined) throw new Error('no forged commit with a lower id')
    // On B (which has not seen the owner's change) through its request path, then the feeds cross.
    expect(await accept(b, first, grantId)).toMatchObject({ stored: true })
    await sync(a, b)
    await sync(b, a)
    expect(b.store.isQuarantined(first.id)).toBe(true)
    // A never gets it: B does not serve what it quarantined.
    expect(await a.store.hasCommit(first.id)).toBe(false)
    // Handed to A directly (with B's acceptance), it is quarantined on arrival.
    expect(await a.ingest(await b.store.getEnvelope(first.id) as string)).toMatchObject({ stored: false, quarantined: true })
    for (const h of [a, b]) expect(await name(h, objectId)).toBe('by the owner')
  })
})

describe('LWW order is not the app\'s to pin', () => {
  it('a grantee commit dated more than 5 minutes ahead of the accepting hub is refused; within the bound it is accepted', async () => {
    const hub = await tempHub()
    const app = Ed25519KeyPair.generate()
    const { grantId } = await hub.permissions.grant({ grantee: app.did, context: CTX, type: TYPE, allow: 'CRUD' })
    const { objectId, commitId } = await hub.collections.create(playlist('owner value'), { strategy: 'lww' })
    const pinned = signCommit(header(hub.did, { operation: 'update', objectId, deps: [commitId], strategy: 'lww', committedAt: Date.parse('9999-12-31T23:59:59.999Z') }), utf8.encode(JSON.stringify(playlist('APP-PINNED'))), app)
    await expect(accept(hub, pinned, grantId)).rejects.toMatchObject({ code: 'permissions_required' })
    expect(await hub.store.hasCommit(pinned.id)).toBe(false)
    const justAhead = signCommit(header(hub.did, { operation: 'update', objectId, deps: [commitId], strategy: 'lww', committedAt: Date.now() + MAX_AHEAD_OF_ACCEPTANCE_MS + 60_000 }), utf8.encode(JSON.stringify(playlist('ahead'))), app)
    await expect(accept(hub, justAhead, grantId)).rejects.toMatchObject({ code: 'permissions_required' })
    const skewed = signCommit(header(hub.did, { operation: 'update', objectId, deps: [commitId], strategy: 'lww', committedAt: Date.now() + 60_000 }), utf8.encode(JSON.stringify(playlist('app, clock a minute fast'))), app)
    expect(await accept(hub, skewed, grantId)).toMatchObject({ stored: true })
    expect(await name(hub, objectId)).toBe('app, clock a minute fast')
    // The owner's next write (two minutes later on a real clock) wins again; here: after the app's bounded lead.
    await hub.collections.update(objectId, playlist('owner again'))
    expect(['owner again', 'app, clock a minute fast']).toContain(await name(hub, objectId))
  })

  it('a copy of a pinned commit with a forged-late acceptance still cannot enter another hub', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const { grantId } = await a.permissions.grant({ grantee: app.did, context: CTX, type: TYPE, allow: 'CRUD' })
    const { objectId, commitId } = await a.collections.create(playlist('owner value'), { strategy: 'lww' })
    await sync(a, b)
    const pinned = signCommit(header(a.did, { operation: 'update', objectId, deps: [commitId], strategy: 'lww', committedAt: Date.parse('9999-12-31T23:59:59.999Z') }), utf8.encode(JSON.stringify(playlist('APP-PINNED'))), app)
    // Even a hub accepting it at an absurd time of its own would not make it valid elsewhere: the bound is against the acceptance.
    await expect(b.store.ingest(pinned, { accept: { at: Date.now(), grant: grantId } })).rejects.toMatchObject({ code: 'permissions_required' })
    expect(await name(a, objectId)).toBe('owner value')
  })
})

describe('hub doctor and quarantine on arrival', () => {
  it('a hub that quarantined a commit on arrival (no feed entry by design) is clean', async () => {
    const [a, b] = await pair()
    const app = Ed25519KeyPair.generate()
    const { grantId } = await a.permissions.grant({ grantee: app.did, context: CTX, type: TYPE, allow: 'CRUD' })
    const { objectId, commitId } = await a.collections.create(playlist('shared'))
    await sync(a, b)
    const doc = A.load<Record<string, unknown>>(await b.collections.export(objectId), { actor: 'cd'.repeat(16) })
    const change = A.getLastLocalChange(A.change(doc, d => { d.name = 'by the app on B' })) as Uint8Array
    const onB = signCommit(header(a.did, { operation: 'update', objectId, deps: [commitId] }), change, app)
    expect(await accept(b, onB, grantId)).toMatchObject({ stored: true })
    await a.store.revoke(asObjectId(grantId), a.ownerKey as Signer)
    // A gets B's commit (B had it before it heard of the revocation): quarantined on arrival.
    expect(await a.ingest(await b.store.getEnvelope(onB.id) as string)).toMatchObject({ stored: false, quarantined: true })
    await sync(a, b)
    for (const h of [a, b]) {
      const report = await doctor(h)
      expect(report.tenants.flatMap(t => t.problems), JSON.stringify(report)).toEqual([])
      expect(report.clean).toBe(true)
    }
  })
})
