import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BadRequestError } from '../../errors.js'
import type { DataModel } from '../vc.js'
import {
  compileDefinition, evaluateDefinition, linearRegExpAvailable, parseJsonPath, PE_LIMITS, presentationResponseWithSubmission,
  presentationSubmission, selectPath, type CandidateCredential
} from './presentation-exchange.js'
import type { Placement } from './presentation.js'

const b64u = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
/** An unsigned-looking JWT: the evaluator decodes, it never verifies (the issuer's signature was checked at storage). */
const jwt = (payload: Record<string, unknown>, alg = 'EdDSA'): string => `${b64u({ alg, typ: 'JWT' })}.${b64u(payload)}.c2ln`

interface Cred extends CandidateCredential { name: string }

function v11 (name: string, types: string[], subject: Record<string, unknown> = {}, alg = 'EdDSA'): Cred {
  return {
    name,
    dataModel: '1.1',
    raw: jwt({ iss: 'did:web:issuer', sub: 'did:web:acme', jti: `urn:${name}`, vc: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiableCredential', ...types], credentialSubject: { id: 'did:web:acme', ...subject } } }, alg)
  }
}
function v20 (name: string, types: string[], subject: Record<string, unknown> = {}): Cred {
  return {
    name,
    dataModel: '2.0' as DataModel,
    raw: jwt({ '@context': ['https://www.w3.org/ns/credentials/v2'], type: ['VerifiableCredential', ...types], issuer: 'did:web:issuer', credentialSubject: { id: 'did:web:acme', ...subject } })
  }
}

const member = v11('member', ['MembershipCredential'], { level: 'gold', since: 2019 })
const silver = v11('silver', ['MembershipCredential'], { level: 'silver', since: 2023 })
const other = v11('other', ['OtherCredential'])
const modern = v20('modern', ['ModernCredential'], { level: 'gold' })
const es256 = v11('es256', ['EsCredential'], {}, 'ES256')
const all = [member, silver, other, modern, es256]

const byType = (id: string, type: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ id, constraints: { fields: [{ path: ['$.type'], filter: { type: 'string', const: type } }] }, ...extra })

function pick (def: unknown, creds: readonly Cred[] = all): { names: string[], map: Array<[string, string]> } | undefined {
  const m = evaluateDefinition(compileDefinition(def), creds)
  if (m === undefined) return undefined
  return { names: m.credentials.map(c => c.name), map: m.descriptors.map(d => [d.id, (m.credentials[d.credential] as Cred).name]) }
}

/** The BadRequestError a definition is refused with. */
function refusal (def: unknown): BadRequestError {
  try {
    compileDefinition(def)
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError)
    return err as BadRequestError
  }
  throw new Error('expected the definition to be refused')
}

describe('JSONPath subset', () => {
  it('parses names, quoted names, indices and wildcards', () => {
    expect(parseJsonPath('$')).toEqual([])
    expect(parseJsonPath('$.vc.credentialSubject[\'level\']["x y"][0][*].*')).toEqual([
      { kind: 'name', name: 'vc' }, { kind: 'name', name: 'credentialSubject' }, { kind: 'name', name: 'level' },
      { kind: 'name', name: 'x y' }, { kind: 'index', index: 0 }, { kind: 'wildcard' }, { kind: 'wildcard' }
    ])
    expect(parseJsonPath('$.@context')).toEqual([{ kind: 'name', name: '@context' }])
    expect(parseJsonPath(String.raw`$['it\'s']["a\"b"]['back\\slash']`)).toEqual([
      { kind: 'name', name: 'it\'s' }, { kind: 'name', name: 'a"b' }, { kind: 'name', name: 'back\\slash' }
    ])
  })

  it('refuses filter and script expressions, recursive descent, slices, unions and negative indices as unsupported features', () => {
    for (const [path, feature] of [
      ['$.credentialSubject[?(@.level=="gold")]', 'jsonpath filter expressions ([?(…)])'],
      ['$[(@.length-1)]', 'jsonpath script expressions ([(…)])'],
      ['$..type', 'jsonpath recursive descent (..)'],
      ['$.type[0:2]', 'jsonpath array slicing ([a:b])'],
      ['$.type[:2]', 'jsonpath array slicing ([a:b])'],
      ['$.type[0,1]', 'jsonpath unions ([a,b])'],
      ["$['a','b']", 'jsonpath unions ([a,b])'],
      ['$.type[-1]', 'jsonpath negative indices']
    ]) {
      let err: unknown
      try { parseJsonPath(path) } catch (e) { err = e }
      expect(err, path).toBeInstanceOf(BadRequestError)
      expect((err as BadRequestError).details, path).toMatchObject({ reason: 'unsupported_feature', feature })
    }
  })

  it('refuses malformed and hostile paths as invalid (never a crash, never a partial parse)', () => {
    for (const path of ['', 'type', '$.', '$.1abc', '$[', "$['open", '$[01]', '$[1', '$.a b', '$$', '$.a.', "$['a\\x']", "$['\u0001']", '$[abc]', '$.a]']) {
      expect(() => parseJsonPath(path), path).toThrow(BadRequestError)
    }
    expect(() => parseJsonPath(42)).toThrow(BadRequestError)
    expect(() => parseJsonPath('$' + '.a'.repeat(200))).toThrow(/pathChars/)
    expect(() => parseJsonPath('$' + '.a'.repeat(PE_LIMITS.pathSegments + 1))).toThrow(/pathSegments/)
    expect(() => parseJsonPath('$' + '.a'.repeat(PE_LIMITS.pathSegments))).not.toThrow()
    expect(() => parseJsonPath(`$[${PE_LIMITS.pathIndex + 1}]`)).toThrow(/pathIndex/)
  })

  it('selects own properties only: nothing from the prototype chain', () => {
    const doc = JSON.parse('{"a":{"b":[1,{"c":2}]},"__proto__":{"x":1}}') as unknown
    expect(selectPath(doc, parseJsonPath('$.a.b[1].c'))).toEqual([2])
    expect(selectPath(doc, parseJsonPath('$.a.b[*]'))).toEqual([1, { c: 2 }])
    expect(selectPath(doc, parseJsonPath('$.a.*'))).toEqual([[1, { c: 2 }]])
    expect(selectPath(doc, parseJsonPath('$.a.b[5]'))).toEqual([])
    expect(selectPath(doc, parseJsonPath('$.a.constructor'))).toEqual([])
    expect(selectPath(doc, parseJsonPath('$.a.b.length'))).toEqual([])
    expect(selectPath(doc, parseJsonPath('$.toString'))).toEqual([])
    expect(selectPath(doc, parseJsonPath("$['__proto__'].x"))).toEqual([1]) // an own key of the JSON, not the prototype
    expect(selectPath({ a: [0] }, parseJsonPath('$.a[0]'))).toEqual([0])
    expect(selectPath({ a: { 0: 'x' } }, parseJsonPath('$.a[0]'))).toEqual([]) // an index applies to arrays only
  })
})

describe('matching credentials', () => {
  it('one descriptor by type: $.type reaches the VCDM 1.1 vc claim, and the array rule tries each element', () => {
    expect(pick({ id: 'd', input_descriptors: [byType('m', 'MembershipCredential')] })).toEqual({ names: ['member'], map: [['m', 'member']] })
    // The same through $.vc.type, and for a VCDM 2.0 credential (claims = credential) through $.type.
    expect(pick({ id: 'd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.vc.type'], filter: { type: 'string', const: 'OtherCredential' } }] } }] })?.names).toEqual(['other'])
    expect(pick({ id: 'd', input_descriptors: [byType('m', 'ModernCredential')] })?.names).toEqual(['modern'])
    // $.vc.type does not exist in a VCDM 2.0 payload.
    expect(pick({ id: 'd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.vc.type'], filter: { type: 'string', const: 'ModernCredential' } }] } }] })).toBeUndefined()
    // A filter that accepts the array itself is applied to it as a whole.
    expect(pick({ id: 'd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.type'], filter: { type: 'array', contains: { const: 'OtherCredential' } } }] } }] })?.names).toEqual(['other'])
    expect(pick({ id: 'd', input_descriptors: [byType('m', 'NoSuchCredential')] })).toBeUndefined()
  })

  it('field filters on claim values; paths tried in order; optional fields need not match; a path without filter needs a value', () => {
    const level = (l: string): unknown => ({ id: 'd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.credentialSubject.level'], filter: { type: 'string', const: l } }] } }] })
    expect(pick(level('silver'))?.names).toEqual(['silver'])
    expect(pick(level('gold'))?.names).toEqual(['member']) // first in order; modern (2.0) is gold too
    expect(pick(level('gold'), [modern, member])?.names).toEqual(['modern'])
    expect(pick(level('platinum'))).toBeUndefined()
    const since = { id: 'd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.type'], filter: { type: 'string', const: 'MembershipCredential' } }, { path: ['$.nowhere', '$.vc.credentialSubject.since'], filter: { type: 'integer', minimum: 2020 } }] } }] }
    expect(pick(since)?.names).toEqual(['silver'])
    const exists = (path: string, optional?: boolean): unknown => ({ id: 'd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: [path], ...(optional !== undefined ? { optional } : {}) }] } }] })
    expect(pick(exists('$.credentialSubject.since'), [other, silver])?.names).toEqual(['silver'])
    expect(pick(exists('$.credentialSubject.nothing'))).toBeUndefined()
    expect(pick(exists('$.credentialSubject.nothing', true), [other, silver])?.names).toEqual(['other'])
    // A descriptor without constraints takes the first credential.
    expect(pick({ id: 'd', input_descriptors: [{ id: 'any' }] }, [silver, member])?.names).toEqual(['silver'])
  })

  it('the official example ($.type + a string pattern) matches a JWT VC once its ldp_vc format is lifted, and not with it', () => {
    const example = JSON.parse(readFileSync(new URL('../../../protocols/dcp/presentation/example/presentation-query-message-w-presentation-definition.json', import.meta.url), 'utf8')) as { presentationDefinition: { input_descriptors: Array<Record<string, unknown>> } }
    const def = example.presentationDefinition
    const org = v11('org', ['OrganizationCredential'])
    expect(pick(def, [org, member])).toBeUndefined() // ldp_vc: nothing this hub holds is in that format
    const withoutFormat = { ...def, input_descriptors: def.input_descriptors.map(({ format: _f, ...d }) => d) }
    expect(pick(withoutFormat, [member, org])?.names).toEqual(['org'])
  })

  it('format: jwt_vc / jwt_vc_json / jwt for VCDM 1.1, vc+jwt / jwt for 2.0, alg checked against the JWT header, definition and descriptor formats both apply', () => {
    const d = (format: unknown, where: 'descriptor' | 'definition' = 'descriptor'): unknown => where === 'descriptor'
      ? { id: 'd', input_descriptors: [{ id: 'x', format }] }
      : { id: 'd', format, input_descriptors: [{ id: 'x' }] }
    expect(pick(d({ jwt_vc: {} }), [modern, member])?.names).toEqual(['member'])
    expect(pick(d({ jwt_vc_json: {} }), [modern, member])?.names).toEqual(['member'])
    expect(pick(d({ 'vc+jwt': {} }), [member, modern])?.names).toEqual(['modern'])
    expect(pick(d({ jwt: {} }), [modern, member])?.names).toEqual(['modern'])
    expect(pick(d({ jwt_vc: { alg: ['ES256'] } }), [member, es256])?.names).toEqual(['es256'])
    expect(pick(d({ jwt_vc: { alg: ['ES256'] } }, 'definition'), [member, es256])?.names).toEqual(['es256'])
    expect(pick(d({ jwt_vc: { alg: ['RS256'] } }))).toBeUndefined()
    expect(pick(d({ ldp_vc: { proof_type: ['Ed25519Signature2018'] } }))).toBeUndefined()
    expect(pick(d({ mso_mdoc: { alg: ['ES256'] } }))).toBeUndefined()
    // VP designations speak about the presentation: 1.1 credentials go in a jwt_vp (EdDSA), 2.0 in a vp+jwt.
    expect(pick(d({ jwt_vp: { alg: ['EdDSA'] } }, 'definition'), [modern, member])?.names).toEqual(['member'])
    expect(pick(d({ jwt_vp: { alg: ['ES256'] } }, 'definition'))).toBeUndefined()
    expect(pick(d({ 'vp+jwt': {}, 'vc+jwt': {} }, 'definition'), [member, modern])?.names).toEqual(['modern'])
    // Both formats restrict: the definition allows 1.1, the descriptor 2.0 → nothing.
    expect(pick({ id: 'd', format: { jwt_vc: {} }, input_descriptors: [{ id: 'x', format: { 'vc+jwt': {} } }] })).toBeUndefined()
    // Options that do not apply to a JWT format are refused rather than ignored.
    expect(refusal(d({ jwt_vc: { proof_type: ['x'] } })).details).toMatchObject({ reason: 'unsupported_feature', feature: 'format jwt_vc.proof_type' })
    expect(refusal(d({})).details).toMatchObject({ reason: 'invalid_definition' })
    expect(refusal(d({ jwt_vc: { alg: 'EdDSA' } })).details).toMatchObject({ reason: 'invalid_definition', at: 'input_descriptors[0].format.jwt_vc.alg' })
  })

  it('several descriptors: all must be satisfied without submission_requirements; one credential answering two descriptors is presented once', () => {
    const both = { id: 'd', input_descriptors: [byType('a', 'MembershipCredential'), byType('b', 'OtherCredential')] }
    expect(pick(both)).toEqual({ names: ['member', 'other'], map: [['a', 'member'], ['b', 'other']] })
    expect(pick(both, [member, silver])).toBeUndefined()
    const twice = { id: 'd', input_descriptors: [byType('a', 'MembershipCredential'), { id: 'b', constraints: { fields: [{ path: ['$.credentialSubject.level'], filter: { const: 'gold' } }] } }] }
    expect(pick(twice)).toEqual({ names: ['member'], map: [['a', 'member'], ['b', 'member']] })
  })
})

describe('submission requirements', () => {
  const descriptors = [
    byType('member', 'MembershipCredential', { group: ['A'] }),
    byType('other', 'OtherCredential', { group: ['A'] }),
    byType('missing', 'NoSuchCredential', { group: ['A', 'B'] }),
    byType('modern', 'ModernCredential', { group: ['B'] })
  ]
  const def = (reqs: unknown[]): unknown => ({ id: 'd', input_descriptors: descriptors, submission_requirements: reqs })

  it('all: every descriptor of the group; descriptors of no named group are not answered', () => {
    expect(pick(def([{ rule: 'all', from: 'A' }]))).toBeUndefined() // "missing" is in A
    expect(pick({ id: 'd', input_descriptors: descriptors.slice(0, 2).concat(descriptors[3] as never), submission_requirements: [{ rule: 'all', from: 'A' }] }))
      .toEqual({ names: ['member', 'other'], map: [['member', 'member'], ['other', 'other']] })
  })

  it('pick count: exactly count, the first satisfiable in definition order', () => {
    expect(pick(def([{ rule: 'pick', count: 1, from: 'A' }]))?.map).toEqual([['member', 'member']])
    expect(pick(def([{ rule: 'pick', count: 2, from: 'A' }]))?.map).toEqual([['member', 'member'], ['other', 'other']])
    expect(pick(def([{ rule: 'pick', count: 3, from: 'A' }]))).toBeUndefined()
    expect(pick(def([{ rule: 'pick', count: 1, from: 'A' }]), [other])?.map).toEqual([['other', 'other']])
  })

  it('pick min/max: min when given (as few as allowed), else up to max; fewer than min is unsatisfiable', () => {
    expect(pick(def([{ rule: 'pick', min: 1, max: 3, from: 'A' }]))?.map).toEqual([['member', 'member']])
    expect(pick(def([{ rule: 'pick', max: 3, from: 'A' }]))?.map).toEqual([['member', 'member'], ['other', 'other']])
    expect(pick(def([{ rule: 'pick', max: 1, from: 'A' }]))?.map).toEqual([['member', 'member']])
    expect(pick(def([{ rule: 'pick', min: 3, from: 'A' }]))).toBeUndefined()
    expect(pick(def([{ rule: 'pick', min: 0, max: 1, from: 'B' }]), [member])).toEqual({ names: [], map: [] })
  })

  it('several requirements must all hold; from_nested combines them', () => {
    expect(pick(def([{ rule: 'pick', count: 1, from: 'A' }, { rule: 'pick', count: 1, from: 'B' }]))?.map).toEqual([['member', 'member'], ['modern', 'modern']])
    expect(pick(def([{ rule: 'pick', count: 1, from: 'A' }, { rule: 'all', from: 'B' }]))).toBeUndefined()
    const nested = def([{ rule: 'pick', count: 1, from_nested: [{ rule: 'all', from: 'B' }, { rule: 'pick', count: 2, from: 'A' }] }])
    expect(pick(nested)?.map).toEqual([['member', 'member'], ['other', 'other']])
    expect(pick(nested, [member])).toBeUndefined()
    const allNested = def([{ rule: 'all', from_nested: [{ rule: 'pick', count: 1, from: 'A' }, { rule: 'pick', count: 1, from: 'B' }] }])
    expect(pick(allNested)?.names).toEqual(['member', 'modern'])
    expect(pick(allNested, [member, other])).toBeUndefined()
  })

  it('refuses malformed requirements', () => {
    for (const [reqs, at] of [
      [[{ rule: 'all' }], 'submission_requirements[0]'],
      [[{ rule: 'all', from: 'A', from_nested: [] }], 'submission_requirements[0]'],
      [[{ rule: 'any', from: 'A' }], 'submission_requirements[0].rule'],
      [[{ rule: 'pick', from: 'A' }], 'submission_requirements[0]'],
      [[{ rule: 'pick', count: 1, min: 1, from: 'A' }], 'submission_requirements[0]'],
      [[{ rule: 'pick', min: 2, max: 1, from: 'A' }], 'submission_requirements[0]'],
      [[{ rule: 'pick', count: -1, from: 'A' }], 'submission_requirements[0].count'],
      [[{ rule: 'pick', count: 1.5, from: 'A' }], 'submission_requirements[0].count'],
      [[{ rule: 'all', count: 1, from: 'A' }], 'submission_requirements[0]'],
      [[{ rule: 'all', from: 'Z' }], 'submission_requirements[0].from'],
      [[], 'submission_requirements'],
      [[{ rule: 'all', from_nested: [] }], 'submission_requirements[0].from_nested']
    ] as Array<[unknown[], string]>) {
      expect(refusal(def(reqs)).details, JSON.stringify(reqs)).toMatchObject({ reason: 'invalid_definition', at })
    }
  })
})

describe('refused definitions: structure, unsupported features, caps', () => {
  const d1 = (descriptor: Record<string, unknown>, top: Record<string, unknown> = {}): unknown => ({ id: 'd', input_descriptors: [{ id: 'x', ...descriptor }], ...top })
  const field = (f: Record<string, unknown>): unknown => d1({ constraints: { fields: [{ path: ['$.type'], ...f }] } })

  it('invalid structure', () => {
    for (const def of [null, [], 'x', {}, { id: 'd' }, { id: '', input_descriptors: [{ id: 'x' }] }, { id: 'd', input_descriptors: [] }, { id: 'd', input_descriptors: [{}] },
      { id: 'd', input_descriptors: [{ id: 'x' }, { id: 'x' }] }, d1({ constraints: [] }), d1({ constraints: { fields: {} } }), d1({ group: [] }), d1({ group: [1] }),
      field({ path: [] }), field({ path: '$.type' }), field({ optional: 'yes' }), field({ predicate: 'maybe' }), d1({ constraints: { limit_disclosure: 'never' } })]) {
      expect(refusal(def).details, JSON.stringify(def)).toMatchObject({ reason: 'invalid_definition' })
    }
  })

  it('unsupported features are named, never ignored', () => {
    for (const [def, feature] of [
      [d1({}, { frame: {} }), 'frame'],
      [d1({ schema: [{ uri: 'x' }] }), 'schema'],
      [d1({ constraints: { limit_disclosure: 'required' } }), 'limit_disclosure'],
      [d1({ constraints: { subject_is_issuer: 'required' } }), 'subject_is_issuer'],
      [d1({ constraints: { is_holder: [] } }), 'is_holder'],
      [d1({ constraints: { same_subject: [] } }), 'same_subject'],
      [d1({ constraints: { statuses: { active: { directive: 'required' } } } }), 'statuses'],
      [field({ predicate: 'required', filter: { type: 'string' } }), 'predicate'],
      [field({ filter_: {} }), 'filter_'],
      [field({ filter: { $async: true, type: 'string' } }), 'filter $async'],
      [field({ filter: { $id: 'https://evil.example/s', type: 'string' } }), 'filter $id'],
      [field({ filter: { $ref: 'https://evil.example/s.json' } }), 'filter $ref'],
      [field({ filter: { $ref: '#' } }), 'filter $ref'],
      [field({ filter: { $ref: '#/definitions/l', definitions: { l: { enum: ['silver'] } } } }), 'filter $ref'],
      [field({ filter: { type: 'object', properties: { a: { $recursiveRef: '#' } } } }), 'filter $ref'],
      [d1({}, { extension: true }), 'extension']
    ] as Array<[unknown, string]>) {
      const err = refusal(def)
      expect(err.details, feature).toMatchObject({ reason: 'unsupported_feature', feature })
      expect(err.message).toContain(feature.split(' ').pop())
    }
    // The "preferred" forms are allowed: presenting the whole credential is what they permit.
    expect(() => compileDefinition(d1({ constraints: { limit_disclosure: 'preferred', fields: [{ path: ['$.type'], predicate: 'preferred', filter: { type: 'string' }, intent_to_retain: true }] } }))).not.toThrow()
  })

  it('filters: invalid schemas, unknown keywords and formats are refused; definitions without $ref and formats work', () => {
    for (const filter of [{ type: 'strin' }, { minimum: 'x' }, { cosnt: 'x' }, { type: 'string', format: 'no-such-format' }, 42, [], null]) {
      expect(refusal(field({ filter })).details, JSON.stringify(filter)).toMatchObject({ reason: 'invalid_definition', at: 'input_descriptors[0].constraints.fields[0].filter' })
    }
    const def = { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.credentialSubject.level'], filter: { enum: ['silver'] } }] } }] }
    expect(pick(def)?.names).toEqual(['silver'])
    const dated = v11('dated', ['D'], { at: '2024-01-02T03:04:05Z' })
    const notDated = v11('notDated', ['D'], { at: 'yesterday' })
    expect(pick({ id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.credentialSubject.at'], filter: { type: 'string', format: 'date-time' } }] } }] }, [notDated, dated])?.names).toEqual(['dated'])
    expect(pick({ id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.type'], filter: false }] } }] })).toBeUndefined()
  })

  it('regex bombs: patterns run on the linear-time engine (a catastrophic pattern answers at once), non-linear patterns are refused, long ones capped', () => {
    expect(linearRegExpAvailable()).toBe(true)
    const long = v11('long', ['L'], { name: 'a'.repeat(50_000) + '!' })
    const bomb = { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.credentialSubject.name'], filter: { type: 'string', pattern: '^(a+)+$' } }] } }] }
    // With the backtracking engine this does not return in any useful time; here it is linear.
    expect(pick(bomb, [long])).toBeUndefined()
    const nested = { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.credentialSubject.name'], filter: { type: 'string', pattern: '^((a|aa)*)*!$' } }] } }] }
    expect(pick(nested, [long])?.names).toEqual(['long'])
    for (const pattern of ['(a)\\1', '(?=a)a', '(?<!b)a', 'a{1,100000}']) {
      const err = refusal(field({ filter: { type: 'string', pattern } }))
      expect(err.details, pattern).toMatchObject({ reason: 'invalid_definition' })
      expect(err.message).toMatch(/linear time/)
    }
    expect(refusal(field({ filter: { type: 'string', pattern: 'a'.repeat(PE_LIMITS.patternChars + 1) } })).message).toMatch(/patternChars/)
    expect(refusal(field({ filter: { type: 'object', patternProperties: { '^(a)\\1$': { type: 'string' } } } })).message).toMatch(/linear time/)
    // Ajv's strict mode would test each patternProperties pattern against the names in properties with the backtracking engine, at compile time.
    const compileBomb = field({ filter: { type: 'object', properties: { ['a'.repeat(40) + '!']: { type: 'string' } }, patternProperties: { '^(a+)+$': { type: 'string' } } } })
    expect(() => compileDefinition(compileBomb)).not.toThrow()
  })

  it('caps: descriptors, fields, paths, groups, filter size and depth, requirement count and depth, the whole definition', () => {
    const many = (n: number, f: (i: number) => unknown): unknown[] => Array.from({ length: n }, (_, i) => f(i))
    const expectLimit = (def: unknown, limit: keyof typeof PE_LIMITS): void => {
      expect(refusal(def).details, limit).toMatchObject({ reason: 'limit_exceeded', limit, max: PE_LIMITS[limit] })
    }
    expectLimit({ id: 'd', input_descriptors: many(PE_LIMITS.inputDescriptors + 1, i => ({ id: `x${i}` })) }, 'inputDescriptors')
    expect(() => compileDefinition({ id: 'd', input_descriptors: many(PE_LIMITS.inputDescriptors, i => ({ id: `x${i}` })) })).not.toThrow()
    expectLimit(d1({ constraints: { fields: many(PE_LIMITS.fieldsPerDescriptor + 1, () => ({ path: ['$.type'] })) } }), 'fieldsPerDescriptor')
    expectLimit({ id: 'd', input_descriptors: many(3, i => ({ id: `x${i}`, constraints: { fields: many(PE_LIMITS.fieldsPerDescriptor, () => ({ path: ['$.type'] })) } })) }, 'fieldsTotal')
    expectLimit(field({ path: many(PE_LIMITS.pathsPerField + 1, () => '$.type') }), 'pathsPerField')
    expectLimit(d1({ group: many(PE_LIMITS.groupsPerDescriptor + 1, i => `g${i}`) }), 'groupsPerDescriptor')
    expectLimit(d1({ id: 'x'.repeat(PE_LIMITS.idChars + 1) }), 'idChars')
    expectLimit(d1({ purpose: 'x'.repeat(PE_LIMITS.textChars + 1) }), 'textChars')
    expectLimit(field({ filter: { enum: many(2000, i => `value-${i}`) } }), 'filterChars')
    let deep: unknown = { type: 'string' }
    for (let i = 0; i < PE_LIMITS.filterDepth; i++) deep = { not: deep }
    expectLimit(field({ filter: deep }), 'filterDepth')
    expectLimit(d1({ format: Object.fromEntries(many(PE_LIMITS.formatDesignations + 1, i => [`f${i}`, {}]) as Array<[string, unknown]>) }), 'formatDesignations')
    expectLimit(d1({ format: { jwt_vc: { alg: many(PE_LIMITS.algorithms + 1, i => `A${i}`) } } }), 'algorithms')
    expectLimit(d1({ group: ['g'] }, { submission_requirements: many(PE_LIMITS.submissionRequirements + 1, () => ({ rule: 'all', from: 'g' })) }), 'submissionRequirements')
    let nested: Record<string, unknown> = { rule: 'all', from: 'g' }
    for (let i = 0; i < PE_LIMITS.submissionDepth; i++) nested = { rule: 'all', from_nested: [nested] }
    expectLimit(d1({ group: ['g'] }, { submission_requirements: [nested] }), 'submissionDepth')
    expectLimit(d1({ name: 'n' }, { purpose: 'p', name: 'n', padding_is_refused_later: 'x'.repeat(PE_LIMITS.definitionChars) }), 'definitionChars')
  })

  it('a definition that is not JSON-serialisable or cyclic is a 400, not a crash', () => {
    const cyclic: Record<string, unknown> = { id: 'd', input_descriptors: [{ id: 'x' }] }
    cyclic.self = cyclic
    expect(refusal(cyclic).details).toMatchObject({ reason: 'invalid_definition' })
  })
})

describe('presentation submission', () => {
  it('maps each answered descriptor to its VP and to the credential inside it, and passes the official response schema', () => {
    const def = compileDefinition({ id: 'def-1', input_descriptors: [byType('a', 'MembershipCredential'), byType('b', 'ModernCredential'), { id: 'c', constraints: { fields: [{ path: ['$.credentialSubject.level'], filter: { const: 'gold' } }] } }] })
    const m = evaluateDefinition(def, all)
    expect(m?.credentials.map(c => (c as Cred).name)).toEqual(['member', 'modern'])
    const placements: Placement[] = [
      { presentation: 0, index: 0, vpFormat: 'jwt_vp', vcFormat: 'jwt_vc', nestedPath: '$.vp.verifiableCredential[0]' },
      { presentation: 1, index: 0, vpFormat: 'vp+jwt', vcFormat: 'vc+jwt', nestedPath: '$.verifiableCredential[0]' }
    ]
    const sub = presentationSubmission(def, m as NonNullable<typeof m>, placements, 'sub-1')
    expect(sub).toEqual({
      id: 'sub-1',
      definition_id: 'def-1',
      descriptor_map: [
        { id: 'a', format: 'jwt_vp', path: '$.presentation[0]', path_nested: { id: 'a', format: 'jwt_vc', path: '$.vp.verifiableCredential[0]' } },
        { id: 'b', format: 'vp+jwt', path: '$.presentation[1]', path_nested: { id: 'b', format: 'vc+jwt', path: '$.verifiableCredential[0]' } },
        { id: 'c', format: 'jwt_vp', path: '$.presentation[0]', path_nested: { id: 'c', format: 'jwt_vc', path: '$.vp.verifiableCredential[0]' } }
      ]
    })
    expect(presentationResponseWithSubmission(['vp1', 'vp2'], sub)).toMatchObject({ type: 'PresentationResponseMessage', presentation: ['vp1', 'vp2'], presentationSubmission: sub })
    expect(presentationSubmission(def, m as NonNullable<typeof m>, placements).id).toMatch(/^urn:uuid:/)
  })
})
