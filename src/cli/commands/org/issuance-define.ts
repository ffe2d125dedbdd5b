/** `hub issuance define`: a credential this participant issues over DCP. */
import { BadRequestError } from '../../../errors.js'
import { defined, flag, integer, json, oneOf, optional, text, texts } from '../../params.js'
import { intOption, list, opt } from '../../input.js'
import { fields } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, isObject, jsonObject, need, org, PARTICIPANT } from './shared.js'

const NOT_CLAIMS = '--claims must be a JSON object, e.g. \'{"level":"gold"}\''

export const issuanceDefine = hubCommand({
  name: 'issuance define',
  group: GROUP,
  summary: 'a credential this participant issues over DCP (a credential definition)',
  description: 'Define a credential the participant issues: its type, how long it is valid (default 30 days), extra credentialSubject ' +
    'claims, and who may get it (--holder; without it, every holder that authenticates). --status-list makes its credentials ' +
    'revocable: each gets an entry in one of the issuer\'s own status lists (hub issuance revoke). --data-model 2.0 issues VCDM 2.0 ' +
    'credentials (vc+jwt, presented enveloped in a vp+jwt) instead of VCDM 1.1 JWTs.',
  options: [
    PARTICIPANT,
    { flags: '--id <id>', description: 'the definition id (what holders request)', required: true },
    { flags: '--type <type>', description: 'the credential type, e.g. MembershipCredential', required: true },
    { flags: '--holder <did>', description: 'only this holder DID may get it (repeatable)', repeatable: true },
    { flags: '--validity <seconds>', description: 'how long its credentials are valid (default 2592000: 30 days)' },
    { flags: '--claims <json>', description: 'extra credentialSubject claims, a JSON object' },
    { flags: '--status-list', description: 'revocable: each credential gets a status list entry' },
    { flags: '--data-model <version>', description: 'the VC Data Model of its credentials: 1.1 (default) or 2.0' }
  ],
  examples: ['hub issuance define --participant issuer --id membership --type MembershipCredential --claims \'{"memberOf":"dataspace"}\' --status-list'],
  params: {
    participantId: text(),
    id: text(),
    credentialType: text(),
    validitySeconds: optional(integer()),
    claims: optional(json()),
    holders: optional(texts()),
    statusList: optional(flag()),
    dataModel: optional(oneOf('1.1', '2.0'))
  },
  input: cli => {
    const claimsText = opt(cli.opts.claims)
    let claims: Record<string, unknown> | undefined
    if (claimsText !== undefined) {
      claims = jsonObject(claimsText)
      if (claims === undefined) throw new BadRequestError(NOT_CLAIMS)
    }
    const holders = list(cli.opts.holder)
    return defined({
      participantId: need(cli, 'participant'),
      id: need(cli, 'id'),
      credentialType: need(cli, 'type'),
      validitySeconds: intOption(cli.opts.validity, '--validity'),
      claims,
      holders: holders.length > 0 ? holders : undefined,
      statusList: cli.opts.statusList === true ? true : undefined,
      // Checked against oneOf('1.1', '2.0') by the params schema.
      dataModel: opt(cli.opts.dataModel) as '1.1' | '2.0' | undefined
    })
  },
  async run ({ hub }, p) {
    const { participantId, claims, ...def } = p
    if (claims !== undefined && !isObject(claims)) throw new BadRequestError(NOT_CLAIMS)
    return await (await org(hub)).createDefinition(participantId, { ...def, ...(claims !== undefined ? { claims } : {}) })
  },
  human: d => `defined credential ${d.id}\n` + fields([
    ['  type', d.credentialType],
    ['  validity', `${d.validitySeconds} s`],
    ['  holders', d.holders !== undefined ? d.holders.join(', ') : 'any holder that authenticates'],
    ['  claims', d.claims ?? {}],
    ['  status list', d.statusList === true ? 'yes (revocable)' : 'no'],
    ['  data model', `VCDM ${d.dataModel ?? '1.1'}`]
  ])
})
