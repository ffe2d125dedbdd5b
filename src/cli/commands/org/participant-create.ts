/** `hub participant create`: a participant context with its default key pair; prints its API key once. */
import { defined, flag, optional, text } from '../../params.js'
import { opt } from '../../input.js'
import { fields } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org } from './shared.js'

export const participantCreate = hubCommand({
  name: 'participant create',
  group: GROUP,
  summary: 'a participant context with its default key pair; prints its API key once',
  description: 'Create a participant context: an API key (shown once, only its hash is stored), a DID record and a default, ' +
    'ACTIVATED Ed25519 key pair (key-1 unless --key-id). It starts CREATED; --active activates it (and publishes its DID document) at once.',
  options: [
    { flags: '--id <id>', description: 'the participant id', required: true },
    { flags: '--did <did>', description: 'its did:web DID (did:web:host%3Aport:path…)', required: true },
    { flags: '--active', description: 'activate it at once' },
    { flags: '--key-id <id>', description: 'the default key pair\'s id (default key-1)' }
  ],
  examples: ['hub participant create --id acme --did did:web:127.0.0.1%3A8080:org:acme --json'],
  params: { participantId: text(), did: text(), active: flag(), keyId: optional(text()) },
  input: cli => defined({ participantId: need(cli, 'id'), did: need(cli, 'did'), active: cli.opts.active === true, keyId: opt(cli.opts.keyId) }),
  async run ({ hub }, p) {
    const created = await (await org(hub)).createParticipant({
      participantId: p.participantId,
      did: p.did,
      active: p.active,
      ...(p.keyId !== undefined ? { key: { keyId: p.keyId } } : {})
    })
    return { ...created.participant, apiKey: created.apiKey, defaultKey: { keyId: created.key.keyId, kid: created.key.kid } }
  },
  human: r => `created participant ${r.participantId} (${r.state})\n` + fields([
    ['  did', r.did],
    ['  default key', r.defaultKey.kid],
    ['  API key', r.apiKey]
  ]) + '  (the API key is shown only this once: keep it)\n'
})
