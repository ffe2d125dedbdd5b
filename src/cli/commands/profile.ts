/** `hub profile get|set`: the owner's public profile. */
import { json } from '../params.js'
import { parseJsonInput } from '../input.js'
import { hubCommand } from '../spec.js'
import { objectView, writeSummary } from './views.js'

export const profileGet = hubCommand({
  name: 'profile get',
  group: 'Profile',
  summary: 'the public profile',
  params: {},
  input: () => ({}),
  run: async ({ hub }) => await hub.profile.get(),
  human: r => r === null ? 'no profile set\n' : objectView(r)
})

export const profileSet = hubCommand({
  name: 'profile set',
  group: 'Profile',
  summary: 'set the public profile from JSON on stdin',
  stdin: 'json',
  examples: [`echo '{"@context":"https://schema.org","@type":"Person","name":"Alice"}' | hub profile set`],
  params: { value: json() },
  input: cli => ({ value: parseJsonInput(cli.stdin, 'profile') }),
  run: async ({ hub }, p) => await hub.profile.set(p.value),
  human: r => writeSummary(r.changed ? 'updated' : 'unchanged', r)
})
