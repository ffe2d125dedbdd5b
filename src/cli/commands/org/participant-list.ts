/** `hub participant list`: every participant context. */
import { page, pageTable } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, org } from './shared.js'

export const participantList = hubCommand({
  name: 'participant list',
  group: GROUP,
  summary: 'every participant context, with its DID and state',
  examples: ['hub participant list --json'],
  params: {},
  input: () => ({}),
  run: async ({ hub }) => page(await (await org(hub)).listParticipants()),
  human: r => pageTable(r, 'participant(s)', [['PARTICIPANT', p => p.participantId], ['STATE', p => p.state], ['UPDATED', p => p.updatedAt], ['DID', p => p.did]])
})
