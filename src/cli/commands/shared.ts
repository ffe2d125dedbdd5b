/** `hub shared --owner DID`: read what another owner shared with you (pulled by "hub follow"). */
import { defined, integer, oneOf, optional, text, texts } from '../params.js'
import { intOption, list, opt, parseWhere } from '../input.js'
import { page } from '../format.js'
import { hubCommand } from '../spec.js'
import { objectTable } from './views.js'

const SORTS = ['created', '-created', 'updated', '-updated'] as const

export const shared = hubCommand({
  name: 'shared',
  group: 'Permissions and sharing',
  summary: 'read what another owner shared with you (paged like query)',
  options: [
    { flags: '--owner <did>', description: 'the other owner', required: true },
    { flags: '--context <context>', description: 'the collection\'s @context' },
    { flags: '--type <type>', description: 'the collection\'s @type' },
    { flags: '--where <expr>', description: 'a filter, as for query (repeatable)', repeatable: true },
    { flags: '--sort <order>', description: 'created, -created, updated or -updated', choices: SORTS },
    { flags: '--limit <n>', description: 'at most this many (default 100, at most 1000)' },
    { flags: '--cursor <cursor>', description: 'continue after the previous page' }
  ],
  params: { owner: text(), context: optional(text()), type: optional(text()), where: optional(texts()), sort: optional(oneOf(...SORTS)), limit: optional(integer({ min: 0, max: 1000 })), cursor: optional(text()) },
  input: cli => defined({
    owner: opt(cli.opts.owner) as string,
    context: opt(cli.opts.context),
    type: opt(cli.opts.type),
    where: list(cli.opts.where).length > 0 ? list(cli.opts.where) : undefined,
    sort: opt(cli.opts.sort) as typeof SORTS[number] | undefined,
    limit: intOption(cli.opts.limit, '--limit'),
    cursor: opt(cli.opts.cursor)
  }),
  async run ({ hub }, p) {
    const { owner, where, ...q } = p
    const view = await hub.sharedBy(owner)
    const r = await view.query({ ...q, ...(where !== undefined ? { where: where.map(parseWhere) } : {}) })
    return page(r.objects, r.cursor)
  },
  human: objectTable
})
