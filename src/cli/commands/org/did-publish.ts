/** `hub did publish`: publish a participant's DID document (served while the participant is ACTIVATED). */
import { text } from '../../params.js'
import { fields } from '../../format.js'
import { hubCommand } from '../../spec.js'
import { GROUP, need, org, PARTICIPANT } from './shared.js'

export const didPublish = hubCommand({
  name: 'did publish',
  group: GROUP,
  summary: "publish a participant's DID document (served while the participant is ACTIVATED)",
  description: 'A did:web document is served (at /…/did.json, by a daemon started with --http) only while it is PUBLISHED and its participant is ACTIVATED.',
  options: [PARTICIPANT],
  examples: ['hub did publish --participant acme'],
  params: { participantId: text() },
  input: cli => ({ participantId: need(cli, 'participant') }),
  run: async ({ hub }, p) => await (await org(hub)).publishDid(p.participantId),
  human: r => `${r.did} is ${r.state}\n` + fields([['  participant', r.participantId], ['  services', r.services.map(s => `${s.id} (${s.type})`).join(', ') || '-']])
})
