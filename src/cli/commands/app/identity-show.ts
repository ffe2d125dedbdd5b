/** `hub identity show --key FILE`: the identity's DID and public key (never the private key). */
import { BadRequestError } from '../../../errors.js'
import { fields } from '../../format.js'
import { opt } from '../../input.js'
import { localCommand } from '../../spec.js'
import { GROUP } from './shared.js'

export interface IdentityShowResult {
  did: string
  /** The verification method: DID#fragment. */
  kid: string
  publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: string }
}

export const identityShow = localCommand<IdentityShowResult>({
  name: 'identity show',
  group: GROUP,
  summary: 'the DID and public key (JWK) of an app identity; never the private key',
  description: 'Read a key file (what "hub identity new" writes; also an OKP Ed25519 private JWK or a base64url seed) and print its DID, key id and public key as a JWK. The private key is never printed.',
  options: [{ flags: '--key <file>', description: 'the key file', required: true }],
  examples: ['hub identity show --key app.key', 'hub identity show --key app.key --json'],
  async run (cli) {
    const path = opt(cli.opts.key)
    if (path === undefined || path === '') throw new BadRequestError('missing --key FILE')
    const { readKeyFile } = await import('../../../client/key-file.js')
    const key = await readKeyFile(path)
    // Built field by field: nothing of the key pair but its public half reaches the output.
    const { kty, crv, x } = key.publicJwk()
    return { did: key.did, kid: key.kid, publicKeyJwk: { kty, crv, x } }
  },
  human: r => fields([['DID', r.did], ['key id', r.kid], ['public key', JSON.stringify(r.publicKeyJwk)]])
})
