/**
 * Turning command-line text into typed values, with errors that name the
 * option the user typed. Shared by every command module.
 */
import { readFile } from 'node:fs/promises'
import { BadRequestError, HubError } from '../errors.js'
import type { Filter, FilterOp } from '../store/query.js'
import type { JsonPrimitive } from '../objects/json.js'
import type { HubNode } from '../net/hub-node.js'
import type { CommandContext } from './spec.js'

/** A string option's value, or undefined. */
export function opt (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

const camel = (option: string): string => option.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

/**
 * The value of a required option (commander refuses a missing one; this
 * also refuses an empty one): `need(cli, 'endpoint', 'url')` → "missing --endpoint URL".
 */
export function need (cli: { opts: Record<string, unknown> }, option: string, what = option): string {
  const v = opt(cli.opts[camel(option)])
  if (v === undefined || v === '') throw new BadRequestError(`missing --${option} ${what.toUpperCase()}`)
  return v
}

/** A repeatable option's values ([] when absent). */
export function list (v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string')
  return typeof v === 'string' ? [v] : []
}

/** A non-negative integer option (`--limit 10`), or undefined; `name` is how the user typed it. */
export function intOption (v: unknown, name: string): number | undefined {
  const s = opt(v)
  if (s === undefined) return undefined
  if (!/^\d{1,15}$/.test(s)) throw new BadRequestError(`${name} must be a non-negative integer (got "${s}")`)
  return Number(s)
}

/** A positional argument the command requires (commander already refuses a missing one). */
export function arg (cli: { args: Array<string | undefined> }, i: number, name: string): string {
  const v = cli.args[i]
  if (v === undefined || v === '') throw new BadRequestError(`missing ${name}`)
  return v
}

export function parseJsonInput (text: string | undefined, what = 'value'): unknown {
  if (text === undefined || text.trim() === '') throw new BadRequestError(`pipe the ${what} as JSON on stdin`)
  try {
    return JSON.parse(text)
  } catch {
    throw new BadRequestError(`the ${what} on stdin is not valid JSON`)
  }
}

/** A file named by --option: one that cannot be read is the caller's mistake (bad_request), not an internal error. */
export async function readOptionFile (option: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new BadRequestError(`cannot read the --${option} file ${path}: ${e.code ?? e.message}`)
  }
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

/** The network of the running daemon, or an `unavailable` error explaining how to get one. */
export function network (ctx: CommandContext): HubNode {
  if (ctx.net === undefined) throw new HubError('unavailable', 'this command needs the running hub: start it with "hub start --dir DIR"')
  return ctx.net
}
