/** `hub keys list`: a participant's key pairs. */
import { text } from '../../params.js'
import { page, pageTable } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, keyType, need, org, PARTICIPANT } from './shared.js'

export const keysList = hubCommand({
  name: 'keys list',
  group: GROUP,
  summary: 'a participant\'s key pairs, with their states',
  options: [PARTICIPANT],
  examples: ['hub keys list --participant acme --json'],
  params: { participantId: text() },
  input: cli => ({ participantId: need(cli, 'participant') }),
  run: async ({ hub }, p) => page(await (await org(hub)).listKeyPairs(p.participantId)),
  human: r => pageTable(r, 'key pair(s)', [
    ['KEY', k => k.keyId], ['STATE', k => k.state], ['DEFAULT', k => k.isDefault ? 'yes' : ''],
    ['PRIVATE KEY', k => k.hasPrivateKey ? 'yes' : 'no'], ['TYPE', keyType], ['KID', k => k.kid]
  ])
})
