/** `hub client delete OBJECT_ID`: delete an object as the app (a signed delete commit); needs D. */
import type { RemoteWriteResult } from '../../../client/index.js'
import { arg } from '../../input.js'
import { localCommand } from '../../spec.js'
import { writeSummary } from '../views.js'
import { CONN, CONNECTION_OPTIONS, GROUP, withClient } from './shared.js'

export const clientDelete = localCommand<RemoteWriteResult>({
  name: 'client delete',
  group: GROUP,
  summary: 'delete an object as the app (a signed delete commit); needs D',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  options: CONNECTION_OPTIONS,
  examples: [`hub client delete ${CONN} OBJECT_ID`],
  async run (cli) {
    const id = arg(cli, 0, 'OBJECT_ID')
    return await withClient(cli, async c => await c.collections.delete(id))
  },
  human: r => writeSummary('deleted', r)
})
