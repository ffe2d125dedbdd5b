/**
 * `hub dashboard` against a real daemon (the built CLI, issue 16): it asks
 * the running daemon for the link; a daemon without --http (or none at all)
 * is a clear `unavailable`; the link logs in once; sessions end with the
 * daemon. The CLI commands the dashboard added (diff, audit search/summary,
 * revoke-preview) answer on the command line too.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, tempDir } from './helpers.js'
import { fails, hub, killAll, ok, startDaemon } from './cli-helpers.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'

afterEach(async () => {
  await killAll()
  await cleanup()
})

async function newHub (): Promise<string> {
  const dir = join(await tempDir('dash-cli-'), 'hub')
  await ok(['init', '--dir', dir])
  return dir
}

describe('hub dashboard', () => {
  it('needs the running daemon with --http; then prints a one-time link that logs in once; the session ends with the daemon', async () => {
    const dir = await newHub()
    const none = await fails(['dashboard', '--dir', dir], 'unavailable')
    expect(String(none.message)).toContain('--http')

    const plain = await startDaemon(dir)
    const noHttp = await fails(['dashboard', '--dir', dir], 'unavailable')
    expect(String(noHttp.message)).toContain('--http')
    await ok(['stop', '--dir', dir])
    await plain.exit

    const d = await startDaemon(dir, ['--http', '127.0.0.1:0'])
    const { url, expiresAt } = await ok(['dashboard', '--dir', dir]) as { url: string, expiresAt: string }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard\/login\?token=/)
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(5 * 60_000)
    const human = await hub(['dashboard', '--dir', dir])
    expect(human.stdout).toContain('ssh -L')
    const login = await fetch(url, { redirect: 'manual' })
    expect(login.status).toBe(303)
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string
    const base = new URL(url).origin
    expect((await fetch(`${base}/dashboard/api/collections`, { headers: { cookie } })).status).toBe(200)
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(401)

    await ok(['stop', '--dir', dir])
    await d.exit
    // The same port again: the old cookie means nothing to the new daemon.
    await startDaemon(dir, ['--http', `127.0.0.1:${new URL(url).port}`])
    const after = await fetch(`${base}/dashboard/api/collections`, { headers: { cookie } })
    expect(after.status).toBe(401)
    expect(((await after.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe('no_session')
  }, 60_000)

  it('the dashboard\'s own commands work from the CLI: diff, audit search, audit summary, revoke-preview', async () => {
    const dir = await newHub()
    const { objectId } = await ok(['write', '--dir', dir], { stdin: JSON.stringify({ '@context': 'https://schema.org', '@type': 'MusicPlaylist', name: 'A', numTracks: 1 }) }) as { objectId: string }
    await ok(['update', objectId, '--dir', dir], { stdin: JSON.stringify({ '@context': 'https://schema.org', '@type': 'MusicPlaylist', name: 'B', numTracks: 1 }) })
    const diff = await ok(['diff', objectId, '--dir', dir]) as { changes: unknown[] }
    expect(diff.changes).toEqual([{ path: 'name', kind: 'changed', before: 'A', after: 'B' }])
    expect((await hub(['diff', objectId, '--dir', dir])).stdout).toMatch(/name\s+changed\s+"A"\s+"B"/)
    await fails(['diff', objectId, '--from', 'nope', '--dir', dir], 'not_found')

    const grantee = Ed25519KeyPair.generate().did
    const { grantId } = await ok(['grant', '--dir', dir, '--grantee', grantee, '--context', 'https://schema.org', '--type', 'MusicPlaylist', '--allow', '-R--']) as { grantId: string }
    const preview = await ok(['revoke-preview', grantId, '--dir', dir]) as { alreadyRevoked: boolean, loses: string[] }
    expect(preview.alreadyRevoked).toBe(false)
    expect(preview.loses.join(' ')).toContain('read on the collection https://schema.org MusicPlaylist')
    const grants = await ok(['grants', '--dir', dir]) as { items: Array<{ active: boolean }> }
    expect(grants.items[0]?.active).toBe(true)
    await fails(['revoke-preview', 'nope', '--dir', dir], 'not_found')

    expect(await ok(['audit', 'search', '--dir', dir, '--decision', 'denied'])).toEqual({ items: [], cursor: null })
    await fails(['audit', 'search', '--dir', dir, '--since', 'yesterday'], 'bad_request')
    expect(await ok(['audit', 'summary', '--dir', dir])).toMatchObject({ items: [] })
    // The bare audit command still lists the log.
    expect(await ok(['audit', '--dir', dir])).toEqual({ items: [], cursor: null })
  }, 60_000)
})
