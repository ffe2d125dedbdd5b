/**
 * Drives the real `hub` binary (dist/, built by `npm test` before vitest
 * runs) in temporary directories: one process per command, as a user would.
 */
import * as A from '@automerge/automerge'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanup, playlist, tempDir } from './helpers.js'
import { BIN, fails as failsWith, hub, ok as okWith } from './cli-helpers.js'

const ok = async (args: string[], stdin?: string): Promise<Record<string, unknown>> => await okWith(args, stdin !== undefined ? { stdin } : {})
const fails = async (args: string[], code: string, stdin?: string): Promise<void> => { await failsWith(args, code, stdin !== undefined ? { stdin } : {}) }


let dir: string
beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
  dir = join(await tempDir('cli-'), 'hub')
})
afterAll(cleanup)

describe('hub CLI', () => {
  it('init prints the owner DID and peer id and refuses to overwrite', async () => {
    const out = await ok(['init', '--dir', dir])
    expect(out.did).toMatch(/^did:key:z6Mk/)
    expect(out.peerId).toMatch(/^12D3KooW/)
    await fails(['init', '--dir', dir], 'already_exists')
    const doc = await ok(['did', '--dir', dir])
    expect(doc.id).toBe(out.did)
  })

  it('writes, reads, updates, queries, exports and deletes across processes', async () => {
    const w = await ok(['write', '--dir', dir], JSON.stringify(playlist('Classic Rock Playlist')))
    expect(w.objectId).toBe(w.commitId)
    const id = w.objectId as string
    const u = await ok(['update', '--dir', dir, id], JSON.stringify(playlist('Classic Rock Playlist', ['Sweet Home Alabama', 'Free Bird'])))
    expect(u.objectId).toBe(id)
    const r = await ok(['read', '--dir', dir, id])
    expect(r).toMatchObject({ objectId: id, context: 'https://schema.org', type: 'MusicPlaylist', heads: [u.commitId] })
    expect((r.value as Record<string, unknown>).numTracks).toBe(2)
    expect(typeof r.createdAt).toBe('string')

    await ok(['write', '--dir', dir, '--strategy', 'lww'], JSON.stringify({ ...playlist('Jazz'), genre: 'jazz' }))
    const q = await ok(['query', '--dir', dir, '--type', 'MusicPlaylist', '--where', 'numTracks>=2'])
    expect((q.items as Array<{ objectId: string }>).map(o => o.objectId)).toEqual([id])
    const byGenre = await ok(['query', '--dir', dir, '--context', 'https://schema.org', '--type', 'MusicPlaylist', '--where', 'genre=jazz', '--limit', '5'])
    expect(byGenre.items).toHaveLength(1)
    const page1 = await ok(['query', '--dir', dir, '--limit', '1'])
    expect(page1.cursor).not.toBeNull()
    const page2 = await ok(['query', '--dir', dir, '--limit', '1', '--cursor', page1.cursor as string])
    expect(page2.cursor).toBeNull()
    expect((page2.items as unknown[]).length).toBe(1)

    const h = await ok(['history', '--dir', dir, id])
    const commits = h.commits as Array<Record<string, unknown>>
    expect(commits.map(c => c.operation)).toEqual(['create', 'update'])
    expect(Object.keys(commits[0]?.envelope as object).sort()).toEqual(['payload', 'protected', 'signature'])

    const file = join(dir, '..', 'playlist.automerge')
    const ex = await hub(['export', '--dir', dir, id, '--out', file])
    expect(ex.code).toBe(0)
    const doc = A.load<Record<string, unknown>>(new Uint8Array(await (await import('node:fs/promises')).readFile(file)))
    expect(String(doc.name)).toBe('Classic Rock Playlist')

    const d = await ok(['delete', '--dir', dir, id])
    expect(d.objectId).toBe(id)
    await fails(['read', '--dir', dir, id], 'not_found')
  })

  it('encrypts a collection: commits name only a tag and carry a JWE; the owner reads plaintext', async () => {
    const k = await ok(['collection', 'encrypt', '--dir', dir, '--context', 'https://schema.org', '--type', 'Diary'])
    expect(k).toMatchObject({ type: 'Diary', version: 1 })
    const w = await ok(['write', '--dir', dir], JSON.stringify({ '@context': 'https://schema.org', '@type': 'Diary', text: 'dear diary' }))
    expect(await ok(['read', '--dir', dir, w.objectId as string])).toMatchObject({ type: 'Diary', value: { text: 'dear diary' } })
    const h = await ok(['history', '--dir', dir, w.objectId as string]) as { commits: Array<{ envelope: { protected: string, payload: string } }> }
    const header = JSON.parse(Buffer.from(h.commits[0]?.envelope.protected as string, 'base64url').toString()) as Record<string, unknown>
    expect(header).toMatchObject({ tag: k.tag, enc: k.keyId })
    expect(header.type).toBeUndefined()
    expect(header.context).toBeUndefined()
    expect(Buffer.from(h.commits[0]?.envelope.payload as string, 'base64url').toString()).not.toContain('dear diary')
    const w2 = await ok(['write', '--dir', dir, '--encrypt'], JSON.stringify({ '@context': 'https://schema.org', '@type': 'Secret', s: 1 }))
    expect(await ok(['read', '--dir', dir, w2.objectId as string])).toMatchObject({ type: 'Secret', value: { s: 1 } })

    // A collection that already holds plaintext objects is refused, both ways in, and nothing changes.
    const plain = { '@context': 'https://schema.org', '@type': 'Note', text: 'plain' }
    await ok(['write', '--dir', dir], JSON.stringify(plain))
    const refused = await failsWith(['collection', 'encrypt', '--dir', dir, '--context', 'https://schema.org', '--type', 'Note'], 'conflict')
    expect(refused.message).toMatch(/plaintext objects/)
    await fails(['write', '--dir', dir, '--encrypt'], 'conflict', JSON.stringify(plain))
    const before = await ok(['collection', 'list', '--dir', dir]) as { items: Array<{ type: string | null, objects: number, encrypted: boolean, plaintextObjects: number }> }
    expect(before.items.find(c => c.type === 'Note')).toMatchObject({ objects: 1, encrypted: false })
    expect(before.items.find(c => c.type === 'Diary')).toMatchObject({ objects: 1, encrypted: true, plaintextObjects: 0 })
    // Asked for, it encrypts new objects and says how many stay plaintext.
    const kept = await ok(['collection', 'encrypt', '--dir', dir, '--context', 'https://schema.org', '--type', 'Note', '--keep-plaintext'])
    expect(kept).toMatchObject({ type: 'Note', plaintextObjects: 1 })
    await ok(['write', '--dir', dir], JSON.stringify({ ...plain, text: 'secret' }))
    const after = await ok(['collection', 'list', '--dir', dir]) as typeof before
    expect(after.items.find(c => c.type === 'Note')).toMatchObject({ objects: 2, encrypted: true, plaintextObjects: 1 })
  })

  it('manages the public profile', async () => {
    const none = await hub(['profile', 'get', '--dir', dir, '--json'])
    expect(JSON.parse(none.stdout)).toBeNull()
    await ok(['profile', 'set', '--dir', dir], JSON.stringify({ name: 'Alice' }))
    const p = await ok(['profile', 'get', '--dir', dir])
    expect((p.value as Record<string, unknown>).name).toBe('Alice')
  })

  it('reports errors with stable codes on stderr and a non-zero exit', async () => {
    await fails(['write', '--dir', dir], 'bad_request', '{not json')
    await fails(['write', '--dir', dir], 'bad_request', JSON.stringify({ name: 'no context' }))
    await fails(['write', '--dir', dir, '--strategy', 'magic'], 'bad_request', JSON.stringify(playlist('x')))
    await fails(['read', '--dir', dir, 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'], 'not_found')
    await fails(['read', '--dir', dir, 'nope'], 'bad_request')
    await fails(['query', '--dir', dir, '--limit', 'ten'], 'bad_request')
    await fails(['frobnicate', '--dir', dir], 'bad_request')
    await fails(['read', '--dir', join(dir, 'missing'), 'x'], 'not_found')
    await fails(['read', '--dir', dir, '--bogus-flag'], 'bad_request')
    // A file argument that cannot be read is the caller's mistake (exit 1), not an internal error (70).
    await fails(['init', '--dir', join(dir, 'other'), '--owner-key', join(dir, 'no-such-key.json')], 'bad_request')
    const human = await hub(['read', '--dir', dir, 'nope'])
    expect(human.code).toBe(1)
    expect(human.stderr).toMatch(/bad_request/)
  })

  it('uses $HUB_DIR when --dir is absent', async () => {
    const r = await hub(['info', '--json'], { env: { HUB_DIR: dir } })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).dir).toBe(dir)
  })

  it('prints usage', async () => {
    const r = await hub(['--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Usage: hub/)
  })
})
