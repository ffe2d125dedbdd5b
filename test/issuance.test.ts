/**
 * DCP credential issuance over real HTTP on loopback: an issuer, a holder
 * (acme) and a verifier (beta) on one hub, each with the service endpoints
 * DCP finds in DID documents (IssuerService, CredentialService).
 *
 * The full flow: the holder asks through the Identity API → the issuer
 * answers 201 → processes the request after it → delivers a JWT VC to the
 * holder's Storage API → the holder's record and the issuer's status say
 * ISSUED → a verifier's presentation query gets the credential. Then the
 * Issuer Service's checks (Bearer, message, token, who may see a status),
 * the rejections (allow-list, unknown definition, undeliverable) and the
 * holder side's failures.
 *
 * Processing is asynchronous: tests poll a status until it settles (no
 * timing assertions) or wait for the issuance queue to go idle.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { DidDocument } from '../src/identity/did-key.js'
import { checkServiceEndpoint, findServiceEndpoint } from '../src/org/issuance-client.js'
import { IssuanceService, issuerPidOf } from '../src/org/issuance.js'
import { createDcpAjv, dcpValidator, DCP_CONTEXT, validateCredentialStatus } from '../src/org/dcp/schemas.js'
import { decodeJwt, verifyDidJwt } from '../src/org/jwt.js'
import { cleanup, tempHub } from './helpers.js'
import { orgServer, presentedCredentialIds, type ApiReply, type OrgServer } from './org-helpers.js'
import { orgOf, issuanceOf } from '../src/org/hub-org.js'

afterEach(cleanup)

const IDENTITY = '/api/identity/v1/participants'
const ISSUANCE = '/api/issuance/v1/participants'
const MEMBERSHIP = 'org.eclipse.dspace.dcp.vc.type:MembershipCredential'
const DAY = 86_400

interface Party { id: string, did: string, apiKey: string }

interface World {
  srv: OrgServer
  issuer: Party
  acme: Party
  beta: Party
}

function expectStatus (r: ApiReply, status: number, reason?: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  if (status >= 400) expect(r.body?.error?.code, JSON.stringify(r.body)).toBeTypeOf('string')
  if (reason !== undefined) expect(r.body?.error?.details?.reason, JSON.stringify(r.body)).toBe(reason)
}

async function createParticipant (srv: OrgServer, name: string, o: { active?: boolean, services?: Array<{ id: string, type: string, serviceEndpoint: string }> } = {}): Promise<Party> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: name, did: srv.did(name), active: o.active ?? true, ...(o.services !== undefined ? { services: o.services } : {}) } })
  expectStatus(r, 201)
  return { id: name, did: srv.did(name), apiKey: r.body.apiKey as string }
}

const issuerService = (srv: OrgServer, name: string): { id: string, type: string, serviceEndpoint: string } =>
  ({ id: '#issuer-service', type: 'IssuerService', serviceEndpoint: `${srv.url}${ISSUANCE}/${name}` })
const credentialService = (srv: OrgServer, name: string): { id: string, type: string, serviceEndpoint: string } =>
  ({ id: '#credential-service', type: 'CredentialService', serviceEndpoint: `${srv.url}/api/credentials/v1/participants/${name}` })

async function define (w: Pick<World, 'srv' | 'issuer'>, body: Record<string, unknown>): Promise<ApiReply> {
  return await w.srv.api('POST', `${IDENTITY}/${w.issuer.id}/issuance/definitions`, { key: w.issuer.apiKey, body })
}

/**
 * issuer (IssuerService; definitions `membership` for anyone, `gold` for
 * beta only), acme and beta (CredentialService), all ACTIVATED.
 */
async function world (): Promise<World> {
  const srv = await orgServer()
  const issuer = await createParticipant(srv, 'issuer', { services: [issuerService(srv, 'issuer')] })
  const acme = await createParticipant(srv, 'acme', { services: [credentialService(srv, 'acme')] })
  const beta = await createParticipant(srv, 'beta', { services: [credentialService(srv, 'beta')] })
  const w = { srv, issuer, acme, beta }
  expectStatus(await define(w, { id: 'membership', credentialType: 'MembershipCredential', claims: { memberOf: 'dataspace', level: 1 } }), 201)
  expectStatus(await define(w, { id: 'gold', credentialType: 'GoldCredential', validitySeconds: DAY, holders: [beta.did] }), 201)
  return w
}

async function trustIssuer (w: World, holder: Party): Promise<void> {
  expectStatus(await w.srv.api('PUT', `${IDENTITY}/${holder.id}/credentials/offer-policy`, { key: holder.apiKey, body: { trustedIssuers: [w.issuer.did] } }), 200)
}

/** `from`'s self-issued ID token for `to` (no access token): the Bearer of the Issuer Service and the Storage API. */
async function idToken (w: Pick<World, 'srv'>, from: Party, to: Party | string): Promise<string> {
  const r = await w.srv.api('POST', '/api/sts/token', { key: from.apiKey, body: { audience: typeof to === 'string' ? to : to.did } })
  expectStatus(r, 200)
  return r.body.idToken as string
}

function requestMessage (credentials: string[], holderPid = `h-${randomUUID()}`): Record<string, unknown> {
  return { '@context': [DCP_CONTEXT], type: 'CredentialRequestMessage', holderPid, credentials: credentials.map(id => ({ id })) }
}

/** The holder asks the issuer through its Identity API (the hub sends the DCP request). */
async function requestCredentials (w: World, holder: Party, credentials: string[], issuerDid = w.issuer.did): Promise<ApiReply> {
  return await w.srv.api('POST', `${IDENTITY}/${holder.id}/credentials/request`, { key: holder.apiKey, body: { issuerDid, credentials } })
}

/** Poll `read` until `done` says so (the issuer processes after its 201); returns every value seen. */
async function until<T> (read: () => Promise<T>, done: (v: T) => boolean): Promise<T[]> {
  const seen: T[] = []
  for (let i = 0; i < 200; i++) {
    const v = await read()
    seen.push(v)
    if (done(v)) return seen
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`never settled; last: ${JSON.stringify(seen.at(-1))}`)
}

/** The holder's record of a request, once the issuer's CredentialMessage (or nothing more) has come. */
async function holderRecord (w: World, holder: Party, holderPid: string, final = ['ISSUED', 'REJECTED']): Promise<Record<string, unknown>> {
  const seen = await until(async () => {
    const r = await w.srv.api('GET', `${IDENTITY}/${holder.id}/credentials/requests/${holderPid}`, { key: holder.apiKey })
    expectStatus(r, 200)
    return r.body as Record<string, unknown>
  }, b => final.includes(b.status as string))
  return seen.at(-1) as Record<string, unknown>
}

/** The issuer's status of a request, polled by its holder over DCP (each poll with a fresh ID token). */
async function dcpStatus (w: World, holder: Party, issuerPid: string): Promise<string[]> {
  const seen = await until(async () => {
    const r = await w.srv.api('GET', `${ISSUANCE}/${w.issuer.id}/requests/${issuerPid}`, { bearer: await idToken(w, holder, w.issuer) })
    expectStatus(r, 200)
    validateCredentialStatus(r.body)
    return r.body.status as string
  }, s => s !== 'RECEIVED')
  return seen
}

async function storedCredentials (w: World, holder: Party): Promise<Array<{ credentialId: string, raw: string, types: string[], issuer: string }>> {
  const r = await w.srv.api('GET', `${IDENTITY}/${holder.id}/credentials`, { key: holder.apiKey })
  expectStatus(r, 200)
  return r.body
}

/** acme grants beta `scopes` and beta queries acme: the ids of the credentials in the one VP. */
async function presentedIds (w: World, scopes: string[]): Promise<string[]> {
  return await presentedCredentialIds(w.srv, w.acme, w.beta, scopes)
}

// ═══════════════════════════════════════════════════════════════════════

describe('DCP issuance: the whole flow', () => {
  it('request → 201 → RECEIVED → ISSUED; the credential is in the holder\'s store and presented to a verifier', async () => {
    const w = await world()
    const before = seconds()
    const r = await requestCredentials(w, w.acme, ['membership'])
    expectStatus(r, 201)
    expect(r.body).toMatchObject({ participantId: 'acme', issuerDid: w.issuer.did, credentials: ['membership'] })
    expect(['RECEIVED', 'ISSUED']).toContain(r.body.status)
    const { holderPid, issuerPid } = r.body as { holderPid: string, issuerPid: string }
    expect(issuerPid).toMatch(/^[0-9a-f-]{36}$/)

    // The issuer's status, as its holder sees it over DCP: RECEIVED (maybe) until it settles as ISSUED.
    const statuses = await dcpStatus(w, w.acme, issuerPid)
    expect(statuses.at(-1)).toBe('ISSUED')
    expect(statuses.slice(0, -1).every(s => s === 'RECEIVED')).toBe(true)

    const rec = await holderRecord(w, w.acme, holderPid)
    expect(rec).toMatchObject({ status: 'ISSUED', issuerPid, holderPid })
    const [credentialId] = rec.credentialIds as string[]
    expect(credentialId).toMatch(/^urn:uuid:/)

    // In the holder's store, as the issuer signed it.
    const held = (await storedCredentials(w, w.acme)).find(c => c.credentialId === credentialId)
    expect(held).toMatchObject({ issuer: w.issuer.did, types: ['VerifiableCredential', 'MembershipCredential'] })
    const jwt = held?.raw as string
    await verifyDidJwt(jwt, async did => await w.srv.hub.resolveDocument(did))
    const { header, payload } = decodeJwt(jwt)
    expect(header).toMatchObject({ alg: 'EdDSA', kid: `${w.issuer.did}#key-1` })
    expect(payload).toMatchObject({
      iss: w.issuer.did,
      sub: w.acme.did,
      jti: credentialId,
      vc: {
        id: credentialId,
        type: ['VerifiableCredential', 'MembershipCredential'],
        issuer: w.issuer.did,
        credentialSubject: { id: w.acme.did, memberOf: 'dataspace', level: 1 }
      }
    })
    const p = payload as { nbf: number, exp: number }
    expect(p.nbf).toBeGreaterThanOrEqual(before - 1)
    expect(p.exp - p.nbf).toBe(30 * DAY)

    // The issuer's own record.
    const issued = await w.srv.api('GET', `${IDENTITY}/issuer/issuance/requests`, { key: w.issuer.apiKey })
    expectStatus(issued, 200)
    expect(issued.body).toEqual([expect.objectContaining({ issuerPid, holderPid, holderDid: w.acme.did, status: 'ISSUED', delivered: true, credentialIds: [credentialId] })])

    // A verifier gets it in a presentation.
    expect(await presentedIds(w, [MEMBERSHIP])).toEqual([credentialId])
  })

  it('several definitions in one request: one credential each, all stored', async () => {
    const w = await world()
    const r = await requestCredentials(w, w.beta, ['membership', 'gold'])
    expectStatus(r, 201)
    const rec = await holderRecord(w, w.beta, r.body.holderPid as string)
    expect(rec.status).toBe('ISSUED')
    expect(rec.credentialIds).toHaveLength(2)
    const types = (await storedCredentials(w, w.beta)).map(c => c.types[1]).sort()
    expect(types).toEqual(['GoldCredential', 'MembershipCredential'])
    const gold = (await storedCredentials(w, w.beta)).find(c => c.types.includes('GoldCredential'))
    const gp = decodeJwt(gold?.raw as string).payload as { nbf: number, exp: number }
    expect(gp.exp - gp.nbf).toBe(DAY)
  })

  it('the direct DCP request: 201 with Location and a CredentialStatus body; the status is for the requesting holder only', async () => {
    const w = await world()
    // A request sent by hand is recorded nowhere on acme's side: its delivery is unsolicited unless acme trusts the issuer.
    await trustIssuer(w, w.acme)
    const holderPid = `h-${randomUUID()}`
    const r = await w.srv.api('POST', `${ISSUANCE}/issuer/credentials`, { bearer: await idToken(w, w.acme, w.issuer), body: requestMessage(['membership'], holderPid) })
    expectStatus(r, 201)
    validateCredentialStatus(r.body)
    expect(r.body).toMatchObject({ type: 'CredentialStatus', holderPid, status: 'RECEIVED' })
    const issuerPid = r.body.issuerPid as string
    expect(r.headers.get('location')).toBe(`${ISSUANCE}/issuer/requests/${issuerPid}`)

    // The Location is the status resource, for acme.
    expect((await dcpStatus(w, w.acme, issuerPid)).at(-1)).toBe('ISSUED')
    const own = await w.srv.api('GET', r.headers.get('location') as string, { bearer: await idToken(w, w.acme, w.issuer) })
    expectStatus(own, 200)
    expect(own.body).toEqual({ '@context': [DCP_CONTEXT], type: 'CredentialStatus', issuerPid, holderPid, status: 'ISSUED' })
    // Someone else's request, and a request that does not exist, are both 404.
    expectStatus(await w.srv.api('GET', `${ISSUANCE}/issuer/requests/${issuerPid}`, { bearer: await idToken(w, w.beta, w.issuer) }), 404)
    expectStatus(await w.srv.api('GET', `${ISSUANCE}/issuer/requests/${randomUUID()}`, { bearer: await idToken(w, w.acme, w.issuer) }), 404)
    // acme had no record for this holderPid: the credential was still stored (as any issuer delivery is).
    expect((await storedCredentials(w, w.acme)).some(c => c.issuer === w.issuer.did)).toBe(true)
  })

  it('issuer and holder on two hubs: did:web resolved over HTTP both ways', async () => {
    const w = await world()
    const other = await orgServer()
    const remote = await createParticipant(other, 'remote', { services: [credentialService(other, 'remote')] })
    const r = await other.api('POST', `${IDENTITY}/remote/credentials/request`, { key: remote.apiKey, body: { issuerDid: w.issuer.did, credentials: ['membership'] } })
    expectStatus(r, 201)
    const rec = await until(async () => (await other.api('GET', `${IDENTITY}/remote/credentials/requests/${r.body.holderPid as string}`, { key: remote.apiKey })).body, b => b.status === 'ISSUED')
    const id = (rec.at(-1)?.credentialIds as string[])[0]
    const held = await other.api('GET', `${IDENTITY}/remote/credentials/${encodeURIComponent(id as string)}`, { key: remote.apiKey })
    expectStatus(held, 200)
    expect(held.body).toMatchObject({ issuer: w.issuer.did, subjectId: remote.did })
    // Nothing of it is on the issuer's hub but the issuer's record.
    expect(await orgOf(w.srv.hub).findIssuanceRequest('issuer', r.body.issuerPid as string)).toMatchObject({ holderDid: remote.did, status: 'ISSUED' })
  })

  it('a request left RECEIVED (crash before processing) is processed by resume()', async () => {
    const w = await world()
    // Made straight in the issuer's store, the request has no record on acme's side: acme trusts the issuer instead.
    await trustIssuer(w, w.acme)
    const pending = await orgOf(w.srv.hub).receiveIssuanceRequest('issuer', { holderDid: w.acme.did, holderPid: 'after-restart', credentials: ['membership'] })
    const issuance = await issuanceOf(w.srv.hub)
    expect(await issuance.resume()).toBe(1)
    await issuance.idle()
    const r = await orgOf(w.srv.hub).findIssuanceRequest('issuer', pending.issuerPid)
    expect(r).toMatchObject({ status: 'ISSUED', delivered: true })
    expect((await storedCredentials(w, w.acme)).map(c => c.credentialId)).toContain(r?.credentialIds?.[0])
    expect(await issuance.resume()).toBe(0)
  })
})

describe('DCP issuance: rejections', () => {
  it('a holder not on the allow-list: REJECTED, delivered to the holder, recorded on both sides, nothing stored', async () => {
    const w = await world()
    const r = await requestCredentials(w, w.acme, ['gold'])
    expectStatus(r, 201)
    const rec = await holderRecord(w, w.acme, r.body.holderPid as string)
    expect(rec).toMatchObject({ status: 'REJECTED', issuerPid: r.body.issuerPid })
    expect(rec.reason).toMatch(/not allowed to receive "gold"/)
    expect(rec.credentialIds).toBeUndefined()
    expect((await dcpStatus(w, w.acme, r.body.issuerPid as string)).at(-1)).toBe('REJECTED')
    const issued = await orgOf(w.srv.hub).findIssuanceRequest('issuer', r.body.issuerPid as string)
    expect(issued).toMatchObject({ status: 'REJECTED', delivered: true })
    expect(issued?.rejectionReason).toMatch(/not allowed/)
    expect(await storedCredentials(w, w.acme)).toEqual([])
  })

  it('an allow-list entry matches the holder DID in any spelling of its percent-escapes', async () => {
    const w = await world()
    expectStatus(await define(w, { id: 'acme-only', credentialType: 'AcmeCredential', holders: [w.acme.did.replace('%3A', '%3a')] }), 201)
    const r = await requestCredentials(w, w.acme, ['acme-only'])
    expectStatus(r, 201)
    expect((await holderRecord(w, w.acme, r.body.holderPid as string)).status).toBe('ISSUED')
  })

  it('an unknown definition: accepted (201), then REJECTED and delivered — documented, like any policy failure', async () => {
    const w = await world()
    const r = await requestCredentials(w, w.acme, ['membership', 'no-such-definition'])
    expectStatus(r, 201)
    const rec = await holderRecord(w, w.acme, r.body.holderPid as string)
    expect(rec.status).toBe('REJECTED')
    expect(rec.reason).toMatch(/unknown credential definition "no-such-definition"/)
    // All or nothing: the known definition was not issued either.
    expect(await storedCredentials(w, w.acme)).toEqual([])
  })

  it('a holder without a CredentialService: REJECTED, not delivered, with the reason recorded by the issuer', async () => {
    const w = await world()
    const delta = await createParticipant(w.srv, 'delta')
    const r = await requestCredentials(w, delta, ['membership'])
    expectStatus(r, 201)
    expect((await dcpStatus(w, delta, r.body.issuerPid as string)).at(-1)).toBe('REJECTED')
    const issued = await orgOf(w.srv.hub).findIssuanceRequest('issuer', r.body.issuerPid as string)
    expect(issued).toMatchObject({ status: 'REJECTED', delivered: false })
    expect(issued?.rejectionReason).toMatch(/^delivery failed: .*lists no CredentialService/)
    expect(issued?.credentialIds).toBeUndefined()
    // The holder never heard back: its record stays as the issuer's 201 left it.
    const rec = await w.srv.api('GET', `${IDENTITY}/delta/credentials/requests/${r.body.holderPid as string}`, { key: delta.apiKey })
    expect(rec.body.status).toBe('RECEIVED')
  })

  it('a holder whose CredentialService is plain HTTP beyond loopback: nothing is sent there (REJECTED, not delivered)', async () => {
    const w = await world()
    const eps = await createParticipant(w.srv, 'eps', { services: [{ id: '#cs', type: 'CredentialService', serviceEndpoint: 'http://example.com/api/credentials' }] })
    const r = await requestCredentials(w, eps, ['membership'])
    expectStatus(r, 201)
    expect((await dcpStatus(w, eps, r.body.issuerPid as string)).at(-1)).toBe('REJECTED')
    const issued = await orgOf(w.srv.hub).findIssuanceRequest('issuer', r.body.issuerPid as string)
    expect(issued?.deliveryError).toMatch(/must use HTTPS/)
  })
})

describe('DCP Issuer Service: checks', () => {
  const endpoints = (pid: string): Array<{ method: string, path: string, body?: unknown }> => [
    { method: 'GET', path: `${ISSUANCE}/${pid}/metadata` },
    { method: 'POST', path: `${ISSUANCE}/${pid}/credentials`, body: requestMessage(['membership']) },
    { method: 'GET', path: `${ISSUANCE}/${pid}/requests/${randomUUID()}` }
  ]

  it('401 with WWW-Authenticate: Bearer without a token (or with another scheme)', async () => {
    const w = await world()
    for (const e of endpoints('issuer')) {
      const noBearer: Array<Record<string, string>> = [{}, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }]
      for (const headers of noBearer) {
        const r = await w.srv.api(e.method, e.path, { headers, ...(e.body !== undefined ? { body: e.body } : {}) })
        expectStatus(r, 401)
        expect(r.body.error.code).toBe('authentication_failed')
        expect(r.headers.get('www-authenticate')).toBe('Bearer')
      }
    }
  })

  it('403 with details.reason for a malformed token, one for another audience, and a replayed one', async () => {
    const w = await world()
    const forBeta = await idToken(w, w.acme, w.beta)
    for (const e of endpoints('issuer')) {
      const body = e.body !== undefined ? { body: e.body } : {}
      expectStatus(await w.srv.api(e.method, e.path, { bearer: 'not.a.token', ...body }), 403, 'malformed')
      expectStatus(await w.srv.api(e.method, e.path, { bearer: forBeta, ...body }), 403, 'wrong_audience')
      const once = await idToken(w, w.acme, w.issuer)
      const first = await w.srv.api(e.method, e.path, { bearer: once, ...(e.body !== undefined ? { body: requestMessage(['membership']) } : {}) })
      expect([200, 201, 404]).toContain(first.status)
      expectStatus(await w.srv.api(e.method, e.path, { bearer: once, ...(e.body !== undefined ? { body: requestMessage(['membership']) } : {}) }), 403, 'replayed')
    }
  })

  it('404 for an unknown, a CREATED and a DEACTIVATED issuer — before the token is looked at', async () => {
    const w = await world()
    await createParticipant(w.srv, 'dormant', { active: false })
    expectStatus(await w.srv.api('POST', `${IDENTITY}/issuer/deactivate`, { key: w.srv.adminKey }), 200)
    for (const pid of ['nobody', 'dormant', 'issuer']) {
      for (const e of endpoints(pid)) {
        expectStatus(await w.srv.api(e.method, e.path, { ...(e.body !== undefined ? { body: e.body } : {}) }), 404)
      }
    }
  })

  it('400 for messages that are not a valid CredentialRequestMessage — none consumes the token', async () => {
    const w = await world()
    const token = await idToken(w, w.acme, w.issuer)
    const base = requestMessage(['membership'])
    const bad: unknown[] = [
      {},
      [],
      'text',
      { ...base, type: 'CredentialOfferMessage' },
      { ...base, '@context': ['https://example.com/other'] },
      { ...base, holderPid: undefined },
      { ...base, holderPid: 'x'.repeat(257) },
      { ...base, credentials: [] },
      { ...base, credentials: [{ name: 'membership' }] },
      { ...base, credentials: [{ id: 'membership' }, { id: 'membership' }] },
      { ...base, credentials: Array.from({ length: 17 }, (_, i) => ({ id: `d${i}` })) }
    ]
    for (const body of bad) {
      const r = await w.srv.api('POST', `${ISSUANCE}/issuer/credentials`, { bearer: token, body })
      expectStatus(r, 400)
      expect(r.body.error.code, JSON.stringify(body)).toBe('bad_request')
    }
    expectStatus(await w.srv.api('POST', `${ISSUANCE}/issuer/credentials`, { bearer: token, rawBody: '{not json', headers: { 'content-type': 'application/json' } }), 400)
    // The token is still good.
    expectStatus(await w.srv.api('POST', `${ISSUANCE}/issuer/credentials`, { bearer: token, body: base }), 201)
    expect(await orgOf(w.srv.hub).listIssuanceRequests('issuer')).toHaveLength(1)
  })

  it('metadata lists the definitions and validates against the official IssuerMetadata schema', async () => {
    const w = await world()
    expectStatus(await define(w, { id: 'urn:uuid:d5c77b0e-7f4e-4fd5-8c5f-28b5fc3f96d1', credentialType: 'CompanyCredential', credentialSchema: 'https://example.com/company-credential-schema.json' }), 201)
    const r = await w.srv.api('GET', `${ISSUANCE}/issuer/metadata`, { bearer: await idToken(w, w.beta, w.issuer) })
    expectStatus(r, 200)
    // The official schema, compiled apart from the hub's own validator (format as annotation, as for the
    // upstream examples: CredentialObject ids such as "membership" are not URIs; see protocols/dcp/README.md).
    const validate = dcpValidator(createDcpAjv(), 'issuance/issuer-metadata-schema.json')
    expect(validate(r.body), JSON.stringify(validate.errors)).toBe(true)
    expect(r.body).toMatchObject({ '@context': [DCP_CONTEXT], type: 'IssuerMetadata', issuer: w.issuer.did })
    const byId = new Map((r.body.credentialsSupported as Array<Record<string, unknown>>).map(c => [c.id, c]))
    expect([...byId.keys()].sort()).toEqual(['gold', 'membership', 'urn:uuid:d5c77b0e-7f4e-4fd5-8c5f-28b5fc3f96d1'])
    expect(byId.get('membership')).toEqual({
      id: 'membership', type: 'CredentialObject', credentialType: 'MembershipCredential', credentialSchema: '',
      offerReason: 'issuance', bindingMethods: ['did:web'], profile: 'vc11-sl2021/jwt'
    })
    expect(byId.get('urn:uuid:d5c77b0e-7f4e-4fd5-8c5f-28b5fc3f96d1')?.credentialSchema).toBe('https://example.com/company-credential-schema.json')
    // The allow-list is policy, not metadata: it is not published.
    expect(JSON.stringify(r.body)).not.toContain(w.beta.did)
  })
})

describe('Identity API: credential definitions', () => {
  it('create, list, delete — with 400 for invalid definitions, 409 for a taken id, 404 for an unknown one', async () => {
    const w = await world()
    const base = `${IDENTITY}/issuer/issuance/definitions`
    const list = await w.srv.api('GET', base, { key: w.issuer.apiKey })
    expectStatus(list, 200)
    expect(list.body.map((d: { id: string }) => d.id).sort()).toEqual(['gold', 'membership'])
    expect(list.body.find((d: { id: string }) => d.id === 'membership')).toMatchObject({ credentialType: 'MembershipCredential', validitySeconds: 30 * DAY, claims: { memberOf: 'dataspace', level: 1 } })
    expect(list.body.find((d: { id: string }) => d.id === 'gold')).toMatchObject({ holders: [w.beta.did], validitySeconds: DAY })

    expectStatus(await define(w, { id: 'membership', credentialType: 'Other' }), 409)
    const invalid: Array<Record<string, unknown>> = [
      {},
      { id: 'x' },
      { id: 'bad id', credentialType: 'T' },
      { id: 'x', credentialType: 'VerifiableCredential' },
      { id: 'x', credentialType: 'T', validitySeconds: 0 },
      { id: 'x', credentialType: 'T', validitySeconds: 1.5 },
      { id: 'x', credentialType: 'T', claims: { id: 'did:web:someone-else' } },
      { id: 'x', credentialType: 'T', claims: ['a'] },
      { id: 'x', credentialType: 'T', claims: { big: 'x'.repeat(17_000) } },
      { id: 'x', credentialType: 'T', holders: ['not-a-did'] },
      { id: 'x', credentialType: 'T', holder: [w.acme.did] },
      { id: 'x', credentialType: 'T', credentialSchema: 'relative/path' }
    ]
    for (const body of invalid) expectStatus(await define(w, body), 400)

    expectStatus(await w.srv.api('DELETE', `${base}/gold`, { key: w.issuer.apiKey }), 204)
    expectStatus(await w.srv.api('DELETE', `${base}/gold`, { key: w.issuer.apiKey }), 404)
    expect((await w.srv.api('GET', base, { key: w.issuer.apiKey })).body.map((d: { id: string }) => d.id)).toEqual(['membership'])
    // Another participant's key may not touch them.
    expectStatus(await w.srv.api('GET', base, { key: w.acme.apiKey }), 403)
    expectStatus(await w.srv.api('POST', base, { key: w.acme.apiKey, body: { id: 'y', credentialType: 'T' } }), 403)
  })

  it('deleting the issuer removes its definitions and issuance records; deleting the holder its request records', async () => {
    const w = await world()
    const r = await requestCredentials(w, w.acme, ['membership'])
    expectStatus(r, 201)
    await holderRecord(w, w.acme, r.body.holderPid as string)
    await (await issuanceOf(w.srv.hub)).idle()
    expectStatus(await w.srv.api('DELETE', `${IDENTITY}/issuer`, { key: w.srv.adminKey }), 204)
    expectStatus(await w.srv.api('DELETE', `${IDENTITY}/acme`, { key: w.srv.adminKey }), 204)
    expect(await orgOf(w.srv.hub).check()).toEqual([])
    const left: string[] = []
    for await (const k of w.srv.hub.kv.keys({ gte: 'org!', lt: 'org"' })) left.push(k)
    expect(left.filter(k => /^org!(cd|ir|hr)!/.test(k) && !k.includes('!beta!'))).toEqual([])
  })
})

describe('Holder side: requesting credentials', () => {
  it('400 for bad input, an issuer without IssuerService, or an insecure one; 409 for a holder that is not ACTIVATED; nothing recorded', async () => {
    const w = await world()
    for (const body of [{}, { issuerDid: 'issuer', credentials: ['membership'] }, { issuerDid: w.issuer.did }, { issuerDid: w.issuer.did, credentials: [] }, { issuerDid: w.issuer.did, credentials: [1] }]) {
      expectStatus(await w.srv.api('POST', `${IDENTITY}/acme/credentials/request`, { key: w.acme.apiKey, body }), 400)
    }
    // beta has a CredentialService but no IssuerService.
    expectStatus(await requestCredentials(w, w.acme, ['membership'], w.beta.did), 400, 'no_issuer_service')
    await createParticipant(w.srv, 'plain', { services: [{ id: '#is', type: 'IssuerService', serviceEndpoint: 'http://issuer.example.com/api/issuance' }] })
    expectStatus(await requestCredentials(w, w.acme, ['membership'], w.srv.did('plain')), 400, 'insecure_endpoint')
    const dormant = await createParticipant(w.srv, 'dormant', { active: false })
    expectStatus(await requestCredentials(w, dormant, ['membership']), 409)
    expect((await w.srv.api('GET', `${IDENTITY}/acme/credentials/requests`, { key: w.acme.apiKey })).body).toEqual([])
  })

  it('503 when the issuer cannot be resolved, or refuses the request; a sent request is kept as FAILED', async () => {
    const w = await world()
    // Not hosted here (unpublished): its DID document cannot be resolved.
    await createParticipant(w.srv, 'ghost', { active: false })
    expectStatus(await requestCredentials(w, w.acme, ['membership'], w.srv.did('ghost')), 503, 'unresolvable_issuer')
    expect((await w.srv.api('GET', `${IDENTITY}/acme/credentials/requests`, { key: w.acme.apiKey })).body).toEqual([])

    // An IssuerService pointing at a path that is no issuer: the request is sent, refused (404), and recorded as FAILED.
    await createParticipant(w.srv, 'broken', { services: [{ id: '#is', type: 'IssuerService', serviceEndpoint: `${w.srv.url}/api/issuance/v1/participants/nobody` }] })
    const r = await requestCredentials(w, w.acme, ['membership'], w.srv.did('broken'))
    expectStatus(r, 503, 'refused')
    expect(r.body.error.details.status).toBe(404)
    const list = await w.srv.api('GET', `${IDENTITY}/acme/credentials/requests`, { key: w.acme.apiKey })
    expect(list.body).toEqual([expect.objectContaining({ issuerDid: w.srv.did('broken'), status: 'FAILED', reason: expect.stringMatching(/HTTP 404/) })])
  })

  it('a CredentialMessage from another issuer does not settle the request, and one for an unknown holderPid is accepted as before', async () => {
    const w = await world()
    const pending = await orgOf(w.srv.hub).createHolderRequest('acme', { issuerDid: w.issuer.did, credentials: ['membership'] })
    const storage = '/api/credentials/v1/participants/acme/credentials'
    const rejected = { '@context': [DCP_CONTEXT], type: 'CredentialMessage', issuerPid: 'x', holderPid: pending.holderPid, status: 'REJECTED', rejectionReason: 'no' }
    // beta is not the issuer this request went to.
    expectStatus(await w.srv.api('POST', storage, { bearer: await idToken(w, w.beta, w.acme), body: rejected }), 200)
    expect((await orgOf(w.srv.hub).findHolderRequest('acme', pending.holderPid))?.status).toBe('REQUESTED')
    expectStatus(await w.srv.api('POST', storage, { bearer: await idToken(w, w.issuer, w.acme), body: { ...rejected, holderPid: 'unknown' } }), 200)
    // The issuer itself settles it.
    expectStatus(await w.srv.api('POST', storage, { bearer: await idToken(w, w.issuer, w.acme), body: rejected }), 200)
    expect(await orgOf(w.srv.hub).findHolderRequest('acme', pending.holderPid)).toMatchObject({ status: 'REJECTED', reason: 'no', issuerPid: 'x' })
    // …once.
    expectStatus(await w.srv.api('POST', storage, { bearer: await idToken(w, w.issuer, w.acme), body: { ...rejected, rejectionReason: 'changed my mind' } }), 200)
    expect((await orgOf(w.srv.hub).findHolderRequest('acme', pending.holderPid))?.reason).toBe('no')
  })

  it('lists the requests sent and gets one; 404 for an unknown holderPid', async () => {
    const w = await world()
    const r = await requestCredentials(w, w.acme, ['membership'])
    expectStatus(r, 201)
    await holderRecord(w, w.acme, r.body.holderPid as string)
    const list = await w.srv.api('GET', `${IDENTITY}/acme/credentials/requests`, { key: w.acme.apiKey })
    expectStatus(list, 200)
    expect(list.body).toEqual([expect.objectContaining({ holderPid: r.body.holderPid, status: 'ISSUED' })])
    expectStatus(await w.srv.api('GET', `${IDENTITY}/acme/credentials/requests/nope`, { key: w.acme.apiKey }), 404)
    expectStatus(await w.srv.api('GET', `${IDENTITY}/acme/credentials/requests`, { key: w.beta.apiKey }), 403)
  })
})

function seconds (): number {
  return Math.floor(Date.now() / 1000)
}

// ── delivery: retries, refusals, redirects (a hand-written holder endpoint) ──

interface Seen { status: number, bearer: string, body: Record<string, unknown> }

/** A loopback HTTP server answering each POST with the next of `replies` (a number: that status; 'hang': no answer). */
async function fakeHolder (replies: Array<number | 'hang' | 'redirect'>): Promise<{ url: string, seen: Seen[], close: () => Promise<void> }> {
  const seen: Seen[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = ''
    req.on('data', (c: Buffer) => { text += c.toString() })
    req.on('end', () => {
      const reply = replies[Math.min(seen.length, replies.length - 1)] ?? 200
      seen.push({ status: typeof reply === 'number' ? reply : 0, bearer: String(req.headers.authorization), body: JSON.parse(text) as Record<string, unknown> })
      if (reply === 'hang') return
      if (reply === 'redirect') {
        res.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' }).end()
        return
      }
      res.writeHead(reply, { 'content-type': 'application/json' }).end(JSON.stringify(reply < 300 ? { stored: [] } : { error: { code: 'x', message: `answer ${reply}` } }))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/holder`
  return { url, seen, close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) } }
}

describe('DCP issuance: delivery', () => {
  const HOLDER = 'did:web:holder.example'

  /** An issuer on a fresh hub whose service resolves HOLDER to a document naming `endpoint` as its CredentialService. */
  async function issuerWith (endpoint: string): Promise<{ issuance: IssuanceService, issue: () => Promise<string>, settled: (issuerPid: string) => Promise<Record<string, unknown>> }> {
    const hub = await tempHub()
    await orgOf(hub).createParticipant({ participantId: 'issuer', did: 'did:web:127.0.0.1%3A9:org:issuer', active: true })
    await orgOf(hub).createDefinition('issuer', { id: 'membership', credentialType: 'MembershipCredential' })
    const holderDoc: DidDocument = { '@context': 'https://www.w3.org/ns/did/v1', id: HOLDER, service: [{ id: `${HOLDER}#cs`, type: 'CredentialService', serviceEndpoint: endpoint }] }
    const issuance = new IssuanceService({ org: orgOf(hub), resolveDocument: async () => holderDoc, retryDelaysMs: [10, 10], timeoutMs: 300 })
    return {
      issuance,
      issue: async () => (await issuance.receive('issuer', HOLDER, { '@context': [DCP_CONTEXT], type: 'CredentialRequestMessage', holderPid: 'h1', credentials: [{ id: 'membership' }] })).issuerPid,
      settled: async (issuerPid) => {
        await issuance.idle()
        return { ...(await orgOf(hub).findIssuanceRequest('issuer', issuerPid)) }
      }
    }
  }

  it('retries no answer and 5xx with a fresh token each time, then delivers', async () => {
    const h = await fakeHolder(['hang', 503, 200])
    try {
      const i = await issuerWith(h.url)
      const r = await i.settled(await i.issue())
      expect(r).toMatchObject({ status: 'ISSUED', delivered: true })
      expect(h.seen).toHaveLength(3)
      expect(new Set(h.seen.map(x => x.bearer)).size).toBe(3)
      expect(h.seen.every(x => x.body.type === 'CredentialMessage' && x.body.status === 'ISSUED' && x.body.holderPid === 'h1')).toBe(true)
      const claims = h.seen.map(x => (decodeJwt(x.bearer.slice('Bearer '.length)).payload as { jti: string, aud: string }))
      expect(claims.every(p => p.aud === HOLDER)).toBe(true)
    } finally {
      await h.close()
    }
  })

  it('a 409 on a retry means an earlier attempt got through: delivered', async () => {
    const h = await fakeHolder(['hang', 409])
    try {
      const i = await issuerWith(h.url)
      expect(await i.settled(await i.issue())).toMatchObject({ status: 'ISSUED', delivered: true })
      expect(h.seen).toHaveLength(2)
    } finally {
      await h.close()
    }
  })

  it('a 4xx is final (one attempt), three failures are the end, a redirect is not followed: REJECTED, not delivered', async () => {
    for (const [replies, attempts, why] of [[[400], 1, /HTTP 400: answer 400/], [[500], 3, /HTTP 500/], [['redirect'], 1, /HTTP 307/]] as const) {
      const h = await fakeHolder([...replies])
      try {
        const i = await issuerWith(h.url)
        const r = await i.settled(await i.issue())
        expect(r).toMatchObject({ status: 'REJECTED', delivered: false })
        expect(r.rejectionReason).toMatch(/^delivery failed: /)
        expect(r.deliveryError).toMatch(why)
        expect(h.seen).toHaveLength(attempts)
      } finally {
        await h.close()
      }
    }
  })

  it('close() aborts a delivery in progress and leaves the request RECEIVED for resume()', async () => {
    const h = await fakeHolder(['hang'])
    try {
      const i = await issuerWith(h.url)
      const issuerPid = await i.issue()
      while (h.seen.length === 0) await new Promise(resolve => setTimeout(resolve, 5))
      await i.issuance.close()
      expect((await i.settled(issuerPid)).status).toBe('RECEIVED')
      i.issuance.enqueue('issuer', issuerPid)
      expect((await i.settled(issuerPid)).status).toBe('RECEIVED')
    } finally {
      await h.close()
    }
  })
})

describe('outbound rules and endpoint discovery', () => {
  it('checkServiceEndpoint: HTTPS anywhere, HTTP to loopback only, no credentials', () => {
    for (const ok of ['https://holder.example/cs', 'http://127.0.0.1:8080/x', 'http://localhost/x', 'http://[::1]:9/x', 'http://127.9.9.9/x']) {
      expect(checkServiceEndpoint(ok).href).toBe(new URL(ok).href)
    }
    for (const [bad, reason] of [['http://holder.example/cs', 'insecure_endpoint'], ['http://10.0.0.1/x', 'insecure_endpoint'], ['ftp://127.0.0.1/x', 'insecure_endpoint'], ['https://user:pw@holder.example/', 'bad_endpoint'], ['/relative', 'bad_endpoint']] as const) {
      expect(() => checkServiceEndpoint(bad), bad).toThrow(expect.objectContaining({ code: 'bad_request', details: expect.objectContaining({ reason }) }))
    }
  })

  it('findServiceEndpoint: the first service of the type, a string or the first string of a list', () => {
    const doc = (service: DidDocument['service']): DidDocument => ({ '@context': 'https://www.w3.org/ns/did/v1', id: 'did:web:x', service })
    expect(findServiceEndpoint(doc([{ id: '#a', type: 'Other', serviceEndpoint: 'https://a' }, { id: '#b', type: 'IssuerService', serviceEndpoint: 'https://b' }]), 'IssuerService')).toBe('https://b')
    expect(findServiceEndpoint(doc([{ id: '#b', type: 'IssuerService', serviceEndpoint: [{ x: 1 }, 'https://c'] }]), 'IssuerService')).toBe('https://c')
    expect(findServiceEndpoint(doc([{ id: '#b', type: 'IssuerService', serviceEndpoint: { origins: [] } }]), 'IssuerService')).toBeUndefined()
    expect(findServiceEndpoint(doc(undefined), 'IssuerService')).toBeUndefined()
  })

  it('issuerPidOf: the last path segment after /requests/, else the body', () => {
    expect(issuerPidOf('http://i.example/api/issuance/v1/participants/i/requests/abc', undefined)).toBe('abc')
    expect(issuerPidOf('http://i.example/x/requests/a%20b/', undefined)).toBe('a b')
    expect(issuerPidOf('http://i.example/x/status/abc', { issuerPid: 'from-body' })).toBe('from-body')
    expect(issuerPidOf(undefined, { issuerPid: 'from-body' })).toBe('from-body')
    expect(issuerPidOf(undefined, { issuerPid: '' })).toBeUndefined()
    expect(issuerPidOf(undefined, 'text')).toBeUndefined()
  })
})
