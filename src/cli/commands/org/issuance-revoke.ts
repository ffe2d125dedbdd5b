/** `hub issuance revoke CREDENTIAL_ID`: revoke an issued credential (its bit set in the served status list). */
import { text } from '../../params.js'
import { arg } from '../../input.js'
import { fields } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const issuanceRevoke = hubCommand({
  name: 'issuance revoke',
  group: GROUP,
  summary: 'revoke an issued credential: its bit is set in the served status list',
  description: 'Revoke a credential the participant issued with a status list entry: its bit is set in the list the issuer serves, ' +
    'so holders and verifiers see the revocation when their cached copy expires. Revoking twice is fine.',
  arguments: [{ name: 'CREDENTIAL_ID', description: 'the credential (urn:uuid:…)' }],
  options: [PARTICIPANT],
  examples: ['hub issuance revoke urn:uuid:5f0c1d2e-… --participant issuer'],
  params: { participantId: text(), credentialId: text() },
  input: cli => ({ participantId: need(cli, 'participant'), credentialId: arg(cli, 0, 'CREDENTIAL_ID') }),
  run: async ({ hub }, p) => await (await org(hub)).revokeIssuedCredential(p.participantId, p.credentialId),
  human: c => `revoked ${c.credentialId}\n` + fields([['  holder', c.holderDid], ['  status list', c.statusListCredential], ['  index', c.index], ['  revoked at', c.revokedAt]])
})
