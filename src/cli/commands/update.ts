/** `hub update OBJECT_ID`: replace an object's value with JSON on stdin. */
import { json, text } from '../params.js'
import { arg, parseJsonInput } from '../input.js'
import { hubCommand } from '../spec.js'
import { writeSummary } from './views.js'

export const update = hubCommand({
  name: 'update',
  group: 'Collections',
  summary: 'replace an object\'s value (JSON on stdin)',
  stdin: 'json',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  examples: ['hub read bafy… --json | jq .value | jq \'.name="Road trip 2"\' | hub update bafy…'],
  params: { objectId: text(), value: json() },
  input: cli => ({ objectId: arg(cli, 0, 'OBJECT_ID'), value: parseJsonInput(cli.stdin) }),
  run: async ({ hub }, p) => await hub.collections.update(p.objectId, p.value),
  human: r => writeSummary(r.changed ? 'updated' : 'unchanged', r)
})
