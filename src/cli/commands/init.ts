/** `hub init`: create a hub directory — a new owner, an imported owner key, a restored backup, or another device of an owner (--join). */
import { BadRequestError, NotFoundError } from '../../errors.js'
import type { Ed25519KeyPair } from '../../identity/keys.js'
import type { HubRole } from '../../hub.js'
import { fields, indent } from '../format.js'
import { opt, readOptionFile } from '../input.js'
import { readPassphrase } from '../passphrase.js'
import { localCommand } from '../spec.js'
import { STORE_OPTIONS, storeChoice } from './store-options.js'

/** The owner key named by --owner-key, in any form a key file takes (client/key-file.ts); unreadable is the caller's mistake. */
async function loadOwnerKey (path: string): Promise<Ed25519KeyPair> {
  const { readKeyFile } = await import('../../client/key-file.js')
  try {
    return await readKeyFile(path)
  } catch (err) {
    if (err instanceof NotFoundError) throw new BadRequestError(`cannot read the --owner-key file ${path}`)
    throw err
  }
}

function joinRole (o: Record<string, unknown>): HubRole | undefined {
  const role = opt(o.role)
  if (o.blind === true && role !== undefined && role !== 'blind') throw new BadRequestError(`--blind and --role ${role} contradict each other`)
  return o.blind === true ? 'blind' : role as HubRole | undefined
}

/** `leveldb`, or `postgres postgres://user:***@host/db (namespace ns)`: never a password. */
export function storeLine (s: InitResult['store']): string | undefined {
  if (s === undefined) return undefined
  return s.url === undefined ? s.engine : `${s.engine} ${s.url} (namespace ${s.namespace ?? '?'})`
}

export interface InitResult { did: string, hubDid: string, peerId: string, dir: string, role?: string, restored?: boolean, store?: { engine: string, url?: string, namespace?: string } }

export const init = localCommand<InitResult>({
  name: 'init',
  group: 'Hub',
  usesDir: true,
  summary: 'create a hub: a new owner DID, an imported owner key, a restored backup, or another device (--join)',
  description: 'Create a hub directory. Without options: a new owner DID and its first hub. Refuses to overwrite an existing hub.',
  options: [
    { flags: '--owner-key <file>', description: 'import an owner key: a key file (as "hub identity new" writes), an OKP Ed25519 private JWK or a base64url seed' },
    { flags: '--restore <file>', description: 'bring an owner back from a "hub backup" file (asks for its passphrase)' },
    { flags: '--passphrase-file <file>', description: 'with --restore: read the passphrase from this file instead of the terminal' },
    { flags: '--join <invite>', description: 'become another device of the owner who made the invite ("hub device invite")' },
    { flags: '--blind', description: 'with --join: a blind hub (stores and forwards ciphertext, reads nothing)' },
    { flags: '--role <role>', description: 'with --join: owner-device or blind', choices: ['owner-device', 'blind'] },
    { flags: '--name <name>', description: 'with --join: a name for this device' },
    ...STORE_OPTIONS
  ],
  examples: ['hub init --dir ~/hub', 'hub init --dir ~/phone --join <invite>', 'hub init --dir ~/new-laptop --restore owner-backup.jwe', 'hub init --dir ~/hub --store postgres://hub@db.example/hubs --store-password-file ~/.hub-db-password'],
  async run (cli) {
    const o = cli.opts
    const exclusive = ['ownerKey', 'restore', 'join'].filter(k => o[k] !== undefined)
    if (exclusive.length > 1) throw new BadRequestError('--owner-key, --restore and --join exclude each other (a joined device holds no owner key)')
    if (o.passphraseFile !== undefined && o.restore === undefined) throw new BadRequestError('--passphrase-file goes with --restore')
    if (o.join === undefined && (o.blind === true || o.role !== undefined || o.name !== undefined)) throw new BadRequestError('--blind, --role and --name go with --join')
    const store = await storeChoice(o)
    if (store !== undefined && o.join !== undefined) throw new BadRequestError('--store goes with a new or restored owner, not yet with --join', { reason: 'store_with_join' })
    if (typeof o.join === 'string') {
      const role = joinRole(o)
      const { joinHub } = await import('../../net/pair.js')
      const name = opt(o.name)
      return await joinHub(cli.dir, o.join, { ...(role !== undefined ? { role } : {}), ...(name !== undefined ? { name } : {}) })
    }
    const { Hub } = await import('../../hub.js')
    if (typeof o.restore === 'string') {
      const text = await readOptionFile('restore', o.restore)
      const { openOwnerBackup } = await import('../../backup/owner-backup.js')
      const secrets = await openOwnerBackup(text, await readPassphrase({ prompt: 'passphrase of the backup: ', file: opt(o.passphraseFile) }))
      const created = await Hub.init(cli.dir, { ownerKey: secrets.ownerKey, tenantSecret: secrets.tenantSecret, ...(store !== undefined ? { store } : {}) })
      return { ...created, restored: true }
    }
    const ownerKey = typeof o.ownerKey === 'string' ? await loadOwnerKey(o.ownerKey) : undefined
    return await Hub.init(cli.dir, { ...(ownerKey !== undefined ? { ownerKey } : {}), ...(store !== undefined ? { store } : {}) })
  },
  human: r => `${r.restored === true ? 'restored the owner into a new hub' : 'created hub'}\n` + indent(fields([['owner DID', r.did], ['hub DID', r.hubDid], ['peer id', r.peerId], ['dir', r.dir], ...(r.store !== undefined ? [['store', storeLine(r.store)] as const] : [])]))
})
