/** `hub read OBJECT_ID`. */
import { text } from '../params.js'
import { arg } from '../input.js'
import { hubCommand } from '../spec.js'
import { objectView } from './views.js'

export const read = hubCommand({
  name: 'read',
  group: 'Collections',
  summary: 'an object\'s value, metadata and heads',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  params: { objectId: text() },
  input: cli => ({ objectId: arg(cli, 0, 'OBJECT_ID') }),
  run: async ({ hub }, p) => await hub.collections.read(p.objectId),
  human: objectView
})
