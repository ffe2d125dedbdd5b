/**
 * Typed parameters of a hub command, checked where they are used. The CLI
 * process turns argv into a params object; the daemon receives that object
 * over the control channel and checks it again with the same schema before
 * a handler sees it, so the handler's types hold whoever sent the call
 * (another local process holding the control secret included).
 *
 * A schema is a record of fields; `Infer` gives its TypeScript type, so
 * one declaration is both the runtime check and the handler's parameter type.
 */
import { BadRequestError } from '../errors.js'

export interface Field<T, O extends boolean = boolean> {
  readonly optional: O
  /** Check `v` (never undefined here); throw a BadRequestError naming `name`. */
  check (v: unknown, name: string): T
}

function field<T> (check: (v: unknown, name: string) => T): Field<T, false> {
  return { optional: false, check }
}

export function optional<T> (f: Field<T>): Field<T | undefined, true> {
  return { optional: true, check: f.check }
}

export const text = (opts: { nonEmpty?: boolean } = {}): Field<string, false> => field((v, name) => {
  if (typeof v !== 'string') throw new BadRequestError(`${name} must be a string`)
  if (opts.nonEmpty !== false && v === '') throw new BadRequestError(`${name} must not be empty`)
  return v
})

export const flag = (): Field<boolean, false> => field((v, name) => {
  if (typeof v !== 'boolean') throw new BadRequestError(`${name} must be true or false`)
  return v
})

export const integer = (opts: { min?: number, max?: number } = {}): Field<number, false> => field((v, name) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new BadRequestError(`${name} must be an integer`)
  if (opts.min !== undefined && v < opts.min) throw new BadRequestError(`${name} must be at least ${opts.min}`)
  if (opts.max !== undefined && v > opts.max) throw new BadRequestError(`${name} must be at most ${opts.max}`)
  return v
})

export const texts = (): Field<string[], false> => field((v, name) => {
  if (!Array.isArray(v) || !v.every(x => typeof x === 'string')) throw new BadRequestError(`${name} must be a list of strings`)
  return v as string[]
})

export function oneOf<const T extends string> (...values: readonly T[]): Field<T, false> {
  return field((v, name) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw new BadRequestError(`${name} must be one of ${values.join(', ')}`)
    return v as T
  })
}

/** Any JSON value (a value piped on stdin): the interface it is handed to checks it. */
export const json = (): Field<unknown, false> => field(v => v)

export type Shape = Record<string, Field<unknown>>
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K]['optional'] extends true ? K : never }[keyof S]
type FieldType<F> = F extends Field<infer T, boolean> ? T : never
export type Infer<S extends Shape> =
  { [K in Exclude<keyof S, OptionalKeys<S>>]: FieldType<S[K]> } &
  { [K in OptionalKeys<S>]?: Exclude<FieldType<S[K]>, undefined> }

export interface Schema<P> {
  readonly fields: Shape
  /** Check a params object: unknown keys, missing required fields and wrong types are `bad_request`. */
  check (raw: unknown): P
}

export function schema<S extends Shape> (fields: S): Schema<Infer<S>> {
  return {
    fields,
    check (raw) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadRequestError('the parameters must be an object')
      const given = raw as Record<string, unknown>
      for (const k of Object.keys(given)) {
        if (!Object.hasOwn(fields, k)) throw new BadRequestError(`unknown parameter "${k}"`)
      }
      const out: Record<string, unknown> = {}
      for (const [k, f] of Object.entries(fields)) {
        const v = given[k]
        if (v === undefined) {
          if (!f.optional) throw new BadRequestError(`missing parameter "${k}"`)
          continue
        }
        out[k] = f.check(v, k)
      }
      return out as Infer<S>
    }
  }
}

/** Drop undefined entries, so an optional field absent on the command line is absent in params. */
export function defined<T extends Record<string, unknown>> (o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}
