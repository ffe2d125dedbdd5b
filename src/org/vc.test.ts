import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { BadRequestError } from '../errors.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { signJwt } from './jwt.js'
import { isValidAt, parseVcJwt, specificTypes } from './vc.js'

const ISSUER = 'did:web:127.0.0.1%3A8080:org:issuer'
const HOLDER = 'did:web:127.0.0.1%3A8080:org:acme'
const kp = Ed25519KeyPair.generate()
const sign = (payload: Record<string, unknown>, typ = 'JWT'): string => signJwt({ kid: `${ISSUER}#key-1`, sign: d => kp.sign(d) }, payload, { typ })

const V1 = 'https://www.w3.org/2018/credentials/v1'
const V2 = 'https://www.w3.org/ns/credentials/v2'
const T0 = Date.parse('2025-01-01T00:00:00.000Z') / 1000
const T1 = Date.parse('2026-01-01T00:00:00.000Z') / 1000

function vc11 (vc: Record<string, unknown> = {}, claims: Record<string, unknown> = {}): string {
  return sign({
    iss: ISSUER,
    sub: HOLDER,
    nbf: T0,
    exp: T1,
    jti: 'urn:uuid:11111111-2222-3333-4444-555555555555',
    vc: { '@context': [V1], type: ['VerifiableCredential', 'MembershipCredential'], credentialSubject: { id: HOLDER, member: true }, ...vc },
    ...claims
  })
}

describe('parseVcJwt — VCDM 1.1 JWT', () => {
  it('reads id, types, issuer, subject and the validity window from the JWT claims', () => {
    const jwt = vc11({ credentialStatus: { id: 'https://status.example/1#5', type: 'StatusList2021Entry' } })
    expect(parseVcJwt(jwt)).toEqual({
      id: 'urn:uuid:11111111-2222-3333-4444-555555555555',
      types: ['VerifiableCredential', 'MembershipCredential'],
      issuer: ISSUER,
      subjectId: HOLDER,
      issuanceDate: '2025-01-01T00:00:00.000Z',
      expirationDate: '2026-01-01T00:00:00.000Z',
      credentialStatus: { id: 'https://status.example/1#5', type: 'StatusList2021Entry' },
      dataModel: '1.1',
      raw: jwt
    })
  })

  it('prefers vc.id over jti, and falls back to a content hash', () => {
    expect(parseVcJwt(vc11({ id: 'urn:uuid:vc-id' })).id).toBe('urn:uuid:vc-id')
    const anon = vc11({}, { jti: undefined })
    expect(parseVcJwt(anon).id).toBe(`urn:sha256:${createHash('sha256').update(anon).digest('hex')}`)
  })

  it('takes issuer and subject from the credential when the claims are absent', () => {
    const c = parseVcJwt(vc11({ issuer: { id: ISSUER, name: 'Issuer' } }, { iss: undefined, sub: undefined }))
    expect(c.issuer).toBe(ISSUER)
    expect(c.subjectId).toBe(HOLDER)
    expect(parseVcJwt(vc11({ issuer: ISSUER }, { iss: undefined })).issuer).toBe(ISSUER)
    expect(parseVcJwt(vc11({ credentialSubject: { member: true } }, { sub: undefined })).subjectId).toBeUndefined()
  })

  it('takes dates from issuanceDate/expirationDate when nbf/exp are absent, and keeps the narrower window', () => {
    const c = parseVcJwt(vc11({ issuanceDate: '2025-02-01T00:00:00Z', expirationDate: '2025-12-01T00:00:00+01:00' }, { nbf: undefined, exp: undefined }))
    expect(c.issuanceDate).toBe('2025-02-01T00:00:00.000Z')
    expect(c.expirationDate).toBe('2025-11-30T23:00:00.000Z')
    const both = parseVcJwt(vc11({ issuanceDate: '2025-02-01T00:00:00Z', expirationDate: '2027-01-01T00:00:00Z' }))
    expect(both.issuanceDate).toBe('2025-02-01T00:00:00.000Z') // later of nbf and issuanceDate
    expect(both.expirationDate).toBe('2026-01-01T00:00:00.000Z') // earlier of exp and expirationDate
    const open = parseVcJwt(vc11({}, { nbf: undefined, exp: undefined }))
    expect(open.issuanceDate).toBeUndefined()
    expect(open.expirationDate).toBeUndefined()
  })

  it('accepts a single string type', () => {
    expect(parseVcJwt(vc11({ type: 'VerifiableCredential' })).types).toEqual(['VerifiableCredential'])
  })
})

describe('parseVcJwt — VCDM 2.0 (claims are the credential)', () => {
  it('reads issuer, validFrom/validUntil and id from the credential claims', () => {
    const jwt = sign({
      '@context': [V2],
      id: 'urn:uuid:v2',
      type: ['VerifiableCredential', 'OrganizationCredential'],
      issuer: { id: ISSUER },
      validFrom: '2025-01-01T00:00:00Z',
      validUntil: '2026-01-01T00:00:00Z',
      credentialSubject: [{ id: HOLDER }, { id: 'did:web:other' }]
    }, 'vc+jwt')
    expect(parseVcJwt(jwt)).toEqual({
      id: 'urn:uuid:v2',
      types: ['VerifiableCredential', 'OrganizationCredential'],
      issuer: ISSUER,
      subjectId: HOLDER,
      issuanceDate: '2025-01-01T00:00:00.000Z',
      expirationDate: '2026-01-01T00:00:00.000Z',
      dataModel: '2.0',
      raw: jwt
    })
  })
})

describe('parseVcJwt — rejections', () => {
  it.each<[string, RegExp, () => string]>([
    ['a non-JWT', /three parts/, () => 'hello'],
    ['a plain JWT', /no vc claim/, () => sign({ iss: ISSUER, sub: HOLDER })],
    ['a VP', /presentation/, () => sign({ iss: HOLDER, vp: { '@context': [V1], type: ['VerifiablePresentation'] } })],
    ['a vc claim that is not an object', /vc claim is not an object/, () => sign({ iss: ISSUER, vc: 'x' })],
    ['types without VerifiableCredential', /does not include VerifiableCredential/, () => vc11({ type: ['MembershipCredential'] })],
    ['an empty type list', /non-empty array of strings/, () => vc11({ type: [] })],
    ['a non-string type', /non-empty array of strings/, () => vc11({ type: ['VerifiableCredential', 7] })],
    ['no credentialSubject', /credentialSubject is missing/, () => vc11({ credentialSubject: undefined })],
    ['a credentialSubject that is not an object', /credentialSubject must be/, () => vc11({ credentialSubject: 'me' })],
    ['no issuer at all', /no issuer/, () => vc11({}, { iss: undefined })],
    ['an issuer object without id', /issuer must be/, () => vc11({ issuer: { name: 'x' } }, { iss: undefined })],
    ['iss contradicting vc.issuer', /issuer differs/, () => vc11({ issuer: 'did:web:someone-else' })],
    ['sub contradicting credentialSubject.id', /subject id differs/, () => vc11({ credentialSubject: { id: 'did:web:someone-else' } })],
    ['a non-numeric exp', /exp is not a NumericDate/, () => vc11({}, { exp: '2026' })],
    ['an unparseable issuanceDate', /issuanceDate is not a date-time/, () => vc11({ issuanceDate: 'yesterday' }, { nbf: undefined })],
    ['an out-of-range nbf', /out of range/, () => vc11({}, { nbf: 1e20 })],
    ['an empty jti', /jti is not/, () => vc11({}, { jti: '' })]
  ])('rejects %s', (_name, why, make) => {
    const jwt = make()
    expect(() => parseVcJwt(jwt)).toThrow(BadRequestError)
    expect(() => parseVcJwt(jwt)).toThrow(why)
  })
})

describe('isValidAt / specificTypes', () => {
  const c = parseVcJwt(vc11())
  it('is not valid before issuance, valid inside the window, expired at and after exp', () => {
    expect(isValidAt(c, T0 * 1000 - 1)).toBe('not_yet_valid')
    expect(isValidAt(c, T0 * 1000)).toBe('valid')
    expect(isValidAt(c, T1 * 1000 - 1)).toBe('valid')
    expect(isValidAt(c, T1 * 1000)).toBe('expired')
    expect(isValidAt({}, 0)).toBe('valid')
  })

  it('drops only VerifiableCredential', () => {
    expect(specificTypes(c)).toEqual(['MembershipCredential'])
  })
})
