/** `hub delete OBJECT_ID`: tombstone an object. */
import { text } from '../params.js'
import { arg } from '../input.js'
import { hubCommand } from '../spec.js'
import { writeSummary } from './views.js'

export const del = hubCommand({
  name: 'delete',
  group: 'Collections',
  summary: 'tombstone an object (its history stays, signed)',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  params: { objectId: text() },
  input: cli => ({ objectId: arg(cli, 0, 'OBJECT_ID') }),
  run: async ({ hub }, p) => await hub.collections.delete(p.objectId),
  human: r => writeSummary('deleted', r)
})
