/** `hub keys activate KEY_ID`: a key pair into the DID document (and signing, if the hub holds its private key). */
import { text } from '../../params.js'
import { arg } from '../../input.js'
import { hubCommand } from '../../spec.js'
import { GROUP, keyView, need, org, PARTICIPANT } from './shared.js'

export const keysActivate = hubCommand({
  name: 'keys activate',
  group: GROUP,
  summary: 'activate a key pair (in the DID document; signs if the hub holds its private key)',
  arguments: [{ name: 'KEY_ID', description: 'the key pair' }],
  options: [PARTICIPANT],
  examples: ['hub keys activate key-2 --participant acme'],
  params: { participantId: text(), keyId: text() },
  input: cli => ({ participantId: need(cli, 'participant'), keyId: arg(cli, 0, 'KEY_ID') }),
  run: async ({ hub }, p) => await (await org(hub)).activateKeyPair(p.participantId, p.keyId),
  human: keyView
})
