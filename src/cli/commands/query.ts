/** `hub query`: objects from the indexes, one page at a time. */
import { integer, oneOf, optional, text, texts } from '../params.js'
import { intOption, list, opt, parseWhere } from '../input.js'
import { page } from '../format.js'
import { defined } from '../params.js'
import { hubCommand } from '../spec.js'
import { objectTable } from './views.js'

const SORTS = ['created', '-created', 'updated', '-updated'] as const

export const query = hubCommand({
  name: 'query',
  group: 'Collections',
  summary: 'objects from the indexes (by collection, filters, sort; paged)',
  description: 'Objects from the indexes. --where takes FIELD=VALUE, FIELD>VALUE, >=, <, <= (values parse as JSON when they can). ' +
    '--tag queries an encrypted collection by its tag (all a blind hub can answer: metadata only).',
  options: [
    { flags: '--context <context>', description: 'the collection\'s @context' },
    { flags: '--type <type>', description: 'the collection\'s @type' },
    { flags: '--where <expr>', description: 'a filter on a top-level field (repeatable)', repeatable: true },
    { flags: '--sort <order>', description: 'created, -created, updated or -updated', choices: SORTS },
    { flags: '--limit <n>', description: 'at most this many (default 100, at most 1000)' },
    { flags: '--cursor <cursor>', description: 'continue after the previous page' },
    { flags: '--tag <tag>', description: 'an encrypted collection by its tag' }
  ],
  examples: ['hub query --context https://schema.org --type MusicPlaylist --where numTracks>=2 --sort -created --limit 10'],
  params: { context: optional(text()), type: optional(text()), where: optional(texts()), sort: optional(oneOf(...SORTS)), limit: optional(integer({ min: 0, max: 1000 })), cursor: optional(text()), tag: optional(text()) },
  input: cli => defined({
    context: opt(cli.opts.context),
    type: opt(cli.opts.type),
    where: list(cli.opts.where).length > 0 ? list(cli.opts.where) : undefined,
    sort: opt(cli.opts.sort) as typeof SORTS[number] | undefined,
    limit: intOption(cli.opts.limit, '--limit'),
    cursor: opt(cli.opts.cursor),
    tag: opt(cli.opts.tag)
  }),
  async run ({ hub }, p) {
    const { where, ...rest } = p
    const r = await hub.collections.query({ ...rest, ...(where !== undefined ? { where: where.map(parseWhere) } : {}) })
    return page(r.objects, r.cursor)
  },
  human: objectTable
})
