/** `hub participant delete`: a participant context and everything it holds. */
import { text } from '../../params.js'
import { hubCommand } from '../../spec.js'
import { GROUP, org, PARTICIPANT_ARG, PARTICIPANT_ARG_OPTIONS, participantArg } from './shared.js'

export const participantDelete = hubCommand({
  name: 'participant delete',
  group: GROUP,
  summary: 'delete a participant context and everything it holds, private keys included',
  description: 'Delete a participant context in one step: its API key, DID record, key pairs (private keys included), credentials, ' +
    'definitions, requests and status lists. Its id and DID are free again afterwards.',
  arguments: [PARTICIPANT_ARG],
  options: PARTICIPANT_ARG_OPTIONS,
  examples: ['hub participant delete acme'],
  params: { participantId: text() },
  input: cli => ({ participantId: participantArg(cli) }),
  async run ({ hub }, p) {
    await (await org(hub)).deleteParticipant(p.participantId)
    return { participantId: p.participantId, deleted: true as const }
  },
  human: r => `deleted participant ${r.participantId}\n`
})
