/** `hub collection encrypt`: make a collection encrypted at the edge. */
import { flag, optional, text } from '../params.js'
import { opt } from '../input.js'
import { fields } from '../format.js'
import { hubCommand } from '../spec.js'

export const collectionEncrypt = hubCommand({
  name: 'collection encrypt',
  group: 'Collections',
  summary: 'make a collection encrypted (a content key sealed to the owner and devices)',
  description: 'Make a collection encrypted: a content key is sealed to the owner and the owner\'s devices, and every object ' +
    'created in the collection from then on is encrypted at the edge. Objects created before cannot be encrypted in place: ' +
    'their commits are signed and immutable, and their updates keep their form, so they stay plaintext for good (to protect one, ' +
    'write its value as a new object and delete the old one; the old commits remain in its history, on every device that synced them). ' +
    'So the command refuses when the collection already holds objects, unless --keep-plaintext says that is understood.',
  options: [
    { flags: '--context <context>', description: 'the collection\'s @context', required: true },
    { flags: '--type <type>', description: 'the collection\'s @type', required: true },
    { flags: '--keep-plaintext', description: 'encrypt new objects even though the collection already holds plaintext ones' }
  ],
  examples: ['hub collection encrypt --context https://schema.org --type MedicalRecord'],
  params: { context: text(), type: text(), keepPlaintext: optional(flag()) },
  input: cli => ({ context: opt(cli.opts.context) as string, type: opt(cli.opts.type) as string, ...(cli.opts.keepPlaintext === true ? { keepPlaintext: true } : {}) }),
  async run ({ hub }, p) {
    let plaintext = 0
    let cursor: string | null = null
    do {
      const r: { objects: unknown[], cursor: string | null } = await hub.collections.query({ context: p.context, type: p.type, limit: 1000, ...(cursor !== null ? { cursor } : {}) })
      plaintext += r.objects.length
      cursor = r.cursor
    } while (cursor !== null)
    const k = await hub.collectionKeys.encrypt(p.context, p.type, { keepPlaintext: p.keepPlaintext === true })
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
    (r.plaintextObjects > 0 ? `  ${r.plaintextObjects} object(s) created before stay plaintext for good (see --help)\n` : '')
})
