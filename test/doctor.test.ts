/**
 * `hub doctor`: corrupt a real LevelDB store in the ways a bug, a bad disk
 * or a hand edit could, and check that the doctor reports each problem with
 * its code, repairs derived data from the commits, and never touches signed
 * data.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { utf8, utf8d } from '../src/identity/encoding.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { parseCommit, serializeCommit, signCommit, verifyCommit } from '../src/commits/commit.js'
import { createChange } from '../src/objects/automerge.js'
import { prefixEnd } from '../src/store/kv.js'
import { encodeIndexValue, pairScope } from '../src/store/layout.js'
import { doctor, tenantsOf, type DoctorProblem, type DoctorReport } from '../src/store/doctor.js'
import { asObjectId } from '../src/ids.js'
import { orgKeys } from '../src/org/layout.js'
import type { JsonObject } from '../src/objects/json.js'
import { cleanup, playlist, tempDir, tempHub } from './helpers.js'
import { BIN, hub as runHub, ok } from './cli-helpers.js'

afterEach(cleanup)

const SCHEMA = 'https://schema.org'
const book = (name: string, pages: number): Record<string, unknown> => ({ '@context': SCHEMA, '@type': 'Book', name, pages })

interface World {
  playlists: string[]
  books: string[]
  /** Automerge object updated past the snapshot interval. */
  busy: string
  /** Object with a few updates (its log is corrupted). */
  edited: string
  deleted: string[]
  grant: string
  revoked: string
}

/** Creates, updates, deletes, lww, profile, grants: a bit of everything the store derives. */
async function populate (hub: Hub): Promise<World> {
  const playlists: string[] = []
  for (let i = 0; i < 12; i++) playlists.push((await hub.collections.create(playlist(`P${i}`, [`t${i}`, 'x']))).objectId)
  const books: string[] = []
  for (let i = 0; i < 6; i++) books.push((await hub.collections.create(book(`B${i}`, 100 + i), { strategy: 'lww' })).objectId)
  const edited = playlists[1] as string
  await hub.collections.update(edited, playlist('P1 renamed', ['a']))
  await hub.collections.change(edited, d => { (d.track as unknown[]).push({ name: 'b' }); d.numTracks = 2 })
  await hub.collections.update(books[0] as string, book('B0 second edition', 250))
  const busy = playlists[2] as string
  for (let i = 0; i < 40; i++) await hub.collections.change(busy, d => { d.numTracks = i })
  const deleted = [playlists[3] as string, books[1] as string]
  for (const id of deleted) await hub.collections.delete(id)
  await hub.profile.set({ name: 'Alice' })
  await hub.profile.set({ name: 'Alice A.' })
  const app = Ed25519KeyPair.generate().did
  const grant = (await hub.permissions.grant({ grantee: app, context: SCHEMA, type: 'MusicPlaylist', allow: 'CR--' })).grantId
  const revoked = (await hub.permissions.grant({ grantee: app, context: SCHEMA, type: 'Book', allow: '-R--' })).grantId
  await hub.permissions.revoke(revoked)
  await hub.store.idle()
  return { playlists, books, busy, edited, deleted, grant, revoked }
}

async function keysUnder (hub: Hub, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const k of hub.kv.keys({ gte: prefix, lt: prefixEnd(prefix) })) out.push(k)
  return out
}

/** Every signed key (`c!`, `f!`) with its bytes. */
async function signedData (hub: Hub): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const p of [`${hub.store.layout.p}c!`, hub.store.layout.feedPrefix()]) {
    for await (const [k, v] of hub.kv.entries({ gte: p, lt: prefixEnd(p) })) out.set(k, Buffer.from(v).toString('base64'))
  }
  return out
}

function codes (r: DoctorReport | { problems: DoctorProblem[] }): string[] {
  const problems = 'tenants' in r ? r.tenants.flatMap(t => t.problems) : r.problems
  return [...new Set(problems.map(p => p.code))].sort()
}

describe('hub doctor', () => {
  it('finds nothing wrong with a hub that only ever went through the store', async () => {
    const hub = await tempHub()
    const w = await populate(hub)
    const r = await doctor(hub)
    expect(r.clean).toBe(true)
    expect(r.tenants).toHaveLength(1)
    const t = r.tenants[0]
    expect(t).toMatchObject({ tenant: hub.did, problems: [], repaired: 0, clean: true })
    // 1 device authorization + 18 objects + 3 updates + 40 changes + 2 deletes + 2 profile + 2 grants + 1 revocation
    expect(t?.commits).toBe(1 + 18 + 3 + 40 + 2 + 2 + 2 + 1)
    expect(t?.feed).toBe(t?.commits)
    expect(t?.objects).toBe(1 + 18 + 1 + 2)
    // The busy object has a snapshot, and it was validated.
    expect(await hub.kv.get(hub.store.layout.snapshot(asObjectId(w.busy)))).toBeDefined()
    // A repair of a clean hub writes nothing.
    const before = await signedData(hub)
    const again = await doctor(hub, { repair: true })
    expect(again.clean).toBe(true)
    expect(again.tenants[0]?.repaired).toBe(0)
    expect(await signedData(hub)).toEqual(before)
  })

  it('reports corrupted derived data with a code each, repairs it, and reads and queries are right again', async () => {
    const hub = await tempHub()
    const w = await populate(hub)
    const L = hub.store.layout
    const signed = await signedData(hub)
    const A0 = w.playlists[0] as string
    const B0 = w.playlists[5] as string
    const C0 = w.playlists[6] as string

    // 1. a sort index key disappears: queries by type miss A0
    const typeScope = pairScope(SCHEMA, 'MusicPlaylist')
    const sortKey = (await keysUnder(hub, L.sortPrefix('Collections', typeScope, 'c'))).find(k => k.endsWith(`!${A0}`)) as string
    expect(sortKey).toBeDefined()
    // 2. a bogus field index key: B0 "is named" Bogus
    const bogus = `${L.fieldPrefix('Collections', 'MusicPlaylist', 'name')}${encodeIndexValue('Bogus')}!${B0}`
    // 3. C0's meta says another value
    const metaRaw = await hub.kv.get(L.object(asObjectId(C0))) as Uint8Array
    const meta = JSON.parse(utf8d.decode(metaRaw)) as { value: Record<string, unknown> }
    meta.value.name = 'tampered'
    // 4. a per-object log entry of the edited object disappears
    const logKey = L.objectCommit(asObjectId(w.edited), 2)
    expect(await hub.kv.get(logKey)).toBeDefined()
    // 5. garbage in the busy object's snapshot
    const snapKey = L.snapshot(asObjectId(w.busy))
    // 6. the grant drops out of the Permissions list
    const permKey = L.permission(asObjectId(w.grant))
    await hub.kv.batch([
      { type: 'del', key: sortKey },
      { type: 'put', key: bogus, value: new Uint8Array(0) },
      { type: 'put', key: L.object(asObjectId(C0)), value: utf8.encode(JSON.stringify(meta)) },
      { type: 'del', key: logKey },
      { type: 'put', key: snapKey, value: utf8.encode('not an automerge document') },
      { type: 'del', key: permKey }
    ])
    hub.store.dropDocCache()

    // The damage is visible to users.
    expect((await hub.collections.query({ type: 'MusicPlaylist', limit: 100 })).objects.map(o => o.objectId)).not.toContain(A0)
    expect((await hub.collections.read(C0)).value?.name).toBe('tampered')
    await expect(hub.collections.change(w.busy, d => { d.numTracks = 99 })).rejects.toThrow()

    const r = await doctor(hub)
    expect(r.clean).toBe(false)
    const t = r.tenants[0]
    const find = (code: string, key: string): DoctorProblem | undefined => t?.problems.find(p => p.code === code && p.key === key)
    expect(find('missing_index', sortKey)).toMatchObject({ objectId: A0, kind: 'derived' })
    expect(find('extra_index', bogus)).toMatchObject({ objectId: B0 })
    expect(find('meta_mismatch', L.object(asObjectId(C0)))).toMatchObject({ objectId: C0, detail: expect.stringContaining('value') })
    expect(find('missing_object_log_entry', logKey)).toMatchObject({ objectId: w.edited })
    expect(find('bad_snapshot', snapKey)).toMatchObject({ objectId: w.busy, detail: expect.stringContaining('does not load') })
    expect(find('missing_permission_entry', permKey)).toMatchObject({ objectId: w.grant })
    expect(codes(r)).toEqual(['bad_snapshot', 'extra_index', 'meta_mismatch', 'missing_index', 'missing_object_log_entry', 'missing_permission_entry'])
    expect(t?.problems).toHaveLength(6)
    expect(t?.repaired).toBe(0)

    const fixed = await doctor(hub, { repair: true })
    expect(fixed.clean).toBe(true)
    expect(fixed.tenants[0]?.problems).toHaveLength(6)
    expect(fixed.tenants[0]?.remaining).toEqual([])
    // sort key, bogus key, log entry, permission entry, C0's meta, the busy object's snapshot
    // (its meta is byte-identical to the rebuilt one, so it is left alone)
    expect(fixed.tenants[0]?.repaired).toBe(6)
    expect((await doctor(hub)).clean).toBe(true)

    // Signed data is byte for byte what it was.
    expect(await signedData(hub)).toEqual(signed)
    // Reads, queries, history and further writes are right again.
    expect((await hub.collections.query({ type: 'MusicPlaylist', limit: 100 })).objects.map(o => o.objectId)).toContain(A0)
    expect((await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'name', op: 'eq', value: 'Bogus' }] })).objects).toEqual([])
    expect((await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'name', op: 'eq', value: 'P6' }] })).objects.map(o => o.objectId)).toEqual([C0])
    expect((await hub.collections.read(C0)).value).toEqual(playlist('P6', ['t6', 'x']))
    expect((await hub.collections.history(w.edited)).commits).toHaveLength(3)
    await hub.collections.change(w.busy, d => { d.numTracks = 99 })
    expect((await hub.collections.read(w.busy)).value?.numTracks).toBe(99)
    expect(hub.permissions.list().map(g => g.grantId)).toContain(w.grant)
    expect((await doctor(hub)).clean).toBe(true)
  })

  it('reports a damaged signature and never modifies the commit', async () => {
    const hub = await tempHub()
    const w = await populate(hub)
    const key = hub.store.layout.commit(w.books[2] as Parameters<typeof hub.store.layout.commit>[0])
    const env = JSON.parse(utf8d.decode(await hub.kv.get(key) as Uint8Array)) as { signature: string }
    env.signature = (env.signature.startsWith('A') ? 'B' : 'A') + env.signature.slice(1)
    const damaged = utf8.encode(JSON.stringify(env))
    await hub.kv.batch([{ type: 'put', key, value: damaged }])
    const signed = await signedData(hub)

    const r = await doctor(hub, { repair: true })
    expect(r.clean).toBe(false)
    const t = r.tenants[0]
    expect(t?.problems).toEqual([expect.objectContaining({ code: 'bad_signature', kind: 'signed', key, commitId: w.books[2], objectId: w.books[2] })])
    expect(t?.remaining).toEqual(t?.problems)
    expect(t?.repaired).toBe(0)
    expect(Buffer.from(await hub.kv.get(key) as Uint8Array).equals(Buffer.from(damaged))).toBe(true)
    expect(await signedData(hub)).toEqual(signed)
    // Its content is intact (the id is a hash of it), so its object is still derived from it.
    expect((await hub.collections.read(w.books[2] as string)).value).toEqual(book('B2', 102))
  })

  it('reports commits missing from the feed and feed entries pointing nowhere, and leaves their objects alone', async () => {
    const hub = await tempHub()
    await populate(hub)
    const L = hub.store.layout
    const orphan = await hub.collections.create(playlist('not in the feed'))
    const gone = await hub.collections.create(book('commit lost', 1), { strategy: 'lww' })
    await hub.store.idle()
    const feedKey = async (commitId: string): Promise<string> => {
      for await (const [k, v] of hub.kv.entries({ gte: L.feedPrefix(), lt: prefixEnd(L.feedPrefix()) })) if (utf8d.decode(v) === commitId) return k
      throw new Error('not in the feed')
    }
    const orphanFeedKey = await feedKey(orphan.commitId)
    await hub.kv.batch([
      { type: 'del', key: orphanFeedKey },
      { type: 'del', key: L.commit(gone.commitId as Parameters<typeof L.commit>[0]) }
    ])
    const signed = await signedData(hub)

    const r = await doctor(hub, { repair: true })
    const t = r.tenants[0]
    expect(r.clean).toBe(false)
    expect(t?.problems).toContainEqual(expect.objectContaining({ code: 'orphan_commit', kind: 'signed', commitId: orphan.commitId, objectId: orphan.objectId }))
    expect(t?.problems).toContainEqual(expect.objectContaining({ code: 'missing_commit', kind: 'signed', commitId: gone.commitId, key: await feedKey(gone.commitId) }))
    // Their objects' derived data disagrees with the replay, but is not "repaired" away.
    expect(t?.problems).toContainEqual(expect.objectContaining({ code: 'extra_meta', objectId: orphan.objectId }))
    expect(t?.repaired).toBe(0)
    expect(t?.notes.join(' ')).toMatch(/2 object\(s\) are affected by signed-data problems/)
    expect(await signedData(hub)).toEqual(signed)
    expect(await hub.kv.get(orphanFeedKey)).toBeUndefined()
    expect((await hub.collections.read(orphan.objectId)).value).toEqual(playlist('not in the feed'))
    expect((await hub.collections.read(gone.objectId)).value).toEqual(book('commit lost', 1))
  })

  it('checks and repairs the partitions of other owners too', async () => {
    const hub = await tempHub()
    await populate(hub)
    const other = Ed25519KeyPair.generate()
    const c = signCommit({
      interface: 'Collections', context: SCHEMA, type: 'MusicPlaylist', operation: 'create',
      committed_at: new Date().toISOString(), commit_strategy: 'automerge', sub: other.did, deps: []
    }, createChange(playlist('shared with me') as JsonObject, '11'.repeat(16)), other)
    const foreign = await hub.tenant(other.did)
    await foreign.ingest(await verifyCommit(parseCommit(serializeCommit(c)), async kid => await hub.keys.resolveKey(kid)))
    expect(await tenantsOf(hub)).toEqual([hub.did, other.did])

    const clean = await doctor(hub)
    expect(clean.clean).toBe(true)
    expect(clean.tenants.map(t => [t.tenant, t.commits, t.objects])).toEqual([[hub.did, 69, 22], [other.did, 1, 1]])

    const key = foreign.layout.object(c.objectId)
    await hub.kv.batch([{ type: 'del', key }])
    const r = await doctor(hub, { repair: true })
    expect(r.tenants[0]?.problems).toEqual([])
    expect(r.tenants[1]?.problems).toEqual([expect.objectContaining({ code: 'missing_meta', key, objectId: c.objectId })])
    expect(r.tenants[1]?.repaired).toBe(1)
    expect(r.clean).toBe(true)
    expect((await (await hub.sharedBy(other.did)).read(c.objectId)).value).toEqual(playlist('shared with me'))
  })

  it('reloads the grants of a running hub whose Permissions list was damaged before it opened', async () => {
    const first = await tempHub()
    const w = await populate(first)
    await first.kv.batch([{ type: 'del', key: first.store.layout.permission(asObjectId(w.grant)) }])
    const dir = first.dir
    await first.close()
    const hub = await Hub.open(dir)
    try {
      // Opened from the damaged list, the hub forgot the grant.
      expect(hub.permissions.list().map(g => g.grantId)).not.toContain(w.grant)
      const r = await doctor(hub)
      expect(codes(r)).toEqual(['missing_permission_entry', 'stale_registry'])
      expect(r.tenants[0]?.problems.find(p => p.code === 'stale_registry')?.kind).toBe('memory')
      const fixed = await doctor(hub, { repair: true })
      expect(fixed.clean).toBe(true)
      expect(hub.permissions.list().map(g => g.grantId)).toContain(w.grant)
      expect(hub.permissions.list().find(g => g.grantId === w.revoked)?.revokedAt).not.toBeNull()
    } finally {
      await hub.close()
    }
  })

  it('runs while the hub is writing', async () => {
    const hub = await tempHub()
    await populate(hub)
    const writes = Promise.all(Array.from({ length: 50 }, async (_, i) => await hub.collections.create(playlist(`live ${i}`))))
    const r = await doctor(hub)
    await writes
    // Either the check saw a quiet moment (clean) or it says it could not.
    if (!r.clean) expect(r.tenants[0]?.notes.join(' ')).toMatch(/kept writing/)
    expect((await doctor(hub)).clean).toBe(true)
  })

  it('hub doctor --dir D --json on a stopped hub', async () => {
    if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
    const dir = join(await tempDir('doctor-cli-'), 'hub')
    await ok(['init', '--dir', dir])
    await ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist('cli')) })
    const r = await ok(['doctor', '--dir', dir])
    expect(r).toMatchObject({ clean: true, repair: false })
    expect(r.tenants).toEqual([expect.objectContaining({ commits: 2, objects: 2, problems: [], repaired: 0, clean: true })])
    const fixed = await ok(['doctor', '--dir', dir, '--repair'])
    expect(fixed).toMatchObject({ clean: true, repair: true, tenants: [expect.objectContaining({ remaining: [] })] })
  })

  it('hub doctor also checks the organization records (reported, never repaired)', async () => {
    if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
    const dir = join(await tempDir('doctor-org-'), 'hub')
    await ok(['init', '--dir', dir])
    await ok(['participant', 'create', '--dir', dir, '--id', 'acme', '--did', 'did:web:127.0.0.1%3A8080:org:acme'])
    expect(await ok(['doctor', '--dir', dir])).toMatchObject({ clean: true, org: { problems: [] } })
    // Damage: the DID owner index entry disappears (a hand edit, a bug).
    const hub = await Hub.open(dir)
    await hub.kv.batch([{ type: 'del', key: orgKeys.didOwner('did:web:127.0.0.1%3A8080:org:acme') }])
    await hub.close()
    // Not clean after the repair: exit 1, the report still on stdout.
    const run = await runHub(['doctor', '--dir', dir, '--repair', '--json'])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(1)
    const r = JSON.parse(run.stdout) as Record<string, unknown>
    expect(r.clean).toBe(false)
    expect((r.org as { problems: string[] }).problems.join('\n')).toMatch(/acme/)
  })
})
