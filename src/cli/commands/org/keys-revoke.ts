/** `hub keys revoke KEY_ID`: revoke a key pair: its private key destroyed, its verification method removed. */
import { text } from '../../params.js'
import { arg } from '../../input.js'
import { hubCommand } from '../../spec.js'
import { GROUP, keyView, need, org, PARTICIPANT } from './shared.js'

export const keysRevoke = hubCommand({
  name: 'keys revoke',
  group: GROUP,
  summary: 'revoke a key pair: its private key destroyed, its verification method removed',
  description: 'Revoke a key pair: the private key is destroyed and the verification method leaves the DID document, so everything it signed stops verifying (rotate instead to keep that verifying).',
  arguments: [{ name: 'KEY_ID', description: 'the key pair' }],
  options: [PARTICIPANT],
  examples: ['hub keys revoke key-2 --participant acme'],
  params: { participantId: text(), keyId: text() },
  input: cli => ({ participantId: need(cli, 'participant'), keyId: arg(cli, 0, 'KEY_ID') }),
  run: async ({ hub }, p) => await (await org(hub)).revokeKeyPair(p.participantId, p.keyId),
  human: keyView
})
