/** `hub credentials request`: ask an issuer for credentials over DCP. */
import { text, texts } from '../../params.js'
import { list } from '../../input.js'
import { hubCommand } from '../../spec.js'
import { GROUP, issuance, need, PARTICIPANT } from './shared.js'
import { BadRequestError } from '../../../errors.js'
import { holderRequestView } from './credentials-requests.js'

export const credentialsRequest = hubCommand({
  name: 'credentials request',
  group: GROUP,
  summary: 'ask an issuer (DCP) for credentials; they arrive through the Storage API',
  description: 'Send a DCP CredentialRequestMessage to the issuer\'s IssuerService, with the participant\'s ID token, and keep a record ' +
    'of the request. The credentials arrive through the participant\'s Storage API (a daemon started with --http receives them); ' +
    'follow the request with hub credentials requests.',
  options: [
    PARTICIPANT,
    { flags: '--issuer <did>', description: 'the issuer\'s DID', required: true },
    { flags: '--definition <id>', description: 'a credential definition of the issuer (repeatable)', repeatable: true, required: true }
  ],
  examples: ['hub credentials request --participant acme --issuer did:web:127.0.0.1%3A8080:org:issuer --definition membership --json'],
  params: { participantId: text(), issuerDid: text(), credentials: texts() },
  input: cli => {
    const defs = list(cli.opts.definition)
    if (defs.length === 0) throw new BadRequestError('missing --definition DEFINITION_ID (repeat it for several)')
    return { participantId: need(cli, 'participant'), issuerDid: need(cli, 'issuer', 'did'), credentials: defs }
  },
  async run ({ hub }, p) {
    if (p.credentials.length === 0) throw new BadRequestError('missing --definition DEFINITION_ID (repeat it for several)')
    return await (await issuance(hub)).requestCredentials(p.participantId, { issuerDid: p.issuerDid, credentials: p.credentials })
  },
  human: r => 'sent credential request\n' + holderRequestView(r)
})
