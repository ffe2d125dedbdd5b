/**
 * Issuance, complete: issuer-initiated offers, polling and automatic
 * renewal, over real HTTP between two hubs (two orgServers: each its own
 * store, HTTP server and did:web documents), sharing one injected clock
 * that the tests move and that both hubs' issuance services use.
 *
 * Processing is asynchronous (an accepted offer's request, the issuer's
 * queue): tests poll a record until it settles, never sleep for it.
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { DCP_CONTEXT } from '../src/org/dcp/schemas.js'
import { issuanceOf, orgOf } from '../src/org/hub-org.js'
import { COMMANDS } from '../src/cli/commands/index.js'
import { buildProgram, type Selected } from '../src/cli/program.js'
import type { AnyCommand } from '../src/cli/spec.js'
import { silentLogger } from '../src/log.js'
import type { Hub } from '../src/hub.js'
import { cleanup } from './helpers.js'
import { orgServer, presentedCredentialIds, type ApiReply, type OrgServer } from './org-helpers.js'

afterEach(cleanup)
const holes: Server[] = []
afterEach(async () => {
  for (const h of holes.splice(0)) await new Promise<void>(resolve => h.close(() => { resolve() }))
})

const IDENTITY = '/api/identity/v1/participants'
const ISSUANCE = '/api/issuance/v1/participants'
const CREDENTIALS = '/api/credentials/v1/participants'
const DAY = 86_400
const POLL_MS = 60_000

interface Party { id: string, did: string, apiKey: string }

function expectStatus (r: ApiReply, status: number, reason?: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  if (status >= 400) expect(r.body?.error?.code, JSON.stringify(r.body)).toBeTypeOf('string')
  if (reason !== undefined) expect(r.body?.error?.details?.reason, JSON.stringify(r.body)).toBe(reason)
}

async function until<T> (read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let last: T | undefined
  for (let i = 0; i < 300; i++) {
    last = await read()
    if (done(last)) return last
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`never settled; last: ${JSON.stringify(last)}`)
}

/** A loopback port nothing listens on. */
async function deadPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise<void>(resolve => s.close(() => { resolve() }))
  return port
}

interface World {
  clock: { t: number }
  /** The issuer's hub. */
  a: OrgServer
  /** The holders' hub. */
  b: OrgServer
  issuer: Party
  /** Holder on hub B with a CredentialService. */
  acme: Party
  /** A verifier on hub B. */
  beta: Party
}

async function participant (srv: OrgServer, name: string, services: Array<{ id: string, type: string, serviceEndpoint: string }>): Promise<Party> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: name, did: srv.did(name), active: true, services } })
  expectStatus(r, 201)
  return { id: name, did: srv.did(name), apiKey: r.body.apiKey as string }
}

const credentialService = (srv: OrgServer, name: string): { id: string, type: string, serviceEndpoint: string } =>
  ({ id: '#credential-service', type: 'CredentialService', serviceEndpoint: `${srv.url}${CREDENTIALS}/${name}` })

async function world (): Promise<World> {
  const clock = { t: Date.now() }
  const now = (): number => clock.t
  const a = await orgServer({ now })
  const b = await orgServer({ now })
  // First use of each hub's issuance service: it takes the shared clock (no delivery retries, to keep failures quick).
  for (const srv of [a, b]) await issuanceOf(srv.hub, { now, retryDelaysMs: [], pollIntervalMs: POLL_MS })
  const issuer = await participant(a, 'issuer', [{ id: '#issuer-service', type: 'IssuerService', serviceEndpoint: `${a.url}${ISSUANCE}/issuer` }])
  const acme = await participant(b, 'acme', [credentialService(b, 'acme')])
  const beta = await participant(b, 'beta', [credentialService(b, 'beta')])
  const w = { clock, a, b, issuer, acme, beta }
  // A short validity: 10 days, so the default lead is min(7 days, 5 days) = 5 days.
  expectStatus(await a.api('POST', `${IDENTITY}/issuer/issuance/definitions`, { key: issuer.apiKey, body: { id: 'membership', credentialType: 'MembershipCredential', validitySeconds: 10 * DAY } }), 201)
  expectStatus(await a.api('POST', `${IDENTITY}/issuer/issuance/definitions`, { key: issuer.apiKey, body: { id: 'gold', credentialType: 'GoldCredential', holders: [beta.did] } }), 201)
  return w
}

async function sendOffer (w: World, holderDid: string, credentials: string[], extra: Record<string, unknown> = {}): Promise<ApiReply> {
  return await w.a.api('POST', `${ISSUANCE}/issuer/offers`, { key: w.issuer.apiKey, body: { holderDid, credentials, ...extra } })
}

async function offers (w: World, holder: Party): Promise<Array<Record<string, unknown>>> {
  const r = await w.b.api('GET', `${IDENTITY}/${holder.id}/credentials/offers`, { key: holder.apiKey })
  expectStatus(r, 200)
  return r.body
}

async function request (w: World, holder: Party, holderPid: string): Promise<Record<string, unknown>> {
  const r = await w.b.api('GET', `${IDENTITY}/${holder.id}/credentials/requests/${holderPid}`, { key: holder.apiKey })
  expectStatus(r, 200)
  return r.body
}

async function settled (w: World, holder: Party, holderPid: string): Promise<Record<string, unknown>> {
  return await until(async () => await request(w, holder, holderPid), b => b.status === 'ISSUED' || b.status === 'REJECTED')
}

async function credentials (w: World, holder: Party): Promise<Array<{ credentialId: string, expirationDate: string }>> {
  const r = await w.b.api('GET', `${IDENTITY}/${holder.id}/credentials`, { key: holder.apiKey })
  expectStatus(r, 200)
  return r.body
}

/** The issuer's self-issued ID token for `audience`, from its STS on hub A. */
async function issuerToken (w: World, audience: string, from: Party = w.issuer): Promise<string> {
  const r = await w.a.api('POST', '/api/sts/token', { key: from.apiKey, body: { audience } })
  expectStatus(r, 200)
  return r.body.idToken as string
}

function offerMessage (issuer: string, ids: string[]): Record<string, unknown> {
  return { '@context': [DCP_CONTEXT], type: 'CredentialOfferMessage', issuer, credentials: ids.map(id => ({ id, type: 'CredentialObject', credentialType: 'MembershipCredential', offerReason: 'issuance' })) }
}

async function postOffer (w: World, holder: Party, body: unknown, bearer?: string): Promise<ApiReply> {
  return await w.b.api('POST', `${CREDENTIALS}/${holder.id}/offers`, { ...(bearer !== undefined ? { bearer } : {}), body })
}

describe('issuance lifecycle across two hubs', () => {
  it('offer → trusted issuer → request → credential stored → inside the lead time, tick() renews it → the new one replaces the old, and only it is presented', async () => {
    const w = await world()
    const b = await issuanceOf(w.b.hub)
    expectStatus(await w.b.api('PUT', `${IDENTITY}/acme/credentials/offer-policy`, { key: w.acme.apiKey, body: { trustedIssuers: [w.issuer.did] } }), 200)

    const sent = await sendOffer(w, w.acme.did, ['membership'], { reason: 'reissue' })
    expectStatus(sent, 200)
    expect(sent.body).toMatchObject({ holderDid: w.acme.did, credentials: ['membership'], offerReason: 'reissue', status: 200 })

    const offer = await until(async () => (await offers(w, w.acme))[0], o => o?.status === 'ACCEPTED')
    expect(offer).toMatchObject({ issuerDid: w.issuer.did, credentials: ['membership'], credentialTypes: ['MembershipCredential'], offerReason: 'reissue' })
    const first = await settled(w, w.acme, offer?.holderPid as string)
    expect(first).toMatchObject({ status: 'ISSUED', offerId: offer?.offerId })
    const oldId = (first.credentialIds as string[])[0] as string
    expect((await credentials(w, w.acme)).map(c => c.credentialId)).toEqual([oldId])
    expect(await presentedCredentialIds(w.b, w.acme, w.beta, ['org.eclipse.dspace.dcp.vc.type:MembershipCredential:read'])).toEqual([oldId])

    // Outside the lead time nothing happens.
    w.clock.t += 4 * DAY * 1000
    expect(await b.tick()).toEqual({ polled: 0, renewed: 0 })

    // Inside it (10-day credential, 5-day lead): one renewal, and only one while it is in flight.
    w.clock.t += 2 * DAY * 1000
    expect((await b.tick()).renewed).toBe(1)
    const renewal = (await orgOf(w.b.hub).listHolderRequests('acme')).find(r => r.renews === oldId)
    expect(renewal).toBeDefined()
    const done = await settled(w, w.acme, renewal?.holderPid as string)
    expect(done.status).toBe('ISSUED')
    const newId = (done.credentialIds as string[])[0] as string
    expect(newId).not.toBe(oldId)
    const held = await credentials(w, w.acme)
    expect(held.map(c => c.credentialId)).toEqual([newId])
    expect(Date.parse(held[0]?.expirationDate as string)).toBeGreaterThan(w.clock.t + 9 * DAY * 1000)
    expect(await presentedCredentialIds(w.b, w.acme, w.beta, ['org.eclipse.dspace.dcp.vc.type:MembershipCredential:read'])).toEqual([newId])
    // The renewed credential is not renewed again until its own lead time.
    expect(await b.tick()).toEqual({ polled: 0, renewed: 0 })
    expect(await orgOf(w.b.hub).check()).toEqual([])
  })
})

describe('renewal failures', () => {
  /** acme holds a membership credential from the issuer (requested directly); returns its id. */
  async function held (w: World): Promise<string> {
    const r = await w.b.api('POST', `${IDENTITY}/acme/credentials/request`, { key: w.acme.apiKey, body: { issuerDid: w.issuer.did, credentials: ['membership'] } })
    expectStatus(r, 201)
    return ((await settled(w, w.acme, r.body.holderPid as string)).credentialIds as string[])[0] as string
  }

  it('a REJECTED renewal leaves the old credential, presented until it expires, and is not asked again', async () => {
    const w = await world()
    const oldId = await held(w)
    expectStatus(await w.a.api('DELETE', `${IDENTITY}/issuer/issuance/definitions/membership`, { key: w.issuer.apiKey }), 204)
    const b = await issuanceOf(w.b.hub)
    w.clock.t += 6 * DAY * 1000
    expect((await b.tick()).renewed).toBe(1)
    const renewal = (await orgOf(w.b.hub).listHolderRequests('acme')).find(r => r.renews === oldId)
    expect((await settled(w, w.acme, renewal?.holderPid as string)).status).toBe('REJECTED')
    expect((await credentials(w, w.acme)).map(c => c.credentialId)).toEqual([oldId])
    expect(await presentedCredentialIds(w.b, w.acme, w.beta, ['org.eclipse.dspace.dcp.vc.type:MembershipCredential:read'])).toEqual([oldId])
    w.clock.t += DAY * 1000
    expect((await b.tick()).renewed).toBe(0)
  })

  it('an issuer that cannot be resolved: the renewal is retried after a doubling backoff, not on every tick', async () => {
    const w = await world()
    const oldId = await held(w)
    // The issuer's did:web document is no longer served.
    expectStatus(await w.a.api('POST', `${IDENTITY}/issuer/deactivate`, { key: w.a.adminKey }), 200)
    const b = await issuanceOf(w.b.hub)
    w.clock.t += 6 * DAY * 1000
    expect((await b.tick()).renewed).toBe(1)
    expect((await b.tick()).renewed).toBe(0)
    w.clock.t += POLL_MS
    expect((await b.tick()).renewed).toBe(1)
    w.clock.t += POLL_MS
    expect((await b.tick()).renewed).toBe(0)
    w.clock.t += POLL_MS
    expect((await b.tick()).renewed).toBe(1)
    expect((await credentials(w, w.acme)).map(c => c.credentialId)).toEqual([oldId])
  })
})

describe('the Credential Offer API refuses hostile offers, recording nothing', () => {
  it('no token (401), a malformed one, one for another audience, one signed by a stranger\'s key (403), a replayed one (403 replayed)', async () => {
    const w = await world()
    const msg = offerMessage(w.issuer.did, ['membership'])
    expectStatus(await postOffer(w, w.acme, msg), 401)
    expectStatus(await postOffer(w, w.acme, msg, 'not.a.jwt'), 403, 'malformed')
    expectStatus(await postOffer(w, w.acme, msg, await issuerToken(w, w.beta.did)), 403, 'wrong_audience')
    // A token whose header names the issuer's key but is signed by another participant's key.
    const stranger = await participant(w.a, 'stranger', [])
    const forged = (await issuerToken(w, w.acme.did, stranger)).split('.')
    const real = (await issuerToken(w, w.acme.did)).split('.')
    expectStatus(await postOffer(w, w.acme, msg, [real[0], real[1], forged[2]].join('.')), 403, 'bad_signature')
    const token = await issuerToken(w, w.acme.did)
    expectStatus(await postOffer(w, w.acme, msg, token), 200)
    expectStatus(await postOffer(w, w.acme, msg, token), 403, 'replayed')
    expect(await offers(w, w.acme)).toHaveLength(1)
  })

  it('the body names another issuer than the caller: 403 wrong_issuer; a schema-invalid or oversized body: 400 without consuming the token', async () => {
    const w = await world()
    const stranger = await participant(w.a, 'stranger', [])
    // The stranger authenticates as itself but claims to be the issuer.
    expectStatus(await postOffer(w, w.acme, offerMessage(w.issuer.did, ['membership']), await issuerToken(w, w.acme.did, stranger)), 403, 'wrong_issuer')
    const token = await issuerToken(w, w.acme.did)
    const bad: unknown[] = [
      { ...offerMessage(w.issuer.did, ['membership']), type: 'CredentialRequestMessage' },
      { ...offerMessage(w.issuer.did, ['membership']), '@context': ['https://example.com/other'] },
      { '@context': [DCP_CONTEXT], type: 'CredentialOfferMessage', issuer: w.issuer.did },
      { ...offerMessage(w.issuer.did, ['membership']), credentials: [{ id: 'membership' }] },
      offerMessage(w.issuer.did, []),
      offerMessage(w.issuer.did, Array.from({ length: 17 }, (_, i) => `def-${i}`)),
      offerMessage(w.issuer.did, ['membership', 'membership'])
    ]
    for (const body of bad) expectStatus(await postOffer(w, w.acme, body, token), 400)
    expect(await offers(w, w.acme)).toEqual([])
    // None of them used the token up.
    expectStatus(await postOffer(w, w.acme, offerMessage(w.issuer.did, ['membership']), token), 200)
  })

  it('404 for an unknown or DEACTIVATED holder before the token is looked at; another participant\'s key cannot read or accept acme\'s offers', async () => {
    const w = await world()
    const token = await issuerToken(w, w.acme.did)
    expectStatus(await w.b.api('POST', `${CREDENTIALS}/nobody/offers`, { bearer: token, body: offerMessage(w.issuer.did, ['membership']) }), 404)
    expectStatus(await w.b.api('POST', `${IDENTITY}/beta/deactivate`, { key: w.b.adminKey }), 200)
    expectStatus(await postOffer(w, w.beta, offerMessage(w.issuer.did, ['membership']), await issuerToken(w, w.beta.did)), 404)
    expectStatus(await postOffer(w, w.acme, offerMessage(w.issuer.did, ['membership']), token), 200)
    const [o] = await offers(w, w.acme)
    expectStatus(await w.b.api('GET', `${IDENTITY}/acme/credentials/offers`, { key: w.beta.apiKey }), 403)
    expectStatus(await w.b.api('POST', `${IDENTITY}/acme/credentials/offers/${o?.offerId as string}/accept`, { key: w.beta.apiKey }), 403)
    expectStatus(await w.b.api('PUT', `${IDENTITY}/acme/credentials/offer-policy`, { key: w.beta.apiKey, body: { accept: 'any' } }), 403)
    expect((await offers(w, w.acme)).map(x => x.status)).toEqual(['PENDING'])
  })
})

describe('what an issuer says in an offer is kept as a hint only', () => {
  it('an oversized offerReason is clipped and an oversized credentialType dropped; the offer itself is recorded', async () => {
    const w = await world()
    const msg = { '@context': [DCP_CONTEXT], type: 'CredentialOfferMessage', issuer: w.issuer.did, credentials: [{ id: 'membership', type: 'CredentialObject', credentialType: 'T'.repeat(1000), offerReason: 'r'.repeat(10_000) }] }
    expectStatus(await postOffer(w, w.acme, msg, await issuerToken(w, w.acme.did)), 200)
    const [o] = await offers(w, w.acme)
    expect((o?.offerReason as string).length).toBe(200)
    expect(o?.credentialTypes).toBeUndefined()
    expect(o?.credentials).toEqual(['membership'])
  })
})

describe('the offer policy', () => {
  it('known (default): an issuer never dealt with stays PENDING; accepted by hand, its request is ISSUED; a second accept is 409', async () => {
    const w = await world()
    expectStatus(await sendOffer(w, w.acme.did, ['membership']), 200)
    const [o] = await offers(w, w.acme)
    expect(o).toMatchObject({ status: 'PENDING', issuerDid: w.issuer.did })
    expect(await orgOf(w.b.hub).listHolderRequests('acme')).toEqual([])
    const r = await w.b.api('POST', `${IDENTITY}/acme/credentials/offers/${o?.offerId as string}/accept`, { key: w.acme.apiKey })
    expectStatus(r, 200)
    expect(r.body).toMatchObject({ status: 'ACCEPTED' })
    expect((await settled(w, w.acme, r.body.holderPid as string)).status).toBe('ISSUED')
    expectStatus(await w.b.api('POST', `${IDENTITY}/acme/credentials/offers/${o?.offerId as string}/accept`, { key: w.acme.apiKey }), 409)
    // Now the issuer is known: its next offer is accepted on its own.
    expectStatus(await sendOffer(w, w.acme.did, ['membership']), 200)
    await until(async () => await offers(w, w.acme), l => l.length === 2 && l[1]?.status === 'ACCEPTED')
  })

  it('none: DECLINED, nothing requested, and it cannot be accepted by hand (409); a bad policy is 400 and changes nothing', async () => {
    const w = await world()
    expectStatus(await w.b.api('PUT', `${IDENTITY}/acme/credentials/offer-policy`, { key: w.acme.apiKey, body: { accept: 'none', trustedIssuers: [w.issuer.did] } }), 200)
    for (const body of [{ accept: 'all' }, { trustedIssuers: 'did:web:x' }, { trustedIssuers: ['not-a-did'] }, { renewalLeadS: -5 }]) {
      expectStatus(await w.b.api('PUT', `${IDENTITY}/acme/credentials/offer-policy`, { key: w.acme.apiKey, body }), 400)
    }
    const policy = await w.b.api('GET', `${IDENTITY}/acme/credentials/offer-policy`, { key: w.acme.apiKey })
    expect(policy.body).toMatchObject({ accept: 'none', trustedIssuers: [w.issuer.did] })
    expectStatus(await sendOffer(w, w.acme.did, ['membership']), 200)
    const [o] = await offers(w, w.acme)
    expect(o).toMatchObject({ status: 'DECLINED' })
    expectStatus(await w.b.api('POST', `${IDENTITY}/acme/credentials/offers/${o?.offerId as string}/accept`, { key: w.acme.apiKey }), 409)
    await (await issuanceOf(w.b.hub)).idle()
    expect(await orgOf(w.b.hub).listHolderRequests('acme')).toEqual([])
  })

  it('the issuer\'s side: another participant\'s key (403), an unknown definition (404), a definition not for this holder (400), a holder without CredentialService (400)', async () => {
    const w = await world()
    const other = await participant(w.a, 'other', [])
    expectStatus(await w.a.api('POST', `${ISSUANCE}/issuer/offers`, { key: other.apiKey, body: { holderDid: w.acme.did, credentials: ['membership'] } }), 403)
    expectStatus(await sendOffer(w, w.acme.did, ['nope']), 404, 'unknown_definition')
    expectStatus(await sendOffer(w, w.acme.did, ['gold']), 400, 'holder_not_allowed')
    expectStatus(await sendOffer(w, other.did, ['membership']), 400, 'no_credential_service')
    expectStatus(await sendOffer(w, w.acme.did, ['membership'], { reason: 'x'.repeat(500) }), 400, 'bad_reason')
    expect(await offers(w, w.acme)).toEqual([])
  })
})

describe('polling', () => {
  it('a request the issuer rejected while its CredentialMessage was lost is settled REJECTED by a poll after the interval', async () => {
    const w = await world()
    // lost's CredentialService is unreachable: the issuer's REJECTED message never arrives.
    const lost = await participant(w.b, 'lost', [{ id: '#cs', type: 'CredentialService', serviceEndpoint: `http://127.0.0.1:${await deadPort()}${CREDENTIALS}/lost` }])
    const r = await w.b.api('POST', `${IDENTITY}/lost/credentials/request`, { key: lost.apiKey, body: { issuerDid: w.issuer.did, credentials: ['gold'] } })
    expectStatus(r, 201)
    const issuerSide = await until(async () => await orgOf(w.a.hub).findIssuanceRequest('issuer', r.body.issuerPid as string), x => x?.status === 'REJECTED')
    expect(issuerSide?.delivered).toBe(false)
    expect((await request(w, lost, r.body.holderPid as string)).status).toBe('RECEIVED')

    const b = await issuanceOf(w.b.hub)
    expect((await b.tick()).polled).toBe(0)
    w.clock.t += POLL_MS + 1000
    expect((await b.tick()).polled).toBe(1)
    const rec = await request(w, lost, r.body.holderPid as string)
    expect(rec.status).toBe('REJECTED')
    expect(rec.reason).toMatch(/polled/)
    expect(await orgOf(w.b.hub).check()).toEqual([])
  })

  it('ISSUED but never delivered: counted on each poll, then FAILED and requested once more (and that retry is not retried again)', async () => {
    const w = await world()
    // lost's CredentialService answers 200 to everything and keeps nothing (a misrouted proxy): the issuer believes it delivered.
    const hole = createHttpServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }).end('{}') }) })
    await new Promise<void>(resolve => hole.listen(0, '127.0.0.1', resolve))
    holes.push(hole)
    const holePort = (hole.address() as { port: number }).port
    const lost = await participant(w.b, 'lost', [{ id: '#cs', type: 'CredentialService', serviceEndpoint: `http://127.0.0.1:${holePort}${CREDENTIALS}/lost` }])
    const r = await w.b.api('POST', `${IDENTITY}/lost/credentials/request`, { key: lost.apiKey, body: { issuerDid: w.issuer.did, credentials: ['membership'] } })
    expectStatus(r, 201)
    await until(async () => await orgOf(w.a.hub).findIssuanceRequest('issuer', r.body.issuerPid as string), x => x?.status === 'ISSUED')
    const b = await issuanceOf(w.b.hub)
    const holderPid = r.body.holderPid as string
    for (const missing of [1, 2]) {
      w.clock.t += POLL_MS + 1000
      expect((await b.tick()).polled).toBe(1)
      expect(await request(w, lost, holderPid)).toMatchObject({ status: 'RECEIVED', deliveryMissing: missing })
    }
    w.clock.t += POLL_MS + 1000
    await b.tick()
    const gaveUp = await request(w, lost, holderPid)
    expect(gaveUp).toMatchObject({ status: 'FAILED' })
    expect(gaveUp.reason).toMatch(/^delivery_missing/)
    const retry = (await orgOf(w.b.hub).listHolderRequests('lost')).find(x => x.retryOf === holderPid)
    expect(retry?.holderPid).toBe(gaveUp.retriedAs)
    await until(async () => await orgOf(w.a.hub).findIssuanceRequest('issuer', retry?.issuerPid as string), x => x?.status === 'ISSUED')
    for (let i = 0; i < 3; i++) {
      w.clock.t += POLL_MS + 1000
      await b.tick()
    }
    const requests = await orgOf(w.b.hub).listHolderRequests('lost')
    expect(requests).toHaveLength(2)
    expect(requests.find(x => x.holderPid === retry?.holderPid)).toMatchObject({ status: 'FAILED' })
  })

  it('an unreachable issuer: the request is kept RECEIVED and polled again only after a doubling backoff', async () => {
    const w = await world()
    // An issuer (hosted by hub B) whose IssuerService nothing answers.
    const gone = await participant(w.b, 'gone', [{ id: '#is', type: 'IssuerService', serviceEndpoint: `http://127.0.0.1:${await deadPort()}${ISSUANCE}/gone` }])
    const org = orgOf(w.b.hub)
    const req = await org.createHolderRequest('acme', { issuerDid: gone.did, credentials: ['membership'] })
    await org.updateHolderRequest('acme', req.holderPid, { status: 'RECEIVED', issuerPid: 'at-the-issuer' })
    const b = await issuanceOf(w.b.hub)
    w.clock.t += POLL_MS + 1000
    expect((await b.tick()).polled).toBe(1)
    expect(await org.findHolderRequest('acme', req.holderPid)).toMatchObject({ status: 'RECEIVED', pollFailures: 1, nextPollAt: w.clock.t + 2 * POLL_MS })
    w.clock.t += POLL_MS
    expect((await b.tick()).polled).toBe(0)
    w.clock.t += POLL_MS
    expect((await b.tick()).polled).toBe(1)
    expect(await org.findHolderRequest('acme', req.holderPid)).toMatchObject({ status: 'RECEIVED', pollFailures: 2, nextPollAt: w.clock.t + 4 * POLL_MS })
  })
})

/** Parse `argv` with the real command tree and run the selected command against `hub` in this process. */
async function cli (hub: Hub, argv: string[]): Promise<{ name: string, result: unknown }> {
  let selected: Selected | undefined
  const program = buildProgram(COMMANDS, '9.9.9', x => { selected = x })
  program.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
  await program.parseAsync(argv, { from: 'user' })
  const s = selected as Selected | undefined
  if (s === undefined) throw new Error('no command selected')
  const cmd = s.command as AnyCommand & { kind: string, input: (c: unknown) => unknown, run: (ctx: { hub: Hub }, p: unknown) => Promise<unknown> }
  const params = await cmd.input({ args: s.args, opts: s.opts, dir: '/nonexistent', json: true, logger: silentLogger })
  return { name: String(s.command.name), result: await cmd.run({ hub }, params) }
}

describe('the commands', () => {
  it('hub issuance offer → hub credentials offers → hub credentials offers accept; hub credentials offer-policy shows and sets', async () => {
    const w = await world()
    const set = await cli(w.b.hub, ['credentials', 'offer-policy', '--participant', 'acme', '--accept', 'known', '--renewal-lead', '3600'])
    expect(set).toMatchObject({ name: 'credentials offer-policy', result: { accept: 'known', trustedIssuers: [], renewalLeadS: 3600 } })
    expect((await cli(w.b.hub, ['credentials', 'offer-policy', '--participant', 'acme'])).result).toMatchObject({ renewalLeadS: 3600 })
    await expect(cli(w.b.hub, ['credentials', 'offer-policy', '--participant', 'acme', '--accept', 'everything'])).rejects.toMatchObject({ code: 'bad_request' })

    const sent = await cli(w.a.hub, ['issuance', 'offer', '--participant', 'issuer', '--holder', w.acme.did, '--credential', 'membership', '--reason', 'reissue'])
    expect(sent).toMatchObject({ name: 'issuance offer', result: { holderDid: w.acme.did, credentials: ['membership'], offerReason: 'reissue' } })
    const listed = await cli(w.b.hub, ['credentials', 'offers', '--participant', 'acme'])
    const items = (listed.result as { items: Array<{ offerId: string, status: string }> }).items
    expect(items.map(o => o.status)).toEqual(['PENDING'])
    const accepted = await cli(w.b.hub, ['credentials', 'offers', 'accept', '--participant', 'acme', items[0]?.offerId as string])
    expect(accepted).toMatchObject({ name: 'credentials offers', result: { status: 'ACCEPTED' } })
    await expect(cli(w.b.hub, ['credentials', 'offers', 'reject', '--participant', 'acme', 'x'])).rejects.toMatchObject({ code: 'bad_request' })
    expect((await settled(w, w.acme, (accepted.result as { holderPid: string }).holderPid)).status).toBe('ISSUED')
  })
})
