/**
 * Edge encryption across real hubs: an owner device writes an encrypted
 * playlist, a blind cloud hub stores and forwards it without being able to
 * read it, and another owner device — never online with the first — reads
 * it in plaintext.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, dumpData, playlist } from './helpers.js'
import { device, eventually, founder, startHub, stopAll, stopHub } from './net-helpers.js'
import { signCommit, serializeCommit, parseCommit } from '../src/commits/commit.js'
import { b64u } from '../src/identity/encoding.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { HubClient, decryptCommit } from '../src/client/index.js'
import type { JsonObject } from '../src/objects/json.js'

afterEach(async () => { await stopAll(); await cleanup() })

async function filesUnder (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await filesUnder(p))
    else out.push(p)
  }
  return out
}

describe('encrypted collections and a blind hub', () => {
  it('A → blind C → B: B reads the plaintext; nothing C stored or sent names the value or the type', { timeout: 60_000 }, async () => {
    const MARK = 'qz-marker-9f1c'
    const a = await founder()
    let b = await device(a)
    const sent: string[] = []
    const c = await device(a, { role: 'blind', onServedBatch: (_p, json) => { sent.push(json) } })
    expect(c.hub.config.role).toBe('blind')
    expect(c.hub.tenantSecret).toBeUndefined()
    const bDir = b.dir
    await stopHub(b) // A and B are never online together from here on

    const { objectId } = await a.hub.collections.create({ ...playlist(`${MARK} road trip`), note: `${MARK} private` }, { encrypt: true })
    await a.hub.collections.update(objectId, { ...playlist(`${MARK} road trip`, ['One', 'Two']), note: `${MARK} private` })
    // The owner device reads its own encrypted object normally.
    expect((await a.hub.collections.read(objectId)).value?.note).toBe(`${MARK} private`)
    const head = a.hub.store.durableSeq
    await eventually(async () => c.hub.store.durableSeq >= head - 1 && (await c.hub.store.getMeta(objectId))?.commits === 2, 15_000, 'C to hold the encrypted playlist')
    const onC = await c.hub.store.getMeta(objectId)
    expect(onC?.value).toBeUndefined()
    expect(onC?.context).toBeUndefined()
    expect(onC?.type).toBeUndefined()
    expect(onC?.tag).toMatch(/^[A-Za-z0-9_-]{43}$/)
    // The blind hub answers metadata queries by tag: ids, heads, times — no value, no names.
    const meta = await c.hub.collections.query({ tag: onC?.tag as string })
    expect(meta.objects.map(o => [o.objectId, o.value, o.type])).toEqual([[objectId, null, null]])
    await expect(c.hub.collections.query({ type: 'MusicPlaylist' })).resolves.toMatchObject({ objects: [] })
    await stopHub(a)
    // Control: the same scan does find the marker where it is stored in clear (owner device A).
    const inClear = await Promise.all((await filesUnder(a.dir)).map(async f => (await readFile(f)).toString('latin1').includes(MARK)))
    expect(inClear.some(Boolean)).toBe(true)

    b = await startHub(bDir, { bootstrap: c.node.multiaddrs() })
    await eventually(async () => (await b.hub.store.getMeta(objectId))?.commits === 2, 15_000, 'B to receive the playlist through C')
    const onB = await b.hub.collections.read(objectId)
    expect(onB.value).toMatchObject({ name: `${MARK} road trip`, note: `${MARK} private`, numTracks: 2 })
    expect(onB.type).toBe('MusicPlaylist')
    expect((await b.hub.collections.query({ type: 'MusicPlaylist' })).objects).toHaveLength(1)

    // Everything C stored, and everything it served, is free of the value and the names.
    await c.hub.store.idle()
    for (const file of await filesUnder(c.dir)) {
      const bytes = (await readFile(file)).toString('latin1')
      expect(bytes.includes(MARK), file).toBe(false)
      expect(bytes.includes('MusicPlaylist'), file).toBe(false)
    }
    expect(sent.length).toBeGreaterThan(0)
    for (const json of sent) {
      expect(json.includes(MARK)).toBe(false)
      expect(json.includes('MusicPlaylist')).toBe(false)
      // Nothing base64url-encoded leaks it either.
      expect(json.includes(b64u('MusicPlaylist').slice(0, 16))).toBe(false)
    }
  })

  it('recovery: a device paired after the collection was keyed receives the key and reads everything', async () => {
    const a = await founder()
    const { objectId } = await a.hub.collections.create(playlist('written before the phone existed'), { encrypt: true })
    const late = await device(a)
    await eventually(async () => (await late.hub.store.getMeta(objectId))?.value !== undefined, 15_000, 'the late device to decrypt')
    expect((await late.hub.collections.read(objectId)).value?.name).toBe('written before the phone existed')
    // It can write to the encrypted collection too, and A reads that.
    const fromLate = await late.hub.collections.create(playlist('from the new phone'))
    expect(JSON.parse(Buffer.from((await late.hub.store.getEnvelope(fromLate.objectId) as string).split('"protected":"')[1]?.split('"')[0] as string, 'base64url').toString()).tag).toBeDefined()
    await eventually(async () => (await a.hub.store.getMeta(fromLate.objectId))?.value?.name === 'from the new phone', 15_000, 'A to read the new write')
  })

  it('a grantee reads an encrypted collection; after revoke and new writes it cannot decrypt them, but keeps what it had', { timeout: 60_000 }, async () => {
    const a = await founder()
    const CTX = 'https://schema.org'
    const first = await a.hub.collections.create({ ...playlist('before'), note: 'v1 secret' }, { encrypt: true })
    const app = Ed25519KeyPair.generate()
    const { grantId } = await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    const client = await HubClient.connect({ hub: a.node.multiaddrs()[0] as string, identity: app, owner: a.hub.did })
    try {
      expect((await client.collections.read(first.objectId)).value?.note).toBe('v1 secret')
      const keys = await client.collections.keys({ context: CTX, type: 'MusicPlaylist' })
      expect(keys.map(k => k.kid.split('.')[1])).toEqual(['1'])
      // The app decrypts the commit itself, with its own key: standard JOSE, not a hub courtesy.
      const env = JSON.parse(await a.hub.store.getEnvelope(first.commitId) as string) as unknown
      const plain = decryptCommit(env, keys)
      expect(plain.length).toBeGreaterThan(0)

      await a.hub.permissions.revoke(grantId)
      const later = await a.hub.collections.create({ ...playlist('after'), note: 'v2 secret' })
      const laterEnv = JSON.parse(await a.hub.store.getEnvelope(later.commitId) as string) as { protected: string }
      expect(JSON.parse(Buffer.from(laterEnv.protected, 'base64url').toString()).enc).toMatch(/\.2$/) // a new key version
      expect(() => decryptCommit(laterEnv, keys)).toThrow(expect.objectContaining({ code: 'not_found' }))
      expect(decryptCommit(env, keys)).toEqual(plain) // what it had, it keeps
      await expect(client.collections.keys({ context: CTX, type: 'MusicPlaylist' })).rejects.toMatchObject({ code: 'permissions_required' })
      await expect(client.collections.read(later.objectId)).rejects.toMatchObject({ code: 'not_found' })
      // The owner still reads both.
      expect(((await a.hub.collections.read(later.objectId)).value as JsonObject).note).toBe('v2 secret')
    } finally {
      await client.close()
    }
  })

  it('an app with CRU on an encrypted collection writes sealed commits; a plaintext write there is refused', { timeout: 60_000 }, async () => {
    const a = await founder()
    await a.hub.collections.create(playlist('owner first'), { encrypt: true })
    const app = Ed25519KeyPair.generate()
    await a.hub.permissions.grant({ grantee: app.did, context: 'https://schema.org', type: 'MusicPlaylist', allow: 'CRU-' })
    const client = await HubClient.connect({ hub: a.node.multiaddrs()[0] as string, identity: app, owner: a.hub.did })
    try {
      const w = await client.collections.write(playlist('from the app'))
      const header = JSON.parse(Buffer.from((JSON.parse(await a.hub.store.getEnvelope(w.commitId) as string) as { protected: string }).protected, 'base64url').toString()) as Record<string, unknown>
      expect(header.enc).toBeDefined()
      expect(header.type).toBeUndefined()
      expect((await a.hub.collections.read(w.objectId)).value?.name).toBe('from the app')
      await client.collections.change(w.objectId, d => { d.name = 'changed by the app' })
      expect((await a.hub.collections.read(w.objectId)).value?.name).toBe('changed by the app')
      // A hand-made plaintext commit into the encrypted collection is refused.
      const plain = signCommit({ interface: 'Collections', context: 'https://schema.org', type: 'MusicPlaylist', operation: 'create', committed_at: new Date().toISOString(), commit_strategy: 'lww', sub: a.hub.did, deps: [] }, Buffer.from(JSON.stringify(playlist('in clear'))), app)
      await expect(client.request('Collections', 'write', { commit: plain.envelope })).rejects.toMatchObject({ code: 'conflict' })
    } finally {
      await client.close()
    }
  })

  it('a blind hub never receives plaintext collections, and cannot write', async () => {
    const a = await founder()
    const c = await device(a, { role: 'blind' })
    const plain = await a.hub.collections.create(playlist('not encrypted'))
    const secret = await a.hub.collections.create({ ...playlist('encrypted'), '@type': 'Diary' }, { encrypt: true })
    await eventually(async () => (await c.hub.store.getMeta(secret.objectId)) !== undefined, 10_000, 'C to get the encrypted object')
    expect(await c.hub.store.getMeta(plain.objectId)).toBeUndefined()
    await expect(c.hub.collections.create(playlist('from the blind hub'))).rejects.toMatchObject({ code: 'permissions_required' })
  })

  it('rejects tampered ciphertext and a tampered header, storing nothing', async () => {
    const a = await founder()
    const b = await device(a)
    const { objectId } = await a.hub.collections.create(playlist('sealed'), { encrypt: true })
    await eventually(async () => (await b.hub.store.getMeta(objectId)) !== undefined, 10_000, 'B to have the object')
    const env = await a.hub.store.getEnvelope(objectId) as string
    const c = parseCommit(env)
    const owner = a.hub.ownerKey as Ed25519KeyPair
    // Re-signed by the owner (so the signature is valid) but with a flipped ciphertext byte.
    const jwe = Buffer.from(c.payload).toString('utf8').split('.')
    const ct = Buffer.from(jwe[3] as string, 'base64url'); ct[0] = (ct[0] as number) ^ 1
    jwe[3] = ct.toString('base64url')
    const { alg: _alg, kid: _kid, ...fields } = c.header
    const tampered = signCommit({ ...fields, committed_at: new Date().toISOString() }, Buffer.from(jwe.join('.')), owner)
    const before = await dumpData(b.hub)
    await expect(b.hub.ingest(serializeCommit(tampered))).rejects.toMatchObject({ code: 'authentication_failed' })
    // The same sealed payload moved under another header (different time): bound AAD mismatch.
    const moved = signCommit({ ...fields, committed_at: '2030-01-01T00:00:00.000Z' }, c.payload, owner)
    await expect(b.hub.ingest(serializeCommit(moved))).rejects.toMatchObject({ code: 'authentication_failed' })
    expect(await dumpData(b.hub)).toEqual(before)
  })
})
