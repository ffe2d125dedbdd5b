/**
 * The app side of the CLI in real processes: `hub identity new` makes an
 * app key, and `hub client …` uses a running hub daemon over the request
 * protocol with it — never opening the hub directory, never through the
 * daemon's control channel.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { HubClient, readKeyFile } from '../src/client/index.js'
import { Hub } from '../src/hub.js'
import { cleanup, playlist, tempDir } from './helpers.js'
import { BIN, fails, hub, killAll, ok, running, startDaemon, type Daemon } from './cli-helpers.js'

afterEach(async () => { await killAll(); running.clear() })
afterAll(cleanup)

const CTX = 'https://schema.org'
async function appKey (dir: string, name = 'app.key'): Promise<{ path: string, did: string }> {
  const path = join(dir, name)
  const r = await ok(['identity', 'new', '--out', path])
  return { path, did: r.did as string }
}

/** An initialized hub directory; `grantee` (if given) is granted `allow` on MusicPlaylist before the daemon starts. */
async function ownerHub (grants: Array<{ grantee: string, allow: string }> = []): Promise<{ dir: string, owner: string }> {
  const dir = join(await tempDir('cli-client-'), 'hub')
  const init = await ok(['init', '--dir', dir])
  if (grants.length > 0) {
    // No daemon runs yet, so the owner may open the directory directly.
    const h = await Hub.open(dir)
    try {
      for (const g of grants) await h.permissions.grant({ grantee: g.grantee, context: CTX, type: 'MusicPlaylist', allow: g.allow })
    } finally {
      await h.close()
    }
  }
  return { dir, owner: init.did as string }
}

function hubAddr (d: Daemon): string {
  const a = d.info.multiaddrs.find(m => !m.includes('/ws/'))
  if (a === undefined) throw new Error('daemon is not listening')
  return a
}

/** A long-running `hub …` in the background (`client watch`): its output so far, a wait on its lines, its exit. */
interface Watch { child: ChildProcess, lines: () => string[], stderr: () => string, waitLines: (n: number) => Promise<string[]>, exit: Promise<number | null> }
const watchers = new Set<ChildProcess>()
afterEach(() => {
  for (const c of watchers) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  watchers.clear()
})

function watch (args: string[], command: string[] = ['client', 'watch']): Watch {
  const child = spawn(process.execPath, [BIN, ...command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  watchers.add(child)
  let stdout = ''
  let stderr = ''
  const waiters: Array<() => void> = []
  const lines = (): string[] => stdout.split('\n').filter(l => l !== '')
  const exit = new Promise<number | null>(r => child.once('close', code => { for (const w of waiters.splice(0)) w(); r(code) }))
  child.stdout?.on('data', (b: Buffer) => { stdout += b.toString(); for (const w of waiters.splice(0)) w() })
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  // Resolves as soon as n complete lines are out (no polling); fails if the process ends first.
  const waitLines = async (n: number): Promise<string[]> => {
    while (lines().length < n || !stdout.endsWith('\n')) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`hub client watch exited with ${String(child.exitCode ?? child.signalCode)} after ${lines().length} line(s); stderr: ${stderr}`)
      await new Promise<void>(r => waiters.push(r))
    }
    return lines()
  }
  return { child, lines, stderr: () => stderr, waitLines, exit }
}

describe('hub identity new', () => {
  it('writes a 0600 key file in the keystore format, prints the DID, and never overwrites', async () => {
    const dir = await tempDir('cli-id-')
    const { path, did } = await appKey(dir)
    expect(did).toMatch(/^did:key:z6Mk/)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const body = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['kty', 'seed'])
    expect(body.kty).toBe('Ed25519')
    await fails(['identity', 'new', '--out', path], 'already_exists')
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(body)
    await fails(['identity', 'new'], 'bad_request')
    await fails(['identity'], 'bad_request')
  })
})

describe('hub identity show', () => {
  it('prints the DID and the public JWK of a key file, never its private key', async () => {
    const dir = await tempDir('cli-id-')
    const { path, did } = await appKey(dir)
    const seed = (JSON.parse(await readFile(path, 'utf8')) as { seed: string }).seed
    const key = await readKeyFile(path)

    const shown = await ok(['identity', 'show', '--key', path])
    expect(shown).toEqual({ did, kid: key.kid, publicKeyJwk: key.publicJwk() })
    expect(shown.kid).toMatch(new RegExp(`^${did}#`))
    const human = await hub(['identity', 'show', '--key', path])
    expect(human.code).toBe(0)
    expect(human.stdout).toContain(did)
    expect(human.stdout).toContain(key.publicJwk().x)
    // No private material, in either form: not the seed, not a JWK "d".
    for (const out of [JSON.stringify(shown), human.stdout]) {
      expect(out).not.toContain(seed)
      expect(out).not.toMatch(/"d"\s*:/)
    }

    await fails(['identity', 'show', '--key', join(dir, 'missing.key')], 'not_found')
    await fails(['identity', 'show'], 'bad_request')
    await writeFile(join(dir, 'bad.key'), 'not a key\n')
    await fails(['identity', 'show', '--key', join(dir, 'bad.key')], 'bad_request')
  })
})

describe('hub client against a running hub', () => {
  it('writes, reads, queries, updates, shows history and deletes as the granted app', { timeout: 60_000 }, async () => {
    const work = await tempDir('cli-client-')
    const app = await appKey(work)
    const { dir, owner } = await ownerHub([{ grantee: app.did, allow: 'CRUD' }])
    const d = await startDaemon(dir)
    const base = ['--hub', hubAddr(d), '--key', app.path, '--owner', owner]
    // No --dir and a HUB_DIR that does not exist: the client never opens a hub directory.
    const env = { HUB_DIR: join(work, 'no-such-hub') }
    const run = async (args: string[], stdin?: string): Promise<Record<string, unknown>> => {
      const r = await hub([...args, '--json'], { env, ...(stdin !== undefined ? { stdin } : {}) })
      expect(r.stderr, `stderr of hub ${args.join(' ')}`).toBe('')
      expect(r.code).toBe(0)
      return JSON.parse(r.stdout) as Record<string, unknown>
    }

    const w = await run(['client', 'write', ...base], JSON.stringify(playlist('From the CLI app')))
    expect(Object.keys(w).sort()).toEqual(['commitId', 'objectId'])
    const id = w.objectId as string

    const r = await run(['client', 'read', ...base, id])
    expect(r).toMatchObject({ objectId: id, value: playlist('From the CLI app'), createdBy: app.did, strategy: 'automerge' })

    const q = await run(['client', 'query', ...base, '--type', 'MusicPlaylist', '--where', 'numTracks>=1', '--limit', '5'])
    expect((q.items as Array<{ objectId: string }>).map(o => o.objectId)).toEqual([id])
    expect(q.cursor).toBeNull()

    const u = await run(['client', 'update', ...base, id], JSON.stringify(playlist('From the CLI app', ['One', 'Two'])))
    expect(u).toMatchObject({ objectId: id, changed: true })
    const h = await run(['client', 'history', ...base, id])
    const commits = h.commits as Array<Record<string, unknown> & { header: Record<string, unknown>, envelope: unknown }>
    expect(commits.map(c => [c.operation, c.signer, c.verified])).toEqual([['create', app.did, true], ['update', app.did, true]])
    // The decoded protected header rides along with the existing fields.
    for (const c of commits) {
      expect(c.header).toMatchObject({ operation: c.operation, committed_at: c.committedAt })
      expect(c.envelope).toBeDefined()
    }

    // The owner sees the app's object through its own CLI (via the daemon).
    expect(await ok(['read', '--dir', dir, id])).toMatchObject({ value: playlist('From the CLI app', ['One', 'Two']), createdBy: app.did })

    expect(await run(['client', 'delete', ...base, id])).toMatchObject({ objectId: id })
    await fails(['client', 'read', ...base, id], 'not_found')

    const lww = await run(['client', 'write', ...base, '--strategy', 'lww'], JSON.stringify(playlist('LWW')))
    expect(await run(['client', 'read', ...base, lww.objectId as string])).toMatchObject({ strategy: 'lww' })
  })

  it('keeps the CLI error contract: permissions, missing arguments, unreachable hubs', { timeout: 60_000 }, async () => {
    const work = await tempDir('cli-client-')
    const reader = await appKey(work, 'reader.key')
    const stranger = await appKey(work, 'stranger.key')
    const { dir, owner } = await ownerHub([{ grantee: reader.did, allow: '-R--' }])
    const d = await startDaemon(dir)
    const addr = hubAddr(d)
    const as = (key: string): string[] => ['--hub', addr, '--key', key, '--owner', owner]

    expect(await ok(['client', 'query', ...as(reader.path), '--type', 'MusicPlaylist'])).toEqual({ items: [], cursor: null })
    // Independent processes: run them side by side.
    await Promise.all([
      fails(['client', 'write', ...as(reader.path)], 'permissions_required', { stdin: JSON.stringify(playlist('no C')) }),
      fails(['client', 'query', ...as(stranger.path), '--type', 'MusicPlaylist'], 'permissions_required'),
      fails(['client', 'query', ...as(reader.path), '--type', 'MusicPlaylist', '--context', 'https://example.com'], 'permissions_required'),
      fails(['client', 'query', ...as(reader.path)], 'bad_request'),
      fails(['client', 'query', ...as(reader.path), '--type', 'MusicPlaylist', '--where', 'oops'], 'bad_request'),
      fails(['client', 'read', ...as(reader.path)], 'bad_request'),
      fails(['client', 'read', ...as(reader.path), 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'], 'not_found'),
      fails(['client', 'write', ...as(reader.path)], 'bad_request', { stdin: 'not json' }),
      fails(['client', 'query', '--key', reader.path, '--owner', owner, '--type', 'MusicPlaylist'], 'bad_request'),
      fails(['client', 'query', '--hub', addr, '--owner', owner, '--type', 'MusicPlaylist'], 'bad_request'),
      fails(['client', 'query', '--hub', addr, '--key', reader.path, '--type', 'MusicPlaylist'], 'bad_request'),
      fails(['client', 'query', ...as(join(work, 'missing.key')), '--type', 'MusicPlaylist'], 'not_found'),
      fails(['client', 'query', '--hub', '/ip4/127.0.0.1/tcp/1', '--key', reader.path, '--owner', owner, '--type', 'MusicPlaylist'], 'bad_request'),
      fails(['client', 'frobnicate', ...as(reader.path)], 'bad_request'),
      // A live subscription needs R on the collection too; refused before anything is printed.
      fails(['client', 'watch', ...as(stranger.path), '--type', 'MusicPlaylist'], 'permissions_required'),
      fails(['client', 'watch', ...as(reader.path), '--type', 'MusicPlaylist', '--context', 'https://example.com'], 'permissions_required'),
      fails(['client', 'watch', ...as(reader.path)], 'bad_request'),
      fails(['client', 'watch', ...as(reader.path), '--type', 'MusicPlaylist', '--count', '0'], 'bad_request')
    ])

    await ok(['stop', '--dir', dir])
    await fails(['client', 'query', ...as(reader.path), '--type', 'MusicPlaylist'], 'unavailable')
  })

  it('hub watch: the owner watches a collection of its own running hub; without a running hub it is unavailable', { timeout: 60_000 }, async () => {
    const { dir } = await ownerHub([])
    await fails(['watch', '--dir', dir, '--type', 'MusicPlaylist'], 'unavailable')
    await startDaemon(dir)
    const before = await ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist('Before the watch')) })
    const w = watch(['--dir', dir, '--type', 'MusicPlaylist', '--json', '--count', '1'], ['watch'])
    const [first] = await w.waitLines(1)
    expect((JSON.parse(first as string) as { initial: Array<{ objectId: string }> }).initial.map(o => o.objectId)).toEqual([before.objectId])
    const after = await ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist('While watching')) })
    expect(await w.exit).toBe(0)
    expect(w.stderr()).toBe('')
    expect(w.lines().slice(1).map(l => (JSON.parse(l) as { object: { objectId: string } }).object.objectId)).toEqual([after.objectId])
  })

  it('watches a collection: a subscribed line, then one NDJSON line per change; --count stops it, SIGTERM closes it', { timeout: 60_000 }, async () => {
    const work = await tempDir('cli-client-')
    const app = await appKey(work)
    const { dir, owner } = await ownerHub([{ grantee: app.did, allow: 'CRUD' }])
    const d = await startDaemon(dir)
    const base = ['--hub', hubAddr(d), '--key', app.path, '--owner', owner]
    const before = await ok(['client', 'write', ...base], { stdin: JSON.stringify(playlist('Before the watch')) })

    const w = watch([...base, '--type', 'MusicPlaylist', '--json', '--count', '2'])
    const [first] = await w.waitLines(1)
    const subscribed = JSON.parse(first as string) as { kind: string, type: string, context: string, initial: Array<{ objectId: string }> }
    expect(subscribed).toMatchObject({ kind: 'subscribed', context: CTX, type: 'MusicPlaylist' })
    expect(subscribed.initial.map(o => o.objectId)).toEqual([before.objectId])

    // One change by the app, one by the owner (through the daemon).
    const byApp = await ok(['client', 'write', ...base], { stdin: JSON.stringify(playlist('Written by the app')) })
    const byOwner = await ok(['write', '--dir', dir], { stdin: JSON.stringify(playlist('Written by the owner')) })
    expect(await w.exit).toBe(0)
    expect(w.stderr()).toBe('')
    const events = w.lines().slice(1).map(l => JSON.parse(l) as { kind: string, object: { objectId: string, value: unknown } })
    expect(events.map(e => [e.kind, e.object.objectId])).toEqual([['changed', byApp.objectId], ['changed', byOwner.objectId]])
    expect(events[1]?.object.value).toEqual(playlist('Written by the owner'))

    // Without --count it runs until a signal, then closes cleanly with exit 0.
    const human = watch([...base, '--type', 'MusicPlaylist'])
    const [live] = await human.waitLines(1)
    expect(live).toMatch(/^watching https:\/\/schema\.org MusicPlaylist: 3 object\(s\) now/)
    await ok(['client', 'delete', ...base, byApp.objectId as string])
    await human.waitLines(5)
    expect(human.lines()[4]).toBe(`deleted ${byApp.objectId as string}`)
    human.child.kill('SIGTERM')
    expect(await human.exit).toBe(0)
    expect(human.lines().at(-1)).toBe('stopped')
    expect(human.stderr()).toBe('')
  })

  it('the owner grants, lists, revokes and audits through the CLI while the daemon runs', { timeout: 60_000 }, async () => {
    const work = await tempDir('cli-client-')
    const app = await appKey(work)
    const { dir, owner } = await ownerHub()
    const d = await startDaemon(dir)
    const base = ['--hub', hubAddr(d), '--key', app.path, '--owner', owner]
    await fails(['client', 'write', ...base], 'permissions_required', { stdin: JSON.stringify(playlist('before the grant')) })
    const g = await ok(['grant', '--dir', dir, '--grantee', app.did, '--context', CTX, '--type', 'MusicPlaylist', '--allow', 'CRUD'])
    expect(typeof g.grantId).toBe('string')
    const w = await ok(['client', 'write', ...base], { stdin: JSON.stringify(playlist('after the grant')) })
    expect(await ok(['read', '--dir', dir, w.objectId as string])).toMatchObject({ createdBy: app.did })
    const listed = await ok(['grants', '--dir', dir]) as { items: Array<{ grantId: string, allow: string, active: boolean }> }
    expect(listed.items).toEqual([expect.objectContaining({ grantId: g.grantId, allow: 'CRUD', active: true })])
    // A live watch ends when the grant goes: the hub's error, exit 1.
    const watching = watch([...base, '--type', 'MusicPlaylist', '--json'])
    await watching.waitLines(1)
    await ok(['revoke', '--dir', dir, g.grantId as string])
    expect(await watching.exit).toBe(1)
    expect(watching.lines().map(l => (JSON.parse(l) as { kind: string }).kind)).toEqual(['subscribed'])
    expect(JSON.parse(watching.stderr())).toMatchObject({ error: { code: 'permissions_required' } })
    await fails(['client', 'write', ...base], 'permissions_required', { stdin: JSON.stringify(playlist('after the revocation')) })
    const audit = await ok(['audit', '--dir', dir]) as { items: Array<{ caller: string, method: string, decision: string }> }
    // (The SDK also asks for the collection's keys before writing; those reads are audited too.)
    expect(audit.items.filter(e => e.method === 'write').map(e => `${e.method}:${e.decision}`)).toEqual(['write:denied', 'write:allowed', 'write:denied'])
    expect(audit.items.every(e => e.caller === app.did)).toBe(true)
    await fails(['grant', '--dir', dir, '--grantee', app.did, '--context', CTX, '--type', 'MusicPlaylist', '--allow', 'XYZ'], 'bad_request')
  })
})

describe('the playlist example app', () => {
  const APP = resolve('dist/examples/playlist-app/app.js')
  async function app (args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null, stdout: string, stderr: string }> {
    return await new Promise((resolveRun, reject) => {
      const child = spawn(process.execPath, [APP, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
      child.on('error', reject)
      child.on('close', code => resolveRun({ code, stdout, stderr }))
    })
  }

  it('adds, lists, edits and watches playlists through HubClient; a revocation ends the watch', { timeout: 90_000 }, async () => {
    const work = await tempDir('playlist-app-')
    const key = await appKey(work)
    const { dir, owner } = await ownerHub()
    const d = await startDaemon(dir)
    const env = { HUB: hubAddr(d), APP_KEY: key.path, OWNER: owner }

    expect(await app(['list'], env)).toMatchObject({ code: 1, stderr: expect.stringContaining('[permissions_required]') as unknown })
    // The owner grants from elsewhere, as a client of its own hub (its key file is the keystore's format).
    const ownerClient = await HubClient.connect({ hub: env.HUB, identity: await readKeyFile(join(dir, 'keys', 'owner.json')), owner })
    let watcher: ReturnType<typeof spawn> | undefined
    try {
      const { grantId } = await ownerClient.permissions.grant({ grantee: key.did, context: CTX, type: 'MusicPlaylist', allow: 'CRUD' })

      const added = await app(['add-playlist', 'Classic Rock Playlist'], env)
      expect(added.code).toBe(0)
      const id = /created playlist (b[a-z2-7]{58})/.exec(added.stdout)?.[1] as string
      expect(id).toBeDefined()

      watcher = spawn(process.execPath, [APP, 'watch'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
      let watched = ''
      watcher.stdout?.on('data', (b: Buffer) => { watched += b.toString() })
      const w = watcher
      const watchExit = new Promise<number | null>(r => w.once('exit', code => r(code)))
      const until = Date.now() + 20_000
      while (!watched.includes('watching 1 playlist(s)') && Date.now() < until) await new Promise(r => setTimeout(r, 50))

      const [one, two] = await Promise.all([
        app(['add-track', id, 'Sweet Home Alabama', '--artist', 'Lynyrd Skynyrd', '--duration', 'PT4M45S'], env),
        app(['add-track', id, 'Free Bird', '--artist', 'Lynyrd Skynyrd'], env)
      ])
      expect([one.code, two.code]).toEqual([0, 0])
      expect((await app(['rename', id, 'Southern Rock'], env)).code).toBe(0)
      const list = await app(['list'], env)
      expect(list.stdout).toContain('"Southern Rock"  2 track(s)')
      expect(list.stdout).toMatch(/Sweet Home Alabama/)
      expect(list.stdout).toMatch(/Free Bird/)

      // Every commit of the playlist is the app's.
      const h = await ok(['history', '--dir', dir, id])
      expect(new Set((h.commits as Array<{ signer: string }>).map(c => c.signer))).toEqual(new Set([key.did]))

      await ownerClient.permissions.revoke(grantId)
      expect(await watchExit).toBe(1)
      expect(watched).toContain('"Southern Rock"')
      expect(watched).toContain('the hub ended the subscription: permissions_required')
      expect((await app(['list'], env)).code).toBe(1)
    } finally {
      if (watcher !== undefined && watcher.exitCode === null && watcher.signalCode === null) watcher.kill('SIGKILL')
      await ownerClient.close()
    }
  })
})
