/** `hub did remove-service SERVICE_ID`: remove a service endpoint from a participant's DID document. */
import { text } from '../../params.js'
import { arg } from '../../input.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const didRemoveService = hubCommand({
  name: 'did remove-service',
  group: GROUP,
  summary: 'remove a service endpoint from a participant\'s DID document',
  arguments: [{ name: 'SERVICE_ID', description: 'the service id, e.g. \'#credential-service\'' }],
  options: [PARTICIPANT],
  examples: ['hub did remove-service \'#credential-service\' --participant acme'],
  params: { participantId: text(), serviceId: text() },
  input: cli => ({ participantId: need(cli, 'participant'), serviceId: arg(cli, 0, 'SERVICE_ID') }),
  async run ({ hub }, p) {
    await (await org(hub)).removeService(p.participantId, p.serviceId)
    return { removed: p.serviceId }
  },
  human: r => `removed service ${r.removed}\n`
})
