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
    expect(reasonOf(jwt)).toBe('malformed')
  })
})

function reasonOf (jwt: string): unknown {
  try {
    parseVcJwt(jwt)
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError)
    return (err as BadRequestError).details?.reason
  }
  return undefined
}

function vc20 (extra: Record<string, unknown> = {}, typ = 'vc+jwt'): string {
  return sign({
    '@context': [V2],
    id: 'urn:uuid:v2',
    type: ['VerifiableCredential', 'OrganizationCredential'],
    issuer: ISSUER,
    validFrom: '2025-01-01T00:00:00Z',
    credentialSubject: { id: HOLDER },
    ...extra
  }, typ)
}

describe('parseVcJwt — header typ', () => {
  it.each(['JWT', 'jwt', 'vc+jwt', 'VC+JWT', 'application/vc+jwt', 'vc+ld+jwt', 'application/vc+ld+jwt'])('accepts typ %s', (typ) => {
    expect(parseVcJwt(vc20({}, typ)).dataModel).toBe('2.0')
  })

  it('accepts a credential without typ', () => {
    const unsigned = signJwt({ kid: `${ISSUER}#key-1`, sign: d => kp.sign(d) }, { iss: ISSUER, vc: { '@context': [V1], type: ['VerifiableCredential'], credentialSubject: {} } }, { typ: undefined })
    expect(parseVcJwt(unsigned).dataModel).toBe('1.1')
  })

  it.each(['vp+jwt', 'application/vp+jwt', 'dpop+jwt', 'at+jwt', 'JOSE', '', 'xvc+jwt'])('refuses typ %s with bad_typ', (typ) => {
    expect(reasonOf(vc20({}, typ))).toBe('bad_typ')
  })

  it('refuses a non-string typ with bad_typ', () => {
    expect(reasonOf(sign({ '@context': [V2], type: ['VerifiableCredential'], issuer: ISSUER, credentialSubject: {} }, 7 as unknown as string))).toBe('bad_typ')
  })
})

describe('parseVcJwt — VCDM 2.0 requirements', () => {
  it.each<[string, RegExp, () => string]>([
    ['issuanceDate (a 1.1 property)', /issuanceDate is a VCDM 1.1 property/, () => vc20({ issuanceDate: '2025-01-01T00:00:00Z' })],
    ['expirationDate (a 1.1 property)', /expirationDate is a VCDM 1.1 property/, () => vc20({ expirationDate: '2026-01-01T00:00:00Z' })],
    ['validFrom without a time zone', /validFrom is not an XML Schema dateTimeStamp/, () => vc20({ validFrom: '2025-01-01T00:00:00' })],
    ['validUntil as a date only', /validUntil is not an XML Schema dateTimeStamp/, () => vc20({ validUntil: '2026-01-01' })],
    ['validUntil as a number', /validUntil is not an XML Schema dateTimeStamp/, () => vc20({ validUntil: T1 })],
    ['no issuer property (only iss)', /must name its issuer/, () => vc20({ issuer: undefined, iss: ISSUER })],
    ['a v2 context inside a vc claim', /not a vc claim/, () => sign({ iss: ISSUER, vc: { '@context': [V2], type: ['VerifiableCredential'], issuer: ISSUER, credentialSubject: {} } })]
  ])('refuses %s as malformed', (_name, why, make) => {
    const jwt = make()
    expect(() => parseVcJwt(jwt)).toThrow(why)
    expect(reasonOf(jwt)).toBe('malformed')
  })

  it('accepts dateTimeStamps with fractions and offsets', () => {
    const c = parseVcJwt(vc20({ validFrom: '2025-01-01T01:00:00.5+01:00', validUntil: '2026-01-01T00:00:00.000Z' }))
    expect(c.issuanceDate).toBe('2025-01-01T00:00:00.500Z')
    expect(c.expirationDate).toBe('2026-01-01T00:00:00.000Z')
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
