/** `hub history OBJECT_ID`: every signed commit of an object, verified, with its header decoded. */
import { text } from '../params.js'
import { arg } from '../input.js'
import { fromB64u, utf8d } from '../../identity/encoding.js'
import { table } from '../format.js'
import { hubCommand } from '../spec.js'

/** The protected header of a commit envelope, decoded (it is signed JSON, base64url). */
export function decodeHeader (protectedB64: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(utf8d.decode(fromB64u(protectedB64)))
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

export const history = hubCommand({
  name: 'history',
  group: 'Collections',
  summary: 'every signed commit of an object, verified, headers decoded',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  params: { objectId: text() },
  input: cli => ({ objectId: arg(cli, 0, 'OBJECT_ID') }),
  async run ({ hub }, p) {
    const { commits } = await hub.collections.history(p.objectId)
    return { objectId: p.objectId, commits: commits.map(c => ({ ...c, header: decodeHeader(c.envelope.protected) })) }
  },
  human: r => table(r.commits, [
    ['COMMIT', c => c.commitId], ['OPERATION', c => c.operation], ['COMMITTED', c => c.committedAt],
    ['SIGNER', c => c.signer], ['DEPS', c => Array.isArray(c.header.deps) ? c.header.deps.length : 0]
  ]) + `${r.commits.length} commit(s), every signature verified\n`
})
