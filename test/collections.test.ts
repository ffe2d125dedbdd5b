import * as A from '@automerge/automerge'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { utf8 } from '../src/identity/encoding.js'
import { signCommit, serializeCommit, parseCommit, verifyCommit } from '../src/commits/commit.js'
import type { Ed25519KeyPair } from '../src/identity/keys.js'
import type { JsonObject } from '../src/objects/json.js'
import { asCommitId } from '../src/ids.js'
import { cleanup, dumpStore, playlist, tempDir, tempHub } from './helpers.js'

afterEach(cleanup)

/** Copy every commit `from` has and `to` lacks, in `from`'s feed order (what sync will do). */
async function exchange (from: Hub, to: Hub): Promise<number> {
  let n = 0
  for await (const { commitId } of from.store.feed(0)) {
    const env = await from.store.getEnvelope(commitId) as string
    if ((await to.ingest(env)).stored) n++
  }
  return n
}

describe('Collections', () => {
  it('creates, reads, updates, deletes and keeps history', async () => {
    const hub = await tempHub()
    const { objectId, commitId } = await hub.collections.create(playlist('Classic Rock'))
    expect(objectId).toBe(commitId)
    const read = await hub.collections.read(objectId)
    expect(read).toMatchObject({ objectId, context: 'https://schema.org', type: 'MusicPlaylist', heads: [commitId], strategy: 'automerge', createdBy: hub.did })
    expect(read.value).toEqual(playlist('Classic Rock'))

    const u = await hub.collections.update(objectId, playlist('Classic Rock', ['Sweet Home Alabama', 'Free Bird']))
    expect(u.changed).toBe(true)
    expect((await hub.collections.read(objectId)).heads).toEqual([u.commitId])
    const same = await hub.collections.update(objectId, playlist('Classic Rock', ['Sweet Home Alabama', 'Free Bird']))
    expect(same.changed).toBe(false)

    const c = await hub.collections.change(objectId, d => { (d.track as unknown[]).push({ name: 'Simple Man' }) })
    expect(((await hub.collections.read(objectId)).value?.track as JsonObject[]).map(t => t.name)).toEqual(['Sweet Home Alabama', 'Free Bird', 'Simple Man'])
    await expect(hub.collections.change(objectId, d => { d['@type'] = 'Other' })).rejects.toMatchObject({ code: 'conflict' })

    const del = await hub.collections.delete(objectId)
    await expect(hub.collections.read(objectId)).rejects.toMatchObject({ code: 'not_found' })
    const { commits } = await hub.collections.history(objectId)
    expect(commits.map(x => x.operation)).toEqual(['create', 'update', 'update', 'delete'])
    expect(commits.map(x => x.commitId)).toEqual([commitId, u.commitId, c.commitId, del.commitId])
    expect(commits.every(x => x.signer === hub.did)).toBe(true)
    // Each history entry is a full, parseable envelope whose id recomputes.
    for (const h of commits) expect(parseCommit(h.envelope).id).toBe(h.commitId)
  })

  it('exports a standard Automerge document', async () => {
    const hub = await tempHub()
    const { objectId } = await hub.collections.create(playlist('Export me', ['a', 'b']))
    await hub.collections.update(objectId, playlist('Export me!', ['a', 'b', 'c']))
    const doc = A.load<Record<string, unknown>>(await hub.collections.export(objectId))
    const plain = JSON.parse(JSON.stringify(doc, (_k, v: unknown) => A.isImmutableString(v) ? v.val : v)) as JsonObject
    expect(plain).toEqual(playlist('Export me!', ['a', 'b', 'c']))
    expect(A.getAllChanges(doc)).toHaveLength(2)
  })

  it('lww: the latest committed_at wins whatever the arrival order; ties go to the larger id', async () => {
    const a = await tempHub()
    const owner = a.ownerKey as Ed25519KeyPair
    const b = await tempHub({ init: { ownerKey: owner } })
    const { objectId, commitId } = await a.collections.create(playlist('v0'), { strategy: 'lww' })
    const mk = (name: string, at: string): string => serializeCommit(signCommit({
      interface: 'Collections', context: 'https://schema.org', type: 'MusicPlaylist', operation: 'update', committed_at: at,
      commit_strategy: 'lww', sub: a.did, object_id: objectId, deps: [asCommitId(commitId)]
    }, utf8.encode(JSON.stringify(playlist(name))), owner))
    const late = mk('late', '2099-01-01T00:00:00.000Z')
    const early = mk('early', '2098-01-01T00:00:00.000Z')
    await exchange(a, b)
    await a.ingest(early); await a.ingest(late)
    await b.ingest(late); await b.ingest(early)
    expect((await a.collections.read(objectId)).value?.name).toBe('late')
    expect((await b.collections.read(objectId)).value?.name).toBe('late')
    expect((await a.collections.read(objectId)).heads).toEqual((await b.collections.read(objectId)).heads)
    expect((await a.collections.read(objectId)).heads).toHaveLength(2)
  })

  it('lww: a later delete wins over an earlier update; a later update resurrects', async () => {
    const hub = await tempHub()
    const owner = hub.ownerKey as Ed25519KeyPair
    const { objectId, commitId } = await hub.collections.create(playlist('v0'), { strategy: 'lww' })
    const base = { interface: 'Collections' as const, context: 'https://schema.org', type: 'MusicPlaylist', commit_strategy: 'lww' as const, sub: hub.did, object_id: objectId, deps: [asCommitId(commitId)] }
    const del = signCommit({ ...base, operation: 'delete', committed_at: '2099-01-02T00:00:00.000Z' }, new Uint8Array(0), owner)
    const upd = signCommit({ ...base, operation: 'update', committed_at: '2099-01-01T00:00:00.000Z' }, utf8.encode(JSON.stringify(playlist('older'))), owner)
    await hub.ingest(serializeCommit(del))
    await hub.ingest(serializeCommit(upd))
    await expect(hub.collections.read(objectId)).rejects.toMatchObject({ code: 'not_found' })
    const later = signCommit({ ...base, operation: 'update', committed_at: '2099-01-03T00:00:00.000Z', deps: [del.id, upd.id].sort() }, utf8.encode(JSON.stringify(playlist('newer'))), owner)
    await hub.ingest(serializeCommit(later))
    expect((await hub.collections.read(objectId)).value?.name).toBe('newer')
  })

  it('automerge: two hubs of one owner edit concurrently and converge with no edit lost', async () => {
    const a = await tempHub()
    const b = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    const { objectId } = await a.collections.create(playlist('Road trip', ['One', 'Two']))
    await exchange(a, b)
    await a.collections.update(objectId, { ...playlist('Road trip (A)', ['One', 'Two', 'From A']), numTracks: 2 })
    await b.collections.change(objectId, d => { d.numTracks = 99; (d.track as unknown[]).push({ name: 'From B' }) })
    expect(await exchange(a, b)).toBe(1) // A's update
    expect(await exchange(b, a)).toBe(2) // B's founding device authorization + B's edit
    const ra = await a.collections.read(objectId)
    const rb = await b.collections.read(objectId)
    expect(ra.value).toEqual(rb.value)
    expect(ra.heads).toEqual(rb.heads)
    expect(ra.heads).toHaveLength(2)
    expect(ra.value?.name).toBe('Road trip (A)')
    expect(ra.value?.numTracks).toBe(99)
    expect((ra.value?.track as JsonObject[]).map(t => t.name).sort()).toEqual(['From A', 'From B', 'One', 'Two'])
    // A merge commit on either side joins the heads.
    const m = await a.collections.update(objectId, { ...(ra.value as JsonObject), name: 'Merged' })
    expect((await a.collections.read(objectId)).heads).toEqual([m.commitId])
    expect(parseCommit(await a.store.getEnvelope(m.commitId) as string).header.deps).toEqual(ra.heads)
    await exchange(a, b)
    expect((await b.collections.read(objectId)).value).toEqual((await a.collections.read(objectId)).value)
  })

  it('automerge: an update concurrent with a delete is kept in history; the object stays deleted', async () => {
    const a = await tempHub()
    const b = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    const { objectId } = await a.collections.create(playlist('doomed'))
    await exchange(a, b)
    await a.collections.delete(objectId)
    await b.collections.update(objectId, playlist('edited meanwhile'))
    await exchange(a, b); await exchange(b, a)
    for (const h of [a, b]) {
      await expect(h.collections.read(objectId)).rejects.toMatchObject({ code: 'not_found' })
      expect((await h.collections.history(objectId)).commits).toHaveLength(3)
    }
  })

  it('ingests a create and its update arriving in one batch behind other commits (one write group)', async () => {
    const a = await tempHub()
    const b = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    const other = await a.collections.create(playlist('other'))
    const { objectId } = await a.collections.create(playlist('x', ['one']))
    await a.collections.update(objectId, playlist('x', ['one', 'two']))
    const envs: string[] = []
    for await (const { commitId } of a.store.feed(0)) envs.push(await a.store.getEnvelope(commitId) as string)
    // B receives A's whole feed as one sync batch would deliver it.
    const results = await b.store.ingestMany(await Promise.all(envs.map(async e => await verifyCommit(parseCommit(e), async kid => await b.keys.resolveKey(kid)))))
    expect(results.map(r => r.status)).toEqual(envs.map(() => 'fulfilled'))
    expect((await b.collections.read(objectId)).value).toEqual(playlist('x', ['one', 'two']))
    expect((await b.collections.read(other.objectId)).value?.name).toBe('other')
  })

  it('concurrent writers in one process never corrupt an object', async () => {
    const hub = await tempHub()
    const { objectId } = await hub.collections.create(playlist('Party', []))
    const many = await Promise.all(Array.from({ length: 40 }, async (_, i) => await hub.collections.create(playlist(`p${i}`))))
    await Promise.all([
      ...Array.from({ length: 150 }, async (_, i) => await hub.collections.change(objectId, d => { (d.track as unknown[]).push({ name: `t${i}` }) })),
      ...many.flatMap(m => Array.from({ length: 5 }, async (_, j) => await hub.collections.update(m.objectId, playlist(`p-${j}`, [`x${j}`]))))
    ])
    const v = await hub.collections.read(objectId)
    expect((v.value?.track as JsonObject[]).map(t => t.name).sort()).toEqual(Array.from({ length: 150 }, (_, i) => `t${i}`).sort())
    expect(v.heads).toHaveLength(1)
    expect(v.commits).toBe(151)
    expect((await hub.collections.history(objectId)).commits).toHaveLength(151)
    for (const m of many) {
      const r = await hub.collections.read(m.objectId)
      expect(r.heads).toHaveLength(1)
      expect(r.commits).toBeGreaterThanOrEqual(2)
    }
    // The feed holds every commit exactly once, in order.
    const seen: string[] = []
    for await (const e of hub.store.feed(0)) seen.push(e.commitId)
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen.length).toBe(hub.store.seq)
  })

  it('snapshots are a cache: reads survive losing them and the document cache', async () => {
    const hub = await tempHub()
    const { objectId } = await hub.collections.create(playlist('snap', []))
    for (let i = 0; i < 70; i++) await hub.collections.change(objectId, d => { (d.track as unknown[]).push({ name: `t${i}` }) })
    expect(await hub.kv.get(hub.store.layout.snapshot(objectId))).toBeDefined()
    const expected = (await hub.collections.read(objectId)).value
    const exported = await hub.collections.export(objectId)
    hub.store.dropDocCache()
    await hub.kv.batch([{ type: 'del', key: hub.store.layout.snapshot(objectId) }])
    await hub.collections.change(objectId, d => { (d.track as unknown[]).push({ name: 'after' }) })
    const v = (await hub.collections.read(objectId)).value as JsonObject
    expect((v.track as JsonObject[]).length).toBe(71)
    expect({ ...v, track: (v.track as JsonObject[]).slice(0, 70), numTracks: 0 }).toEqual({ ...expected, numTracks: 0 })
    expect(A.getAllChanges(A.load(exported))).toHaveLength(71)
  })

  it('data written by one process is there, unchanged, after a restart', async () => {
    const dir = join(await tempDir(), 'hub')
    await Hub.init(dir)
    const h1 = await Hub.open(dir)
    const { objectId } = await h1.collections.create(playlist('Persist'))
    await h1.collections.update(objectId, playlist('Persist', ['a', 'b']))
    await h1.profile.set({ name: 'Alice' })
    const before = await dumpStore(h1)
    const value = (await h1.collections.read(objectId)).value
    await h1.close()
    const h2 = await Hub.open(dir)
    expect(await dumpStore(h2)).toEqual(before)
    expect((await h2.collections.read(objectId)).value).toEqual(value)
    expect((await h2.profile.get())?.value?.name).toBe('Alice')
    const next = await h2.collections.create(playlist('After restart'))
    expect(h2.store.seq).toBe(5) // device authorization, create, update, profile, create
    expect((await h2.collections.read(next.objectId)).value?.name).toBe('After restart')
    await h2.close()
  })

  it('refuses to open a hub whose owner key or config it cannot read, instead of opening it keyless or calling it absent', async () => {
    const dir = join(await tempDir(), 'hub')
    await Hub.init(dir)
    const owner = join(dir, 'keys', 'owner.json')
    // An unreadable file (a directory in its place fails EISDIR, as EACCES would for a non-root user).
    await rm(owner)
    await mkdir(owner)
    await expect(Hub.open(dir)).rejects.toMatchObject({ code: 'unavailable', details: { path: owner } })
    await rm(owner, { recursive: true })
    const config = join(dir, 'hub.json')
    await rm(config)
    await mkdir(config)
    await expect(Hub.open(dir)).rejects.toMatchObject({ code: 'unavailable', details: { path: config } })
    await rm(config, { recursive: true })
    await expect(Hub.open(dir)).rejects.toMatchObject({ code: 'not_found' })
  })

  it('keeps key files private and the config free of secrets', async () => {
    const hub = await tempHub()
    const cfg = await readFile(join(hub.dir, 'hub.json'), 'utf8')
    const seed = (hub.ownerKey as Ed25519KeyPair).privateJwk().d
    expect(cfg).not.toContain(seed)
    expect(cfg).toContain(hub.did)
    await expect(Hub.init(hub.dir)).rejects.toMatchObject({ code: 'already_exists' })
  })
})

describe('Profile', () => {
  it('has one public object per DID that only the owner writes', async () => {
    const hub = await tempHub()
    expect(await hub.profile.get()).toBeNull()
    const first = await hub.profile.set({ name: 'Alice', description: 'Plays guitar' })
    const second = await hub.profile.set({ name: 'Alice B.' })
    expect(second.objectId).toBe(first.objectId)
    const p = await hub.profile.get()
    expect(p?.value).toEqual({ '@context': 'https://schema.org', '@type': 'Person', name: 'Alice B.' })
    expect(p?.interface).toBe('Profile')
    // Profiles do not show up among Collections.
    expect((await hub.collections.query()).objects).toHaveLength(0)
    await expect(hub.collections.read(first.objectId)).rejects.toMatchObject({ code: 'not_found' })
    await expect(hub.profile.set({ '@type': 'Organization', name: 'x' })).rejects.toMatchObject({ code: 'bad_request' })
  })
})

describe('the owner DID', () => {
  it('is a did:key with an X25519 key-agreement key', async () => {
    const hub = await tempHub()
    const doc = hub.didDocument()
    expect(doc.id).toBe(hub.did)
    expect(doc.keyAgreement?.[0]).toMatchObject({ type: 'X25519KeyAgreementKey2020' })
    expect(hub.peerId).toMatch(/^12D3KooW/)
    expect(hub.hubDid).not.toBe(hub.did)
    // A new hub holds exactly one object: the owner's authorization of this hub as a device.
    expect(hub.devices.list()).toMatchObject([{ device: hub.hubDid, role: 'owner-device', owner: hub.did }])
    expect((await hub.collections.query()).objects).toHaveLength(0)
    expect(hub.store.seq).toBe(1)
  })
})
