/** `hub issuance offer`: offer credentials to a holder over DCP. */
import { BadRequestError } from '../../../errors.js'
import { defined, optional, text, texts } from '../../params.js'
import { list, opt } from '../../input.js'
import { fields } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, issuance, need, PARTICIPANT } from './shared.js'

export const issuanceOffer = hubCommand({
  name: 'issuance offer',
  group: GROUP,
  summary: 'offer credentials (definitions) to a holder: a DCP CredentialOfferMessage to its CredentialService',
  description: 'Build a CredentialOfferMessage from the issuer\'s credential definitions (the CredentialObjects of its metadata, with ' +
    '--reason as their offerReason) and POST it to the CredentialService in the holder\'s DID document, with the issuer\'s ID token. ' +
    'The holder\'s offer policy decides whether it asks for them.',
  options: [
    PARTICIPANT,
    { flags: '--holder <did>', description: 'the holder\'s DID', required: true },
    { flags: '--credential <id>', description: 'a credential definition of the issuer (repeatable)', repeatable: true, required: true },
    { flags: '--reason <reason>', description: 'the offerReason, e.g. reissue (default issuance)' }
  ],
  examples: ['hub issuance offer --participant issuer --holder did:web:127.0.0.1%3A8080:org:acme --credential membership --reason reissue'],
  params: { participantId: text(), holderDid: text(), credentials: texts(), reason: optional(text()) },
  input: cli => {
    const credentials = list(cli.opts.credential)
    if (credentials.length === 0) throw new BadRequestError('missing --credential DEFINITION_ID (repeat it for several)')
    return defined({ participantId: need(cli, 'participant'), holderDid: need(cli, 'holder', 'did'), credentials, reason: opt(cli.opts.reason) })
  },
  async run ({ hub }, p) {
    return await (await issuance(hub)).sendOffer(p.participantId, defined({ holderDid: p.holderDid, credentials: p.credentials, reason: p.reason }))
  },
  human: r => 'sent credential offer\n' + fields([['  holder', r.holderDid], ['  credentials', r.credentials.join(', ')], ['  reason', r.offerReason]])
})
