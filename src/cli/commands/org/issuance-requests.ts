/** `hub issuance requests`: the issuance requests a participant received as an issuer. */
import { text } from '../../params.js'
import { page, pageTable } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const issuanceRequests = hubCommand({
  name: 'issuance requests',
  group: GROUP,
  summary: 'the issuance requests a participant received: RECEIVED, ISSUED, REJECTED',
  options: [PARTICIPANT],
  examples: ['hub issuance requests --participant issuer --json'],
  params: { participantId: text() },
  input: cli => ({ participantId: need(cli, 'participant') }),
  run: async ({ hub }, p) => page(await (await org(hub)).listIssuanceRequests(p.participantId)),
  human: r => pageTable(r, 'request(s)', [
    ['ISSUER PID', q => q.issuerPid], ['STATUS', q => q.rejectionReason !== undefined ? `${q.status} (${q.rejectionReason})` : q.status],
    ['DELIVERED', q => q.delivered], ['CREDENTIALS', q => q.credentials.join(',')], ['HOLDER', q => q.holderDid]
  ])
})
