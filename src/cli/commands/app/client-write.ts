/** `hub client write`: create an object (JSON on stdin) as the app; needs a grant with C. */
import type { RemoteWriteResult } from '../../../client/index.js'
import { opt, parseJsonInput } from '../../input.js'
import { localCommand } from '../../spec.js'
import { writeSummary } from '../views.js'
import { CONN, CONNECTION_OPTIONS, GROUP, withClient } from './shared.js'

const STRATEGIES = ['automerge', 'lww'] as const

export const clientWrite = localCommand<RemoteWriteResult>({
  name: 'client write',
  group: GROUP,
  summary: 'create an object (JSON on stdin) as the app; needs a grant with C',
  description: 'Create an object on the owner\'s hub, signed by the app. The value (JSON on stdin) names its collection with "@context" and "@type".',
  options: [...CONNECTION_OPTIONS, { flags: '--strategy <strategy>', description: 'how concurrent changes merge: automerge (default) or lww', choices: STRATEGIES }],
  stdin: 'json',
  examples: [`echo '{"@context":"https://schema.org","@type":"MusicPlaylist","name":"Road trip"}' | hub client write ${CONN}`],
  async run (cli) {
    const strategy = (opt(cli.opts.strategy) ?? 'automerge') as typeof STRATEGIES[number]
    const value = parseJsonInput(cli.stdin)
    return await withClient(cli, async c => await c.collections.write(value, { strategy }))
  },
  human: r => writeSummary('created', r)
})
