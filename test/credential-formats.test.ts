/**
 * Credentials from any conforming issuer, over real HTTP on loopback (issue
 * 14): what independent libraries produce is stored, presented through a
 * DCP presentation query and verified again by an independent library; each
 * shape we refuse is refused with its stable reason and stores nothing.
 *
 * Issuers: a did:key Ed25519 DID held by the test, a did:web participant of
 * the server (signing with the hub-held key), and a P-256 did:web issuer
 * whose document a tiny loopback server of its own serves. Credentials come
 * from did-jwt-vc's `createVerifiableCredentialJwt` with default options
 * (no kid) and from jose's `SignJWT` in every header shape.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { EdDSASigner } from 'did-jwt'
import { createVerifiableCredentialJwt, verifyCredential, verifyPresentation, type JwtCredentialPayload } from 'did-jwt-vc'
import { Resolver } from 'did-resolver'
import { exportJWK, generateKeyPair, jwtVerify, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { didKeyFromPublicKey, type DidDocument } from '../src/identity/did-key.js'
import { b64u, utf8 } from '../src/identity/encoding.js'
import { didResolverDrivers } from '../src/identity/resolver.js'
import { unenvelope } from '../src/org/dcp/presentation.js'
import { DCP_CONTEXT } from '../src/org/dcp/schemas.js'
import { orgOf } from '../src/org/hub-org.js'
import { decodeJwt, verifyDidJwt } from '../src/org/jwt.js'
import { parseVcJwt, VC_V1_CONTEXT, VC_V2_CONTEXT } from '../src/org/vc.js'
import { cleanup } from './helpers.js'
import { orgServer, type ApiReply, type OrgServer } from './org-helpers.js'

afterEach(cleanup)

const IDENTITY = '/api/identity/v1/participants'
const ISSUANCE = '/api/issuance/v1/participants'
const TYPE = 'org.eclipse.dspace.dcp.vc.type'
const MEMBERSHIP = `${TYPE}:MembershipCredential`
const DAY = 86_400

interface Party { id: string, did: string, apiKey: string }

const extra: Server[] = []
afterEach(async () => {
  for (const s of extra.splice(0)) await new Promise<void>(resolve => { s.close(() => { resolve() }) })
})

const seconds = (): number => Math.floor(Date.now() / 1000)

function expectStatus (r: ApiReply, status: number, reason?: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  if (reason !== undefined) expect(r.body?.error?.details?.reason, JSON.stringify(r.body)).toBe(reason)
}

async function participant (srv: OrgServer, name: string, services: Array<Record<string, string>> = []): Promise<Party> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: name, did: srv.did(name), active: true, ...(services.length > 0 ? { services } : {}) } })
  expectStatus(r, 201)
  return { id: name, did: srv.did(name), apiKey: r.body.apiKey as string }
}

/** did-resolver over our own resolution (loopback did:web over HTTP, did:key without I/O), for did-jwt-vc. */
const libResolver = (): Resolver => new Resolver(didResolverDrivers())

/** An Ed25519 did:key issuer held by the test. */
function didKeyIssuer (): { did: string, seed: Uint8Array, jwk: JWK, privateJwk: JWK } {
  const seed = ed25519.utils.randomSecretKey()
  const pub = ed25519.getPublicKey(seed)
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(pub) }
  return { did: didKeyFromPublicKey(pub), seed, jwk, privateJwk: { ...jwk, d: b64u(seed) } }
}

/** A P-256 issuer: did:web on its own loopback server, whose document the test can change. */
async function p256Issuer (): Promise<{ did: string, kid: string, privateKey: CryptoKey, publicJwk: JWK, setDoc: (d: Record<string, unknown>) => void }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  let doc: Record<string, unknown> = {}
  const server = createServer((req, res) => {
    if (req.url !== '/.well-known/did.json') { res.writeHead(404).end(); return }
    res.writeHead(200, { 'content-type': 'application/did+json' }).end(JSON.stringify(doc))
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  extra.push(server)
  const did = `did:web:127.0.0.1%3A${(server.address() as AddressInfo).port}`
  const kid = `${did}#p256-1`
  doc = {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: did,
    verificationMethod: [{ id: kid, type: 'JsonWebKey2020', controller: did, publicKeyJwk: publicJwk }],
    assertionMethod: [kid]
  }
  return { did, kid, privateKey, publicJwk, setDoc: d => { doc = d } }
}

/** A VCDM 1.1 JWT VC payload about `subject`, valid from an hour ago for 30 days. */
function vc11Payload (issuer: string, subject: string, o: { nbf?: number, exp?: number, id?: string } = {}): JwtCredentialPayload & JWTPayload {
  const now = seconds()
  const id = o.id ?? `urn:uuid:${randomUUID()}`
  return {
    iss: issuer,
    sub: subject,
    jti: id,
    nbf: o.nbf ?? now - 3600,
    exp: o.exp ?? now + 30 * DAY,
    vc: { '@context': [VC_V1_CONTEXT], id, type: ['VerifiableCredential', 'MembershipCredential'], credentialSubject: { id: subject, memberOf: 'dataspace' } }
  }
}

interface World {
  srv: OrgServer
  acme: Party
  beta: Party
  issuer: Party
}

async function world (): Promise<World> {
  const srv = await orgServer()
  return { srv, acme: await participant(srv, 'acme'), beta: await participant(srv, 'beta'), issuer: await participant(srv, 'issuer') }
}

async function store (w: World, jwt: string): Promise<ApiReply> {
  return await w.srv.api('POST', `${IDENTITY}/acme/credentials`, { key: w.acme.apiKey, body: { jwt } })
}

async function storedIds (w: World): Promise<string[]> {
  const r = await w.srv.api('GET', `${IDENTITY}/acme/credentials`, { key: w.acme.apiKey })
  expectStatus(r, 200)
  return (r.body as Array<{ credentialId: string }>).map(c => c.credentialId).sort()
}

/** acme grants beta `scopes`, beta queries acme: the presentations of the response. */
async function query (w: Pick<World, 'srv' | 'acme' | 'beta'>, scopes: string[]): Promise<string[]> {
  const grant = await w.srv.api('POST', '/api/sts/token', { key: w.acme.apiKey, body: { audience: w.beta.did, scope: scopes } })
  expectStatus(grant, 200)
  const bearer = await w.srv.api('POST', '/api/sts/token', { key: w.beta.apiKey, body: { audience: w.acme.did, token: grant.body.accessToken } })
  expectStatus(bearer, 200)
  const q = await w.srv.api('POST', `/api/credentials/v1/participants/${w.acme.id}/presentations/query`, {
    bearer: bearer.body.idToken, body: { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: scopes }
  })
  expectStatus(q, 200)
  return q.body.presentation as string[]
}

/** Stored, presented in a VCDM 1.1 VP, and the VP and every VC in it accepted by did-jwt-vc. */
async function roundTrip (w: World, jwt: string): Promise<void> {
  const id = parseVcJwt(jwt).id
  expectStatus(await store(w, jwt), 201)
  const [vp, ...more] = await query(w, [MEMBERSHIP])
  expect(more).toEqual([])
  const vcs = (decodeJwt(vp as string).payload as { vp: { verifiableCredential: string[] } }).vp.verifiableCredential
  expect(vcs).toEqual([jwt])
  expect(vcs.map(v => parseVcJwt(v).id)).toEqual([id])
  const resolver = libResolver()
  const verified = await verifyPresentation(vp as string, resolver, { audience: w.beta.did })
  expect(verified.issuer).toBe(w.acme.did)
  for (const v of vcs) await verifyCredential(v, resolver)
}

describe('credentials from independent libraries: stored, presented, verified again', () => {
  it('did-jwt-vc, default options (no kid), did:key Ed25519 issuer', async () => {
    const w = await world()
    const k = didKeyIssuer()
    const jwt = await createVerifiableCredentialJwt(vc11Payload(k.did, w.acme.did), { did: k.did, signer: EdDSASigner(k.seed), alg: 'EdDSA' })
    expect(decodeJwt(jwt).header).toEqual({ alg: 'EdDSA', typ: 'JWT' })
    await roundTrip(w, jwt)
  })

  it('did-jwt-vc, default options (no kid), a did:web participant of the server signing with its hub-held key', async () => {
    const w = await world()
    const key = await orgOf(w.srv.hub).signingKey(w.issuer.id)
    const signer = async (data: string | Uint8Array): Promise<string> => b64u(key.sign(typeof data === 'string' ? utf8.encode(data) : data))
    const jwt = await createVerifiableCredentialJwt(vc11Payload(w.issuer.did, w.acme.did), { did: w.issuer.did, signer, alg: 'EdDSA' })
    expect(decodeJwt(jwt).header.kid).toBeUndefined()
    await roundTrip(w, jwt)
  })

  describe('jose SignJWT in each header shape', () => {
    const shapes: Array<[string, (did: string, fragment: string) => Record<string, unknown>]> = [
      ['no kid', () => ({ typ: 'JWT' })],
      ['kid #fragment', (_did, f) => ({ typ: 'JWT', kid: `#${f}` })],
      ['kid absolute DID URL', (did, f) => ({ typ: 'JWT', kid: `${did}#${f}` })],
      ['no typ', (did, f) => ({ kid: `${did}#${f}` })],
      ['typ vc+jwt', (did, f) => ({ typ: 'vc+jwt', kid: `${did}#${f}` })],
      ['typ application/vc+ld+jwt', () => ({ typ: 'application/vc+ld+jwt' })]
    ]

    it.each(shapes)('Ed25519 did:key issuer, %s', async (_name, header) => {
      const w = await world()
      const k = didKeyIssuer()
      const key = await importJWK(k.privateJwk, 'EdDSA')
      const jwt = await new SignJWT(vc11Payload(k.did, w.acme.did)).setProtectedHeader({ alg: 'EdDSA', ...header(k.did, k.did.slice('did:key:'.length)) }).sign(key)
      await roundTrip(w, jwt)
    })

    it.each(shapes)('P-256 (ES256) did:web issuer, %s', async (_name, header) => {
      const w = await world()
      const p = await p256Issuer()
      const jwt = await new SignJWT(vc11Payload(p.did, w.acme.did)).setProtectedHeader({ alg: 'ES256', ...header(p.did, 'p256-1') }).sign(p.privateKey)
      await roundTrip(w, jwt)
    })
  })
})

describe('refused credentials: a stable reason, and nothing stored', () => {
  async function refused (w: World, jwt: string, reason: string, cause?: string): Promise<void> {
    const before = await storedIds(w)
    const r = await store(w, jwt)
    expectStatus(r, 400, reason)
    expect(r.body.error.code).toBe('bad_request')
    if (cause !== undefined) expect(r.body.error.details.cause, JSON.stringify(r.body)).toBe(cause)
    expect(await storedIds(w)).toEqual(before)
  }

  const raw = (header: Record<string, unknown>, payload: JWTPayload, sig: string): string => `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}.${sig}`

  it('wrong key: another key under the issuer\'s kid, and a kid-less token signed by a key not in the document', async () => {
    const w = await world()
    const k = didKeyIssuer()
    const intruder = await importJWK(didKeyIssuer().privateJwk, 'EdDSA')
    const payload = vc11Payload(k.did, w.acme.did)
    const kid = `${k.did}#${k.did.slice('did:key:'.length)}`
    await refused(w, await new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid }).sign(intruder), 'bad_credential_signature', 'bad_signature')
    await refused(w, await new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' }).sign(intruder), 'bad_credential_signature', 'bad_signature')
    // A did:web participant's kid, signed by someone else.
    await refused(w, await new SignJWT(vc11Payload(w.issuer.did, w.acme.did)).setProtectedHeader({ alg: 'EdDSA', kid: `${w.issuer.did}#key-1` }).sign(intruder), 'bad_credential_signature', 'bad_signature')
  })

  it('alg none: unsigned (empty signature) is malformed, with a fake signature alg_not_allowed', async () => {
    const w = await world()
    const k = didKeyIssuer()
    const payload = vc11Payload(k.did, w.acme.did)
    await refused(w, raw({ alg: 'none', typ: 'JWT' }, payload, ''), 'malformed')
    await refused(w, raw({ alg: 'none', typ: 'JWT' }, payload, 'c2ln'), 'bad_credential_signature', 'alg_not_allowed')
  })

  it('HS256 with the issuer\'s public key as the secret', async () => {
    const w = await world()
    const p = await p256Issuer()
    const secret = utf8.encode(JSON.stringify(p.publicJwk))
    const jwt = await new SignJWT(vc11Payload(p.did, w.acme.did)).setProtectedHeader({ alg: 'HS256', kid: p.kid }).sign(secret)
    await refused(w, jwt, 'bad_credential_signature', 'alg_not_allowed')
  })

  it('ES256 claimed for an Ed25519 key, and EdDSA under a P-256 kid', async () => {
    const w = await world()
    const p = await p256Issuer()
    const ed = didKeyIssuer()
    const edKey = await importJWK(ed.privateJwk, 'EdDSA')
    await refused(w, await new SignJWT(vc11Payload(p.did, w.acme.did)).setProtectedHeader({ alg: 'EdDSA', kid: p.kid }).sign(edKey), 'bad_credential_signature', 'alg_mismatch')
    // Kid-less: no key of the document fits EdDSA, none is tried.
    await refused(w, await new SignJWT(vc11Payload(p.did, w.acme.did)).setProtectedHeader({ alg: 'EdDSA' }).sign(edKey), 'bad_credential_signature', 'unknown_key')
  })

  it('wrong_purpose: signed with a key the issuer lists only for keyAgreement', async () => {
    const w = await world()
    const p = await p256Issuer()
    const other = await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey)
    p.setDoc({
      '@context': ['https://www.w3.org/ns/did/v1'],
      id: p.did,
      verificationMethod: [
        { id: p.kid, type: 'JsonWebKey2020', controller: p.did, publicKeyJwk: p.publicJwk },
        { id: `${p.did}#sig`, type: 'JsonWebKey2020', controller: p.did, publicKeyJwk: other }
      ],
      assertionMethod: [`${p.did}#sig`],
      keyAgreement: [p.kid]
    })
    const payload = vc11Payload(p.did, w.acme.did)
    await refused(w, await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: p.kid }).sign(p.privateKey), 'bad_credential_signature', 'wrong_purpose')
    // Kid-less, the keyAgreement key is not even tried.
    await refused(w, await new SignJWT(payload).setProtectedHeader({ alg: 'ES256' }).sign(p.privateKey), 'bad_credential_signature', 'bad_signature')
  })

  it('expired, and not yet valid beyond the 60 s leeway (within it is stored)', async () => {
    const w = await world()
    const k = didKeyIssuer()
    const key = await importJWK(k.privateJwk, 'EdDSA')
    const sign = async (p: JWTPayload): Promise<string> => await new SignJWT(p).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' }).sign(key)
    const now = seconds()
    await refused(w, await sign(vc11Payload(k.did, w.acme.did, { nbf: now - 2 * DAY, exp: now - DAY })), 'expired')
    await refused(w, await sign(vc11Payload(k.did, w.acme.did, { nbf: now + 3600 })), 'not_yet_valid')
    const soon = await sign(vc11Payload(k.did, w.acme.did, { nbf: now + 20 }))
    expectStatus(await store(w, soon), 201)
  })

  it('holder ≠ subject: a credential about someone else', async () => {
    const w = await world()
    const k = didKeyIssuer()
    const jwt = await createVerifiableCredentialJwt(vc11Payload(k.did, w.beta.did), { did: k.did, signer: EdDSASigner(k.seed), alg: 'EdDSA' })
    await refused(w, jwt, 'wrong_subject')
  })

  it('typ vp+jwt (a presentation header), and an ID token', async () => {
    const w = await world()
    const k = didKeyIssuer()
    const key = await importJWK(k.privateJwk, 'EdDSA')
    await refused(w, await new SignJWT(vc11Payload(k.did, w.acme.did)).setProtectedHeader({ alg: 'EdDSA', typ: 'vp+jwt' }).sign(key), 'bad_typ')
    const sts = await w.srv.api('POST', '/api/sts/token', { key: w.acme.apiKey, body: { audience: w.beta.did } })
    expectStatus(sts, 200)
    await refused(w, sts.body.idToken as string, 'malformed')
  })

  it('a VCDM 2.0 credential with issuanceDate, and one with a date-only validUntil', async () => {
    const w = await world()
    const k = didKeyIssuer()
    const key = await importJWK(k.privateJwk, 'EdDSA')
    const v2 = (extra: Record<string, unknown>): JWTPayload => ({
      '@context': [VC_V2_CONTEXT], type: ['VerifiableCredential', 'MembershipCredential'], issuer: k.did, iss: k.did,
      credentialSubject: { id: w.acme.did }, validFrom: new Date(Date.now() - 3_600_000).toISOString(), ...extra
    })
    const sign = async (p: JWTPayload): Promise<string> => await new SignJWT(p).setProtectedHeader({ alg: 'EdDSA', typ: 'vc+jwt' }).sign(key)
    await refused(w, await sign(v2({ issuanceDate: new Date().toISOString() })), 'malformed')
    await refused(w, await sign(v2({ validUntil: '2099-01-01' })), 'malformed')
    // The well-formed one is stored.
    expectStatus(await store(w, await sign(v2({ validUntil: '2099-01-01T00:00:00Z' }))), 201)
  })

  it('a VCDM 2.0 credential naming a victim as issuer (no iss), signed under the attacker\'s own kid', async () => {
    const w = await world()
    const attacker = didKeyIssuer()
    const key = await importJWK(attacker.privateJwk, 'EdDSA')
    const jwt = await new SignJWT({
      '@context': [VC_V2_CONTEXT], type: ['VerifiableCredential', 'MembershipCredential'], issuer: w.issuer.did, credentialSubject: { id: w.acme.did }
    }).setProtectedHeader({ alg: 'EdDSA', typ: 'vc+jwt', kid: `${attacker.did}#${attacker.did.slice('did:key:'.length)}` }).sign(key)
    await refused(w, jwt, 'bad_credential_signature', 'iss_mismatch')
  })
})

describe('VCDM 2.0 issuance round trip', () => {
  it('a dataModel 2.0 definition: issued as vc+jwt over DCP, stored, presented enveloped in a vp+jwt, both signatures verify', async () => {
    const srv = await orgServer()
    const issuer = await participant(srv, 'issuer', [{ id: '#issuer-service', type: 'IssuerService', serviceEndpoint: `${srv.url}${ISSUANCE}/issuer` }])
    const acme = await participant(srv, 'acme', [{ id: '#credential-service', type: 'CredentialService', serviceEndpoint: `${srv.url}/api/credentials/v1/participants/acme` }])
    const beta = await participant(srv, 'beta')
    const def = await srv.api('POST', `${IDENTITY}/issuer/issuance/definitions`, {
      key: issuer.apiKey, body: { id: 'membership2', credentialType: 'MembershipCredential', claims: { memberOf: 'dataspace' }, statusList: true, dataModel: '2.0' }
    })
    expectStatus(def, 201)
    expect(def.body.dataModel).toBe('2.0')
    const meta = await srv.api('GET', `${ISSUANCE}/issuer/metadata`, { bearer: await idToken(srv, acme, issuer.did) })
    expectStatus(meta, 200)
    expect(meta.body.credentialsSupported).toEqual([expect.objectContaining({ id: 'membership2', profile: 'vc20-bssl/jwt' })])

    const before = seconds()
    const r = await srv.api('POST', `${IDENTITY}/acme/credentials/request`, { key: acme.apiKey, body: { issuerDid: issuer.did, credentials: ['membership2'] } })
    expectStatus(r, 201)
    const rec = await until(async () => {
      const g = await srv.api('GET', `${IDENTITY}/acme/credentials/requests/${r.body.holderPid as string}`, { key: acme.apiKey })
      expectStatus(g, 200)
      return g.body as { status: string, credentialIds?: string[] }
    }, b => b.status === 'ISSUED' || b.status === 'REJECTED')
    expect(rec.status).toBe('ISSUED')
    const [credentialId] = rec.credentialIds ?? []

    const held = await srv.api('GET', `${IDENTITY}/acme/credentials/${encodeURIComponent(credentialId as string)}`, { key: acme.apiKey })
    expectStatus(held, 200)
    const vc = held.body.raw as string
    const { header, payload } = decodeJwt(vc)
    expect(header).toEqual({ alg: 'EdDSA', typ: 'vc+jwt', kid: `${issuer.did}#key-1` })
    expect(payload).toMatchObject({
      '@context': [VC_V2_CONTEXT],
      id: credentialId,
      type: ['VerifiableCredential', 'MembershipCredential'],
      issuer: issuer.did,
      credentialSubject: { id: acme.did, memberOf: 'dataspace' },
      credentialStatus: { type: 'BitstringStatusListEntry', statusPurpose: 'revocation' },
      iss: issuer.did,
      sub: acme.did,
      jti: credentialId
    })
    expect(payload.vc).toBeUndefined()
    expect(payload.issuanceDate).toBeUndefined()
    expect(payload.expirationDate).toBeUndefined()
    const p = payload as { iat: number, nbf: number, exp: number, validFrom: string, validUntil: string }
    expect(p.nbf).toBeGreaterThanOrEqual(before - 1)
    expect(p.iat).toBe(p.nbf)
    expect(p.validFrom).toBe(new Date(p.nbf * 1000).toISOString())
    expect(p.validUntil).toBe(new Date(p.exp * 1000).toISOString())
    expect(parseVcJwt(vc).dataModel).toBe('2.0')

    // Presented by a scope query: one vp+jwt, the credential enveloped in it.
    const presentations = await query({ srv, acme, beta }, [MEMBERSHIP])
    expect(presentations).toHaveLength(1)
    const vp = presentations[0] as string
    const resolve = async (did: string): Promise<DidDocument> => await srv.hub.resolveDocument(did)
    const vpVerified = await verifyDidJwt(vp, resolve, { purpose: 'authentication' })
    expect(vpVerified.did).toBe(acme.did)
    expect(vpVerified.header.typ).toBe('vp+jwt')
    // jose on its own, with the holder's published key.
    const holderKey = vpVerified.verificationMethod.publicKeyJwk as JWK
    const joseVp = await jwtVerify(vp, await importJWK(holderKey, 'EdDSA'), { typ: 'vp+jwt', audience: beta.did, issuer: acme.did })
    expect(joseVp.payload).toMatchObject({ '@context': [VC_V2_CONTEXT], type: ['VerifiablePresentation'], holder: acme.did, sub: acme.did })
    const enveloped = (joseVp.payload as { verifiableCredential: unknown[] }).verifiableCredential
    expect(enveloped).toEqual([{ '@context': VC_V2_CONTEXT, type: 'EnvelopedVerifiableCredential', id: `data:application/vc+jwt,${vc}` }])
    const inner = unenvelope(enveloped[0]) as string
    const vcVerified = await verifyDidJwt(inner, resolve, { purpose: 'assertionMethod' })
    expect(vcVerified.did).toBe(issuer.did)
    const issuerKey = vcVerified.verificationMethod.publicKeyJwk as JWK
    await expect(jwtVerify(inner, await importJWK(issuerKey, 'EdDSA'), { typ: 'vc+jwt', issuer: issuer.did, subject: acme.did })).resolves.toBeDefined()
  })

  it('dataModel must be 1.1 or 2.0; a refused definition is not created', async () => {
    const srv = await orgServer()
    const issuer = await participant(srv, 'issuer')
    for (const dataModel of ['3.0', 2, '2']) {
      const r = await srv.api('POST', `${IDENTITY}/issuer/issuance/definitions`, { key: issuer.apiKey, body: { id: 'm', credentialType: 'MembershipCredential', dataModel } })
      expect(r.status, JSON.stringify(r.body)).toBe(400)
    }
    const list = await srv.api('GET', `${IDENTITY}/issuer/issuance/definitions`, { key: issuer.apiKey })
    expect(list.body).toEqual([])
    const ok = await srv.api('POST', `${IDENTITY}/issuer/issuance/definitions`, { key: issuer.apiKey, body: { id: 'm', credentialType: 'MembershipCredential', dataModel: '1.1' } })
    expectStatus(ok, 201)
    expect(ok.body.dataModel).toBe('1.1')
  })
})

async function idToken (srv: OrgServer, from: Party, audience: string): Promise<string> {
  const r = await srv.api('POST', '/api/sts/token', { key: from.apiKey, body: { audience } })
  expectStatus(r, 200)
  return r.body.idToken as string
}

/** Poll `read` until `done` (the issuer processes after answering 201). */
async function until<T> (read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let last: T | undefined
  for (let i = 0; i < 250; i++) {
    last = await read()
    if (done(last)) return last
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`never settled; last: ${JSON.stringify(last)}`)
}
