/**
 * The hosting commands through the built binary (issue 17): `hub hosting
 * init`, `hub start` (one node for every owner), `hub hosting add-owner
 * --invite` with the invite of an owner's running hub (`hub device invite
 * --role blind`), `hub hosting list` (quotas, usage, traffic), `GET
 * /metrics` (admin key only, Prometheus text), `hub hosting remove-owner`;
 * and the refusals: not a hosting hub, a garbage invite, the same owner
 * twice, an unknown owner, an empty quota option.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { fails, hub, killAll, ok, running, startDaemon } from './cli-helpers.js'
import { eventually } from './net-helpers.js'
import { cleanup, playlist, tempDir } from './helpers.js'

afterEach(async () => { await killAll(); running.clear(); await cleanup() })

describe('hub hosting', () => {
  it('init, start, add-owner with an owner\'s invite, list, /metrics, remove-owner', async () => {
    const base = await tempDir('hosting-cli-')
    const hostDir = join(base, 'host')
    const init = await ok(['hosting', 'init', '--dir', hostDir, '--max-objects', '1000', '--max-rps', '50'])
    expect(init).toMatchObject({ defaultQuotas: { objects: 1000, requestsPerSecond: 50 }, store: { engine: 'leveldb' } })
    const host = await startDaemon(hostDir, ['--listen', '/ip4/127.0.0.1/tcp/0', '--http', '127.0.0.1:0'])
    expect(host.info.multiaddrs.length).toBeGreaterThan(0)

    const ownerDir = join(base, 'owner')
    await ok(['init', '--dir', ownerDir])
    await startDaemon(ownerDir, ['--listen', '/ip4/127.0.0.1/tcp/0'])
    await ok(['write', '--dir', ownerDir, '--encrypt'], { stdin: JSON.stringify(playlist('hosted secret')) })
    const { invite } = await ok(['device', 'invite', '--dir', ownerDir, '--role', 'blind']) as { invite: string }
    const added = await ok(['hosting', 'add-owner', '--dir', hostDir, '--invite', invite, '--max-bytes', '5000000'])
    const ownerDid = (await ok(['info', '--dir', ownerDir])).did as string
    expect(added).toMatchObject({ owner: ownerDid, quotas: { bytes: 5000000 } })
    // The same owner twice is refused before the invite is spent (and a used invite is refused anyway).
    const again = await ok(['device', 'invite', '--dir', ownerDir, '--role', 'blind']) as { invite: string }
    await fails(['hosting', 'add-owner', '--dir', hostDir, '--invite', again.invite], 'already_exists')

    await eventually(async () => {
      const l = await ok(['hosting', 'list', '--dir', hostDir]) as { items: Array<{ owner: string, usage: { objects: number } }> }
      return (l.items.find(i => i.owner === ownerDid)?.usage.objects ?? 0) >= 3
    }, 30_000, 'the host holding the owner\'s objects')
    const list = await ok(['hosting', 'list', '--dir', hostDir]) as { running: boolean, items: Array<Record<string, unknown>> }
    expect(list.running).toBe(true)
    expect(list.items).toHaveLength(1)
    expect(list.items[0]).toMatchObject({ owner: ownerDid, quotas: { bytes: 5000000 }, devicesConnected: 1 })
    const checked = await ok(['hosting', 'doctor', '--dir', hostDir]) as { clean: boolean, owners: Array<{ owner: string, clean: boolean, objects: number }> }
    expect(checked.clean).toBe(true)
    expect(checked.owners).toEqual([expect.objectContaining({ owner: ownerDid, clean: true })])
    const human = await hub(['hosting', 'list', '--dir', hostDir])
    expect(human.stdout).toContain('quotas: 5000000 bytes')

    // /metrics: the admin key only.
    const url = `${host.info.http?.url ?? ''}/metrics`
    const key = (await readFile(join(hostDir, 'http-admin.key'), 'utf8')).trim()
    expect((await fetch(url)).status).toBe(401)
    expect((await fetch(url, { headers: { 'x-api-key': 'wrong-key-wrong-key' } })).status).toBe(401)
    const res = await fetch(url, { headers: { 'x-api-key': key } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    expect(text).toContain('hub_hosted_owners 1\n')
    expect(text).toMatch(new RegExp(`hub_owner_objects\\{owner="${ownerDid}"\\} \\d+`))
    expect(text).toContain('# TYPE hub_owner_requests_total counter')

    // Refusals.
    await fails(['hosting', 'add-owner', '--dir', hostDir, '--invite', 'not-an-invite'], 'bad_request')
    await fails(['hosting', 'add-owner', '--dir', hostDir, '--invite', invite, '--max-objects', 'many'], 'bad_request')
    await fails(['hosting', 'remove-owner', '--dir', hostDir, 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'], 'not_found')
    await fails(['hosting', 'list', '--dir', ownerDir], 'bad_request')

    const removed = await ok(['hosting', 'remove-owner', '--dir', hostDir, ownerDid]) as { keysDeleted: number }
    expect(removed.keysDeleted).toBeGreaterThan(0)
    expect((await ok(['hosting', 'list', '--dir', hostDir]) as { items: unknown[] }).items).toEqual([])
    expect(await (await fetch(url, { headers: { 'x-api-key': key } })).text()).toContain('hub_hosted_owners 0\n')
    const doc = await ok(['doctor', '--dir', hostDir])
    expect(doc.clean).toBe(true)
    expect(await ok(['hosting', 'doctor', '--dir', hostDir])).toEqual({ clean: true, owners: [] })
  }, 120_000)

  it('without a daemon: list and remove-owner work on the directory; add-owner says it needs the running hub', async () => {
    const hostDir = join(await tempDir('hosting-cli-'), 'host')
    await ok(['hosting', 'init', '--dir', hostDir])
    expect(await ok(['hosting', 'list', '--dir', hostDir])).toEqual({ running: false, items: [] })
    await fails(['hosting', 'add-owner', '--dir', hostDir, '--invite', 'x'], 'unavailable')
    await fails(['hosting', 'remove-owner', '--dir', hostDir, 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'], 'not_found')
  }, 60_000)
})
