/** `hub issuance issued`: the credentials a participant issued into its status lists. */
import { text } from '../../params.js'
import { page, pageTable } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const issuanceIssued = hubCommand({
  name: 'issuance issued',
  group: GROUP,
  summary: 'the revocable credentials a participant issued (status list, index, revoked)',
  description: 'The credentials the participant issued from definitions made with --status-list: each with its status list and index, and whether it is revoked.',
  options: [PARTICIPANT],
  examples: ['hub issuance issued --participant issuer --json'],
  params: { participantId: text() },
  input: cli => ({ participantId: need(cli, 'participant') }),
  run: async ({ hub }, p) => page(await (await org(hub)).listIssuedCredentials(p.participantId)),
  human: r => pageTable(r, 'issued credential(s)', [
    ['CREDENTIAL', c => c.credentialId], ['DEFINITION', c => c.definitionId], ['LIST', c => c.listId], ['INDEX', c => c.index],
    ['REVOKED', c => c.revoked ? c.revokedAt ?? 'yes' : 'no'], ['HOLDER', c => c.holderDid]
  ])
})
