/** `hub identity new --out FILE`: a new app identity, an Ed25519 key file (0600, never overwritten). */
import { BadRequestError } from '../../../errors.js'
import { opt } from '../../input.js'
import { localCommand } from '../../spec.js'
import { GROUP } from './shared.js'

export interface IdentityNewResult { did: string }

export const identityNew = localCommand<IdentityNewResult>({
  name: 'identity new',
  group: GROUP,
  summary: 'a new app identity: an Ed25519 key file (0600, never overwritten); prints its DID',
  description: 'Create an app identity: an Ed25519 key in FILE (mode 0600, never overwritten). Prints its DID, which the owner grants ("hub grant --grantee DID …").',
  options: [{ flags: '--out <file>', description: 'where to write the key file (must not exist)', required: true }],
  examples: ['hub identity new --out app.key'],
  async run (cli) {
    const out = opt(cli.opts.out)
    if (out === undefined || out === '') throw new BadRequestError('missing --out FILE')
    // key-file.js directly: no libp2p for this one.
    const { createKeyFile } = await import('../../../client/key-file.js')
    const key = await createKeyFile(out)
    return { did: key.did }
  },
  human: r => `created app identity ${r.did}\n(the owner grants it with: hub grant --grantee ${r.did} --context … --type … --allow CRUD)\n`
})
