/** `hub audit`: every request by anyone but the owner. */
import { BadRequestError } from '../../errors.js'
import { defined, integer, optional } from '../params.js'
import { intOption } from '../input.js'
import { page, pageTable } from '../format.js'
import { hubCommand } from '../spec.js'

const DEFAULT_LIMIT = 100

export const audit = hubCommand({
  name: 'audit',
  group: 'Permissions and sharing',
  summary: 'every request by anyone but the owner, allowed or denied (oldest first, paged)',
  options: [
    { flags: '--limit <n>', description: `at most this many (default ${DEFAULT_LIMIT})` },
    { flags: '--cursor <seq>', description: 'continue after this entry (the previous page\'s cursor)' },
    { flags: '--after <seq>', description: 'the same as --cursor' }
  ],
  params: { limit: optional(integer({ min: 1, max: 10_000 })), after: optional(integer({ min: 0 })) },
  input (cli) {
    if (cli.opts.cursor !== undefined && cli.opts.after !== undefined) throw new BadRequestError('--cursor and --after are the same option: give one')
    return defined({ limit: intOption(cli.opts.limit, '--limit'), after: intOption(cli.opts.cursor ?? cli.opts.after, cli.opts.cursor !== undefined ? '--cursor' : '--after') })
  },
  async run ({ hub }, p) {
    const limit = p.limit ?? DEFAULT_LIMIT
    const entries = await hub.audit.list({ limit, ...(p.after !== undefined ? { after: p.after } : {}) })
    const last = entries[entries.length - 1]
    return page(entries, entries.length === limit && last !== undefined ? String(last.seq) : null)
  },
  human: r => pageTable(r, 'audit entr(ies)', [
    ['SEQ', e => e.seq], ['TIME', e => e.time], ['CALLER', e => e.caller], ['REQUEST', e => `${e.interface}.${e.method}`],
    ['DECISION', e => e.decision + (e.code !== undefined ? ` (${e.code})` : '')], ['TARGET', e => e.target]
  ])
})
