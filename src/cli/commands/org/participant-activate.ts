/** `hub participant activate`: activate a participant context (publishes its DID document). */
import { text } from '../../params.js'
import { hubCommand } from '../../spec.js'
import { GROUP, org, PARTICIPANT_ARG, PARTICIPANT_ARG_OPTIONS, participantArg, participantView } from './shared.js'

export const participantActivate = hubCommand({
  name: 'participant activate',
  group: GROUP,
  summary: 'activate a participant context (publishes its DID document)',
  description: 'CREATED or DEACTIVATED → ACTIVATED. Its DID document is served (while published) and its DCP endpoints answer. It needs at least one ACTIVATED key pair.',
  arguments: [PARTICIPANT_ARG],
  options: PARTICIPANT_ARG_OPTIONS,
  examples: ['hub participant activate acme'],
  params: { participantId: text() },
  input: cli => ({ participantId: participantArg(cli) }),
  run: async ({ hub }, p) => await (await org(hub)).activateParticipant(p.participantId),
  human: participantView
})
