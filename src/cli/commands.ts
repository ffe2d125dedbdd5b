/**
 * CLI command handlers. Each takes an open Hub and plain, serializable
 * arguments and returns a JSON-able result, so the same handler runs
 * in-process or inside a running daemon (which receives the same arguments
 * over its control channel).
 */
import { writeFile } from 'node:fs/promises'
import { BadRequestError } from '../errors.js'
import type { Hub } from '../hub.js'
import type { Filter, FilterOp, SortOrder } from '../store/query.js'
import type { JsonPrimitive } from '../objects/json.js'
import type { CommitStrategy } from '../commits/commit.js'

export interface CommandArgs {
  positionals: string[]
  options: Record<string, string | boolean | string[] | undefined>
  /** Whatever was piped on stdin, if the command reads it. */
  stdin?: string
}

export type Handler = (hub: Hub, args: CommandArgs) => Promise<unknown>

function parseJsonInput (text: string | undefined, what = 'value'): unknown {
  if (text === undefined || text.trim() === '') throw new BadRequestError(`pipe the ${what} as JSON on stdin`)
  try {
    return JSON.parse(text)
  } catch {
    throw new BadRequestError(`the ${what} on stdin is not valid JSON`)
  }
}

function one (args: CommandArgs, name: string): string {
  const v = args.positionals[0]
  if (v === undefined) throw new BadRequestError(`missing ${name}`)
  return v
}

function str (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

const WHERE = /^([^<>=!]+?)(>=|<=|=|>|<)(.*)$/s
const OP_NAMES: Record<string, FilterOp> = { '=': 'eq', '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' }

/** `field=value`, `field>=3`… Values parse as JSON when they can (numbers, true, null, "quoted"), else as strings. */
export function parseWhere (expr: string): Filter {
  const m = WHERE.exec(expr)
  if (m === null) throw new BadRequestError(`invalid --where "${expr}" (use FIELD=VALUE, FIELD>VALUE, FIELD<=VALUE…)`)
  const [, field, op, raw] = m as unknown as [string, string, string, string]
  let value: JsonPrimitive = raw
  try {
    const parsed: unknown = JSON.parse(raw)
    if (parsed === null || ['string', 'number', 'boolean'].includes(typeof parsed)) value = parsed as JsonPrimitive
  } catch { /* a bare string */ }
  return { field: field.trim(), op: OP_NAMES[op] as FilterOp, value }
}

export const handlers: Record<string, Handler> = {
  async write (hub, a) {
    const strategy = (str(a.options.strategy) ?? 'automerge') as CommitStrategy
    return await hub.collections.create(parseJsonInput(a.stdin), { strategy })
  },
  async update (hub, a) {
    return await hub.collections.update(one(a, 'OBJECT_ID'), parseJsonInput(a.stdin))
  },
  async read (hub, a) {
    return await hub.collections.read(one(a, 'OBJECT_ID'))
  },
  async delete (hub, a) {
    return await hub.collections.delete(one(a, 'OBJECT_ID'))
  },
  async history (hub, a) {
    return await hub.collections.history(one(a, 'OBJECT_ID'))
  },
  async query (hub, a) {
    const where = ([] as string[]).concat((a.options.where as string[] | undefined) ?? []).map(parseWhere)
    const limit = str(a.options.limit)
    if (limit !== undefined && !/^\d+$/.test(limit)) throw new BadRequestError('--limit must be a positive integer')
    const context = str(a.options.context)
    const type = str(a.options.type)
    const cursor = str(a.options.cursor)
    const sort = str(a.options.sort) as SortOrder | undefined
    return await hub.collections.query({
      ...(context !== undefined ? { context } : {}),
      ...(type !== undefined ? { type } : {}),
      ...(where.length > 0 ? { where } : {}),
      ...(limit !== undefined ? { limit: Number(limit) } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
      ...(sort !== undefined ? { sort } : {})
    })
  },
  async export (hub, a) {
    const out = str(a.options.out)
    if (out === undefined) throw new BadRequestError('missing --out FILE')
    const bytes = await hub.collections.export(one(a, 'OBJECT_ID'))
    await writeFile(out, bytes)
    return { objectId: a.positionals[0], out, bytes: bytes.length }
  },
  async 'profile get' (hub) {
    return await hub.profile.get()
  },
  async 'profile set' (hub, a) {
    return await hub.profile.set(parseJsonInput(a.stdin, 'profile'))
  },
  async did (hub) {
    return hub.didDocument()
  },
  async info (hub) {
    return { did: hub.did, hubDid: hub.hubDid, peerId: hub.peerId, role: hub.config.role, dir: hub.dir }
  }
}

/** Commands whose input is read from stdin. */
export const READS_STDIN = new Set(['write', 'update', 'profile set'])
