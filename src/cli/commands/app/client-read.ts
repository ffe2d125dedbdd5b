/** `hub client read OBJECT_ID`: one object, as the app may see it; needs R. */
import type { RemoteObject } from '../../../client/index.js'
import { arg } from '../../input.js'
import { localCommand } from '../../spec.js'
import { objectView } from '../views.js'
import { CONN, CONNECTION_OPTIONS, GROUP, withClient } from './shared.js'

export const clientRead = localCommand<RemoteObject>({
  name: 'client read',
  group: GROUP,
  summary: 'read one object as the app; needs R',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  options: CONNECTION_OPTIONS,
  examples: [`hub client read ${CONN} OBJECT_ID`],
  async run (cli) {
    const id = arg(cli, 0, 'OBJECT_ID')
    return await withClient(cli, async c => await c.collections.read(id))
  },
  human: objectView
})
