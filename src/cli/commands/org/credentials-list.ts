/** `hub credentials list`: the credentials a participant holds. */
import { defined, optional, text } from '../../params.js'
import { opt } from '../../input.js'
import { page, pageTable } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const credentialsList = hubCommand({
  name: 'credentials list',
  group: GROUP,
  summary: 'the credentials a participant holds (without their JWTs)',
  options: [PARTICIPANT, { flags: '--type <type>', description: 'only credentials of this type, e.g. MembershipCredential' }],
  examples: ['hub credentials list --participant acme --type MembershipCredential --json'],
  params: { participantId: text(), type: optional(text()) },
  input: cli => defined({ participantId: need(cli, 'participant'), type: opt(cli.opts.type) }),
  async run ({ hub }, p) {
    const list = await (await org(hub)).listCredentials(p.participantId, p.type)
    return page(list.map(({ raw: _raw, ...rest }) => rest))
  },
  human: r => pageTable(r, 'credential(s)', [
    ['CREDENTIAL', c => c.credentialId], ['TYPES', c => c.types.filter(t => t !== 'VerifiableCredential').join(',')],
    ['STATE', c => c.state], ['EXPIRES', c => c.expirationDate], ['ISSUER', c => c.issuer]
  ])
})
