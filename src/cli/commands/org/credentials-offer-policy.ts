/** `hub credentials offer-policy`: what a participant does with credential offers, and its renewal lead. */
import type { HolderPolicy } from '../../../org/types.js'
import { defined, integer, optional, text, texts } from '../../params.js'
import { intOption, list, opt } from '../../input.js'
import { fields } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const credentialsOfferPolicy = hubCommand({
  name: 'credentials offer-policy',
  group: GROUP,
  summary: 'show or set the offer policy (accept known|any|none, trusted issuers) and the renewal lead',
  description: 'known (the default): accept offers from issuers the participant holds a credential from, has asked for one, or lists ' +
    'with --trusted-issuer; any: every authenticated issuer; none: decline all. --renewal-lead SECONDS renews credentials that long ' +
    'before they expire (default: the smaller of 7 days and half their lifetime). Without options, shows the policy. ' +
    '--trusted-issuer replaces the list (give none with --clear-trusted to empty it).',
  options: [
    PARTICIPANT,
    { flags: '--accept <mode>', description: 'known, any or none' },
    { flags: '--trusted-issuer <did>', description: 'an issuer whose offers are accepted (repeatable; replaces the list)', repeatable: true },
    { flags: '--clear-trusted', description: 'empty the trusted issuers list' },
    { flags: '--renewal-lead <seconds>', description: 'renew this many seconds before expiry' }
  ],
  examples: [
    'hub credentials offer-policy --participant acme',
    'hub credentials offer-policy --participant acme --accept known --trusted-issuer did:web:issuer.example --renewal-lead 86400'
  ],
  params: { participantId: text(), accept: optional(text()), trustedIssuers: optional(texts()), renewalLeadS: optional(integer({ min: 0 })) },
  input: cli => {
    const trusted = list(cli.opts.trustedIssuer)
    return defined({
      participantId: need(cli, 'participant'),
      accept: opt(cli.opts.accept),
      trustedIssuers: cli.opts.clearTrusted === true ? [] : trusted.length > 0 ? trusted : undefined,
      renewalLeadS: intOption(cli.opts.renewalLead, '--renewal-lead')
    })
  },
  async run ({ hub }, p): Promise<HolderPolicy> {
    const o = await org(hub)
    if (p.accept === undefined && p.trustedIssuers === undefined && p.renewalLeadS === undefined) return await o.holderPolicy(p.participantId)
    return await o.setHolderPolicy(p.participantId, defined({ accept: p.accept, trustedIssuers: p.trustedIssuers, renewalLeadS: p.renewalLeadS }))
  },
  human: h => `offer policy of ${h.participantId}\n` + fields([
    ['  accept', h.accept],
    ['  trusted issuers', h.trustedIssuers.length > 0 ? h.trustedIssuers.join(', ') : '(none)'],
    ['  renewal lead', h.renewalLeadS !== undefined ? `${h.renewalLeadS} s` : 'default (min of 7 days and half the lifetime)']
  ])
})
