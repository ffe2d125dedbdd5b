/**
 * `hub credentials offers`: the credential offers a participant received,
 * and what became of them; `hub credentials offers accept OFFER_ID` accepts
 * one by hand. One command with an optional action word: the command tree
 * nests group commands one level deep only (program.ts).
 */
import { BadRequestError } from '../../../errors.js'
import type { CredentialOfferRecord } from '../../../org/types.js'
import { defined, optional, text } from '../../params.js'
import { fields, page, pageTable, type Page } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, issuance, need, org, PARTICIPANT } from './shared.js'

export function offerView (o: CredentialOfferRecord): string {
  return fields([
    ['  offer id', o.offerId],
    ['  issuer', o.issuerDid],
    ['  credentials', o.credentials.join(', ')],
    ...(o.offerReason !== undefined ? [['  reason', o.offerReason] as const] : []),
    ['  status', o.status],
    ...(o.holderPid !== undefined ? [['  request', o.holderPid] as const] : []),
    ...(o.reason !== undefined ? [['  why', o.reason] as const] : []),
    ['  updated', o.updatedAt]
  ])
}

export const credentialsOffers = hubCommand({
  name: 'credentials offers',
  group: GROUP,
  summary: 'the credential offers issuers sent to a participant (PENDING, ACCEPTED, DECLINED, FAILED); "accept OFFER_ID" accepts one',
  description: 'The CredentialOfferMessages issuers sent to the participant\'s CredentialService, oldest first. The offer policy ' +
    '(hub credentials offer-policy) accepted them (a credential request went out), left them PENDING (accept one with ' +
    'hub credentials offers accept OFFER_ID: a credential request for the offered credentials goes to its issuer, and the offer ' +
    'names it) or DECLINED them. An offer that could not be accepted (FAILED) can be accepted again.',
  arguments: [
    { name: 'ACTION', description: 'accept (with OFFER_ID); without it, the list', optional: true },
    { name: 'OFFER_ID', description: 'the offer to accept', optional: true }
  ],
  options: [PARTICIPANT],
  examples: ['hub credentials offers --participant acme', 'hub credentials offers accept 7d1e… --participant acme --json'],
  params: { participantId: text(), accept: optional(text()) },
  input: cli => {
    const [action, offerId] = cli.args
    if (action !== undefined && action !== 'accept') throw new BadRequestError(`unknown action "${action}": hub credentials offers [accept OFFER_ID]`)
    if (action === 'accept' && offerId === undefined) throw new BadRequestError('missing OFFER_ID: hub credentials offers accept OFFER_ID')
    return defined({ participantId: need(cli, 'participant'), accept: offerId })
  },
  async run ({ hub }, p): Promise<Page<CredentialOfferRecord> | CredentialOfferRecord> {
    if (p.accept !== undefined) return await (await issuance(hub)).acceptOffer(p.participantId, p.accept)
    return page(await (await org(hub)).listOffers(p.participantId))
  },
  human: r => !('items' in r) ? 'accepted credential offer\n' + offerView(r) : pageTable(r, 'offer(s)', [
    ['OFFER ID', o => o.offerId], ['STATUS', o => o.status], ['CREDENTIALS', o => o.credentials.join(',')],
    ['UPDATED', o => o.updatedAt], ['ISSUER', o => o.issuerDid]
  ])
})
