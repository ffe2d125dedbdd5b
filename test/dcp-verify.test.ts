/**
 * The verifier's side of DCP over real HTTP on loopback (issue 14):
 * `verifyHolder` and `hub dcp verify`.
 *
 * Two hubs: the holder's (an issuer with a status-listed
 * MembershipCredential definition, and acme, its holder) and the
 * verifier's (beta). beta resolves acme's did:web document from the holder
 * hub, finds its CredentialService, queries it with its own ID token
 * carrying the access token acme handed over, and checks the answer.
 *
 * Hostile holders (eve) are participants of the holder hub whose
 * CredentialService is a small node:http server: it answers whatever the
 * test built — VPs signed with eve's real key, someone else's credential,
 * garbage, redirects, errors, too much. Every refusal is checked by its
 * stable finding code. Clock differences are the `now` injection, never
 * waiting; issuance is asynchronous and polled until it settles.
 */
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { BadRequestError, ConflictError, NotFoundError } from '../src/errors.js'
import type { DidDocument } from '../src/identity/did-key.js'
import { verifyHolder as verifyHolderFromRoot } from '../src/index.js'
import { orgOf } from '../src/org/hub-org.js'
import { createVcJwt } from '../src/org/issuance-messages.js'
import { decodeJwt, signJwt, type JwtSigner } from '../src/org/jwt.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { buildPresentations, createVpJwt } from '../src/org/dcp/presentation.js'
import { DCP_CONTEXT, validatePresentationQuery } from '../src/org/dcp/schemas.js'
import { MAX_PRESENTATION_RESPONSE_BYTES, verifyHolder, type HolderVerification, type VerifyHolderOptions } from '../src/org/dcp/verify-client.js'
import { VC_V1_CONTEXT } from '../src/org/vc.js'
import { cleanup, tempDir } from './helpers.js'
import { BIN, hub, killAll, ok, running, startDaemon } from './cli-helpers.js'
import { orgServer, type ApiReply, type OrgServer } from './org-helpers.js'

const IDENTITY = '/api/identity/v1/participants'
const ISSUANCE = '/api/issuance/v1/participants'
const TYPE = 'org.eclipse.dspace.dcp.vc.type'
const MEMBERSHIP = `${TYPE}:MembershipCredential`
const OTHER = `${TYPE}:OtherCredential`

interface Party { id: string, did: string, apiKey: string }

interface World {
  /** The holder's hub: issuer and acme (and hostile holders). */
  h: OrgServer
  /** The verifier's hub: beta. */
  v: OrgServer
  issuer: Party
  acme: Party
  beta: Party
  /** acme's MembershipCredential, as issued. */
  credentialId: string
}

function expectStatus (r: ApiReply, status: number): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
}

type Service = { id: string, type: string, serviceEndpoint: string }

async function participant (srv: OrgServer, name: string, services: Service[] = []): Promise<Party> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: name, did: srv.did(name), active: true, services } })
  expectStatus(r, 201)
  return { id: name, did: srv.did(name), apiKey: r.body.apiKey as string }
}

const credentialService = (endpoint: string): Service => ({ id: '#credential-service', type: 'CredentialService', serviceEndpoint: endpoint })

/** Poll until `read` returns something (issuance settles after the issuer's 201). */
async function until<T> (what: string, read: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await read()
    if (v !== undefined) return v
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** acme asks the issuer for `definition` over DCP and waits for the credential; returns its id. */
async function issue (w: Pick<World, 'h' | 'issuer' | 'acme'>, definition: string): Promise<string> {
  const r = await w.h.api('POST', `${IDENTITY}/acme/credentials/request`, { key: w.acme.apiKey, body: { issuerDid: w.issuer.did, credentials: [definition] } })
  expectStatus(r, 201)
  const holderPid = r.body.holderPid as string
  const rec = await until('the credential', async () => {
    const s = await w.h.api('GET', `${IDENTITY}/acme/credentials/requests/${holderPid}`, { key: w.acme.apiKey })
    return s.body.status === 'ISSUED' || s.body.status === 'REJECTED' ? s.body : undefined
  })
  expect(rec.status, JSON.stringify(rec)).toBe('ISSUED')
  return rec.credentialIds[0] as string
}

async function world (): Promise<World> {
  const h = await orgServer()
  const v = await orgServer()
  const issuer = await participant(h, 'issuer', [{ id: '#issuer-service', type: 'IssuerService', serviceEndpoint: `${h.url}${ISSUANCE}/issuer` }])
  const acme = await participant(h, 'acme', [credentialService(`${h.url}/api/credentials/v1/participants/acme`)])
  const beta = await participant(v, 'beta')
  for (const body of [
    { id: 'membership', credentialType: 'MembershipCredential', claims: { memberOf: 'dataspace' }, statusList: true },
    { id: 'short', credentialType: 'MembershipCredential', validitySeconds: 40 }
  ]) expectStatus(await h.api('POST', `${IDENTITY}/issuer/issuance/definitions`, { key: issuer.apiKey, body }), 201)
  const w = { h, v, issuer, acme, beta }
  return { ...w, credentialId: await issue(w, 'membership') }
}

/** What a holder hands a verifier in a DSP request: its STS answer for the verifier (ID token and the access token inside). */
async function handOver (srv: OrgServer, holder: Party, verifierDid: string, scopes = [MEMBERSHIP]): Promise<{ idToken: string, accessToken: string }> {
  const r = await srv.api('POST', '/api/sts/token', { key: holder.apiKey, body: { audience: verifierDid, scope: scopes } })
  expectStatus(r, 200)
  return r.body
}

/** beta verifies `holder` (default acme) on the verifier hub; the token defaults to the holder's ID token for beta. */
async function verify (w: World, o: Omit<Partial<VerifyHolderOptions>, 'token'> & { holder?: Party, token?: string | null } = {}): Promise<HolderVerification> {
  const holder = o.holder ?? w.acme
  const scopes = o.scopes ?? [MEMBERSHIP]
  const token = o.token === null ? undefined : o.token ?? (await handOver(w.h, holder, w.beta.did, scopes)).idToken
  const { holder: _h, token: _t, ...rest } = o
  return await verifyHolder(orgOf(w.v.hub), {
    verifierPid: 'beta',
    holderDid: holder.did,
    scopes,
    resolveDocument: async did => await w.v.hub.resolveDocument(did),
    ...rest,
    ...(token !== undefined ? { token } : {})
  })
}

/** Every finding code in a report, sorted. */
function codes (r: HolderVerification): string[] {
  return [
    ...r.problems.map(p => p.code),
    ...r.presentations.flatMap(p => p.problems.map(x => x.code)),
    ...r.credentials.flatMap(c => c.problems.map(x => x.code)),
    ...r.missing.map(() => 'missing')
  ].sort()
}

// ── a hostile CredentialService ─────────────────────────────────────────

interface Hostile {
  url: string
  /** The requests received: headers and body. */
  seen: Array<{ path: string, authorization?: string, body: unknown }>
  answer: (req: IncomingMessage, res: ServerResponse) => void
}

const httpServers: Server[] = []
afterEach(async () => {
  for (const s of httpServers.splice(0)) await new Promise<void>(resolve => { s.closeAllConnections(); s.close(() => { resolve() }) })
  await cleanup()
})

async function hostileService (): Promise<Hostile> {
  const h: Hostile = { url: '', seen: [], answer: (_req, res) => { res.writeHead(500).end() } }
  const server = createServer((req, res) => {
    let data = ''
    req.on('data', (c: Buffer) => { data += c.toString() })
    req.on('end', () => {
      let body: unknown = data
      try { body = JSON.parse(data) } catch { /* as text */ }
      h.seen.push({ path: req.url ?? '', ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}), body })
      h.answer(req, res)
    })
  })
  httpServers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  h.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return h
}

function json (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

const response = (vps: unknown[]): unknown => ({ '@context': [DCP_CONTEXT], type: 'PresentationResponseMessage', presentation: vps })

/** eve: a holder on the holder hub whose CredentialService is `hostile`; her real signing key and the issuer's, for building answers by hand. */
async function eve (w: World, hostile: Hostile, name = 'eve'): Promise<{ party: Party, key: JwtSigner, issuerKey: JwtSigner }> {
  const party = await participant(w.h, name, [credentialService(`${hostile.url}/api/credentials/v1/participants/${name}`)])
  return { party, key: await orgOf(w.h.hub).signingKey(name), issuerKey: await orgOf(w.h.hub).signingKey('issuer') }
}

/** A MembershipCredential from the issuer about `subject`. */
function membership (issuerKey: JwtSigner, issuerDid: string, subject: string, nowS = Math.floor(Date.now() / 1000)): string {
  return createVcJwt(issuerKey, { issuerDid, holderDid: subject, credentialType: 'MembershipCredential', claims: { memberOf: 'dataspace' }, validitySeconds: 3600, now: nowS }).jwt
}

async function heldJwt (w: World, id: string): Promise<string> {
  const r = await w.h.api('GET', `${IDENTITY}/acme/credentials/${encodeURIComponent(id)}`, { key: w.acme.apiKey })
  expectStatus(r, 200)
  return r.body.raw as string
}

// ═══════════════════════════════════════════════════════════════════════

describe('verifyHolder: a holder on another hub', () => {
  it('verifies acme\'s issued credential: the ID token acme handed over, or the bare access token', async () => {
    const w = await world()
    const r = await verify(w)
    expect(codes(r)).toEqual([])
    expect(r).toMatchObject({
      ok: true, holder: w.acme.did, verifier: w.beta.did, scopes: [MEMBERSHIP], tokenSource: 'given', missing: [],
      endpoint: `${w.h.url}/api/credentials/v1/participants/acme/presentations/query`,
      presentations: [{ index: 0, ok: true, dataModel: '1.1' }]
    })
    expect(r.credentials).toEqual([expect.objectContaining({
      id: w.credentialId, issuer: w.issuer.did, subject: w.acme.did, ok: true, dataModel: '1.1',
      checks: { signature: 'pass', validity: 'pass', status: 'pass', holderBinding: 'pass', issuerTrust: 'skip' }
    })])
    // With a trust list: the issuer listed passes, a list without it fails the credential.
    const trusted = await verify(w, { trustedIssuers: [w.issuer.did] })
    expect(trusted.ok).toBe(true)
    expect(trusted.credentials[0]?.checks.issuerTrust).toBe('pass')
    const untrusted = await verify(w, { trustedIssuers: [w.beta.did] })
    expect(untrusted.ok).toBe(false)
    expect(codes(untrusted)).toEqual(['missing', 'untrusted_issuer'])

    const bare = await verify(w, { token: (await handOver(w.h, w.acme, w.beta.did)).accessToken })
    expect(codes(bare)).toEqual([])
    // The package root's lazy export is the same function.
    const viaRoot = await verifyHolderFromRoot(orgOf(w.v.hub), {
      verifierPid: 'beta', holderDid: w.acme.did, scopes: [MEMBERSHIP], token: (await handOver(w.h, w.acme, w.beta.did)).idToken,
      resolveDocument: async did => await w.v.hub.resolveDocument(did)
    })
    expect(viaRoot.ok).toBe(true)
  })

  it('a requested scope no credential answers → missing', async () => {
    const w = await world()
    const r = await verify(w, { scopes: [MEMBERSHIP, OTHER] })
    expect(r.ok).toBe(false)
    expect(r.missing).toEqual([OTHER])
    expect(r.credentials.map(c => c.ok)).toEqual([true])
  })

  it('expired at the verifier\'s clock (50 s ahead of the holder\'s) → expired, and the scope missing', async () => {
    const w = await world()
    const shortId = await issue(w, 'short') // valid 40 s from issuance
    const r = await verify(w, { now: () => Date.now() + 50_000 })
    // The holder (on real time) still presents it; the verifier, later, finds it expired.
    const short = r.credentials.find(c => c.id === shortId)
    expect(short).toMatchObject({ ok: false, checks: { validity: 'fail', signature: 'pass' }, problems: [{ code: 'expired' }] })
    expect(r.presentations[0]?.ok).toBe(true)
    expect(r.ok).toBe(false)
    // The status-listed credential from the other definition is still fine.
    expect(r.credentials.find(c => c.id === w.credentialId)?.ok).toBe(true)
    expect(r.missing).toEqual([])
  })

  it('not yet valid at the verifier\'s clock (50 s behind) → not_yet_valid', async () => {
    const w = await world()
    const r = await verify(w, { now: () => Date.now() - 50_000 })
    expect(r.presentations[0]?.ok).toBe(true) // the VP's iat is within the 60 s skew
    expect(r.credentials[0]).toMatchObject({ ok: false, checks: { validity: 'fail' }, problems: [{ code: 'not_yet_valid' }] })
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('revoked by the issuer after the holder last looked at its list → revoked (the holder\'s cached list still says clear)', async () => {
    const w = await world()
    expect((await verify(w)).ok).toBe(true) // the holder hub has now cached the issuer's list
    expectStatus(await w.h.api('POST', `${IDENTITY}/issuer/issuance/credentials/${encodeURIComponent(w.credentialId)}/revoke`, { key: w.issuer.apiKey }), 200)
    const r = await verify(w)
    expect(r.credentials).toEqual([expect.objectContaining({ id: w.credentialId, ok: false, checks: expect.objectContaining({ signature: 'pass', status: 'fail' }) })])
    expect(r.credentials[0]?.problems).toMatchObject([{ code: 'revoked', details: { statusListCredential: expect.stringContaining('/status/') } }])
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('suspended in the issuer\'s suspension list → suspended; an unreachable list → status_unverifiable', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    // A suspension list the issuer signs, served from a loopback status server.
    const bits = new Uint8Array(16 * 1024)
    bits[0] = 0x80 // index 0
    const listUrl = `${hostile.url}/status/suspension`
    const list = signJwt(e.issuerKey, {
      iss: w.issuer.did, iat: Math.floor(Date.now() / 1000) - 60, exp: Math.floor(Date.now() / 1000) + 3600,
      vc: { '@context': [VC_V1_CONTEXT], id: listUrl, type: ['VerifiableCredential', 'BitstringStatusListCredential'], credentialSubject: { id: `${listUrl}#list`, type: 'BitstringStatusList', statusPurpose: 'suspension', encodedList: `u${Buffer.from(gzipSync(bits)).toString('base64url')}` } }
    })
    const entry = (url: string): Record<string, unknown> => ({ id: `${url}#0`, type: 'BitstringStatusListEntry', statusPurpose: 'suspension', statusListIndex: '0', statusListCredential: url })
    const now = Math.floor(Date.now() / 1000)
    const suspended = createVcJwt(e.issuerKey, { issuerDid: w.issuer.did, holderDid: e.party.did, credentialType: 'MembershipCredential', validitySeconds: 3600, now, credentialStatus: entry(listUrl) }).jwt
    const unknowable = createVcJwt(e.issuerKey, { issuerDid: w.issuer.did, holderDid: e.party.did, credentialType: 'MembershipCredential', validitySeconds: 3600, now, credentialStatus: entry(`${hostile.url}/status/gone`) }).jwt
    hostile.answer = (req, res) => {
      if (req.url === '/status/suspension') { res.writeHead(200, { 'content-type': 'application/vc+jwt' }).end(list); return }
      if (req.url?.endsWith('/presentations/query') === true) { json(res, 200, response([createVpJwt(e.key, { holderDid: e.party.did, audience: w.beta.did, credentials: [suspended, unknowable], now })])); return }
      res.writeHead(404).end()
    }
    const r = await verify(w, { holder: e.party })
    expect(r.credentials.map(c => c.problems.map(p => p.code))).toEqual([['suspended'], ['status_unverifiable']])
    expect(r.missing).toEqual([MEMBERSHIP])
  })
})

describe('verifyHolder: hostile holders', () => {
  it('presents a credential about someone else (acme\'s, in a VP eve really signed) → holder_mismatch', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    const stolen = await heldJwt(w, w.credentialId)
    hostile.answer = (_req, res) => {
      json(res, 200, response(buildPresentations(e.key, { holderDid: e.party.did, audience: w.beta.did, now: Math.floor(Date.now() / 1000), credentials: [{ raw: stolen, dataModel: '1.1' }] }).presentations))
    }
    const r = await verify(w, { holder: e.party })
    expect(r.presentations[0]?.ok).toBe(true)
    expect(r.credentials[0]).toMatchObject({ id: w.credentialId, subject: w.acme.did, ok: false, checks: { signature: 'pass', holderBinding: 'fail' }, problems: [{ code: 'holder_mismatch' }] })
    expect(r.missing).toEqual([MEMBERSHIP])

    // What eve received was a real DCP query: the official message, and beta's ID token for eve carrying the access token eve granted.
    expect(hostile.seen).toHaveLength(1)
    const seen = hostile.seen[0] as Hostile['seen'][number]
    expect(seen.path).toBe('/api/credentials/v1/participants/eve/presentations/query')
    expect(validatePresentationQuery(seen.body)).toMatchObject({ scope: [MEMBERSHIP] })
    const idToken = decodeJwt((seen.authorization ?? '').replace(/^Bearer /, '')).payload
    expect(idToken).toMatchObject({ iss: w.beta.did, sub: w.beta.did, aud: e.party.did })
    expect(decodeJwt(idToken.token as string).payload).toMatchObject({ iss: e.party.did, sub: w.beta.did, scope: MEMBERSHIP })
  })

  it('an answer that is not a PresentationResponseMessage → schema_violation', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    const answers: Array<Hostile['answer']> = [
      (_req, res) => { json(res, 200, { presentation: 'trust me' }) },
      (_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }).end('not json at all') },
      (_req, res) => { json(res, 200, { ...(response([]) as object), type: 'PresentationQueryMessage' }) }
    ]
    for (const answer of answers) {
      hostile.answer = answer
      const r = await verify(w, { holder: e.party })
      expect(r.problems.map(p => p.code)).toEqual(['schema_violation'])
      expect(r).toMatchObject({ ok: false, presentations: [], credentials: [], missing: [MEMBERSHIP] })
    }
  })

  it('a VP addressed to another verifier → wrong_audience', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    const own = membership(e.issuerKey, w.issuer.did, e.party.did)
    hostile.answer = (_req, res) => { json(res, 200, response([createVpJwt(e.key, { holderDid: e.party.did, audience: w.acme.did, credentials: [own], now: Math.floor(Date.now() / 1000) })])) }
    const r = await verify(w, { holder: e.party })
    expect(r.presentations[0]?.problems.map(p => p.code)).toEqual(['wrong_audience'])
    expect(r.credentials[0]?.problems.map(p => p.code)).toEqual(['in_rejected_presentation'])
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('a VP signed by a key not in the holder\'s DID document → bad_vp_signature', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    const own = membership(e.issuerKey, w.issuer.did, e.party.did)
    const stranger = Ed25519KeyPair.generate()
    const forged: JwtSigner = { kid: e.key.kid, sign: d => stranger.sign(d) }
    hostile.answer = (_req, res) => { json(res, 200, response([createVpJwt(forged, { holderDid: e.party.did, audience: w.beta.did, credentials: [own], now: Math.floor(Date.now() / 1000) })])) }
    const r = await verify(w, { holder: e.party })
    expect(r.presentations[0]?.problems).toMatchObject([{ code: 'bad_vp_signature', details: { reason: 'bad_signature' } }])
    expect(r.ok).toBe(false)
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('a CredentialService that redirects → redirected, and the redirect is not followed', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    hostile.answer = (_req, res) => { res.writeHead(307, { location: `${w.h.url}/api/credentials/v1/participants/acme/presentations/query` }).end() }
    const r = await verify(w, { holder: e.party })
    expect(r.problems).toMatchObject([{ code: 'redirected', details: { status: 307 } }])
    expect(hostile.seen).toHaveLength(1)
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('a non-loopback plain-HTTP CredentialService → insecure_endpoint, nothing sent; none at all → no_credential_service', async () => {
    const w = await world()
    const plain = await participant(w.h, 'plain', [credentialService('http://holder.example/api/credentials/v1/participants/plain')])
    const r = await verify(w, { holder: plain })
    expect(r).toMatchObject({ ok: false, problems: [{ code: 'insecure_endpoint' }], missing: [MEMBERSHIP] })
    expect(r.endpoint).toBeUndefined()
    const none = await participant(w.h, 'none')
    expect((await verify(w, { holder: none })).problems.map(p => p.code)).toEqual(['no_credential_service'])
  })

  it('relays acme\'s genuine VP for beta as its own → bad_vp_signature and vp_wrong_holder, acme\'s credential counts for nothing', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    const acmeKey = await orgOf(w.h.hub).signingKey('acme')
    const stolen = await heldJwt(w, w.credentialId)
    hostile.answer = (_req, res) => { json(res, 200, response([createVpJwt(acmeKey, { holderDid: w.acme.did, audience: w.beta.did, credentials: [stolen], now: Math.floor(Date.now() / 1000) })])) }
    const r = await verify(w, { holder: e.party })
    expect(r.presentations[0]?.problems.map(p => p.code).sort()).toEqual(['bad_vp_signature', 'vp_wrong_holder'])
    expect(r.credentials[0]?.problems.map(p => p.code).sort()).toEqual(['holder_mismatch', 'in_rejected_presentation'])
    expect(r.missing).toEqual([MEMBERSHIP])
  })

  it('a DID document naming a link-local CredentialService → forbidden_address, nothing sent', async () => {
    const w = await world()
    const doctored = async (did: string): Promise<DidDocument> => {
      const doc = await w.v.hub.resolveDocument(did)
      return did === w.acme.did ? { ...doc, service: [{ id: `${did}#cs`, type: 'CredentialService', serviceEndpoint: 'https://169.254.169.254/latest/meta-data' }] } : doc
    }
    const r = await verify(w, { resolveDocument: doctored })
    expect(r.problems).toMatchObject([{ code: 'forbidden_address' }])
    expect(r.endpoint).toBeUndefined()
  })

  it('a CredentialService that never answers → unreachable once the timeout passes', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    hostile.answer = () => { /* holds the request open */ }
    const r = await verify(w, { holder: e.party, outbound: { timeoutMs: 300 } })
    expect(r.problems).toMatchObject([{ code: 'unreachable', message: expect.stringContaining('timed out') }])
    expect(hostile.seen).toHaveLength(1)
  })

  it('an error answer → holder_refused with the holder\'s error code (a real holder refusing an access token granted to someone else)', async () => {
    const w = await world()
    const gamma = await participant(w.h, 'gamma')
    const notOurs = (await handOver(w.h, w.acme, gamma.did)).accessToken
    const r = await verify(w, { token: notOurs })
    expect(r.problems).toMatchObject([{ code: 'holder_refused', details: { status: 403, holderCode: 'permissions_required' } }])
    expect(r.ok).toBe(false)
  })

  it('an answer over the size cap → response_too_large', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    hostile.answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(response(['x'.repeat(MAX_PRESENTATION_RESPONSE_BYTES)])))
    }
    const r = await verify(w, { holder: e.party })
    expect(r.problems.map(p => p.code)).toEqual(['response_too_large'])
  })

  it('a holder whose DID document cannot be resolved → unresolvable_holder', async () => {
    const w = await world()
    const ghost = { id: 'ghost', did: w.h.did('ghost'), apiKey: '' }
    const r = await verify(w, { holder: ghost, token: (await handOver(w.h, w.acme, w.beta.did)).accessToken })
    expect(r.problems.map(p => p.code)).toEqual(['unresolvable_holder'])
  })
})

describe('verifyHolder: the caller\'s mistakes throw, and send nothing', () => {
  it('an ID token that is not the holder\'s, not for us, or forged → bad_request with a reason', async () => {
    const w = await world()
    const hostile = await hostileService()
    const e = await eve(w, hostile)
    const reason = async (token: string): Promise<unknown> => {
      const err = await verify(w, { holder: e.party, token }).then(() => undefined, (x: unknown) => x)
      expect(err).toBeInstanceOf(BadRequestError)
      return (err as BadRequestError).details?.reason
    }
    // acme's genuine ID token, handed over as if it were eve's.
    expect(await reason((await handOver(w.h, w.acme, w.beta.did)).idToken)).toBe('token_not_from_holder')
    // eve's, but for someone else.
    expect(await reason((await handOver(w.h, e.party, w.acme.did)).idToken)).toBe('token_wrong_audience')
    // eve's claims, signed by a stranger under eve's kid.
    const stranger = Ed25519KeyPair.generate()
    const now = Math.floor(Date.now() / 1000)
    expect(await reason(signJwt({ kid: e.key.kid, sign: d => stranger.sign(d) }, { iss: e.party.did, sub: e.party.did, aud: w.beta.did, iat: now, exp: now + 300, jti: randomUUID(), token: 'x' }))).toBe('bad_token_signature')
    expect(await reason(signJwt(e.key, { iss: e.party.did, sub: e.party.did, aud: w.beta.did, iat: now - 1000, exp: now - 500, jti: randomUUID(), token: 'x' }))).toBe('token_expired')
    expect(await reason('not a jwt')).toBe('malformed_token')
    expect(hostile.seen).toEqual([])
  })

  it('no token for a holder on another hub → token_required; bad scopes, holder, verifier', async () => {
    const w = await world()
    const err = await verify(w, { token: null }).then(() => undefined, (x: unknown) => x)
    expect(err).toBeInstanceOf(BadRequestError)
    expect((err as BadRequestError).details?.reason).toBe('token_required')
    const token = (await handOver(w.h, w.acme, w.beta.did)).accessToken
    await expect(verify(w, { token, scopes: [] })).rejects.toThrow(/at least one scope/)
    await expect(verify(w, { token, scopes: [`${TYPE}:Membership:write`] })).rejects.toThrow(/invalid DCP scope/)
    await expect(verify(w, { token, holderDid: 'acme' })).rejects.toThrow(/holder must be a DID/)
    await expect(verify(w, { verifierPid: 'nobody' })).rejects.toBeInstanceOf(NotFoundError)
    expectStatus(await w.v.api('POST', `${IDENTITY}/beta/deactivate`, { key: w.v.adminKey }), 200)
    await expect(verify(w)).rejects.toBeInstanceOf(ConflictError)
  })
})

describe('verifyHolder: a holder on this hub', () => {
  it('without a token, our STS grants the holder\'s access token itself (tokenSource local)', async () => {
    const w = await world()
    await participant(w.h, 'local-verifier')
    const r = await verifyHolder(orgOf(w.h.hub), { verifierPid: 'local-verifier', holderDid: w.acme.did, scopes: [MEMBERSHIP], resolveDocument: async did => await w.h.hub.resolveDocument(did) })
    expect(codes(r)).toEqual([])
    expect(r).toMatchObject({ ok: true, tokenSource: 'local' })
  })
})

// ── the command line ────────────────────────────────────────────────────

describe('hub dcp verify through a daemon with --http', { timeout: 120_000 }, () => {
  afterAll(async () => { await killAll() })

  it('issuer, holder and verifier on one daemon: verified (exit 0), a missing scope (exit 1), --json, and bad input', async () => {
    if (!existsSync(BIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
    const dir = join(await tempDir('dcp-verify-'), 'hub')
    await ok(['init', '--dir', dir])
    const daemon = await startDaemon(dir, ['--http', '127.0.0.1:0'])
    try {
      const url = (daemon.info.http as { url: string }).url
      const adminKey = (await readFile((daemon.info.http as { adminKeyFile: string }).adminKeyFile, 'utf8')).trim()
      const port = new URL(url).port
      const did = (n: string): string => `did:web:127.0.0.1%3A${port}:org:${n}`
      const api = async (method: string, path: string, key: string, body?: unknown): Promise<{ status: number, body: Record<string, unknown> }> => {
        const res = await fetch(url + path, { method, headers: { 'x-api-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
        return { status: res.status, body: await res.json() as Record<string, unknown> }
      }
      const keys: Record<string, string> = {}
      for (const [id, services] of [
        ['issuer', [{ id: '#issuer-service', type: 'IssuerService', serviceEndpoint: `${url}${ISSUANCE}/issuer` }]],
        ['acme', [credentialService(`${url}/api/credentials/v1/participants/acme`)]],
        ['beta', []]
      ] as const) {
        const r = await api('POST', IDENTITY, adminKey, { participantId: id, did: did(id), active: true, services })
        expect(r.status).toBe(201)
        keys[id] = r.body.apiKey as string
      }
      expect((await api('POST', `${IDENTITY}/issuer/issuance/definitions`, keys.issuer as string, { id: 'membership', credentialType: 'MembershipCredential', statusList: true })).status).toBe(201)
      await ok(['credentials', 'request', '--dir', dir, '--participant', 'acme', '--issuer', did('issuer'), '--definition', 'membership'])
      await until('the credential', async () => {
        const r = await api('GET', `${IDENTITY}/acme/credentials`, keys.acme as string)
        return Array.isArray(r.body) && r.body.length > 0 ? true : undefined
      })

      const args = ['dcp', 'verify', '--dir', dir, '--participant', 'beta', '--holder', did('acme'), '--scope', MEMBERSHIP]
      const human = await hub(args)
      expect(human.stderr).toBe('')
      expect(human.code).toBe(0)
      expect(human.stdout).toContain('✔ signature  ✔ validity  ✔ status  ✔ holder binding')
      expect(human.stdout.trimEnd().endsWith('VERIFIED')).toBe(true)

      const report = await ok(args)
      expect(report).toMatchObject({ ok: true, tokenSource: 'local', holder: did('acme'), verifier: did('beta'), missing: [] })

      // The holder's own ID token, handed over: same answer.
      const handed = await api('POST', '/api/sts/token', keys.acme as string, { audience: did('beta'), scope: [MEMBERSHIP] })
      expect(await ok([...args, '--token', handed.body.idToken as string])).toMatchObject({ ok: true, tokenSource: 'given' })

      const missing = await hub([...args, '--scope', OTHER])
      expect(missing.code).toBe(1)
      expect(missing.stdout).toContain(`✘ missing: no valid credential for ${OTHER}`)
      expect(missing.stdout.trimEnd().endsWith('NOT VERIFIED')).toBe(true)
      const missingJson = await hub([...args, '--scope', OTHER, '--json'])
      expect(missingJson.code).toBe(1)
      expect(JSON.parse(missingJson.stdout)).toMatchObject({ ok: false, missing: [OTHER] })

      const bad = await hub([...args.slice(0, -2), '--scope', 'nonsense', '--json'])
      expect(bad.code).toBe(1)
      expect(bad.stdout).toBe('')
      expect(JSON.parse(bad.stderr)).toMatchObject({ error: { code: 'bad_request' } })
      const foreign = await hub(['dcp', 'verify', '--dir', dir, '--participant', 'beta', '--holder', 'did:web:holder.example:org:x', '--scope', MEMBERSHIP, '--json'])
      expect(foreign.code).toBe(1)
      expect(JSON.parse(foreign.stderr)).toMatchObject({ error: { code: 'bad_request', message: expect.stringContaining('(--token)') } })
    } finally {
      expect((await hub(['stop', '--dir', dir, '--json'])).code).toBe(0)
      await daemon.exit
      running.delete(daemon)
    }
  })
})
