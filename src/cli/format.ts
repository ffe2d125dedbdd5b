/**
 * Terminal output helpers (the --json form is the contract; these are for
 * people): aligned tables, key/value blocks, and the one list shape every
 * listing command returns.
 */
import { NotFoundError } from '../errors.js'

/** `--field a.b.0`: one value out of a result; a missing field is `not_found`, so scripts fail loudly. */
export function pickField (result: unknown, path: string): unknown {
  let v: unknown = result
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, part)) throw new NotFoundError(`the result has no field "${path}"`)
    v = (v as Record<string, unknown>)[part]
  }
  return v
}

/** How --field prints a value: a string as is, anything else as JSON. */
export function printable (v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/** Every list a command returns with --json: the items, and where to continue (null: no more). */
export interface Page<T> {
  items: T[]
  cursor: string | null
}

export function page<T> (items: T[], cursor: string | null = null): Page<T> {
  return { items, cursor }
}

function cell (v: unknown): string {
  if (v === null || v === undefined) return '-'
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(v)
}

/** An aligned table; `columns` are [heading, value-of-row] pairs. The last column is not padded. */
export function table<T> (rows: readonly T[], columns: ReadonlyArray<readonly [string, (row: T) => unknown]>): string {
  const cells = [columns.map(([h]) => h), ...rows.map(r => columns.map(([, f]) => cell(f(r)).replace(/\s+/g, ' ')))]
  const widths = columns.map((_, i) => Math.max(...cells.map(r => (r[i] as string).length)))
  return cells.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n') + '\n'
}

/** A table for a Page, with a count line and how to get the next page. */
export function pageTable<T> (p: Page<T>, noun: string, columns: ReadonlyArray<readonly [string, (row: T) => unknown]>): string {
  if (p.items.length === 0) return `no ${noun}\n`
  const more = p.cursor !== null ? `, more with --cursor ${p.cursor}` : ''
  return table(p.items, columns) + `${p.items.length} ${noun}${more}\n`
}

/** `label: value` lines, labels aligned. */
export function fields (pairs: ReadonlyArray<readonly [string, unknown]>): string {
  const w = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${cell(v)}`).join('\n') + '\n'
}

/** Indent every non-empty line by two spaces. */
export function indent (text: string): string {
  return text.replace(/^(?=.)/gm, '  ')
}
