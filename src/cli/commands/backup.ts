/** `hub backup --out FILE`: the owner key and tenant secret, sealed under a passphrase. */
import { writeFile } from 'node:fs/promises'
import { AlreadyExistsError, HubError, PermissionsRequiredError } from '../../errors.js'
import { text } from '../params.js'
import { opt } from '../input.js'
import { readPassphrase } from '../passphrase.js'
import { hubCommand } from '../spec.js'

export const backup = hubCommand({
  name: 'backup',
  group: 'Backup and moving',
  summary: 'seal the owner key and tenant secret under a passphrase (what "hub init --restore" needs)',
  description: 'Write the owner key and the tenant secret, sealed under a passphrase (a compact JWE, PBES2-HS512+A256KW / A256GCM, ' +
    '310,000 PBKDF2 iterations: any JOSE library opens it), to --out. With it, "hub init --restore FILE" brings the owner back on a new ' +
    'machine; the data then comes back from the other devices (or from "hub archive import"). Without a backup, losing every hub that ' +
    'holds the owner key loses the owner DID itself: its data can still be read on joined devices, but nothing new can be granted or paired.',
  options: [
    { flags: '--out <file>', description: 'the backup file (never overwritten; mode 0600)', required: true },
    { flags: '--passphrase-file <file>', description: 'read the passphrase (at least 12 characters) from this file instead of the terminal' }
  ],
  examples: ['hub backup --dir ~/hub --out ~/owner-backup.jwe'],
  // The passphrase crosses the control channel (loopback, authenticated by the
  // 0600 control secret) to the process holding the owner key; it is never stored.
  params: { passphrase: text() },
  input: async cli => ({ passphrase: await readPassphrase({ prompt: 'passphrase for the backup (12 characters or more): ', file: opt(cli.opts.passphraseFile), confirm: true }) }),
  async run ({ hub }, p) {
    if (hub.ownerKey === undefined || hub.tenantSecret === undefined) throw new PermissionsRequiredError('this hub holds no owner key: back up the hub that does (the one made by "hub init" without --join)')
    const { sealOwnerBackup } = await import('../../backup/owner-backup.js')
    return { ownerDid: hub.did, backup: await sealOwnerBackup({ ownerDid: hub.did, ownerKey: hub.ownerKey, tenantSecret: hub.tenantSecret }, p.passphrase) }
  },
  async after (r, cli) {
    const out = opt(cli.opts.out) as string
    if (typeof r.backup !== 'string') throw new HubError('internal', 'backup returned nothing')
    try {
      await writeFile(out, r.backup + '\n', { mode: 0o600, flag: 'wx' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`${out} exists; refusing to overwrite it`)
      throw err
    }
    return { ownerDid: r.ownerDid, out }
  },
  human: r => `wrote the owner backup of ${r.ownerDid} to ${r.out}\nkeep it and its passphrase apart; restore with: hub init --dir NEW_DIR --restore ${r.out}\n`
})
