/**
 * Owner backup (passphrase-sealed JWE) and the store archive (NDJSON of
 * signed commits): round trips, and everything a hostile or careless file
 * can be — wrong passphrase, altered, forged header, inconsistent payload,
 * someone else's archive, truncated, a forged commit inside.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CompactEncrypt, decodeProtectedHeader } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { Hub } from '../src/hub.js'
import { HubError } from '../src/errors.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { b64u } from '../src/identity/encoding.js'
import { BACKUP_ITERATIONS, BACKUP_TYPE, openOwnerBackup, sealOwnerBackup } from '../src/backup/owner-backup.js'
import { archiveLines, exportArchive, importArchive } from '../src/backup/archive.js'
import { cleanup, playlist, tempDir, tempHub } from './helpers.js'

afterAll(cleanup)

const PASS = 'correct horse battery staple'

async function code (p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(HubError)
    return (err as HubError).code
  }
  throw new Error('expected a HubError')
}

async function * linesOf (lines: string[]): AsyncIterable<string> {
  for (const l of lines) yield l
}

async function archiveOf (hub: Hub): Promise<string[]> {
  const lines: string[] = []
  await exportArchive(hub, async l => { lines.push(l) })
  return lines
}

describe('owner backup', () => {
  it('round-trips the owner key and tenant secret under a strong PBES2 JWE', async () => {
    const ownerKey = Ed25519KeyPair.generate()
    const tenantSecret = crypto.getRandomValues(new Uint8Array(32))
    const jwe = await sealOwnerBackup({ ownerDid: ownerKey.did, ownerKey, tenantSecret }, PASS)
    const header = decodeProtectedHeader(jwe)
    expect(header).toMatchObject({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', cty: BACKUP_TYPE, p2c: BACKUP_ITERATIONS })
    expect(jwe).not.toContain(b64u(ownerKey.exportSeed()))
    const back = await openOwnerBackup(jwe + '\n', PASS)
    expect(back.ownerDid).toBe(ownerKey.did)
    expect(b64u(back.ownerKey.exportSeed())).toBe(b64u(ownerKey.exportSeed()))
    expect(b64u(back.tenantSecret)).toBe(b64u(tenantSecret))
  })

  it('refuses short passphrases, wrong passphrases, altered files and non-backups', async () => {
    const ownerKey = Ed25519KeyPair.generate()
    const secrets = { ownerDid: ownerKey.did, ownerKey, tenantSecret: new Uint8Array(32) }
    expect(await code(sealOwnerBackup(secrets, 'short'))).toBe('bad_request')
    const jwe = await sealOwnerBackup(secrets, PASS, { iterations: 1000 })
    expect(await code(openOwnerBackup(jwe, PASS + '!'))).toBe('bad_request')
    const parts = jwe.split('.')
    const ct = parts[3] as string
    parts[3] = (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1)
    expect(await code(openOwnerBackup(parts.join('.'), PASS))).toBe('bad_request')
    expect(await code(openOwnerBackup('not a backup', PASS))).toBe('bad_request')
    expect(await code(openOwnerBackup('x'.repeat(70_000), PASS))).toBe('bad_request')
  })

  it('refuses a forged iteration count instead of spinning on it', async () => {
    const forged = await new CompactEncrypt(new TextEncoder().encode('{}'))
      .setProtectedHeader({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', cty: BACKUP_TYPE })
      .setKeyManagementParameters({ p2c: 1000 })
      .encrypt(new TextEncoder().encode(PASS))
    // Rewrite p2c in the (unauthenticated-until-decrypted) header to a huge value.
    const [h, ...rest] = forged.split('.')
    const header = JSON.parse(Buffer.from(h as string, 'base64url').toString()) as Record<string, unknown>
    header.p2c = 2_000_000_000
    const tampered = [Buffer.from(JSON.stringify(header)).toString('base64url'), ...rest].join('.')
    expect(await code(openOwnerBackup(tampered, PASS))).toBe('bad_request')
  })

  it('refuses a payload whose key does not belong to its DID', async () => {
    const a = Ed25519KeyPair.generate()
    const b = Ed25519KeyPair.generate()
    const payload = { type: BACKUP_TYPE, version: 1, ownerDid: a.did, ownerKey: b64u(b.exportSeed()), tenantSecret: b64u(new Uint8Array(32)), createdAt: new Date().toISOString() }
    const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', cty: BACKUP_TYPE })
      .setKeyManagementParameters({ p2c: 1000 })
      .encrypt(new TextEncoder().encode(PASS))
    expect(await code(openOwnerBackup(jwe, PASS))).toBe('bad_request')
  })
})

describe('archive lines', () => {
  const collect = async (path: string, max?: number): Promise<string[]> => { const out: string[] = []; for await (const l of archiveLines(path, max)) out.push(l); return out }
  it('yields every line, the last one without a newline too, multi-byte text intact', async () => {
    const f = join(await tempDir('lines-'), 'a.ndjson')
    await writeFile(f, 'one\n\nthré€\nlast')
    expect(await collect(f)).toEqual(['one', '', 'thré€', 'last'])
  })
  it('refuses a line over the limit (never holding it), a directory and a missing file, with typed errors', async () => {
    const dir = await tempDir('lines-')
    const f = join(dir, 'long.ndjson')
    await writeFile(f, 'ok\n' + 'x'.repeat(200_000))
    await expect(collect(f, 100_000)).rejects.toMatchObject({ code: 'too_large', details: { line: 2 } })
    await expect(collect(dir)).rejects.toMatchObject({ code: 'bad_request' })
    await expect(collect(join(dir, 'nope'))).rejects.toMatchObject({ code: 'not_found' })
  })
})

describe('store archive', () => {
  it('moves every commit to a restored owner hub, including encrypted objects, and a second import adds nothing', async () => {
    const a = await tempHub()
    const plain = await a.collections.create(playlist('plain'))
    const secret = await a.collections.create(playlist('secret'), { encrypt: true, keepPlaintext: true })
    await a.collections.update(plain.objectId, { ...playlist('plain, renamed') })
    const lines = await archiveOf(a)
    expect(JSON.parse(lines[0] as string)).toMatchObject({ format: 'identity-hub-archive', version: 1, ownerDid: a.did })
    expect(JSON.parse(lines.at(-1) as string)).toEqual({ end: true, commits: lines.length - 2 })

    const ownerKey = a.ownerKey as Ed25519KeyPair
    const dir = join(await tempDir('restored-'), 'hub')
    await Hub.init(dir, { ownerKey, tenantSecret: a.tenantSecret as Uint8Array })
    const b = await Hub.open(dir)
    try {
      const r = await importArchive(b, linesOf(lines))
      expect(r.commits).toBe(lines.length - 2)
      expect(r.rejected).toEqual({})
      expect(r.stored + r.present).toBe(r.commits)
      expect(r.stored).toBeGreaterThan(0)
      expect((await b.collections.read(plain.objectId)).value).toMatchObject({ name: 'plain, renamed' })
      expect((await b.collections.read(secret.objectId)).value).toMatchObject({ name: 'secret' })
      const again = await importArchive(b, linesOf(lines))
      expect(again).toMatchObject({ stored: 0, present: again.commits, rejected: {} })
    } finally {
      await b.close()
    }
  })

  it('refuses another owner\'s archive before storing anything', async () => {
    const a = await tempHub()
    await a.collections.create(playlist('mine'))
    const lines = await archiveOf(a)
    const other = await tempHub()
    const before = (await archiveOf(other)).length
    expect(await code(importArchive(other, linesOf(lines)))).toBe('wrong_owner')
    expect((await archiveOf(other)).length).toBe(before)
  })

  it('counts forged commits as rejected, and reports a truncated archive after importing what it holds', async () => {
    const a = await tempHub()
    const w = await a.collections.create(playlist('original'))
    await a.collections.create(playlist('second'))
    const lines = await archiveOf(a)
    const copy = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    // A commit line whose envelope was altered: its signature no longer holds.
    const forged = [...lines]
    const i = forged.findIndex(l => l.includes('"commit"'))
    const env = JSON.parse(forged[i] as string) as { commit: string }
    const parsed = JSON.parse(env.commit) as Record<string, unknown>
    const sig = parsed.signature as string
    parsed.signature = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)
    forged[i] = JSON.stringify({ commit: JSON.stringify(parsed) })
    const r = await importArchive(copy, linesOf(forged))
    expect(Object.values(r.rejected).reduce((x, y) => x + (y ?? 0), 0)).toBeGreaterThan(0)

    const truncated = lines.slice(0, -1)
    const fresh = await tempHub({ init: { ownerKey: a.ownerKey as Ed25519KeyPair } })
    expect(await code(importArchive(fresh, linesOf(truncated)))).toBe('bad_request')
    expect((await fresh.collections.read(w.objectId)).value).toMatchObject({ name: 'original' })

    expect(await code(importArchive(fresh, linesOf(['{"format":"something else"}'])))).toBe('bad_request')
    expect(await code(importArchive(fresh, linesOf(['not json'])))).toBe('bad_request')
    expect(await code(importArchive(fresh, linesOf([])))).toBe('bad_request')
  })
})
