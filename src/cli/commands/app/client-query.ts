/** `hub client query --type T`: a page of one collection's objects, as the app may see them; needs R. */
import type { ClientSortOrder, RemoteObject } from '../../../client/index.js'
import { page, type Page } from '../../format.js'
import { intOption, opt } from '../../input.js'
import { localCommand } from '../../spec.js'
import { BadRequestError } from '../../../errors.js'
import { objectTable } from '../views.js'
import { COLLECTION_OPTIONS, CONN, CONNECTION_OPTIONS, DEFAULT_CONTEXT, GROUP, collectionQuery, withClient } from './shared.js'

const SORTS = ['created', '-created', 'updated', '-updated'] as const

export const clientQuery = localCommand<Page<RemoteObject>>({
  name: 'client query',
  group: GROUP,
  summary: `a page of one collection's objects as the app (--context defaults to ${DEFAULT_CONTEXT}); needs R`,
  description: 'A page of objects of one collection (apps query one @context and @type). --where takes FIELD=VALUE, FIELD>VALUE, >=, <, <= (values parse as JSON when they can).',
  options: [
    ...CONNECTION_OPTIONS,
    ...COLLECTION_OPTIONS,
    { flags: '--sort <order>', description: 'created, -created, updated or -updated', choices: SORTS },
    { flags: '--limit <n>', description: 'at most this many (1-1000; the hub\'s default is 100)' },
    { flags: '--cursor <cursor>', description: 'continue after the previous page' }
  ],
  examples: [`hub client query ${CONN} --type MusicPlaylist --where numTracks>=2 --sort -created --limit 10`],
  async run (cli) {
    const q = collectionQuery(cli)
    const limit = intOption(cli.opts.limit, '--limit')
    if (limit !== undefined && (limit < 1 || limit > 1000)) throw new BadRequestError('--limit must be between 1 and 1000')
    const sort = opt(cli.opts.sort) as ClientSortOrder | undefined
    const cursor = opt(cli.opts.cursor)
    const r = await withClient(cli, async c => await c.collections.query({
      ...q,
      ...(limit !== undefined ? { limit } : {}),
      ...(sort !== undefined ? { sort } : {}),
      ...(cursor !== undefined ? { cursor } : {})
    }))
    return page(r.objects, r.cursor)
  },
  human: objectTable
})
