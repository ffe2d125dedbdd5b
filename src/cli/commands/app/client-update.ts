/** `hub client update OBJECT_ID`: replace the value (JSON on stdin); the app signs the minimal change. */
import type { RemoteUpdateResult } from '../../../client/index.js'
import { arg, parseJsonInput } from '../../input.js'
import { localCommand } from '../../spec.js'
import { writeSummary } from '../views.js'
import { CONN, CONNECTION_OPTIONS, GROUP, withClient } from './shared.js'

export const clientUpdate = localCommand<RemoteUpdateResult>({
  name: 'client update',
  group: GROUP,
  summary: 'replace an object\'s value (JSON on stdin); the app signs the minimal change; needs U',
  description: 'Replace the value of an object on the owner\'s hub. The app computes and signs the minimal change; an unchanged value sends nothing ("changed": false).',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  options: CONNECTION_OPTIONS,
  stdin: 'json',
  examples: [`hub client read ${CONN} OBJECT_ID --json | jq '.value | .name = "Renamed"' | hub client update ${CONN} OBJECT_ID`],
  async run (cli) {
    const id = arg(cli, 0, 'OBJECT_ID')
    const value = parseJsonInput(cli.stdin)
    return await withClient(cli, async c => await c.collections.update(id, value))
  },
  human: r => writeSummary(r.changed ? 'updated' : 'unchanged', r)
})
