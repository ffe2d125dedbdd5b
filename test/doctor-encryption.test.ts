/**
 * `hub doctor` on hubs with encrypted collections (finding 9): the rebuild
 * decrypts exactly what the hub itself can, so a healthy owner device and a
 * healthy blind hub are both clean; `--repair` never drops a value the hub
 * can read; the exit code says whether the store is clean.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { utf8, utf8d } from '../src/identity/encoding.js'
import { prefixEnd } from '../src/store/kv.js'
import { doctor, type DoctorReport } from '../src/store/doctor.js'
import { asObjectId } from '../src/ids.js'
import { docValue, loadDoc } from '../src/objects/automerge.js'
import { cleanup, playlist, tempDir, tempHub } from './helpers.js'
import { device, eventually, founder, stopAll, stopHub } from './net-helpers.js'
import { BIN, hub as runHub, ok } from './cli-helpers.js'

afterEach(async () => { await stopAll(); await cleanup() })

const SCHEMA = 'https://schema.org'
const NAME = 'Secret road trip'
const SECRET = { ...playlist(NAME, ['One', 'Two']), note: 'only my devices read this' }

function requireBuild (): void {
  if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
}

function codes (r: DoctorReport | Record<string, unknown>): string[] {
  const tenants = (r as { tenants: Array<{ problems: Array<{ code: string }> }> }).tenants
  return [...new Set(tenants.flatMap(t => t.problems.map(p => p.code)))].sort()
}

/** `hub doctor … --json`: the report on stdout, nothing on stderr, and the exit code. */
async function doctorCli (dir: string, extra: string[] = []): Promise<{ code: number | null, report: Record<string, unknown> }> {
  const r = await runHub(['doctor', '--dir', dir, ...extra, '--json'])
  expect(r.stderr).toBe('')
  return { code: r.code, report: JSON.parse(r.stdout) as Record<string, unknown> }
}

/** init → collection encrypt → write, through the CLI. */
async function encryptedHub (): Promise<{ dir: string, objectId: string, tmp: string }> {
  const tmp = await tempDir('doctor-enc-')
  const dir = join(tmp, 'hub')
  await ok(['init', '--dir', dir])
  await ok(['collection', 'encrypt', '--dir', dir, '--context', SCHEMA, '--type', 'MusicPlaylist'])
  const { objectId } = await ok(['write', '--dir', dir], { stdin: JSON.stringify(SECRET) }) as { objectId: string }
  return { dir, objectId, tmp }
}

/** read, query (by type and by a field) and export all show the secret playlist. */
async function expectReadable (dir: string, objectId: string, tmp: string): Promise<void> {
  const read = await ok(['read', objectId, '--dir', dir])
  expect(read).toMatchObject({ value: SECRET, context: SCHEMA, type: 'MusicPlaylist' })
  const byType = await ok(['query', '--dir', dir, '--type', 'MusicPlaylist'])
  expect((byType.items as Array<{ objectId: string }>).map(o => o.objectId)).toEqual([objectId])
  const byName = await ok(['query', '--dir', dir, '--type', 'MusicPlaylist', '--where', `name=${NAME}`])
  expect((byName.items as Array<{ objectId: string }>).map(o => o.objectId)).toEqual([objectId])
  const out = join(tmp, `export-${Date.now()}.automerge`)
  await ok(['export', objectId, '--dir', dir, '--out', out])
  expect(docValue(loadDoc(await readFile(out), '00'.repeat(16)))).toEqual(SECRET)
}

describe('hub doctor with encrypted collections', () => {
  it('CLI: an owner device with an encrypted collection is clean (exit 0), and --repair leaves the object readable, queryable and exportable', async () => {
    requireBuild()
    const { dir, objectId, tmp } = await encryptedHub()
    await expectReadable(dir, objectId, tmp)

    const checked = await doctorCli(dir)
    expect(checked.report).toMatchObject({ clean: true, repair: false })
    expect(codes(checked.report)).toEqual([])
    expect(checked.code).toBe(0)

    const repaired = await doctorCli(dir, ['--repair'])
    expect(repaired.report).toMatchObject({ clean: true, repair: true, tenants: [expect.objectContaining({ problems: [], repaired: 0, remaining: [] })] })
    expect(repaired.code).toBe(0)
    await expectReadable(dir, objectId, tmp)
    expect((await doctorCli(dir)).code).toBe(0)
  })

  it('CLI: damaged derived records of an encrypted object exit 1 (the --json report still on stdout) and --repair rebuilds them decrypted', async () => {
    requireBuild()
    const { dir, objectId, tmp } = await encryptedHub()
    // Damage while no daemon runs: the field index entry for its name, and its meta.
    const h = await Hub.open(dir)
    const L = h.store.layout
    const fieldPrefix = L.fieldPrefix('Collections', 'MusicPlaylist', 'name')
    const indexKeys: string[] = []
    for await (const k of h.kv.keys({ gte: fieldPrefix, lt: prefixEnd(fieldPrefix) })) if (k.endsWith(`!${objectId}`)) indexKeys.push(k)
    expect(indexKeys).toHaveLength(1)
    const metaKey = L.object(asObjectId(objectId))
    expect(await h.kv.get(metaKey)).toBeDefined()
    await h.kv.batch([{ type: 'del', key: indexKeys[0] as string }, { type: 'del', key: metaKey }])
    await h.close()

    const checked = await doctorCli(dir)
    expect(checked.code).toBe(1)
    expect(checked.report.clean).toBe(false)
    expect(codes(checked.report)).toEqual(['missing_index', 'missing_meta'])
    // Human output: the same exit code.
    const human = await runHub(['doctor', '--dir', dir])
    expect(human.code).toBe(1)
    expect(human.stdout).toMatch(/NOT clean/)

    const repaired = await doctorCli(dir, ['--repair'])
    expect(repaired.report).toMatchObject({ clean: true, tenants: [expect.objectContaining({ remaining: [] })] })
    expect(repaired.code).toBe(0)
    // The meta was rebuilt from the decrypted commit: value, names and indexes are back.
    await expectReadable(dir, objectId, tmp)
    expect((await doctorCli(dir)).code).toBe(0)
  })

  it('CLI: --repair that cannot fix everything exits 1 (a damaged signature stays damaged)', async () => {
    requireBuild()
    const { dir, objectId, tmp } = await encryptedHub()
    const h = await Hub.open(dir)
    const key = h.store.layout.commit(objectId as Parameters<typeof h.store.layout.commit>[0])
    const env = JSON.parse(utf8d.decode(await h.kv.get(key) as Uint8Array)) as { signature: string }
    env.signature = (env.signature.startsWith('A') ? 'B' : 'A') + env.signature.slice(1)
    await h.kv.batch([{ type: 'put', key, value: utf8.encode(JSON.stringify(env)) }])
    await h.close()
    const r = await doctorCli(dir, ['--repair'])
    expect(r.code).toBe(1)
    expect(r.report.clean).toBe(false)
    expect(codes(r.report)).toContain('bad_signature')
    // What the hub could read stays readable.
    await expectReadable(dir, objectId, tmp)
  })

  it('an encrypted object past the snapshot interval: its snapshot is validated against the decrypted changes (clean)', async () => {
    const hub = await tempHub()
    await hub.collectionKeys.encrypt(SCHEMA, 'MusicPlaylist')
    const { objectId } = await hub.collections.create(playlist('busy'))
    for (let i = 0; i < 40; i++) await hub.collections.change(objectId, d => { d.numTracks = i })
    await hub.store.idle()
    expect((await hub.store.getMeta(asObjectId(objectId)))?.tag).toBeDefined()
    expect(await hub.kv.get(hub.store.layout.snapshot(asObjectId(objectId)))).toBeDefined()
    const r = await doctor(hub)
    expect(codes(r)).toEqual([])
    expect(r.clean).toBe(true)
    // A snapshot that is not the object's is still caught, and repaired.
    const other = await hub.collections.create(playlist('other'))
    for (let i = 0; i < 40; i++) await hub.collections.change(other.objectId, d => { d.numTracks = i })
    await hub.store.idle()
    const otherSnap = await hub.kv.get(hub.store.layout.snapshot(asObjectId(other.objectId))) as Uint8Array
    await hub.kv.batch([{ type: 'put', key: hub.store.layout.snapshot(asObjectId(objectId)), value: otherSnap }])
    hub.store.dropDocCache()
    const bad = await doctor(hub, { repair: true })
    expect(codes(bad)).toEqual(['bad_snapshot'])
    expect(bad.clean).toBe(true)
    expect((await hub.collections.read(objectId)).value?.numTracks).toBe(39)
    await hub.collections.change(objectId, d => { d.numTracks = 100 })
    expect((await hub.collections.read(objectId)).value?.numTracks).toBe(100)
  })

  it('never drops a value the hub can read: when the key envelope\'s commit cannot be replayed, encrypted objects keep their values', async () => {
    const hub = await tempHub()
    const k = await hub.collectionKeys.encrypt(SCHEMA, 'MusicPlaylist')
    const { objectId } = await hub.collections.create(SECRET)
    await hub.store.idle()
    // The key envelope's commit drops out of the feed: the replay never sees it, so the rebuild holds no content key.
    const L = hub.store.layout
    let feedKey: string | undefined
    for await (const [fk, v] of hub.kv.entries({ gte: L.feedPrefix(), lt: prefixEnd(L.feedPrefix()) })) if (utf8d.decode(v) === k.objectId) feedKey = fk
    expect(feedKey).toBeDefined()
    await hub.kv.batch([{ type: 'del', key: feedKey as string }])
    const metaKey = L.object(asObjectId(objectId))
    const metaBefore = Buffer.from(await hub.kv.get(metaKey) as Uint8Array)

    const r = await doctor(hub, { repair: true })
    expect(r.clean).toBe(false)
    const t = r.tenants[0]
    // The signed-data problem and the (unrepaired) derived data of the envelope itself; nothing about the playlist,
    // which the rebuild sees only as ciphertext: it is not "repaired" into a blind meta.
    expect(codes(r)).toEqual(['extra_index', 'extra_meta', 'extra_object_log_entry', 'extra_permission_entry', 'orphan_commit'])
    expect(t?.problems.every(p => p.objectId === k.objectId)).toBe(true)
    expect(t?.notes.join(' ')).toMatch(/1 object\(s\) hold a value the rebuild could not decrypt/)
    expect(t?.repaired).toBe(0)
    expect(Buffer.from(await hub.kv.get(metaKey) as Uint8Array).equals(metaBefore)).toBe(true)
    expect((await hub.collections.read(objectId)).value).toEqual(SECRET)
    expect((await hub.collections.query({ type: 'MusicPlaylist', where: [{ field: 'name', op: 'eq', value: NAME }] })).objects.map(o => o.objectId)).toEqual([objectId])
    expect(hub.collectionKeys.current(SCHEMA, 'MusicPlaylist')?.key.kid).toBe(k.key.kid)

    // Its indexes are still checked, against the stored value: a lost one comes back.
    const fieldPrefix = L.fieldPrefix('Collections', 'MusicPlaylist', 'name')
    let indexKey: string | undefined
    for await (const ik of hub.kv.keys({ gte: fieldPrefix, lt: prefixEnd(fieldPrefix) })) if (ik.endsWith(`!${objectId}`)) indexKey = ik
    await hub.kv.batch([{ type: 'del', key: indexKey as string }])
    const again = await doctor(hub, { repair: true })
    expect(again.tenants[0]?.problems).toContainEqual(expect.objectContaining({ code: 'missing_index', key: indexKey, objectId }))
    expect(again.tenants[0]?.repaired).toBe(1)
    expect(await hub.kv.get(indexKey as string)).toBeDefined()
    expect((await hub.collections.read(objectId)).value).toEqual(SECRET)
  })

  it('reloads the content keys of a running hub whose Keys entry was damaged before it opened', async () => {
    const first = await tempHub()
    const k = await first.collectionKeys.encrypt(SCHEMA, 'MusicPlaylist')
    const { objectId } = await first.collections.create(SECRET)
    await first.store.idle()
    await first.kv.batch([{ type: 'del', key: first.store.layout.permission(k.objectId) }])
    const dir = first.dir
    await first.close()
    const hub = await Hub.open(dir)
    try {
      // Opened from the damaged list, the hub forgot the collection's key (its next writes would be in clear).
      expect(hub.collectionKeys.current(SCHEMA, 'MusicPlaylist')).toBeUndefined()
      const r = await doctor(hub)
      expect(codes(r)).toEqual(['missing_permission_entry', 'stale_keyring'])
      expect(r.tenants[0]?.problems.find(p => p.code === 'stale_keyring')?.kind).toBe('memory')
      const fixed = await doctor(hub, { repair: true })
      expect(fixed.clean).toBe(true)
      expect(hub.collectionKeys.current(SCHEMA, 'MusicPlaylist')?.key.kid).toBe(k.key.kid)
      const next = await hub.collections.create(playlist('after the repair'))
      expect((await hub.store.getMeta(asObjectId(next.objectId)))?.tag).toBe(k.tag)
      expect((await hub.collections.read(objectId)).value).toEqual(SECRET)
      expect((await doctor(hub)).clean).toBe(true)
    } finally {
      await hub.close()
    }
  })

  it('a blind hub holding encrypted objects is clean (no values is right there), in-process and through the CLI', { timeout: 60_000 }, async () => {
    requireBuild()
    const a = await founder()
    const c = await device(a, { role: 'blind' })
    await a.hub.collectionKeys.encrypt(SCHEMA, 'MusicPlaylist')
    const { objectId } = await a.hub.collections.create(SECRET)
    for (let i = 0; i < 40; i++) await a.hub.collections.change(objectId, d => { d.numTracks = i })
    const head = a.hub.store.durableSeq
    await eventually(async () => c.hub.store.durableSeq >= head - 1 && (await c.hub.store.getMeta(asObjectId(objectId)))?.commits === 41, 15_000, 'the blind hub to hold the encrypted playlist')
    const onC = await c.hub.store.getMeta(asObjectId(objectId))
    expect(onC?.value).toBeUndefined()
    expect(onC?.tag).toBeDefined()

    const inProcess = await doctor(c.hub)
    expect(codes(inProcess)).toEqual([])
    expect(inProcess.clean).toBe(true)
    expect((await doctor(a.hub)).clean).toBe(true)

    await stopHub(c)
    await stopHub(a)
    const blind = await doctorCli(c.dir)
    expect(blind.report).toMatchObject({ clean: true })
    expect(blind.code).toBe(0)
    const repaired = await doctorCli(c.dir, ['--repair'])
    expect(repaired.report).toMatchObject({ clean: true, tenants: [expect.objectContaining({ repaired: 0, remaining: [] })] })
    expect(repaired.code).toBe(0)
    // The owner device still reads it.
    expect((await doctorCli(a.dir)).code).toBe(0)
    expect(await ok(['read', objectId, '--dir', a.dir])).toMatchObject({ value: { ...SECRET, numTracks: 39 } })
  })
})
