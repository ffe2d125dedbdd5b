/** `hub client history OBJECT_ID`: every signed commit of an object, checked by the client, headers decoded. */
import type { RemoteHistoryEntry } from '../../../client/index.js'
import { table } from '../../format.js'
import { arg } from '../../input.js'
import { localCommand } from '../../spec.js'
import { decodeHeader } from '../history.js'
import { CONN, CONNECTION_OPTIONS, GROUP, withClient } from './shared.js'

export interface ClientHistoryResult {
  objectId: string
  commits: Array<RemoteHistoryEntry & { header: Record<string, unknown> }>
}

export const clientHistory = localCommand<ClientHistoryResult>({
  name: 'client history',
  group: GROUP,
  summary: 'every signed commit of an object, headers decoded; did:key signatures checked by the client; needs R',
  description: 'Every commit of an object. The client recomputes each commit id and checks the signature of every did:key signer itself ("verified": true); ' +
    'other signers are left to the hub ("verified": false). A signature that does not verify is an authentication_failed error.',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  options: CONNECTION_OPTIONS,
  examples: [`hub client history ${CONN} OBJECT_ID`],
  async run (cli) {
    const id = arg(cli, 0, 'OBJECT_ID')
    const { commits } = await withClient(cli, async c => await c.collections.history(id))
    return { objectId: id, commits: commits.map(c => ({ ...c, header: decodeHeader(c.envelope.protected) })) }
  },
  human: r => {
    const checked = r.commits.filter(c => c.verified).length
    return table(r.commits, [
      ['COMMIT', c => c.commitId], ['OPERATION', c => c.operation], ['COMMITTED', c => c.committedAt],
      ['SIGNER', c => c.signer], ['VERIFIED', c => c.verified ? 'yes' : 'by the hub'], ['DEPS', c => Array.isArray(c.header.deps) ? c.header.deps.length : 0]
    ]) + `${r.commits.length} commit(s), ${checked} signature(s) checked here${checked < r.commits.length ? ', the rest by the hub' : ''}\n`
  }
})
