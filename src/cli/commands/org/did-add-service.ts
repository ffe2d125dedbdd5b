/** `hub did add-service`: a service endpoint in a participant's DID document. */
import { text } from '../../params.js'
import { fields } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const didAddService = hubCommand({
  name: 'did add-service',
  group: GROUP,
  summary: 'add a service endpoint to a participant\'s DID document (DCP: CredentialService, IssuerService)',
  description: 'Add a service endpoint to a participant\'s DID document. DCP needs a CredentialService (holders) and an IssuerService ' +
    '(issuers). The endpoint must be HTTPS, or HTTP on loopback; an address literal the outbound policy refuses is refused.',
  options: [
    PARTICIPANT,
    { flags: '--id <id>', description: 'the service id, e.g. \'#credential-service\' (relative to the DID)', required: true },
    { flags: '--type <type>', description: 'the service type, e.g. CredentialService or IssuerService', required: true },
    { flags: '--endpoint <url>', description: 'the service endpoint URL', required: true }
  ],
  examples: ['hub did add-service --participant acme --id \'#credential-service\' --type CredentialService --endpoint http://127.0.0.1:8080/api/credentials/v1/participants/acme'],
  params: { participantId: text(), id: text(), type: text(), endpoint: text() },
  input: cli => ({ participantId: need(cli, 'participant'), id: need(cli, 'id'), type: need(cli, 'type'), endpoint: need(cli, 'endpoint', 'url') }),
  run: async ({ hub }, p) => await (await org(hub)).addService(p.participantId, { id: p.id, type: p.type, serviceEndpoint: p.endpoint }),
  human: s => 'added service\n' + fields([['  id', s.id], ['  type', s.type], ['  endpoint', s.serviceEndpoint]])
})
