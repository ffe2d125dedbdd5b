/** `hub dcp token`: DCP self-issued ID tokens (holder: with an access token; verifier: carrying one). */
import { defined, integer, optional, text, texts } from '../../params.js'
import { intOption, list, opt } from '../../input.js'
import { fields } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const dcpToken = hubCommand({
  name: 'dcp token',
  group: GROUP,
  summary: 'a DCP ID token: holder (--scope: with an access token) or verifier (--token: carrying one)',
  description: 'The participant\'s token service. Holder side (--scope): an access token granting the audience those scopes, inside ' +
    'the holder\'s self-issued ID token for the audience. Verifier side (--token): an ID token for the holder carrying the holder\'s ' +
    'access token, for a presentation query. Give one of --scope and --token.',
  options: [
    PARTICIPANT,
    { flags: '--audience <did>', description: 'the DID the ID token is for', required: true },
    { flags: '--scope <scope>', description: 'a scope to grant, e.g. org.eclipse.dspace.dcp.vc.type:MembershipCredential (repeatable; space-separated also)', repeatable: true },
    { flags: '--token <access-token>', description: 'the access token to present back to its issuer' },
    { flags: '--ttl <seconds>', description: 'lifetime (default 300, at most 3600)' }
  ],
  examples: [
    'hub dcp token --participant acme --audience did:web:127.0.0.1%3A8080:org:beta --scope org.eclipse.dspace.dcp.vc.type:MembershipCredential --json',
    'hub dcp token --participant beta --audience did:web:127.0.0.1%3A8080:org:acme --token ACCESS_TOKEN --json'
  ],
  params: { participantId: text(), audience: text(), scope: optional(texts()), token: optional(text()), ttlS: optional(integer()) },
  input: cli => {
    const scope = list(cli.opts.scope).flatMap(s => s.split(/\s+/)).filter(s => s !== '')
    return defined({
      participantId: need(cli, 'participant'),
      audience: need(cli, 'audience', 'did'),
      scope: scope.length > 0 ? scope : undefined,
      token: opt(cli.opts.token),
      ttlS: intOption(cli.opts.ttl, '--ttl')
    })
  },
  async run ({ hub }, p) {
    const { issueTokens } = await import('../../../org/sts.js')
    return await issueTokens(await org(hub), p)
  },
  human: r => fields([['id token', r.idToken], ...(r.accessToken !== undefined ? [['access token', r.accessToken] as const] : []), ['expires in', `${r.expiresIn} s`]])
})
