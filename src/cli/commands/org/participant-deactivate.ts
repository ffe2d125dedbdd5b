/** `hub participant deactivate`: deactivate a participant context (unpublishes its DID document). */
import { text } from '../../params.js'
import { hubCommand } from '../../spec.js'
import { GROUP, org, PARTICIPANT_ARG, PARTICIPANT_ARG_OPTIONS, participantArg, participantView } from './shared.js'

export const participantDeactivate = hubCommand({
  name: 'participant deactivate',
  group: GROUP,
  summary: 'deactivate a participant context (unpublishes its DID document)',
  description: 'ACTIVATED → DEACTIVATED: its DID document, DCP endpoints and token issuing answer as if it did not exist; activate it again to republish.',
  arguments: [PARTICIPANT_ARG],
  options: PARTICIPANT_ARG_OPTIONS,
  examples: ['hub participant deactivate acme'],
  params: { participantId: text() },
  input: cli => ({ participantId: participantArg(cli) }),
  run: async ({ hub }, p) => await (await org(hub)).deactivateParticipant(p.participantId),
  human: participantView
})
