/**
 * The whole device story through the real CLI, every hub its own daemon
 * process on loopback: init, start ×2, device invite, init --join, write on
 * one, read on the other (both ways), status views, revocation.
 */
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanup, playlist, tempDir } from './helpers.js'
import { hub, killAll, ok, startDaemon, until } from './cli-helpers.js'

afterAll(async () => { await killAll(); await cleanup() })


describe('two devices through the CLI', () => {
  it('pairs, syncs both ways, reports status and revokes', { timeout: 90_000 }, async () => {
    const root = await tempDir('e2e-')
    const A = join(root, 'laptop')
    const B = join(root, 'phone')

    const a = await ok(['init', '--dir', A])
    const daemonA = await startDaemon(A)
    expect(daemonA.info.multiaddrs.length).toBeGreaterThan(0)

    const { invite } = await ok(['device', 'invite', '--dir', A]) as { invite: string }
    expect(invite).toMatch(/^ihub1_/)
    const b = await ok(['init', '--dir', B, '--join', invite, '--name', 'phone'])
    expect(b.did).toBe(a.did)
    expect(b.peerId).not.toBe(a.peerId)
    await startDaemon(B)

    const w = await ok(['write', '--dir', A], { stdin: JSON.stringify(playlist('Written on the laptop')) }) as { objectId: string }
    const onB = await until('the laptop\'s playlist on the phone', async () => {
      const r = await hub(['read', '--dir', B, w.objectId, '--json'])
      return r.code === 0 ? JSON.parse(r.stdout) as { value: { name: string } } : undefined
    })
    expect(onB.value.name).toBe('Written on the laptop')

    const w2 = await ok(['write', '--dir', B], { stdin: JSON.stringify(playlist('Written on the phone')) }) as { objectId: string }
    await until('the phone\'s playlist on the laptop', async () => {
      const r = await hub(['read', '--dir', A, w2.objectId, '--json'])
      return r.code === 0 ? true : undefined
    })

    const status = await ok(['sync', 'status', '--dir', B]) as { running: boolean, peers: Array<{ hubDid: string, connected: boolean, behind: number }> }
    expect(status.running).toBe(true)
    expect(status.peers).toMatchObject([{ hubDid: a.hubDid, connected: true, behind: 0 }])
    const peers = await ok(['peers', '--dir', A]) as { items: Array<{ peerId: string, device: string | null }> }
    expect(peers.items).toContainEqual(expect.objectContaining({ peerId: b.peerId, device: 'owner-device' }))
    const devices = await ok(['device', 'list', '--dir', A]) as { items: Array<{ hubDid: string, self: boolean, name: string | null }> }
    expect(devices.items).toHaveLength(2)
    expect(devices.items.find(d => !d.self)).toMatchObject({ hubDid: b.hubDid, name: 'phone' })

    // One manual pass from the phone with nothing new: nothing to pull.
    const pass = await ok(['sync', '--dir', B, '--peer', daemonA.info.multiaddrs[0] as string]) as { received: number, roundTrips: number }
    expect(pass).toMatchObject({ received: 0, roundTrips: 1 })

    await ok(['device', 'revoke', '--dir', A, b.hubDid as string])
    await until('the laptop to drop the phone', async () => {
      const p = await ok(['peers', '--dir', A]) as { items: Array<{ peerId: string }> }
      return p.items.some(x => x.peerId === b.peerId) ? undefined : true
    })
    const listed = await ok(['device', 'list', '--dir', A]) as { items: Array<{ hubDid: string, revokedAt: string | null }> }
    expect(listed.items.find(d => d.hubDid === b.hubDid)?.revokedAt).not.toBeNull()

    // The phone was told before it was cut off: it knows it is revoked and refuses its own writes, saying why.
    const self = await until('the phone to learn it is revoked', async () => {
      const st = await ok(['sync', 'status', '--dir', B]) as { self: { hubDid: string, revokedAt: string | null } }
      return st.self.revokedAt !== null ? st.self : undefined
    })
    expect(self.hubDid).toBe(b.hubDid)
    const human = await hub(['sync', 'status', '--dir', B])
    expect(human.stdout).toMatch(/THIS DEVICE WAS REVOKED/)
    expect(await ok(['status', '--dir', B])).toMatchObject({ running: true, revokedAt: self.revokedAt })
    expect((await hub(['status', '--dir', B])).stdout).toMatch(/THIS DEVICE WAS REVOKED/)
    expect(await ok(['status', '--dir', A])).toMatchObject({ running: true, revokedAt: null })
    const refused = await hub(['write', '--dir', B, '--json'], { stdin: JSON.stringify(playlist('After the revocation')) })
    expect(refused.code).toBe(1)
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: { code: 'permissions_required', message: expect.stringMatching(/revoked/) } })
  })

  it('explains what needs a running hub, and refuses a bad invite', async () => {
    const dir = join(await tempDir('e2e-'), 'solo')
    await ok(['init', '--dir', dir])
    const r = await hub(['device', 'invite', '--dir', dir, '--json'])
    expect(r.code).not.toBe(0)
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'unavailable' } })
    const bad = await hub(['init', '--dir', join(dir, '..', 'other'), '--join', 'ihub1_nope', '--json'])
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: 'bad_request' } })
    const offline = await ok(['sync', 'status', '--dir', dir]) as { running: boolean }
    expect(offline.running).toBe(false)
    const contradict = await hub(['init', '--dir', join(dir, '..', 'x'), '--join', 'ihub1_nope', '--blind', '--role', 'owner-device', '--json'])
    expect(JSON.parse(contradict.stderr)).toMatchObject({ error: { code: 'bad_request' } })
  })
})
