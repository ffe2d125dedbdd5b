/**
 * DIF Presentation Exchange v2 for DCP presentation queries: the subset of
 * presentation definitions this hub evaluates, written here rather than
 * taken from `@sphereon/pex` (whose JSONPath library evaluates filter and
 * script expressions, and which brings SD-JWT and ssi-types along): every
 * feature below is bounded, and anything else is refused with a 400 naming
 * it — never ignored where ignoring it would present more than was asked.
 *
 * Two steps, so that a malformed definition is refused before the caller's
 * token is looked at (and its `jti` consumed): {@link compileDefinition}
 * checks the structure and the caps and compiles every filter;
 * {@link evaluateDefinition} then picks credentials, and
 * {@link presentationSubmission} describes where they ended up.
 *
 * **Supported** (see protocols/dcp.md, "Presentation Exchange"):
 *  - definition: `id`, `name`, `purpose`, `format`, `input_descriptors`,
 *    `submission_requirements`;
 *  - input descriptor: `id` (unique), `name`, `purpose`, `group`, `format`,
 *    `constraints` with `fields` and `limit_disclosure: "preferred"`
 *    (ignored: whole JWTs are presented, which `preferred` allows);
 *  - field: `path` (JSONPath subset below), `id`, `name`, `purpose`,
 *    `filter` (JSON Schema draft-07), `optional`, `intent_to_retain`
 *    (informational), `predicate: "preferred"` (ignored: the value itself is
 *    presented, which `preferred` allows);
 *  - submission requirement: `rule` `all` | `pick` (`count`, or `min` and/or
 *    `max`), `from` (a group) or `from_nested`, `name`, `purpose`.
 *
 * **Refused** (400, `details.reason: "unsupported_feature"`, `details.feature`):
 * `frame`, `limit_disclosure: "required"` (we cannot present part of a JWT),
 * `predicate: "required"`, `subject_is_issuer`, `is_holder`, `same_subject`,
 * `statuses`, any other property; in paths: recursive descent, filter and
 * script expressions, slices, unions, negative indices; in filters: `$async`,
 * `$id`, `$ref` (local or remote), unknown keywords and formats.
 *
 * Pure, apart from one process-wide V8 flag (see {@link linearRegExp}).
 */
import { randomUUID } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { BadRequestError } from '../../errors.js'
import { decodeJwt } from '../jwt.js'
import type { DataModel } from '../vc.js'
import type { Placement } from './presentation.js'
import { DCP_CONTEXT, validatePresentationResponse, type PresentationResponseMessage } from './schemas.js'

/** Caps on a definition; past any of them the query is a 400 with `details.reason: "limit_exceeded"`. */
export const PE_LIMITS = {
  /** The definition as JSON text, in characters. */
  definitionChars: 64 * 1024,
  inputDescriptors: 32,
  fieldsPerDescriptor: 16,
  /** Fields over all descriptors: each filter is compiled, which costs CPU. */
  fieldsTotal: 16,
  pathsPerField: 8,
  pathChars: 256,
  pathSegments: 16,
  /** Largest `[n]` index in a path. */
  pathIndex: 100_000,
  groupsPerDescriptor: 8,
  /** Submission requirements, nested ones included. */
  submissionRequirements: 32,
  /** Nesting of `from_nested` (a top-level requirement is depth 1). */
  submissionDepth: 4,
  /** One filter as JSON text, in characters. */
  filterChars: 8 * 1024,
  /** Object/array nesting inside one filter. */
  filterDepth: 16,
  /** One `pattern` (or `patternProperties` key), in characters. */
  patternChars: 512,
  formatDesignations: 16,
  algorithms: 16,
  /** ids and group names. */
  idChars: 256,
  /** names and purposes. */
  textChars: 1024
} as const

export type PeRefusal = 'invalid_definition' | 'unsupported_feature' | 'limit_exceeded'

function refuse (reason: PeRefusal, at: string, message: string, extra: Record<string, unknown> = {}): BadRequestError {
  return new BadRequestError(`presentationDefinition${at === '' ? '' : `.${at}`}: ${message}`, { reason, at: at === '' ? '(root)' : at, ...extra })
}
const invalid = (at: string, message: string): BadRequestError => refuse('invalid_definition', at, message)
const unsupported = (at: string, feature: string, message: string): BadRequestError => refuse('unsupported_feature', at, message, { feature })
const tooLarge = (at: string, limit: keyof typeof PE_LIMITS): BadRequestError =>
  refuse('limit_exceeded', at, `exceeds the limit of ${PE_LIMITS[limit]} (${limit})`, { limit, max: PE_LIMITS[limit] })

// ── JSONPath subset ─────────────────────────────────────────────────────

/**
 * One step of a path. The grammar: `$` then any of `.name` (a name of
 * letters, digits, `_`, `$`, `@`, `-`, not starting with a digit or `-`),
 * `['name']` / `["name"]` (escapes `\\`, `\'`, `\"` only), `[n]` (n ≥ 0),
 * `[*]` and `.*`.
 */
export type PathSegment = { kind: 'name', name: string } | { kind: 'index', index: number } | { kind: 'wildcard' }

const NAME = /^[A-Za-z_$@][A-Za-z0-9_$@-]*/

/** Parse a JSONPath of the supported subset; `at` locates it in the definition for errors. */
export function parseJsonPath (path: unknown, at = 'path'): PathSegment[] {
  if (typeof path !== 'string') throw invalid(at, 'a path must be a string')
  if (path.length > PE_LIMITS.pathChars) throw tooLarge(at, 'pathChars')
  if (path[0] !== '$') throw invalid(at, 'a path must start with "$"')
  const out: PathSegment[] = []
  let i = 1
  const no = (what: string): BadRequestError => unsupported(at, `jsonpath ${what}`, `${what} is not supported in paths (${JSON.stringify(path)})`)
  while (i < path.length) {
    if (out.length >= PE_LIMITS.pathSegments) throw tooLarge(at, 'pathSegments')
    const c = path[i]
    if (c === '.') {
      if (path[i + 1] === '.') throw no('recursive descent (..)')
      if (path[i + 1] === '*') {
        out.push({ kind: 'wildcard' })
        i += 2
        continue
      }
      const m = NAME.exec(path.slice(i + 1))
      if (m === null) throw invalid(at, `expected a name after "." at offset ${i} of ${JSON.stringify(path)}`)
      out.push({ kind: 'name', name: m[0] })
      i += 1 + m[0].length
    } else if (c === '[') {
      const d = path[i + 1]
      if (d === '*' && path[i + 2] === ']') {
        out.push({ kind: 'wildcard' })
        i += 3
      } else if (d === '\'' || d === '"') {
        let name = ''
        let j = i + 2
        for (; j < path.length && path[j] !== d; j++) {
          let ch = path[j] as string
          if (ch === '\\') {
            const e = path[j + 1]
            if (e !== '\\' && e !== '\'' && e !== '"') throw invalid(at, `unsupported escape at offset ${j} of ${JSON.stringify(path)}`)
            ch = e
            j++
          } else if (ch < ' ') {
            throw invalid(at, 'control character in a quoted name')
          }
          name += ch
        }
        if (j < path.length && path[j + 1] === ',') throw no('unions ([a,b])')
        if (j >= path.length || path[j + 1] !== ']') throw invalid(at, `unterminated quoted name in ${JSON.stringify(path)}`)
        out.push({ kind: 'name', name })
        i = j + 2
      } else if (d !== undefined && d >= '0' && d <= '9') {
        const m = /^(0|[1-9][0-9]*)\]/.exec(path.slice(i + 1))
        if (m === null) {
          if (/^[0-9]*:/.test(path.slice(i + 1))) throw no('array slicing ([a:b])')
          if (/^[0-9]+,/.test(path.slice(i + 1))) throw no('unions ([a,b])')
          throw invalid(at, `malformed index at offset ${i} of ${JSON.stringify(path)}`)
        }
        const index = Number(m[1])
        if (index > PE_LIMITS.pathIndex) throw tooLarge(at, 'pathIndex')
        out.push({ kind: 'index', index })
        i += 1 + m[0].length
      } else if (d === '?') {
        throw no('filter expressions ([?(…)])')
      } else if (d === '(') {
        throw no('script expressions ([(…)])')
      } else if (d === '-') {
        throw no('negative indices')
      } else if (d === ':') {
        throw no('array slicing ([a:b])')
      } else {
        throw invalid(at, `malformed bracket at offset ${i} of ${JSON.stringify(path)}`)
      }
    } else {
      throw invalid(at, `unexpected ${JSON.stringify(c)} at offset ${i} of ${JSON.stringify(path)}`)
    }
  }
  return out
}

/**
 * Every value a parsed path selects in `doc`, in document order. Names are
 * looked up as own properties only (never `constructor`, `__proto__`… of
 * the prototype chain); an index applies to arrays, a name to objects; a
 * wildcard selects array elements or object values.
 */
export function selectPath (doc: unknown, segments: readonly PathSegment[]): unknown[] {
  let current: unknown[] = [doc]
  for (const s of segments) {
    const next: unknown[] = []
    for (const v of current) {
      if (typeof v !== 'object' || v === null) continue
      if (s.kind === 'wildcard') {
        next.push(...(Array.isArray(v) ? v : Object.values(v)))
      } else if (s.kind === 'index') {
        if (Array.isArray(v) && s.index < v.length) next.push(v[s.index])
      } else if (!Array.isArray(v) && Object.hasOwn(v, s.name)) {
        next.push((v as Record<string, unknown>)[s.name])
      }
    }
    current = next
    if (current.length === 0) break
  }
  return current
}

// ── filters (JSON Schema) ───────────────────────────────────────────────

let linear: boolean | undefined
/** V8's flag for the linear-time engine (a variable: linters do not know it). */
const LINEAR_FLAG = 'l'

/**
 * Whether V8's linear-time regular expression engine (the `l` flag) is
 * available, enabling it on first use. A filter's `pattern` comes from the
 * verifier and runs on the event loop: with the backtracking engine,
 * `^(a+)+$` freezes the whole hub on a long enough claim. The linear engine
 * has no backreferences, lookarounds, `u`-mode features or large counted
 * repetitions: such patterns are refused (400). Turning the flag on only
 * makes the `l` flag usable; other regular expressions are unaffected.
 * Where it cannot be had (another runtime), every pattern is refused.
 */
export function linearRegExpAvailable (): boolean {
  if (linear !== undefined) return linear
  const probe = (): boolean => {
    try {
      return new RegExp('a', LINEAR_FLAG).test('a')
    } catch {
      return false
    }
  }
  if (!probe()) {
    try {
      setFlagsFromString('--enable-experimental-regexp-engine')
    } catch { /* not V8 */ }
  }
  linear = probe()
  return linear
}

/** The regular expression engine given to Ajv: linear-time or nothing. */
function linearRegExp (pattern: string): RegExp {
  if (pattern.length > PE_LIMITS.patternChars) throw new Error(`pattern longer than ${PE_LIMITS.patternChars} characters (patternChars)`)
  if (!linearRegExpAvailable()) throw new Error('patterns are not supported on this runtime (no linear-time regular expression engine)')
  try {
    return new RegExp(pattern, LINEAR_FLAG)
  } catch (err) {
    throw new Error(`pattern ${JSON.stringify(pattern)} is refused: ${(err as Error).message.replace(/^Invalid regular expression: /, '')} (patterns must run in linear time: no backreferences, lookarounds, \\p{…} or large {n,m})`)
  }
}
linearRegExp.code = 'new RegExp'

type FormatsPlugin = (ajv: Ajv) => Ajv
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? addFormatsModule) as unknown as FormatsPlugin

const AJV_OPTIONS = {
  strict: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  allowUnionTypes: true,
  // Its strict check of patternProperties against properties runs the pattern with the backtracking engine at compile time.
  allowMatchingProperties: true,
  unicodeRegExp: false,
  code: { regExp: linearRegExp }
} as const

let metaAjv: Ajv | undefined

/**
 * Checks filters against the draft-07 meta-schema. Long-lived: validating
 * a schema as data leaves nothing behind, and compiling the meta-schema is
 * what makes an Ajv instance expensive (~5 ms).
 */
function checkSchema (filter: unknown): string | undefined {
  metaAjv ??= new Ajv({ ...AJV_OPTIONS })
  if (metaAjv.validateSchema(filter as object) === true) return undefined
  return metaAjv.errorsText(metaAjv.errors)
}

/**
 * A fresh Ajv instance per definition for compiling its filters: an
 * instance keeps every compiled schema, and the values its code refers to
 * (patterns…) in an instance-wide scope that `removeSchema` does not empty,
 * so a shared one would grow (and slow down) with every query. Schemas were
 * already checked by {@link checkSchema}, hence `validateSchema: false`.
 * Strict mode stays on for unknown keywords and formats: a misspelt keyword
 * is an error, not a filter that accepts everything.
 */
function filterAjv (): Ajv {
  const ajv = new Ajv({ ...AJV_OPTIONS, validateSchema: false })
  addFormats(ajv)
  return ajv
}

/** Pre-checks Ajv would not make: size, depth, async and remote references. */
function checkFilter (filter: unknown, at: string): void {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    if (typeof filter !== 'boolean') throw invalid(at, 'a filter must be a JSON Schema (an object or a boolean)')
  }
  if (JSON.stringify(filter).length > PE_LIMITS.filterChars) throw tooLarge(at, 'filterChars')
  const walk = (v: unknown, depth: number): void => {
    if (typeof v !== 'object' || v === null) return
    if (depth > PE_LIMITS.filterDepth) throw tooLarge(at, 'filterDepth')
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1)
      return
    }
    for (const [k, x] of Object.entries(v)) {
      // An async schema's validate returns a Promise, which is truthy: it would accept everything.
      if (k === '$async') throw unsupported(at, 'filter $async', '$async schemas are not supported')
      if (k === '$id' && typeof x === 'string') throw unsupported(at, 'filter $id', '$id is not supported in filters')
      // No references at all: a remote one would fetch, and a local one can point at itself
      // ({"$ref": "#"}), which recurses at evaluation without consuming any data — after the
      // token was spent (found by test/attacks-dcp.test.ts). A filter is small; write it out.
      if (k === '$ref' || k === '$recursiveRef' || k === '$dynamicRef') {
        throw unsupported(at, 'filter $ref', '$ref is not supported in filters: write the schema out')
      }
      walk(x, depth + 1)
    }
  }
  walk(filter, 1)
}

// ── formats ─────────────────────────────────────────────────────────────

/** Designations that describe the presentation, not the credential. */
const VP_DESIGNATIONS = new Set(['jwt_vp', 'jwt_vp_json', 'vp+jwt', 'ldp_vp', 'di_vp', 'ac_vp'])
/** Which credential designations our credentials satisfy, by data model. */
const VC_DESIGNATIONS: Record<DataModel, ReadonlySet<string>> = {
  '1.1': new Set(['jwt_vc', 'jwt_vc_json', 'jwt']),
  '2.0': new Set(['vc+jwt', 'jwt'])
}
/** Which presentation designations the VPs we build satisfy (presentation.ts: 1.1 → jwt_vp, 2.0 → vp+jwt). */
const OUR_VP_DESIGNATIONS: Record<DataModel, ReadonlySet<string>> = {
  '1.1': new Set(['jwt_vp', 'jwt_vp_json']),
  '2.0': new Set(['vp+jwt'])
}
const OURS = new Set([...VC_DESIGNATIONS['1.1'], ...VC_DESIGNATIONS['2.0'], ...OUR_VP_DESIGNATIONS['1.1'], ...OUR_VP_DESIGNATIONS['2.0']])
/** What `signJwt` signs every VP with. */
const VP_ALG = 'EdDSA'

/** A format object: designation → the algorithms allowed (undefined: any). */
export type FormatConstraint = ReadonlyMap<string, ReadonlySet<string> | undefined>

function parseFormat (v: unknown, at: string): FormatConstraint {
  if (!isObject(v)) throw invalid(at, 'format must be an object')
  const entries = Object.entries(v)
  if (entries.length === 0) throw invalid(at, 'format must name at least one claim format designation')
  if (entries.length > PE_LIMITS.formatDesignations) throw tooLarge(at, 'formatDesignations')
  const out = new Map<string, ReadonlySet<string> | undefined>()
  for (const [name, spec] of entries) {
    const here = `${at}.${name}`
    if (!isObject(spec)) throw invalid(here, 'a format designation takes an object')
    if (!OURS.has(name)) {
      // A format we hold nothing in (ldp_vc, mso_mdoc, vc+sd-jwt…): it can only restrict, so its options are not read.
      out.set(name, undefined)
      continue
    }
    for (const k of Object.keys(spec)) {
      if (k !== 'alg') throw unsupported(here, `format ${name}.${k}`, `"${k}" does not apply to ${name} (JWT formats take "alg")`)
    }
    if (spec.alg === undefined) {
      out.set(name, undefined)
    } else {
      const algs = stringList(spec.alg, `${here}.alg`, 'algorithms', PE_LIMITS.idChars)
      out.set(name, new Set(algs))
    }
  }
  return out
}

/**
 * Whether a credential of `dataModel`, signed with `alg`, satisfies a
 * format object: when it names credential designations, one of ours with
 * `alg` allowed; when it names presentation designations, the VP we would
 * build for it, with our VP algorithm allowed.
 */
function formatAllows (format: FormatConstraint, dataModel: DataModel, alg: string): boolean {
  const vc = [...format].filter(([name]) => !VP_DESIGNATIONS.has(name))
  const vp = [...format].filter(([name]) => VP_DESIGNATIONS.has(name))
  if (vc.length > 0 && !vc.some(([name, algs]) => VC_DESIGNATIONS[dataModel].has(name) && (algs === undefined || algs.has(alg)))) return false
  if (vp.length > 0 && !vp.some(([name, algs]) => OUR_VP_DESIGNATIONS[dataModel].has(name) && (algs === undefined || algs.has(VP_ALG)))) return false
  return true
}

// ── the definition ──────────────────────────────────────────────────────

export interface CompiledField {
  paths: PathSegment[][]
  /** Undefined: the path only has to select something. */
  filter?: (value: unknown) => boolean
  optional: boolean
}

export interface CompiledDescriptor {
  id: string
  groups: string[]
  format?: FormatConstraint
  fields: CompiledField[]
}

export type CompiledRequirement =
  | { rule: 'all', from: string }
  | { rule: 'all', nested: CompiledRequirement[] }
  | { rule: 'pick', count?: number, min?: number, max?: number, from: string }
  | { rule: 'pick', count?: number, min?: number, max?: number, nested: CompiledRequirement[] }

export interface CompiledDefinition {
  id: string
  format?: FormatConstraint
  descriptors: CompiledDescriptor[]
  /** Undefined: every descriptor must be satisfied. */
  requirements?: CompiledRequirement[]
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function onlyKeys (o: Record<string, unknown>, allowed: readonly string[], at: string, refusedWhy: Record<string, string> = {}): void {
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue
    throw unsupported(at === '' ? k : `${at}.${k}`, k, refusedWhy[k] ?? `"${k}" is not supported`)
  }
}

function str (v: unknown, at: string, max: number, required = true): string | undefined {
  if (v === undefined && !required) return undefined
  if (typeof v !== 'string' || v === '') throw invalid(at, 'must be a non-empty string')
  if (v.length > max) throw tooLarge(at, max === PE_LIMITS.idChars ? 'idChars' : 'textChars')
  return v
}

function stringList (v: unknown, at: string, limit: 'groupsPerDescriptor' | 'algorithms', maxChars: number): string[] {
  if (!Array.isArray(v) || v.length === 0) throw invalid(at, 'must be a non-empty array of strings')
  if (v.length > PE_LIMITS[limit]) throw tooLarge(at, limit)
  return v.map((x, i) => str(x, `${at}[${i}]`, maxChars) as string)
}

function bound (v: unknown, at: string): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw invalid(at, 'must be a non-negative integer')
  return v
}

const NOT_PRESENTABLE = 'the hub presents whole JWT credentials as its issuer signed them'
const CONSTRAINT_REFUSED: Record<string, string> = {
  subject_is_issuer: '"subject_is_issuer" is not supported',
  is_holder: '"is_holder" is not supported',
  same_subject: '"same_subject" is not supported',
  statuses: '"statuses" is not supported (only credentials that are valid, not revoked and not suspended are ever presented)'
}

/**
 * Check a definition against the supported subset and the caps, and compile
 * its filters. Throws {@link BadRequestError} with `details.reason`
 * (`invalid_definition`, `unsupported_feature` + `details.feature`,
 * `limit_exceeded` + `details.limit`) and `details.at`.
 */
export function compileDefinition (def: unknown): CompiledDefinition {
  if (!isObject(def)) throw invalid('', 'must be an object')
  let text: string
  try {
    text = JSON.stringify(def)
  } catch {
    throw invalid('', 'is not JSON')
  }
  if (text.length > PE_LIMITS.definitionChars) throw tooLarge('', 'definitionChars')
  onlyKeys(def, ['id', 'name', 'purpose', 'format', 'input_descriptors', 'submission_requirements'], '', { frame: '"frame" (JSON-LD framing) is not supported: the hub holds JWT credentials' })
  const id = str(def.id, 'id', PE_LIMITS.idChars) as string
  str(def.name, 'name', PE_LIMITS.textChars, false)
  str(def.purpose, 'purpose', PE_LIMITS.textChars, false)
  const format = def.format === undefined ? undefined : parseFormat(def.format, 'format')

  const list = def.input_descriptors
  if (!Array.isArray(list) || list.length === 0) throw invalid('input_descriptors', 'must be a non-empty array')
  if (list.length > PE_LIMITS.inputDescriptors) throw tooLarge('input_descriptors', 'inputDescriptors')
  const compiled = new Map<string, ValidateFunction>()
  const ajv = lazy(filterAjv)
  let fieldsTotal = 0
  const ids = new Set<string>()
  const descriptors = list.map((d: unknown, i): CompiledDescriptor => {
    const at = `input_descriptors[${i}]`
    if (!isObject(d)) throw invalid(at, 'must be an object')
    onlyKeys(d, ['id', 'name', 'purpose', 'group', 'format', 'constraints'], at, { schema: '"schema" is Presentation Exchange v1: use constraints.fields' })
    const did = str(d.id, `${at}.id`, PE_LIMITS.idChars) as string
    if (ids.has(did)) throw invalid(`${at}.id`, `duplicate input descriptor id ${JSON.stringify(did)}`)
    ids.add(did)
    str(d.name, `${at}.name`, PE_LIMITS.textChars, false)
    str(d.purpose, `${at}.purpose`, PE_LIMITS.textChars, false)
    const groups = d.group === undefined ? [] : stringList(d.group, `${at}.group`, 'groupsPerDescriptor', PE_LIMITS.idChars)
    const out: CompiledDescriptor = { id: did, groups, fields: [] }
    if (d.format !== undefined) out.format = parseFormat(d.format, `${at}.format`)
    if (d.constraints === undefined) return out
    const c = d.constraints
    if (!isObject(c)) throw invalid(`${at}.constraints`, 'must be an object')
    onlyKeys(c, ['fields', 'limit_disclosure'], `${at}.constraints`, CONSTRAINT_REFUSED)
    if (c.limit_disclosure !== undefined) {
      if (c.limit_disclosure === 'required') throw unsupported(`${at}.constraints.limit_disclosure`, 'limit_disclosure', `limit_disclosure "required" cannot be met: ${NOT_PRESENTABLE}`)
      if (c.limit_disclosure !== 'preferred') throw invalid(`${at}.constraints.limit_disclosure`, 'must be "required" or "preferred"')
    }
    if (c.fields === undefined) return out
    if (!Array.isArray(c.fields)) throw invalid(`${at}.constraints.fields`, 'must be an array')
    if (c.fields.length > PE_LIMITS.fieldsPerDescriptor) throw tooLarge(`${at}.constraints.fields`, 'fieldsPerDescriptor')
    fieldsTotal += c.fields.length
    if (fieldsTotal > PE_LIMITS.fieldsTotal) throw tooLarge(`${at}.constraints.fields`, 'fieldsTotal')
    out.fields = c.fields.map((f: unknown, j): CompiledField => compileField(f, `${at}.constraints.fields[${j}]`, ajv, compiled))
    return out
  })

  const result: CompiledDefinition = { id, descriptors }
  if (format !== undefined) result.format = format
  if (def.submission_requirements !== undefined) {
    const groups = new Set(descriptors.flatMap(d => d.groups))
    const count = { n: 0 }
    result.requirements = requirementList(def.submission_requirements, 'submission_requirements', 1, groups, count)
  }
  return result
}

function lazy<T> (make: () => T): () => T {
  let value: T | undefined
  return () => (value ??= make())
}

function compileField (f: unknown, at: string, ajv: () => Ajv, compiled: Map<string, ValidateFunction>): CompiledField {
  if (!isObject(f)) throw invalid(at, 'must be an object')
  onlyKeys(f, ['id', 'name', 'purpose', 'path', 'filter', 'optional', 'predicate', 'intent_to_retain'], at)
  str(f.id, `${at}.id`, PE_LIMITS.idChars, false)
  str(f.name, `${at}.name`, PE_LIMITS.textChars, false)
  str(f.purpose, `${at}.purpose`, PE_LIMITS.textChars, false)
  if (f.optional !== undefined && typeof f.optional !== 'boolean') throw invalid(`${at}.optional`, 'must be a boolean')
  if (f.intent_to_retain !== undefined && typeof f.intent_to_retain !== 'boolean') throw invalid(`${at}.intent_to_retain`, 'must be a boolean')
  if (f.predicate !== undefined) {
    if (f.predicate === 'required') throw unsupported(`${at}.predicate`, 'predicate', `predicate "required" cannot be met: ${NOT_PRESENTABLE}`)
    if (f.predicate !== 'preferred') throw invalid(`${at}.predicate`, 'must be "required" or "preferred"')
  }
  if (!Array.isArray(f.path) || f.path.length === 0) throw invalid(`${at}.path`, 'must be a non-empty array of JSONPath strings')
  if (f.path.length > PE_LIMITS.pathsPerField) throw tooLarge(`${at}.path`, 'pathsPerField')
  const paths = f.path.map((p: unknown, k) => parseJsonPath(p, `${at}.path[${k}]`))
  const out: CompiledField = { paths, optional: f.optional === true }
  if (f.filter !== undefined) {
    checkFilter(f.filter, `${at}.filter`)
    const key = JSON.stringify(f.filter)
    let v = compiled.get(key)
    if (v === undefined) {
      const problem = checkSchema(f.filter)
      if (problem !== undefined) throw invalid(`${at}.filter`, `not a valid JSON Schema: ${problem}`)
      try {
        v = ajv().compile(f.filter as object)
      } catch (err) {
        throw invalid(`${at}.filter`, `not a usable JSON Schema: ${(err as Error).message}`)
      }
      compiled.set(key, v)
    }
    const validate = v
    out.filter = value => validate(value) === true
  }
  return out
}

function requirementList (v: unknown, at: string, depth: number, groups: ReadonlySet<string>, count: { n: number }): CompiledRequirement[] {
  if (!Array.isArray(v) || v.length === 0) throw invalid(at, 'must be a non-empty array')
  if (depth > PE_LIMITS.submissionDepth) throw tooLarge(at, 'submissionDepth')
  return v.map((r: unknown, i) => requirement(r, `${at}[${i}]`, depth, groups, count))
}

function requirement (r: unknown, at: string, depth: number, groups: ReadonlySet<string>, count: { n: number }): CompiledRequirement {
  if (++count.n > PE_LIMITS.submissionRequirements) throw tooLarge(at, 'submissionRequirements')
  if (!isObject(r)) throw invalid(at, 'must be an object')
  onlyKeys(r, ['name', 'purpose', 'rule', 'count', 'min', 'max', 'from', 'from_nested'], at)
  str(r.name, `${at}.name`, PE_LIMITS.textChars, false)
  str(r.purpose, `${at}.purpose`, PE_LIMITS.textChars, false)
  if ((r.from === undefined) === (r.from_nested === undefined)) throw invalid(at, 'needs exactly one of "from" and "from_nested"')
  let source: { from: string } | { nested: CompiledRequirement[] }
  if (r.from !== undefined) {
    const from = str(r.from, `${at}.from`, PE_LIMITS.idChars) as string
    if (!groups.has(from)) throw invalid(`${at}.from`, `no input descriptor is in group ${JSON.stringify(from)}`)
    source = { from }
  } else {
    source = { nested: requirementList(r.from_nested, `${at}.from_nested`, depth + 1, groups, count) }
  }
  const c = bound(r.count, `${at}.count`)
  const min = bound(r.min, `${at}.min`)
  const max = bound(r.max, `${at}.max`)
  if (r.rule === 'all') {
    if (c !== undefined || min !== undefined || max !== undefined) throw invalid(at, 'count, min and max apply to rule "pick"')
    return { rule: 'all', ...source }
  }
  if (r.rule !== 'pick') throw invalid(`${at}.rule`, 'must be "all" or "pick"')
  if (c === undefined && min === undefined && max === undefined) throw invalid(at, 'rule "pick" needs count, min or max')
  if (c !== undefined && (min !== undefined || max !== undefined)) throw invalid(at, 'count excludes min and max')
  if (min !== undefined && max !== undefined && min > max) throw invalid(at, 'min is greater than max')
  return { rule: 'pick', ...(c !== undefined ? { count: c } : {}), ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}), ...source }
}

// ── evaluation ──────────────────────────────────────────────────────────

/** What the evaluator needs of a credential: the JWT as stored and its data model. */
export interface CandidateCredential { raw: string, dataModel: DataModel }

export interface DefinitionMatch<T extends CandidateCredential> {
  /** The credentials to present, each once, in the order of the first descriptor that chose it. */
  credentials: T[]
  /** The descriptors answered, in definition order, with the index into `credentials` of the one chosen. */
  descriptors: Array<{ id: string, credential: number }>
}

interface Decoded<T> { cred: T, alg: string, docs: unknown[] }

function fieldMatches (field: CompiledField, docs: readonly unknown[]): boolean {
  for (const path of field.paths) {
    for (const doc of docs) {
      for (const v of selectPath(doc, path)) {
        const filter = field.filter
        if (filter === undefined || filter(v)) return true
        // JWT VCs carry arrays where a definition often filters a string ($.type + {type: string, pattern}).
        if (Array.isArray(v) && v.some(x => filter(x))) return true
      }
    }
  }
  return false
}

function descriptorMatches<T> (def: CompiledDefinition, d: CompiledDescriptor, c: Decoded<T> & { dataModel: DataModel }): boolean {
  if (def.format !== undefined && !formatAllows(def.format, c.dataModel, c.alg)) return false
  if (d.format !== undefined && !formatAllows(d.format, c.dataModel, c.alg)) return false
  return d.fields.every(f => f.optional || fieldMatches(f, c.docs))
}

/**
 * The descriptors to answer for `reqs` (all of them must hold), or
 * undefined when they cannot be met. `pick` takes the first satisfiable
 * members in definition order: exactly `count`, else `min` when given
 * (as few as allowed), else as many as `max` allows.
 */
function satisfy (reqs: readonly CompiledRequirement[], def: CompiledDefinition, ok: ReadonlySet<string>): Set<string> | undefined {
  const chosen = new Set<string>()
  for (const r of reqs) {
    const members: Array<Set<string> | undefined> = 'from' in r
      ? def.descriptors.filter(d => d.groups.includes(r.from)).map(d => ok.has(d.id) ? new Set([d.id]) : undefined)
      : r.nested.map(n => satisfy([n], def, ok))
    let take: Array<Set<string> | undefined>
    if (r.rule === 'all') {
      if (members.some(m => m === undefined)) return undefined
      take = members
    } else {
      const met = members.filter((m): m is Set<string> => m !== undefined)
      const want = r.count ?? (r.min !== undefined && r.min > 0 ? r.min : r.max ?? met.length)
      if (met.length < (r.count ?? r.min ?? 0)) return undefined
      take = met.slice(0, Math.min(want, met.length))
    }
    for (const m of take) for (const id of m ?? []) chosen.add(id)
  }
  return chosen
}

/**
 * Match a compiled definition against the credentials the caller may see
 * (the caller filters them first: granted, valid, not revoked). Each
 * descriptor takes the first credential, in the given order (the route
 * passes the holder's store order, by credential id), that matches
 * its format and every non-optional field; a field matches when one of its
 * paths selects a value, in the decoded JWT payload or — for VCDM 1.1 — in
 * its `vc` claim, that the filter accepts (an array the filter refuses is
 * tried element by element). Returns undefined when the definition cannot
 * be satisfied.
 */
export function evaluateDefinition<T extends CandidateCredential> (def: CompiledDefinition, creds: readonly T[]): DefinitionMatch<T> | undefined {
  const decoded = creds.map(cred => {
    const { header, payload } = decodeJwt(cred.raw)
    const docs: unknown[] = [payload]
    if (cred.dataModel === '1.1' && isObject(payload.vc)) docs.push(payload.vc)
    return { cred, dataModel: cred.dataModel, alg: header.alg, docs }
  })
  const firstMatch = new Map<string, number>()
  for (const d of def.descriptors) {
    const i = decoded.findIndex(c => descriptorMatches(def, d, c))
    if (i >= 0) firstMatch.set(d.id, i)
  }
  const ok = new Set(firstMatch.keys())
  const answered = def.requirements === undefined
    ? (ok.size === def.descriptors.length ? ok : undefined)
    : satisfy(def.requirements, def, ok)
  if (answered === undefined) return undefined
  const credentials: T[] = []
  const position = new Map<number, number>()
  const descriptors: Array<{ id: string, credential: number }> = []
  for (const d of def.descriptors) {
    if (!answered.has(d.id)) continue
    const i = firstMatch.get(d.id) as number
    let at = position.get(i)
    if (at === undefined) {
      at = credentials.push((decoded[i] as Decoded<T>).cred) - 1
      position.set(i, at)
    }
    descriptors.push({ id: d.id, credential: at })
  }
  return { credentials, descriptors }
}

// ── the submission ──────────────────────────────────────────────────────

export type DescriptorMapEntry = {
  id: string
  format: string
  path: string
  path_nested: { id: string, format: string, path: string }
}

export type PresentationSubmission = {
  id: string
  definition_id: string
  descriptor_map: DescriptorMapEntry[]
}

/**
 * The `presentation_submission` for a match whose credentials were given,
 * in order, to `buildPresentations` (presentation.ts), which returned
 * `placements`: `path` points into the response's `presentation` array,
 * `path_nested.path` at the credential inside that (decoded) VP.
 */
export function presentationSubmission (def: CompiledDefinition, match: DefinitionMatch<CandidateCredential>, placements: readonly Placement[], id = `urn:uuid:${randomUUID()}`): PresentationSubmission {
  return {
    id,
    definition_id: def.id,
    descriptor_map: match.descriptors.map(d => {
      const p = placements[d.credential]
      if (p === undefined) throw new Error(`no placement for credential ${d.credential}`)
      return { id: d.id, format: p.vpFormat, path: `$.presentation[${p.presentation}]`, path_nested: { id: d.id, format: p.vcFormat, path: p.nestedPath } }
    })
  }
}

/** {@link presentationResponse} (presentation.ts) with a `presentationSubmission`, checked against the official schema. */
export function presentationResponseWithSubmission (vps: string[], submission: PresentationSubmission): PresentationResponseMessage {
  const msg: PresentationResponseMessage = {
    '@context': [DCP_CONTEXT],
    type: 'PresentationResponseMessage',
    presentation: [...vps],
    presentationSubmission: submission
  }
  validatePresentationResponse(msg)
  return msg
}
