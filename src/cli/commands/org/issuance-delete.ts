/** `hub issuance delete DEFINITION_ID`: remove a credential definition. */
import { text } from '../../params.js'
import { arg } from '../../input.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const issuanceDelete = hubCommand({
  name: 'issuance delete',
  group: GROUP,
  summary: 'remove a credential definition (credentials already issued stay as they are)',
  arguments: [{ name: 'DEFINITION_ID', description: 'the definition' }],
  options: [PARTICIPANT],
  examples: ['hub issuance delete membership --participant issuer'],
  params: { participantId: text(), definitionId: text() },
  input: cli => ({ participantId: need(cli, 'participant'), definitionId: arg(cli, 0, 'DEFINITION_ID') }),
  async run ({ hub }, p) {
    await (await org(hub)).deleteDefinition(p.participantId, p.definitionId)
    return { participantId: p.participantId, definitionId: p.definitionId, deleted: true as const }
  },
  human: r => `deleted credential definition ${r.definitionId} of ${r.participantId}\n`
})
