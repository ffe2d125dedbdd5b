/**
 * Backup and recovery through the real CLI (issue 13 acceptance): the owner's
 * only key-holding hub is lost; `hub init --restore` from a `hub backup` on a
 * fresh directory brings the owner back; the restored hub syncs with the
 * surviving old device, grants, pairs a new device, and all three converge.
 * Every hub is its own daemon process on loopback.
 */
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanup, playlist, tempDir } from './helpers.js'
import { fails, hub, killAll, ok, startDaemon, until } from './cli-helpers.js'

afterAll(async () => { await killAll(); await cleanup() })


async function reads (dir: string, objectId: string): Promise<true | undefined> {
  const r = await hub(['read', '--dir', dir, objectId, '--json'])
  return r.code === 0 ? true : undefined
}

describe('backup → restore → the owner carries on', () => {
  it('a restored owner hub re-syncs with an old device, grants, and pairs a new one', { timeout: 150_000 }, async () => {
    const root = await tempDir('restore-')
    const [A, B, R, C] = ['laptop', 'phone', 'new-laptop', 'tablet'].map(n => join(root, n)) as [string, string, string, string]
    const passphrase = join(root, 'passphrase')
    await writeFile(passphrase, 'correct horse battery staple\n', { mode: 0o600 })

    const a = await ok(['init', '--dir', A])
    const laptop = await startDaemon(A)
    const { invite } = await ok(['device', 'invite', '--dir', A]) as { invite: string }
    await ok(['init', '--dir', B, '--join', invite, '--name', 'phone'])
    const phone = await startDaemon(B)
    const before = await ok(['write', '--dir', A], { stdin: JSON.stringify(playlist('Before the loss')) }) as { objectId: string }
    await until('the phone to sync', async () => await reads(B, before.objectId))

    // A joined device holds no owner key: it cannot make the backup.
    await fails(['backup', '--dir', B, '--out', join(root, 'nope.jwe'), '--passphrase-file', passphrase], 'permissions_required')
    const backup = join(root, 'owner-backup.jwe')
    await ok(['backup', '--dir', A, '--out', backup, '--passphrase-file', passphrase])
    // Never overwritten.
    await fails(['backup', '--dir', A, '--out', backup, '--passphrase-file', passphrase], 'already_exists')

    // The laptop is lost.
    laptop.child.kill('SIGKILL')
    await laptop.exit
    await rm(A, { recursive: true, force: true })

    // A wrong passphrase restores nothing.
    const wrong = join(root, 'wrong')
    await writeFile(wrong, 'not the passphrase at all\n')
    await fails(['init', '--dir', R, '--restore', backup, '--passphrase-file', wrong], 'bad_request')
    await fails(['info', '--dir', R], 'not_found')

    const r = await ok(['init', '--dir', R, '--restore', backup, '--passphrase-file', passphrase])
    expect(r).toMatchObject({ did: a.did, restored: true })
    expect(r.hubDid).not.toBe(a.hubDid)
    await startDaemon(R, ['--bootstrap', phone.info.multiaddrs[0] as string])

    // The old device syncs the data back to the restored owner, and back again.
    await until('the restored hub to get the data back from the phone', async () => await reads(R, before.objectId))
    const fromPhone = await ok(['write', '--dir', B], { stdin: JSON.stringify(playlist('Written on the phone after the restore')) }) as { objectId: string }
    await until('the restored hub to get the phone\'s new write', async () => await reads(R, fromPhone.objectId))

    // It holds the owner key: it grants, and the grant reaches the old device.
    const app = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
    const g = await ok(['grant', '--dir', R, '--grantee', app, '--context', 'https://schema.org', '--type', 'MusicPlaylist', '--allow', '-R--']) as { grantId: string }
    await until('the grant on the phone', async () => {
      const list = await ok(['grants', '--dir', B]) as { items: Array<{ grantId: string }> }
      return list.items.some(x => x.grantId === g.grantId) ? true : undefined
    })

    // And it pairs a new device, which gets everything.
    const { invite: second } = await ok(['device', 'invite', '--dir', R]) as { invite: string }
    const c = await ok(['init', '--dir', C, '--join', second, '--name', 'tablet'])
    expect(c.did).toBe(a.did)
    await startDaemon(C)
    await until('the tablet to sync', async () => (await reads(C, before.objectId)) === true && (await reads(C, fromPhone.objectId)) === true ? true : undefined)
  })
})
