/** `hub credentials add --jwt FILE`: store a JWT verifiable credential for a participant. */
import { BadRequestError } from '../../../errors.js'
import { text } from '../../params.js'
import { readOptionFile } from '../../input.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const credentialsAdd = hubCommand({
  name: 'credentials add',
  group: GROUP,
  summary: 'store a JWT verifiable credential (its issuer signature is verified)',
  description: 'Store a verifiable credential in JWT form (VCDM 1.1, or 2.0) for a participant. Its issuer signature is verified against ' +
    'the issuer\'s DID document first, and its subject must be the participant (or absent).',
  options: [PARTICIPANT, { flags: '--jwt <file>', description: 'a file holding the credential (a compact JWT)', required: true }],
  examples: ['hub credentials add --participant acme --jwt membership.jwt --json'],
  params: { participantId: text(), jwt: text() },
  // The file is read here, in the CLI process: the daemon may run elsewhere.
  async input (cli) {
    const jwt = (await readOptionFile('jwt', need(cli, 'jwt', 'file'))).trim()
    if (jwt === '') throw new BadRequestError('missing --jwt FILE (a verifiable credential in JWT form)')
    return { participantId: need(cli, 'participant'), jwt }
  },
  async run ({ hub }, p) {
    const [c] = await (await org(hub)).storeCredentials(p.participantId, [p.jwt.trim()])
    return { credentialId: c?.credentialId, types: c?.types, issuer: c?.issuer }
  },
  human: r => `stored credential ${String(r.credentialId)}\n  types:  ${(r.types ?? []).join(', ')}\n  issuer: ${String(r.issuer)}\n`
})
