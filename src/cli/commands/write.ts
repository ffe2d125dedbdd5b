/** `hub write`: create an object from JSON on stdin. */
import { flag, json, oneOf, optional } from '../params.js'
import { parseJsonInput } from '../input.js'
import { hubCommand } from '../spec.js'
import { writeSummary } from './views.js'

export const write = hubCommand({
  name: 'write',
  group: 'Collections',
  summary: 'create an object from JSON on stdin',
  description: 'Create an object from the JSON value on stdin (its @context and @type name the collection). ' +
    '--encrypt keys its collection first: from then on every write to it is encrypted at the edge.',
  stdin: 'json',
  options: [
    { flags: '--strategy <strategy>', description: 'automerge (merge concurrent edits, default) or lww (last writer wins)', choices: ['automerge', 'lww'] },
    { flags: '--encrypt', description: 'encrypt the collection (if it is not yet) and this object' },
    { flags: '--keep-plaintext', description: 'with --encrypt: encrypt the collection even though it holds plaintext objects (they stay plaintext)' }
  ],
  examples: [`echo '{"@context":"https://schema.org","@type":"MusicPlaylist","name":"Road trip"}' | hub write`],
  params: { value: json(), strategy: optional(oneOf('automerge', 'lww')), encrypt: optional(flag()), keepPlaintext: optional(flag()) },
  input: cli => ({ value: parseJsonInput(cli.stdin), ...(typeof cli.opts.strategy === 'string' ? { strategy: cli.opts.strategy as 'automerge' | 'lww' } : {}), ...(cli.opts.encrypt === true ? { encrypt: true } : {}), ...(cli.opts.keepPlaintext === true ? { keepPlaintext: true } : {}) }),
  run: async ({ hub }, p) => await hub.collections.create(p.value, { strategy: p.strategy ?? 'automerge', encrypt: p.encrypt === true, keepPlaintext: p.keepPlaintext === true }),
  human: r => writeSummary('created', r)
})
