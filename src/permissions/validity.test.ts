/**
 * judgeCommit(): the commit validity rule. A table of the cases the protocol
 * names (commit.md "Validity" rule 5, sync.md "Revocation"), then properties
 * against a reference model written here without calling grantAllows or
 * deviceAllows. Nothing in the rule may depend on a clock of the signer's:
 * the facts it takes have none, and the revocation times the registry keeps
 * for display must not matter either.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { InterfaceName } from '../commits/commit.js'
import { asDid, asObjectId, type Did } from '../ids.js'
import type { Acceptance } from './acceptance.js'
import type { Action, DeviceGrant, Grant } from './authorize.js'
import { judgeCommit, type CommitFacts, type Validity } from './validity.js'

const OWNER = asDid('did:key:zOwner')
const APP = asDid('did:key:zApp')
const OTHER_APP = asDid('did:key:zOtherApp')
const DEV = asDid('did:key:zDevice')
const DEV2 = asDid('did:key:zDevice2')
const BLIND = asDid('did:key:zBlind')
const CTX = 'https://schema.org'
const T = 'MusicPlaylist'
const OBJ = asObjectId('bafkreiobject')
const OBJ2 = asObjectId('bafkreiother')
const D = 'digest-of-this-commit'
const NOW = Date.UTC(2030, 0, 1)

const live = (device: Did, role: DeviceGrant['role'] = 'owner-device'): DeviceGrant => ({ device, role })
const revokedDevice = (device: Did, named: string[], role: DeviceGrant['role'] = 'owner-device'): DeviceGrant => ({ device, role, revokedAt: NOW, revoked: new Set(named) })
const grant = (over: Partial<Grant> = {}): Grant => ({ id: 'g1', owner: OWNER, grantee: APP, context: CTX, type: T, allow: 'CRUD', ...over })
const accepted = (over: Partial<Acceptance> = {}): Acceptance => ({ commit: 'c', by: DEV, at: NOW, grant: 'g1', ...over })
const facts = (over: Partial<CommitFacts> = {}): CommitFacts => ({
  signer: APP, owner: OWNER, action: 'update', interface: 'Collections', context: CTX, type: T, objectId: OBJ, digest: D, ...over
})

type Expect = 'valid' | 'revoked' | 'refused'
function verdict (v: Validity): Expect {
  return v.valid ? 'valid' : v.revoked ? 'revoked' : 'refused'
}

describe('judgeCommit: the cases the protocol names', () => {
  const DEVS = [live(DEV), live(BLIND, 'blind')]
  const table: Array<[string, CommitFacts, Grant[], DeviceGrant[], Expect, string?]> = [
    // the owner
    ['owner, Collections', facts({ signer: OWNER }), [], [], 'valid', 'owner'],
    ['owner, Permissions', facts({ signer: OWNER, interface: 'Permissions' }), [], [], 'valid', 'owner'],
    ['owner, with no grants or devices at all, any action', facts({ signer: OWNER, action: 'delete', interface: 'Keys' }), [], [], 'valid', 'owner'],
    // devices
    ['live owner device, Collections update', facts({ signer: DEV }), [], DEVS, 'valid', 'device'],
    ['live owner device, Keys create', facts({ signer: DEV, action: 'create', interface: 'Keys' }), [], DEVS, 'valid', 'device'],
    ['live owner device, Profile', facts({ signer: DEV, interface: 'Profile' }), [], DEVS, 'valid', 'device'],
    ['owner device may not write Permissions', facts({ signer: DEV, action: 'create', interface: 'Permissions' }), [], DEVS, 'refused'],
    ['blind hub may write nothing', facts({ signer: BLIND }), [], DEVS, 'refused'],
    ['revoked device, commit named', facts({ signer: DEV }), [], [revokedDevice(DEV, [D])], 'valid', 'device'],
    ['revoked device, commit not named', facts({ signer: DEV }), [], [revokedDevice(DEV, ['else'])], 'revoked'],
    ['revoked device, revocation named nothing', facts({ signer: DEV }), [], [revokedDevice(DEV, [])], 'revoked'],
    ['revoked device may still not write Permissions, named or not', facts({ signer: DEV, interface: 'Permissions' }), [], [revokedDevice(DEV, [D])], 'refused'],
    ['re-authorized device: old revocation did not name it, new authorization live', facts({ signer: DEV }), [], [revokedDevice(DEV, []), live(DEV)], 'valid', 'device'],
    ['re-authorized device, authorizations in the other order', facts({ signer: DEV }), [], [live(DEV), revokedDevice(DEV, [])], 'valid', 'device'],
    ['a device\'s commit needs no acceptance and ignores a grant', facts({ signer: DEV }), [grant({ grantee: DEV, allow: '----' })], [live(DEV)], 'valid', 'device'],
    // grantees
    ['grantee without acceptance, live grant', facts(), [grant()], DEVS, 'refused'],
    ['grantee with acceptance, live grant', facts({ acceptance: accepted() }), [grant()], DEVS, 'valid', 'grant'],
    ['grantee, grant for another type', facts({ acceptance: accepted() }), [grant({ type: 'Diary' })], DEVS, 'refused'],
    ['grantee, grant for another context', facts({ acceptance: accepted() }), [grant({ context: 'https://example.org' })], DEVS, 'refused'],
    ['grantee, grant for another grantee', facts({ acceptance: accepted() }), [grant({ grantee: OTHER_APP })], DEVS, 'refused'],
    ['grantee, grant of another owner', facts({ acceptance: accepted() }), [grant({ owner: asDid('did:key:zSomeoneElse') })], DEVS, 'refused'],
    ['grantee, grant without U', facts({ acceptance: accepted() }), [grant({ allow: 'CR-D' })], DEVS, 'refused'],
    ['grantee create needs C', facts({ action: 'create', objectId: undefined, acceptance: accepted() }), [grant({ allow: '-RUD' })], DEVS, 'refused'],
    ['grantee delete with D', facts({ action: 'delete', acceptance: accepted() }), [grant({ allow: '---D' })], DEVS, 'valid', 'grant'],
    ['grantee, object-scoped grant, that object', facts({ acceptance: accepted() }), [grant({ objectId: OBJ })], DEVS, 'valid', 'grant'],
    ['grantee, object-scoped grant, another object', facts({ objectId: OBJ2, acceptance: accepted() }), [grant({ objectId: OBJ })], DEVS, 'refused'],
    ['grantee, object-scoped grant cannot create', facts({ action: 'create', objectId: undefined, acceptance: accepted() }), [grant({ objectId: OBJ })], DEVS, 'refused'],
    ['grantee may not write Profile even with an acceptance', facts({ interface: 'Profile', acceptance: accepted() }), [grant()], DEVS, 'refused'],
    ['grantee may not write Permissions', facts({ interface: 'Permissions', acceptance: accepted() }), [grant()], DEVS, 'refused'],
    ['grantee may not write Keys', facts({ interface: 'Keys', acceptance: accepted() }), [grant()], DEVS, 'refused'],
    // expiry is judged at the acceptance's time
    ['grant expired after acceptance', facts({ acceptance: accepted({ at: NOW }) }), [grant({ expiresAt: NOW + 1 })], DEVS, 'valid', 'grant'],
    ['grant expired exactly at acceptance', facts({ acceptance: accepted({ at: NOW }) }), [grant({ expiresAt: NOW })], DEVS, 'refused'],
    ['grant expired before acceptance', facts({ acceptance: accepted({ at: NOW }) }), [grant({ expiresAt: NOW - 1 })], DEVS, 'refused'],
    // revoked grants: the set decides
    ['revoked grant naming the commit', facts({ acceptance: accepted() }), [grant({ revokedAt: NOW - 10, revoked: new Set([D]) })], DEVS, 'valid', 'grant'],
    ['revoked grant not naming the commit', facts({ acceptance: accepted() }), [grant({ revokedAt: NOW + 10, revoked: new Set(['x']) })], DEVS, 'revoked'],
    ['revoked grant naming it, but expired at acceptance', facts({ acceptance: accepted() }), [grant({ expiresAt: NOW - 1, revoked: new Set([D]) })], DEVS, 'refused'],
    // the grant the acceptance names is the one that counts (a later grant revives nothing)
    ['accepted under a revoked grant not naming it; another live grant would allow it', facts({ acceptance: accepted() }), [grant({ revoked: new Set() }), grant({ id: 'g2' })], DEVS, 'revoked'],
    ['accepted under the live grant; another, revoked one would allow it too', facts({ acceptance: accepted({ grant: 'g2' }) }), [grant({ revoked: new Set() }), grant({ id: 'g2' })], DEVS, 'valid', 'grant'],
    ['acceptance names a grant that does not allow it; another would', facts({ acceptance: accepted({ grant: 'g2' }) }), [grant(), grant({ id: 'g2', type: 'Diary' })], DEVS, 'refused'],
    ['acceptance names a grant this hub does not know', facts({ acceptance: accepted({ grant: 'g9' }) }), [grant()], DEVS, 'refused'],
    ['acceptance names no grant (accepted before acceptances named one): any grant that allowed it', facts({ acceptance: accepted({ grant: undefined }) }), [grant({ revoked: new Set() }), grant({ id: 'g2' })], DEVS, 'valid', 'grant'],
    // the acceptor
    ['acceptance by a blind hub', facts({ acceptance: accepted({ by: BLIND }) }), [grant()], DEVS, 'refused'],
    ['acceptance by the grantee itself', facts({ acceptance: accepted({ by: APP }) }), [grant()], DEVS, 'refused'],
    ['acceptance by an unknown hub', facts({ acceptance: accepted({ by: DEV2 }) }), [grant()], DEVS, 'refused'],
    ['acceptance by the owner DID (not a device)', facts({ acceptance: accepted({ by: OWNER }) }), [grant()], DEVS, 'refused'],
    ['acceptance by a revoked owner device, commit named', facts({ acceptance: accepted() }), [grant()], [revokedDevice(DEV, [D])], 'valid', 'grant'],
    ['acceptance by a revoked owner device, commit not named', facts({ acceptance: accepted() }), [grant()], [revokedDevice(DEV, [])], 'revoked'],
    ['acceptance by a revoked acceptor that is re-authorized', facts({ acceptance: accepted() }), [grant()], [revokedDevice(DEV, []), live(DEV)], 'valid', 'grant'],
    ['acceptor revoked naming it, grant revoked not naming it', facts({ acceptance: accepted() }), [grant({ revoked: new Set() })], [revokedDevice(DEV, [D])], 'revoked'],
    // the blind path: no names, the acceptance's grant is followed
    ['blind: names the grant that allows it', facts({ context: undefined, type: undefined, acceptance: accepted() }), [grant({ type: 'Anything' })], DEVS, 'valid', 'grant'],
    ['blind: names no grant', facts({ context: undefined, type: undefined, acceptance: accepted({ grant: undefined }) }), [grant()], DEVS, 'refused'],
    ['blind: names another grant', facts({ context: undefined, type: undefined, acceptance: accepted({ grant: 'g9' }) }), [grant()], DEVS, 'refused'],
    ['blind: named grant is for another grantee', facts({ context: undefined, type: undefined, acceptance: accepted() }), [grant({ grantee: OTHER_APP })], DEVS, 'refused'],
    ['blind: named grant lacks the action', facts({ context: undefined, type: undefined, acceptance: accepted() }), [grant({ allow: '-R--' })], DEVS, 'refused'],
    ['blind: named grant expired at acceptance', facts({ context: undefined, type: undefined, acceptance: accepted() }), [grant({ expiresAt: NOW })], DEVS, 'refused'],
    ['blind: named grant scoped to another object', facts({ context: undefined, type: undefined, acceptance: accepted() }), [grant({ objectId: OBJ2 })], DEVS, 'refused'],
    ['blind: named grant revoked naming it', facts({ context: undefined, type: undefined, acceptance: accepted() }), [grant({ revoked: new Set([D]) })], DEVS, 'valid', 'grant'],
    ['blind: named grant revoked not naming it', facts({ context: undefined, type: undefined, acceptance: accepted() }), [grant({ revoked: new Set() })], DEVS, 'revoked'],
    ['blind: a blind acceptor is refused here too', facts({ context: undefined, type: undefined, acceptance: accepted({ by: BLIND }) }), [grant()], DEVS, 'refused']
  ]

  it.each(table)('%s', (_name, f, grants, devices, want, via) => {
    const v = judgeCommit(f, grants, devices)
    expect(verdict(v)).toBe(want)
    if (v.valid && via !== undefined) expect(v.via).toBe(via)
    if (!v.valid) expect(v.reason).toEqual(expect.any(String))
  })

  it('names the grant that made it valid', () => {
    const v = judgeCommit(facts({ acceptance: accepted({ grant: undefined }) }), [grant({ id: 'dead', revoked: new Set() }), grant({ id: 'alive' })], [live(DEV)])
    expect(v).toEqual({ valid: true, via: 'grant', grantId: 'alive' })
  })
})

// ---------------------------------------------------------------------------
// Reference model: the rule of commit.md, rule 5, restated.
// ---------------------------------------------------------------------------

const LETTER: Record<Action, [number, string]> = { create: [0, 'C'], read: [1, 'R'], update: [2, 'U'], delete: [3, 'D'] }
function stillCovers (x: { revoked?: ReadonlySet<string> }, digest: string): boolean {
  return x.revoked === undefined ? true : x.revoked.has(digest)
}
function modelGrantCovers (g: Grant, f: CommitFacts, at: number, blind: boolean): boolean {
  const [pos, letter] = LETTER[f.action]
  if (g.owner !== f.owner || g.grantee !== f.signer) return false
  if (!/^[C-][R-][U-][D-]$/.test(g.allow) || g.allow.charAt(pos) !== letter) return false
  if (g.expiresAt !== undefined && at >= g.expiresAt) return false
  if (g.objectId !== undefined && g.objectId !== f.objectId) return false
  const named = f.acceptance?.grant
  if (blind) return g.id === named
  return (named === undefined || g.id === named) && g.context === f.context && g.type === f.type
}
function model (f: CommitFacts, grants: Grant[], devices: DeviceGrant[]): Expect {
  if (f.signer === f.owner) return 'valid'
  const auths = devices.filter(d => d.device === f.signer)
  if (auths.length > 0) {
    const allowing = auths.filter(d => d.role === 'owner-device' && f.interface !== 'Permissions')
    if (allowing.length === 0) return 'refused'
    return allowing.some(d => stillCovers(d, f.digest)) ? 'valid' : 'revoked'
  }
  if (f.interface !== 'Collections' || f.acceptance === undefined) return 'refused'
  const acceptors = devices.filter(d => d.device === f.acceptance?.by && d.role === 'owner-device')
  if (acceptors.length === 0) return 'refused'
  if (!acceptors.some(d => stillCovers(d, f.digest))) return 'revoked'
  const blind = f.context === undefined || f.type === undefined
  const allowing = grants.filter(g => modelGrantCovers(g, f, (f.acceptance as Acceptance).at, blind))
  if (allowing.length === 0) return 'refused'
  return allowing.some(g => stillCovers(g, f.digest)) ? 'valid' : 'revoked'
}

const dids = fc.constantFrom(OWNER, APP, OTHER_APP, DEV, DEV2, BLIND)
const digests = fc.constantFrom(D, 'e1', 'e2')
const times = fc.constantFrom(NOW - 1000, NOW - 1, NOW, NOW + 1, NOW + 1000)
const revokedSet = fc.option(fc.uniqueArray(digests, { maxLength: 3 }).map(a => new Set(a)), { nil: undefined })
const grantArb: fc.Arbitrary<Grant> = fc.record({
  id: fc.constantFrom('g1', 'g2', 'g3'),
  owner: fc.constantFrom(OWNER, OWNER, OWNER, APP),
  grantee: fc.constantFrom(APP, APP, OTHER_APP, DEV),
  context: fc.constantFrom(CTX, CTX, 'https://example.org'),
  type: fc.constantFrom(T, T, 'Diary'),
  allow: fc.constantFrom('CRUD', '-R--', 'C---', '--U-', '---D', 'CRU-', 'bad!'),
  objectId: fc.option(fc.constantFrom(OBJ, OBJ2), { nil: undefined }),
  expiresAt: fc.option(times, { nil: undefined }),
  revoked: revokedSet
}, { requiredKeys: ['id', 'owner', 'grantee', 'context', 'type', 'allow'] }).map(g => ({ ...g, ...(g.revoked !== undefined ? { revokedAt: NOW } : {}) }))
const deviceArb: fc.Arbitrary<DeviceGrant> = fc.record({
  device: fc.constantFrom(DEV, DEV, DEV2, BLIND, APP),
  role: fc.constantFrom<DeviceGrant['role']>('owner-device', 'owner-device', 'blind'),
  revoked: revokedSet
}, { requiredKeys: ['device', 'role'] }).map(d => ({ ...d, ...(d.revoked !== undefined ? { revokedAt: NOW } : {}) }))
const acceptanceArb: fc.Arbitrary<Acceptance | undefined> = fc.option(fc.record({
  commit: fc.constant('c'),
  by: dids,
  at: times,
  grant: fc.option(fc.constantFrom('g1', 'g2', 'g9'), { nil: undefined })
}, { requiredKeys: ['commit', 'by', 'at'] }), { nil: undefined })
const factsArb: fc.Arbitrary<CommitFacts> = fc.record({
  signer: dids,
  action: fc.constantFrom<Action>('create', 'update', 'delete'),
  interface: fc.constantFrom<InterfaceName>('Collections', 'Collections', 'Collections', 'Profile', 'Permissions', 'Keys'),
  names: fc.constantFrom<[string, string] | undefined>([CTX, T], [CTX, T], [CTX, 'Diary'], undefined),
  objectId: fc.option(fc.constantFrom(OBJ, OBJ2), { nil: undefined }),
  digest: digests,
  acceptance: acceptanceArb
}).map(({ names, objectId, acceptance, ...rest }) => ({
  ...rest,
  owner: OWNER,
  ...(names !== undefined ? { context: names[0], type: names[1] } : {}),
  ...(objectId !== undefined ? { objectId } : {}),
  ...(acceptance !== undefined ? { acceptance } : {})
}))
const world = fc.record({ f: factsArb, grants: fc.array(grantArb, { maxLength: 4 }), devices: fc.array(deviceArb, { maxLength: 4 }) })

describe('judgeCommit: properties', () => {
  it('agrees with the reference model', () => {
    fc.assert(fc.property(world, ({ f, grants, devices }) => {
      expect(verdict(judgeCommit(f, grants, devices))).toBe(model(f, grants, devices))
    }), { numRuns: 5000 })
  })

  it('no clock but the acceptor\'s matters: committed_at, revocation times and the evaluation time change nothing', () => {
    const anyTime = fc.integer({ min: 0, max: 2 ** 45 })
    fc.assert(fc.property(world, anyTime, fc.array(anyTime, { minLength: 8, maxLength: 8 }), ({ f, grants, devices }, committedAt, rts) => {
      const before = judgeCommit(f, grants, devices)
      // Extra facts a caller might be tempted to pass (the signer's clock) are not part of the rule.
      const withClock = { ...f, committed_at: new Date(committedAt).toISOString(), now: committedAt } as unknown as CommitFacts
      const regrants = grants.map((g, i) => g.revokedAt === undefined ? g : { ...g, revokedAt: rts[i % 8] as number })
      const redevices = devices.map((d, i) => d.revokedAt === undefined ? d : { ...d, revokedAt: rts[(i + 4) % 8] as number })
      expect(judgeCommit(withClock, regrants, redevices)).toEqual(before)
    }), { numRuns: 3000 })
  })

  it('the order of grants and devices does not matter (the verdict, not which grant is named)', () => {
    fc.assert(fc.property(world, ({ f, grants, devices }) => {
      const v = verdict(judgeCommit(f, grants, devices))
      expect(verdict(judgeCommit(f, [...grants].reverse(), [...devices].reverse()))).toBe(v)
    }), { numRuns: 2000 })
  })

  it('a revoked grant\'s set decides: with one grant that allowed it, valid exactly when the set names it', () => {
    fc.assert(fc.property(fc.uniqueArray(digests, { maxLength: 3 }), digests, fc.integer({ min: 0, max: 2 ** 45 }), (named, digest, revokedAt) => {
      const g = grant({ revokedAt, revoked: new Set(named) })
      const v = judgeCommit(facts({ digest, acceptance: accepted() }), [g], [live(DEV)])
      expect(verdict(v)).toBe(named.includes(digest) ? 'valid' : 'revoked')
    }))
  })

  it('expiry is judged at the acceptance\'s time, whatever else is true', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.integer({ min: 0, max: 2 ** 45 }), fc.boolean(), (at, expiresAt, blind) => {
      const f = facts({ acceptance: accepted({ at }), ...(blind ? { context: undefined, type: undefined } : {}) })
      expect(judgeCommit(f, [grant({ expiresAt })], [live(DEV)]).valid).toBe(at < expiresAt)
    }))
  })

  it('an acceptor that is not an owner device never makes a commit valid', () => {
    fc.assert(fc.property(world, ({ f, grants, devices }) => {
      fc.pre(f.signer !== OWNER && f.acceptance !== undefined && !devices.some(d => d.device === f.signer))
      const notOwnerDevice = devices.filter(d => !(d.device === f.acceptance?.by && d.role === 'owner-device'))
      expect(judgeCommit(f, grants, notOwnerDevice).valid).toBe(false)
    }), { numRuns: 3000 })
  })

  it('a revocation only ever shrinks the valid set: revoking any grant or device never validates a commit', () => {
    fc.assert(fc.property(world, fc.nat(), fc.uniqueArray(digests, { maxLength: 3 }), ({ f, grants, devices }, pick, named) => {
      const before = judgeCommit(f, grants, devices).valid
      const all = grants.length + devices.length
      fc.pre(all > 0)
      const i = pick % all
      const revoked = new Set(named)
      const g2 = grants.map((g, j) => j === i && g.revoked === undefined ? { ...g, revokedAt: NOW, revoked } : g)
      const d2 = devices.map((d, j) => j + grants.length === i && d.revoked === undefined ? { ...d, revokedAt: NOW, revoked } : d)
      if (!before) expect(judgeCommit(f, g2, d2).valid).toBe(false)
    }), { numRuns: 3000 })
  })
})

// Type-level guard: the facts have no field for a signer clock.
type NoClock = 'committed_at' extends keyof CommitFacts ? never : 'now' extends keyof CommitFacts ? never : true
const noClock: NoClock = true
void noClock
