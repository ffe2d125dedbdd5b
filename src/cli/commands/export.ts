/** `hub export OBJECT_ID --out FILE`: an object as an Automerge binary document. */
import { writeFile } from 'node:fs/promises'
import { HubError } from '../../errors.js'
import { b64, fromB64 } from '../../identity/encoding.js'
import { text } from '../params.js'
import { arg, opt } from '../input.js'
import { hubCommand } from '../spec.js'

export const exportObject = hubCommand({
  name: 'export',
  group: 'Collections',
  summary: 'an object as an Automerge binary document',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  options: [{ flags: '--out <file>', description: 'write the document here (relative to your working directory)', required: true }],
  params: { objectId: text() },
  input: cli => ({ objectId: arg(cli, 0, 'OBJECT_ID') }),
  // The bytes travel as base64 and `after` writes the file in the CLI
  // process, so --out is relative to the caller's directory, not the daemon's.
  async run ({ hub }, p) {
    return { objectId: p.objectId, data: b64(await hub.collections.export(p.objectId)) }
  },
  async after (r, cli) {
    if (typeof r.data !== 'string') throw new HubError('internal', 'export returned no data')
    const bytes = fromB64(r.data)
    const out = opt(cli.opts.out) as string
    await writeFile(out, bytes)
    return { objectId: r.objectId, out, bytes: bytes.length }
  },
  human: r => `wrote ${r.objectId} to ${r.out} (${r.bytes} bytes, Automerge)\n`
})
