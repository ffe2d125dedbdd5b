/** `hub issuance list`: a participant's credential definitions. */
import { text } from '../../params.js'
import { page, pageTable } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const issuanceList = hubCommand({
  name: 'issuance list',
  group: GROUP,
  summary: 'the credentials a participant issues (its credential definitions)',
  options: [PARTICIPANT],
  examples: ['hub issuance list --participant issuer --json'],
  params: { participantId: text() },
  input: cli => ({ participantId: need(cli, 'participant') }),
  run: async ({ hub }, p) => page(await (await org(hub)).listDefinitions(p.participantId)),
  human: r => pageTable(r, 'definition(s)', [
    ['DEFINITION', d => d.id], ['TYPE', d => d.credentialType], ['VALIDITY', d => `${d.validitySeconds}s`],
    ['STATUS LIST', d => d.statusList === true ? 'yes' : 'no'], ['HOLDERS', d => d.holders !== undefined ? d.holders.join(',') : 'any']
  ])
})
