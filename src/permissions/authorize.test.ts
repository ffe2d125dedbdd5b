/**
 * Property tests of authorize() against a small reference model written here,
 * independently of the implementation (it does not call grantAllows or
 * isValidAllow). The model IS the spec: if the two disagree, the
 * implementation is suspect.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { InterfaceName } from '../commits/commit.js'
import { asDid, asObjectId, type Did, type ObjectId } from '../ids.js'
import { authorize, type AccessRequest, type Action, type Decision, type DeviceGrant, type Grant } from './authorize.js'

// ---------------------------------------------------------------------------
// Reference model
// ---------------------------------------------------------------------------

type ModelAnswer =
  | { allowed: true, via: 'owner' | 'public' | 'device' }
  | { allowed: true, via: 'grant', satisfying: string[] }
  | { allowed: false }

const CRUD = 'CRUD'
const ACTION_POSITION: Record<Action, number> = { create: 0, read: 1, update: 2, delete: 3 }

/** Before `at` (exclusive): a time limit AT now has already passed. */
function live (limit: number | undefined, now: number): boolean {
  return limit === undefined || now < limit
}

/** A DIF CRUD string: exactly four characters, position i is CRUD[i] or '-'. */
function modelValidAllow (allow: string): boolean {
  if (allow.length !== 4) return false
  for (let i = 0; i < 4; i++) {
    const ch = allow.charAt(i)
    if (ch !== '-' && ch !== CRUD.charAt(i)) return false
  }
  return true
}

function modelGrantSatisfies (g: Grant, req: AccessRequest): boolean {
  const pos = ACTION_POSITION[req.action]
  return req.interface === 'Collections' &&
    g.owner === req.owner &&
    g.grantee === req.caller &&
    modelValidAllow(g.allow) &&
    g.allow.charAt(pos) === CRUD.charAt(pos) &&
    g.context === req.context &&
    g.type === req.type &&
    (g.objectId === undefined || g.objectId === req.objectId) &&
    live(g.expiresAt, req.now) &&
    live(g.revokedAt, req.now)
}

function modelDeviceAllows (role: DeviceGrant['role'], req: AccessRequest): boolean {
  // A blind hub gets only what sync serves it; every request of its own is refused.
  if (role === 'blind') return false
  // owner-device
  if (req.interface === 'Permissions') return req.action === 'read'
  return true
}

function model (req: AccessRequest, grants: readonly Grant[], devices: readonly DeviceGrant[]): ModelAnswer {
  if (req.caller === req.owner) return { allowed: true, via: 'owner' }
  if (req.interface === 'Profile' && req.action === 'read') return { allowed: true, via: 'public' }
  const liveDevices = devices.filter(d => d.device === req.caller && live(d.revokedAt, req.now))
  if (liveDevices.length > 0) {
    // Several live authorizations of the same hub DID: the decision must not
    // depend on their order, so the caller gets what any of them allows.
    return liveDevices.some(d => modelDeviceAllows(d.role, req)) ? { allowed: true, via: 'device' } : { allowed: false }
  }
  if (req.interface !== 'Collections') return { allowed: false }
  const satisfying = grants.filter(g => modelGrantSatisfies(g, req)).map(g => g.id)
  return satisfying.length > 0 ? { allowed: true, via: 'grant', satisfying } : { allowed: false }
}

function expectAgrees (d: Decision, m: ModelAnswer): void {
  expect(d.allowed).toBe(m.allowed)
  if (d.allowed && m.allowed) {
    expect(d.via).toBe(m.via)
    if (m.via === 'grant') expect(m.satisfying).toContain(d.grantId)
  }
  if (!d.allowed) expect(typeof d.reason).toBe('string')
}

// ---------------------------------------------------------------------------
// Generators: tiny pools, so that owner/caller/grantee and the rest collide often
// ---------------------------------------------------------------------------

const DIDS: readonly Did[] = ['did:example:alice', 'did:example:bob', 'did:example:carol'].map(asDid)
const CONTEXTS = ['https://schema.org', 'https://example.com/ns'] as const
const TYPES = ['Note', 'Photo'] as const
const OBJECT_IDS: readonly ObjectId[] = ['bafyobjone', 'bafyobjtwo'].map(asObjectId)
const ACTIONS: readonly Action[] = ['create', 'read', 'update', 'delete']
const INTERFACES: readonly InterfaceName[] = ['Collections', 'Profile', 'Permissions']
const INVALID_ALLOWS = ['RRRR', '', 'CRU', 'crud', '-r--', 'CRUDD', 'CRUD ', ' CRU', 'DURC', 'R---', '--R-', '-R-', 'CRUD\n', '****', 'C\u0000UD']

const didArb = fc.constantFrom(...DIDS)
const objectIdArb = fc.option(fc.constantFrom(...OBJECT_IDS), { nil: undefined, freq: 3 })
const validAllowArb = fc.tuple(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean())
  .map(bits => bits.map((b, i) => (b ? CRUD.charAt(i) : '-')).join(''))
const allowArb = fc.oneof(
  { weight: 6, arbitrary: validAllowArb },
  { weight: 3, arbitrary: fc.constantFrom(...INVALID_ALLOWS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 5, unit: fc.constantFrom('C', 'R', 'U', 'D', '-', 'c', 'r', 'x') }) }
)
/** A time limit near `now`: before, equal, just after, or absent. */
const limitArb = (now: number): fc.Arbitrary<number | undefined> =>
  fc.option(fc.integer({ min: -3, max: 3 }).map(off => now + off), { nil: undefined, freq: 2 })

const requestArb: fc.Arbitrary<AccessRequest> = fc.record({
  caller: didArb,
  owner: didArb,
  action: fc.constantFrom(...ACTIONS),
  interface: fc.constantFrom(...INTERFACES),
  context: fc.option(fc.constantFrom(...CONTEXTS), { nil: undefined, freq: 8 }),
  type: fc.option(fc.constantFrom(...TYPES), { nil: undefined, freq: 8 }),
  objectId: objectIdArb,
  now: fc.integer({ min: 10, max: 2_000_000_000_000 })
})

/** The request's own value (3 times in 4) or one from the pool. */
const near = <T>(own: T, pool: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(own) }, { weight: 1, arbitrary: pool })

/** A grant, often close to `req` (each field copied from it or drawn from the pool). */
const grantArb = (req: AccessRequest, id: string): fc.Arbitrary<Grant> => fc.record({
  id: fc.constant(id),
  owner: near(req.owner, didArb),
  grantee: near(req.caller, didArb),
  context: near(req.context ?? CONTEXTS[0], fc.constantFrom(...CONTEXTS)),
  type: near(req.type ?? TYPES[0], fc.constantFrom(...TYPES)),
  allow: allowArb,
  objectId: near(req.objectId, objectIdArb),
  expiresAt: limitArb(req.now),
  revokedAt: limitArb(req.now)
}, { requiredKeys: ['id', 'owner', 'grantee', 'context', 'type', 'allow'] })

const deviceArb = (req: AccessRequest): fc.Arbitrary<DeviceGrant> => fc.record({
  device: fc.oneof(fc.constant(req.caller), didArb),
  role: fc.constantFrom('owner-device' as const, 'blind' as const),
  revokedAt: limitArb(req.now)
}, { requiredKeys: ['device', 'role'] })

const grantsArb = (req: AccessRequest, min: number, max: number, prefix = 'g'): fc.Arbitrary<Grant[]> =>
  fc.integer({ min, max }).chain(n => fc.tuple(...Array.from({ length: n }, (_, i) => grantArb(req, `${prefix}${i}`))))

interface Scenario { req: AccessRequest, grants: Grant[], devices: DeviceGrant[] }

const scenarioArb: fc.Arbitrary<Scenario> = requestArb.chain(req => fc.record({
  req: fc.constant(req),
  grants: grantsArb(req, 0, 5),
  devices: fc.array(deviceArb(req), { maxLength: 2 })
}))

/** Collections requests by a non-owner with no devices in play: only grants decide. */
const grantOnlyScenarioArb: fc.Arbitrary<Scenario> = requestArb
  .filter(r => r.caller !== r.owner)
  .map(r => ({ ...r, interface: 'Collections' as const }))
  .chain(req => fc.record({ req: fc.constant(req), grants: grantsArb(req, 0, 5), devices: fc.constant([]) }))

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

const RUNS = 5000

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

describe('authorize() against the reference model', () => {
  it('agrees with the model on allowed/denied, via, and the grant it names', () => {
    const seen: Record<string, number> = { owner: 0, public: 0, device: 0, grant: 0, denied: 0 }
    fc.assert(fc.property(scenarioArb, ({ req, grants, devices }) => {
      const m = model(req, grants, devices)
      seen[m.allowed ? m.via : 'denied']!++
      expectAgrees(authorize(req, grants, devices), m)
    }), { numRuns: RUNS })
    // The generator must actually reach every branch of the model.
    for (const [k, n] of Object.entries(seen)) expect(n, `model branch ${k}`).toBeGreaterThan(50)
  })

  it('agrees with the model when only grants can decide (denser grant coverage)', () => {
    let viaGrant = 0
    fc.assert(fc.property(grantOnlyScenarioArb, ({ req, grants, devices }) => {
      const m = model(req, grants, devices)
      if (m.allowed) viaGrant++
      expectAgrees(authorize(req, grants, devices), m)
    }), { numRuns: RUNS })
    expect(viaGrant).toBeGreaterThan(200)
  })

  it('agrees with the model when each device DID has at most one authorization', () => {
    // Same as the first property minus the one case the spec leaves open
    // (two authorizations of one DID with different roles), so that any other
    // disagreement still shows up while that one is being decided.
    const arb = scenarioArb.filter(s => new Set(s.devices.map(d => d.device)).size === s.devices.length)
    const seen: Record<string, number> = { owner: 0, public: 0, device: 0, grant: 0, denied: 0 }
    fc.assert(fc.property(arb, ({ req, grants, devices }) => {
      const m = model(req, grants, devices)
      seen[m.allowed ? m.via : 'denied']!++
      expectAgrees(authorize(req, grants, devices), m)
    }), { numRuns: RUNS })
    for (const [k, n] of Object.entries(seen)) expect(n, `model branch ${k}`).toBeGreaterThan(50)
  })

  it('does not depend on the order of the device authorizations', () => {
    fc.assert(fc.property(scenarioArb, ({ req, grants, devices }) => {
      const a = authorize(req, grants, devices)
      const b = authorize(req, grants, [...devices].reverse())
      expect(b.allowed).toBe(a.allowed)
      if (a.allowed && b.allowed) expect(b.via).toBe(a.via)
    }), { numRuns: RUNS })
  })
})

describe('authorize() monotonicity in grants', () => {
  it('adding a grant never turns allowed into denied', () => {
    const extraArb = scenarioArb.chain(s => fc.record({
      s: fc.constant(s),
      extra: grantArb(s.req, 'extra'),
      at: fc.nat({ max: s.grants.length })
    }))
    fc.assert(fc.property(extraArb, ({ s, extra, at }) => {
      const before = authorize(s.req, s.grants, s.devices)
      const more = [...s.grants.slice(0, at), extra, ...s.grants.slice(at)]
      const after = authorize(s.req, more, s.devices)
      if (before.allowed) {
        expect(after.allowed).toBe(true)
        if (after.allowed) expect(after.via).toBe(before.via)
      }
    }), { numRuns: RUNS })
  })

  it('removing the only satisfying grant turns an allowed-via-grant into denied', () => {
    let exercised = 0
    fc.assert(fc.property(grantOnlyScenarioArb, ({ req, grants, devices }) => {
      const d = authorize(req, grants, devices)
      if (!d.allowed || d.via !== 'grant') return
      const satisfying = grants.filter(g => modelGrantSatisfies(g, req))
      if (satisfying.length === 1) {
        exercised++
        expect(satisfying[0]!.id).toBe(d.grantId)
        expect(authorize(req, grants.filter(g => g.id !== d.grantId), devices).allowed).toBe(false)
      } else {
        // Several satisfy: removing the one named leaves another that still allows.
        const rest = authorize(req, grants.filter(g => g.id !== d.grantId), devices)
        expect(rest.allowed).toBe(true)
        expect(authorize(req, grants.filter(g => !satisfying.includes(g)), devices).allowed).toBe(false)
      }
    }), { numRuns: RUNS })
    expect(exercised).toBeGreaterThan(100)
  })
})

describe('authorize() time boundaries (a limit AT now has passed)', () => {
  /** A non-owner Collections request and one grant matching it exactly. */
  const matchingArb = grantOnlyScenarioArb.chain(({ req }) => fc.record({
    req: fc.constant(req),
    grant: fc.record({
      id: fc.constant('boundary'),
      owner: fc.constant(req.owner),
      grantee: fc.constant(req.caller),
      context: fc.constant(req.context ?? CONTEXTS[0]),
      type: fc.constant(req.type ?? TYPES[0]),
      allow: validAllowArb.map(a => {
        const pos = ACTION_POSITION[req.action]
        return a.slice(0, pos) + CRUD.charAt(pos) + a.slice(pos + 1)
      }),
      objectId: fc.oneof(fc.constant(req.objectId), fc.constant(undefined))
    })
  })).map(({ req, grant }) => ({
    req: { ...req, context: grant.context, type: grant.type },
    grant
  }))

  it('a grant that allows at now-1 with expiresAt = now denies at now', () => {
    fc.assert(fc.property(matchingArb, fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), ({ req, grant }, revokeAfter) => {
      const g: Grant = { ...grant, expiresAt: req.now, ...(revokeAfter !== undefined ? { revokedAt: req.now + revokeAfter } : {}) }
      const earlier = authorize({ ...req, now: req.now - 1 }, [g])
      expect(earlier).toEqual({ allowed: true, via: 'grant', grantId: 'boundary' })
      expect(authorize(req, [g]).allowed).toBe(false)
      expect(authorize({ ...req, now: req.now + 1 }, [g]).allowed).toBe(false)
    }), { numRuns: RUNS })
  })

  it('a grant that allows at now-1 with revokedAt = now denies at now', () => {
    fc.assert(fc.property(matchingArb, fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), ({ req, grant }, expireAfter) => {
      const g: Grant = { ...grant, revokedAt: req.now, ...(expireAfter !== undefined ? { expiresAt: req.now + expireAfter } : {}) }
      expect(authorize({ ...req, now: req.now - 1 }, [g])).toEqual({ allowed: true, via: 'grant', grantId: 'boundary' })
      expect(authorize(req, [g]).allowed).toBe(false)
    }), { numRuns: RUNS })
  })

  it('a device revoked at now counts as no device at now', () => {
    const arb = fc.record({
      req: requestArb.filter(r => r.caller !== r.owner && !(r.interface === 'Profile' && r.action === 'read')),
      role: fc.constantFrom('owner-device' as const, 'blind' as const)
    })
    fc.assert(fc.property(arb, ({ req, role }) => {
      const dev: DeviceGrant = { device: req.caller, role, revokedAt: req.now }
      const earlier = { ...req, now: req.now - 1 }
      expectAgrees(authorize(earlier, [], [dev]), model(earlier, [], [dev]))
      expect(authorize(req, [], [dev])).toMatchObject({ allowed: false })
    }), { numRuns: RUNS })
  })
})

describe('authorize() purity', () => {
  it('gives deep-equal results twice and does not mutate (deep-frozen) inputs', () => {
    fc.assert(fc.property(scenarioArb, ({ req, grants, devices }) => {
      const snapshot = structuredClone({ req, grants, devices })
      deepFreeze(req); deepFreeze(grants); deepFreeze(devices)
      const first = authorize(req, grants, devices)
      const second = authorize(req, grants, devices)
      expect(second).toEqual(first)
      expect({ req, grants, devices }).toEqual(snapshot)
    }), { numRuns: RUNS })
  })
})

// ---------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------

describe('authorize() examples', () => {
  const owner = asDid('did:example:owner')
  const app = asDid('did:example:app')
  const NOW = 1_700_000_000_000
  const base = (allow: string, extra: Partial<Grant> = {}): Grant =>
    ({ id: 'grant-1', owner, grantee: app, context: 'https://schema.org', type: 'Note', allow, ...extra })
  const request = (action: Action, extra: Partial<AccessRequest> = {}): AccessRequest =>
    ({ caller: app, owner, action, interface: 'Collections', context: 'https://schema.org', type: 'Note', now: NOW, ...extra })

  const table: Array<[allow: string, allowed: Action[]]> = [
    ['-R--', ['read']],
    ['CR--', ['create', 'read']],
    ['CRUD', ['create', 'read', 'update', 'delete']],
    ['----', []]
  ]
  for (const [allow, allowed] of table) {
    for (const action of ACTIONS) {
      const expected = allowed.includes(action)
      it(`'${allow}' ${expected ? 'allows' : 'denies'} ${action}`, () => {
        const d = authorize(request(action), [base(allow)])
        if (expected) expect(d).toEqual({ allowed: true, via: 'grant', grantId: 'grant-1' })
        else expect(d.allowed).toBe(false)
      })
    }
  }

  const scoped = base('-RU-', { objectId: asObjectId('bafyobjone') })
  const objectCases: Array<[name: string, req: AccessRequest, allowed: boolean]> = [
    ['the named object, read', request('read', { objectId: asObjectId('bafyobjone') }), true],
    ['the named object, update', request('update', { objectId: asObjectId('bafyobjone') }), true],
    ['the named object, delete (no D)', request('delete', { objectId: asObjectId('bafyobjone') }), false],
    ['another object', request('read', { objectId: asObjectId('bafyobjtwo') }), false],
    ['no object (a query)', request('read'), false],
    ['the named object in another type', request('read', { objectId: asObjectId('bafyobjone'), type: 'Photo' }), false]
  ]
  for (const [name, req, allowed] of objectCases) {
    it(`an object-scoped grant: ${name} → ${allowed ? 'allowed' : 'denied'}`, () => {
      expect(authorize(req, [scoped]).allowed).toBe(allowed)
    })
  }

  it('two live authorizations of one hub DID (blind, then owner-device): the owner-device one applies, whatever the order', () => {
    // Minimal counterexample found by the properties above.
    const hub = asDid('did:example:hub')
    const req = request('create', { caller: hub })
    const blind: DeviceGrant = { device: hub, role: 'blind' }
    const full: DeviceGrant = { device: hub, role: 'owner-device' }
    expect(authorize(req, [], [full, blind])).toEqual({ allowed: true, via: 'device' })
    expect(authorize(req, [], [blind, full])).toEqual({ allowed: true, via: 'device' })
  })

  it('a blind hub is refused every read and write through authorize(), on every interface', () => {
    const hub = asDid('did:example:blind')
    const blind: DeviceGrant = { device: hub, role: 'blind' }
    for (const iface of ['Collections', 'Permissions', 'Keys'] as const) {
      for (const action of ACTIONS) {
        expect(authorize(request(action, { caller: hub, interface: iface }), [], [blind]).allowed).toBe(false)
      }
    }
  })

  it('grants never open Profile writes or Permissions to a non-owner', () => {
    for (const iface of ['Profile', 'Permissions'] as const) {
      for (const action of ACTIONS) {
        if (iface === 'Profile' && action === 'read') continue
        expect(authorize(request(action, { interface: iface }), [base('CRUD')]).allowed).toBe(false)
      }
    }
  })
})
