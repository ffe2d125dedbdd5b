/** `hub collection encrypt`: make a collection encrypted at the edge. */
import { text } from '../params.js'
import { opt } from '../input.js'
import { fields } from '../format.js'
import { hubCommand } from '../spec.js'

export const collectionEncrypt = hubCommand({
  name: 'collection encrypt',
  group: 'Collections',
  summary: 'make a collection encrypted (a content key sealed to the owner and devices)',
  description: 'Make a collection encrypted: a content key is sealed to the owner and the owner\'s devices, and every later write ' +
    'to the collection is encrypted at the edge. Objects written before stay as they were (plaintext, signed): the command ' +
    'says how many, and re-writing them (hub read | hub update) stores their next version encrypted; their earlier versions ' +
    'remain readable in their history.',
  options: [
    { flags: '--context <context>', description: 'the collection\'s @context', required: true },
    { flags: '--type <type>', description: 'the collection\'s @type', required: true }
  ],
  examples: ['hub collection encrypt --context https://schema.org --type MedicalRecord'],
  params: { context: text(), type: text() },
  input: cli => ({ context: opt(cli.opts.context) as string, type: opt(cli.opts.type) as string }),
  async run ({ hub }, p) {
    const k = await hub.collectionKeys.encrypt(p.context, p.type)
    let plaintext = 0
    let cursor: string | null = null
    do {
      const r: { objects: unknown[], cursor: string | null } = await hub.collections.query({ context: p.context, type: p.type, limit: 1000, ...(cursor !== null ? { cursor } : {}) })
      plaintext += r.objects.length
      cursor = r.cursor
    } while (cursor !== null)
    return {
      context: p.context,
      type: p.type,
      tag: k.tag,
      keyId: k.key.kid,
      version: k.version,
      readers: hub.collectionKeys.readers().map(r => r.kid.slice(0, r.kid.indexOf('#'))),
      plaintextObjects: plaintext
    }
  },
  human: r => `collection ${r.context} ${r.type} is encrypted from now on\n` + fields([['  tag', r.tag], ['  key', `${r.keyId} (version ${r.version})`], ['  readers', r.readers.join(', ')]]) +
    (r.plaintextObjects > 0 ? `  ${r.plaintextObjects} object(s) written before stay in plaintext until they are next updated\n` : '')
})
