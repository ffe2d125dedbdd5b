/**
 * Outside attacks on the organization / DCP surfaces, over real HTTP on
 * loopback, written from the documentation (protocols/dcp.md,
 * docs/organization.md, docs/security.md) before reading the code.
 *
 * Attackers are participants of the server (mallory: a DID of its own with
 * a real key) or DIDs whose did:web documents a small node:http server of
 * the test serves (keys generated here). The ten holes this file found
 * (issue 14) are fixed; their tests, named `FIXED (was a hole): …`, assert
 * the secure behaviour and keep it. Whatever held from the start is a
 * plain test.
 *
 * Clocks are injected (`orgServer({ now })`, `issuanceOf(hub, { now })`),
 * never waited for; asynchronous processing is polled until it settles.
 */
import { generateKeyPairSync, randomUUID, sign as edSign, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, type JWK } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { verifyHolder } from '../src/index.js'
import { buildPresentations } from '../src/org/dcp/presentation.js'
import { DCP_CONTEXT } from '../src/org/dcp/schemas.js'
import { issuanceOf, orgOf } from '../src/org/hub-org.js'
import { createVcJwt } from '../src/org/issuance-messages.js'
import { b64u, utf8 } from '../src/identity/encoding.js'
import { signJwt, type JwtSigner } from '../src/org/jwt.js'
import { VC_V1_CONTEXT, VC_V2_CONTEXT } from '../src/org/vc.js'
import { cleanup } from './helpers.js'
import { orgServer, type ApiReply, type OrgServer } from './org-helpers.js'

const IDENTITY = '/api/identity/v1/participants'
const CREDENTIALS = '/api/credentials/v1/participants'
const TYPE = 'org.eclipse.dspace.dcp.vc.type'
const MEMBERSHIP = `${TYPE}:MembershipCredential`
const DAY = 86_400
const POLL_MS = 60_000

interface Party { id: string, did: string, apiKey: string }
type Service = { id: string, type: string, serviceEndpoint: string }

const httpServers: Server[] = []
afterEach(async () => {
  for (const s of httpServers.splice(0)) await new Promise<void>(resolve => { s.closeAllConnections(); s.close(() => { resolve() }) })
  await cleanup()
})

function expectStatus (r: ApiReply, status: number, reason?: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  if (reason !== undefined) expect(r.body?.error?.details?.reason, JSON.stringify(r.body)).toBe(reason)
}

/** Never a 5xx, whatever was sent. */
function expectNo5xx (r: ApiReply): void {
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(500)
}

async function participant (srv: OrgServer, name: string, services: Service[] = []): Promise<Party> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: name, did: srv.did(name), active: true, services } })
  expectStatus(r, 201)
  return { id: name, did: srv.did(name), apiKey: r.body.apiKey as string }
}

const credentialService = (srv: OrgServer, name: string): Service => ({ id: '#credential-service', type: 'CredentialService', serviceEndpoint: `${srv.url}${CREDENTIALS}/${name}` })

async function until<T> (what: string, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let last: T | undefined
  for (let i = 0; i < 300; i++) {
    last = await read()
    if (done(last)) return last
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`${what} never settled; last: ${JSON.stringify(last)}`)
}

const seconds = (ms: number): number => Math.floor(ms / 1000)

// ── a DID of the test's own: did:web on a loopback server, keys held here ──

interface OwnDid {
  did: string
  url: string
  /** Ed25519 keys, in document order; `signer(i)` signs under key i's kid. */
  keys: Array<{ kid: string, privateKey: KeyObject, jwk: JWK }>
  signer: (i?: number, kid?: string) => JwtSigner
  setDoc: (d: Record<string, unknown>) => void
  doc: () => Record<string, unknown>
}

/** did:web:127.0.0.1%3APORT with `n` Ed25519 assertion keys and `services`. */
async function ownDid (n = 1, services: Service[] = []): Promise<OwnDid> {
  let doc: Record<string, unknown> = {}
  const server = createServer((req, res) => {
    if (req.url !== '/.well-known/did.json') { res.writeHead(404).end(); return }
    res.writeHead(200, { 'content-type': 'application/did+json' }).end(JSON.stringify(doc))
  })
  httpServers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const did = `did:web:127.0.0.1%3A${port}`
  const keys = Array.from({ length: n }, (_, i) => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    return { kid: `${did}#k-${i}`, privateKey, jwk: publicKey.export({ format: 'jwk' }) as JWK }
  })
  doc = {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: did,
    verificationMethod: keys.map(k => ({ id: k.kid, type: 'JsonWebKey2020', controller: did, publicKeyJwk: k.jwk })),
    assertionMethod: keys.map(k => k.kid),
    authentication: keys.map(k => k.kid),
    service: services
  }
  const signer = (i = 0, kid?: string): JwtSigner => {
    const k = keys[i]
    if (k === undefined) throw new Error(`no key ${i}`)
    return { kid: kid ?? k.kid, sign: data => new Uint8Array(edSign(null, data, k.privateKey)) }
  }
  return { did, url: `http://127.0.0.1:${port}`, keys, signer, setDoc: d => { doc = d }, doc: () => doc }
}

/** A self-issued ID token of `signer`'s DID `iss` for `aud`. */
function idTokenBy (signer: JwtSigner, iss: string, aud: string, nowS: number): string {
  return signJwt(signer, { iss, sub: iss, aud, iat: nowS, exp: nowS + 300, jti: `urn:uuid:${randomUUID()}` })
}

/** Compact JWS over exactly these header and payload bytes, signed by `key`. */
function rawJws (header: Record<string, unknown>, payloadText: string, key: KeyObject): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(payloadText)}`
  return `${input}.${b64u(new Uint8Array(edSign(null, utf8.encode(input), key)))}`
}

/** A VCDM 1.1 JWT VC from `issuerDid` about `subject`, signed by `signer`. */
function vc11 (signer: JwtSigner, issuerDid: string, subject: string, nowS: number, o: { type?: string, id?: string, validitySeconds?: number, claims?: Record<string, unknown>, credentialStatus?: Record<string, unknown> } = {}): { id: string, jwt: string } {
  return createVcJwt(signer, {
    issuerDid,
    holderDid: subject,
    credentialType: o.type ?? 'MembershipCredential',
    claims: o.claims ?? { memberOf: 'dataspace' },
    validitySeconds: o.validitySeconds ?? 30 * DAY,
    now: nowS,
    ...(o.id !== undefined ? { id: o.id } : {}),
    ...(o.credentialStatus !== undefined ? { credentialStatus: o.credentialStatus } : {})
  })
}

// ── a simple world on one server ─────────────────────────────────────────

interface World {
  srv: OrgServer
  clock: { t: number }
  issuer: Party
  acme: Party
  beta: Party
  mallory: Party
}

async function world (): Promise<World> {
  const clock = { t: Date.now() }
  const srv = await orgServer({ now: () => clock.t })
  return {
    srv,
    clock,
    issuer: await participant(srv, 'issuer'),
    acme: await participant(srv, 'acme', [credentialService(srv, 'acme')]),
    beta: await participant(srv, 'beta', [credentialService(srv, 'beta')]),
    mallory: await participant(srv, 'mallory')
  }
}

const signerOf = async (w: { srv: OrgServer }, p: Party): Promise<JwtSigner> => await orgOf(w.srv.hub).signingKey(p.id)

async function store (w: World, jwt: string, holder: Party = w.acme): Promise<ApiReply> {
  return await w.srv.api('POST', `${IDENTITY}/${holder.id}/credentials`, { key: holder.apiKey, body: { jwt } })
}

async function held (w: { srv: OrgServer }, holder: Party): Promise<Array<{ credentialId: string, issuer: string, types: string[] }>> {
  const r = await w.srv.api('GET', `${IDENTITY}/${holder.id}/credentials`, { key: holder.apiKey })
  expectStatus(r, 200)
  return r.body
}

/** `from`'s ID token for `to`, from the server's STS. */
async function stsToken (srv: OrgServer, from: Party, audience: string): Promise<string> {
  const r = await srv.api('POST', '/api/sts/token', { key: from.apiKey, body: { audience } })
  expectStatus(r, 200)
  return r.body.idToken as string
}

function credentialMessage (jwts: string[], o: { holderPid?: string, issuerPid?: string, status?: string } = {}): Record<string, unknown> {
  return {
    '@context': [DCP_CONTEXT],
    type: 'CredentialMessage',
    issuerPid: o.issuerPid ?? `i-${randomUUID()}`,
    holderPid: o.holderPid ?? `h-${randomUUID()}`,
    status: o.status ?? 'ISSUED',
    credentials: jwts.map(payload => ({ credentialType: 'MembershipCredential', format: 'jwt', payload }))
  }
}

/** POST a CredentialMessage to `holder`'s Storage API as `from` (a participant of the server). */
async function deliver (srv: OrgServer, from: Party, holder: Party, body: unknown): Promise<ApiReply> {
  return await srv.api('POST', `${CREDENTIALS}/${holder.id}/credentials`, { bearer: await stsToken(srv, from, holder.did), body })
}

/** holder grants verifier `scopes`; verifier's Bearer for a query of the holder. */
async function bearerFor (srv: OrgServer, holder: Party, verifier: Party, scopes: string[]): Promise<string> {
  const grant = await srv.api('POST', '/api/sts/token', { key: holder.apiKey, body: { audience: verifier.did, scope: scopes } })
  expectStatus(grant, 200)
  const id = await srv.api('POST', '/api/sts/token', { key: verifier.apiKey, body: { audience: holder.did, token: grant.body.accessToken } })
  expectStatus(id, 200)
  return id.body.idToken as string
}

const definitionQuery = (presentationDefinition: unknown): unknown => ({ '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', presentationDefinition })
const scopeQuery = (scope: string[]): unknown => ({ '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope })

async function query (srv: OrgServer, holder: Party, bearer: string, body: unknown): Promise<ApiReply> {
  return await srv.api('POST', `${CREDENTIALS}/${holder.id}/presentations/query`, { bearer, body })
}

/** Credential ids in a PresentationResponseMessage (1.1 VPs: JWT strings; 2.0: enveloped). */
function presentedIds (body: { presentation: string[] }): string[] {
  const ids: string[] = []
  for (const vp of body.presentation) {
    const p = JSON.parse(Buffer.from(vp.split('.')[1] as string, 'base64url').toString()) as { vp?: { verifiableCredential: string[] }, verifiableCredential?: Array<{ id: string }> }
    const vcs = p.vp?.verifiableCredential ?? (p.verifiableCredential ?? []).map(e => e.id.slice('data:application/vc+jwt,'.length))
    for (const vc of vcs) {
      const c = JSON.parse(Buffer.from(vc.split('.')[1] as string, 'base64url').toString()) as { jti?: string, id?: string }
      ids.push((c.jti ?? c.id) as string)
    }
  }
  return ids
}

const byType = (id: string, type: string): Record<string, unknown> =>
  ({ id, constraints: { fields: [{ path: ['$.type'], filter: { type: 'string', const: type } }] } })

// ═══════════════════════════════════════════════════════════════════════
// Storing credentials
// ═══════════════════════════════════════════════════════════════════════

describe('storing credentials: whose key signs for which issuer', () => {
  it('iss = the victim issuer, signed by mallory: kid-less, kid into mallory\'s document, a relative kid, the victim\'s kid in another did:web spelling — all refused, nothing stored', async () => {
    const w = await world()
    const m = await signerOf(w, w.mallory)
    const now = seconds(w.clock.t)
    const port = new URL(w.srv.url).port
    const payload = vc11(m, w.issuer.did, w.acme.did, now)
    const claims = JSON.parse(Buffer.from(payload.jwt.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>
    // signJwt always writes the signer's kid: build each header by hand.
    const forge = (header: Record<string, unknown>): string => {
      const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`
      return `${input}.${b64u(m.sign(utf8.encode(input)))}`
    }
    const attempts = [
      forge({ alg: 'EdDSA', typ: 'JWT' }),
      forge({ alg: 'EdDSA', typ: 'JWT', kid: `${w.mallory.did}#key-1` }),
      forge({ alg: 'EdDSA', typ: 'JWT', kid: '#key-1' }),
      forge({ alg: 'EdDSA', typ: 'JWT', kid: `${w.issuer.did}#key-1` }),
      forge({ alg: 'EdDSA', typ: 'JWT', kid: `did:web:127.0.0.1%3a${port}:org:issuer#key-1` }),
      forge({ alg: 'EdDSA', typ: 'JWT', kid: `did:web:127.0.0.1%3A${port}:org:mallory#key-1`, jwk: { kty: 'OKP', crv: 'Ed25519' } })
    ]
    for (const jwt of attempts) {
      const r = await store(w, jwt)
      expectStatus(r, 400, 'bad_credential_signature')
    }
    expect(await held(w, w.acme)).toEqual([])
  })

  it('a did:web issuer listing 1000 assertion keys is not resolved at all; with 40, kid-less only the first 16 are tried (key 39 refused, key 3 accepted; key 39 named by kid accepted)', async () => {
    const w = await world()
    const now = seconds(w.clock.t)
    const kidless = (own: OwnDid, i: number): string => {
      const [, p] = vc11(own.signer(i), own.did, w.acme.did, now).jwt.split('.')
      const input = `${b64u(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' }))}.${p as string}`
      return `${input}.${b64u(own.signer(i).sign(utf8.encode(input)))}`
    }
    const thousand = await ownDid(1000)
    const r1000 = await store(w, kidless(thousand, 999))
    expectStatus(r1000, 400, 'bad_credential_signature')
    expect(r1000.body.error.details.cause).toBe('unresolvable_did')
    const forty = await ownDid(40)
    const r39 = await store(w, kidless(forty, 39))
    expectStatus(r39, 400, 'bad_credential_signature')
    expectStatus(await store(w, kidless(forty, 3)), 201)
    expectStatus(await store(w, vc11(forty.signer(39), forty.did, w.acme.did, now).jwt), 201)
  })

  it('keys of the wrong type for the alg, and a document whose key entries are junk: refused with a reason, never a 5xx', async () => {
    const w = await world()
    const own = await ownDid(1)
    const now = seconds(w.clock.t)
    const base = own.doc()
    const docs: Array<Record<string, unknown>> = [
      { ...base, verificationMethod: [{ id: own.keys[0]?.kid, type: 'JsonWebKey2020', controller: own.did, publicKeyJwk: { kty: 'EC', crv: 'P-256', x: own.keys[0]?.jwk.x, y: own.keys[0]?.jwk.x } }] },
      { ...base, verificationMethod: [{ id: own.keys[0]?.kid, type: 'JsonWebKey2020', controller: own.did, publicKeyJwk: { kty: 'oct', k: own.keys[0]?.jwk.x } }] },
      { ...base, verificationMethod: [null, 7, 'x'] },
      // The key is controlled by (and named under) another DID.
      { ...base, verificationMethod: [{ id: `did:web:evil.example#k-0`, type: 'JsonWebKey2020', controller: 'did:web:evil.example', publicKeyJwk: own.keys[0]?.jwk }], assertionMethod: ['did:web:evil.example#k-0'] }
    ]
    for (const [i, d] of docs.entries()) {
      own.setDoc(d)
      const r = await store(w, vc11(own.signer(0), own.did, w.acme.did, now).jwt)
      expectNo5xx(r)
      expect(r.status, `doc ${i}: ${JSON.stringify(r.body)}`).toBe(400)
    }
    expect(await held(w, w.acme)).toEqual([])
    // (A document whose JWK also carries a private member `d` is used for its public part: accepted.)
    own.setDoc({ ...base, verificationMethod: [{ id: own.keys[0]?.kid, type: 'JsonWebKey2020', controller: own.did, publicKeyJwk: { ...own.keys[0]?.jwk, d: 'AAAA' } }] })
    expectStatus(await store(w, vc11(own.signer(0), own.did, w.acme.did, now).jwt), 201)
  })

  it('FIXED (was a hole): an issuer DID document whose verificationMethod / assertionMethod / service is not an array makes the hub answer 500 (storing a credential, an offer, a presentation query)', async () => {
    const w = await world()
    const own = await ownDid(1)
    const base = own.doc()
    const now = seconds(w.clock.t)
    const shapes: Array<[string, Record<string, unknown>]> = [
      ['verificationMethod string', { ...base, verificationMethod: 'not-an-array' }],
      ['verificationMethod object', { ...base, verificationMethod: { id: own.keys[0]?.kid } }],
      ['assertionMethod string', { ...base, assertionMethod: own.keys[0]?.kid }],
      ['authentication object', { ...base, authentication: { a: 1 } }],
      ['service string', { ...base, service: 'x' }]
    ]
    const seen: string[] = []
    for (const [name, d] of shapes) {
      own.setDoc(d)
      const stored = await store(w, vc11(own.signer(0), own.did, w.acme.did, now).jwt)
      const offer = await w.srv.api('POST', `${CREDENTIALS}/acme/offers`, {
        bearer: idTokenBy(own.signer(0), own.did, w.acme.did, now),
        body: { '@context': [DCP_CONTEXT], type: 'CredentialOfferMessage', issuer: own.did, credentials: [{ id: 'm', type: 'CredentialObject', credentialType: 'MembershipCredential', offerReason: 'issuance' }] }
      })
      const q = await query(w.srv, w.acme, idTokenBy(own.signer(0), own.did, w.acme.did, now), scopeQuery([MEMBERSHIP]))
      seen.push(`${name}: store ${stored.status}, offer ${offer.status}, query ${q.status}`)
    }
    shapeOutcome.seen = seen
    for (const line of seen) expect(line).not.toMatch(/ 5\d\d/)
  })

  it('RS256 from an RSA did:web issuer is verified and stored (organization.md: RS/PS fit RSA; protocols/dcp.md names only EdDSA and ES*)', async () => {
    const w = await world()
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const own = await ownDid(1)
    const kid = `${own.did}#rsa-1`
    own.setDoc({ ...own.doc(), verificationMethod: [{ id: kid, type: 'JsonWebKey2020', controller: own.did, publicKeyJwk: publicKey.export({ format: 'jwk' }) }], assertionMethod: [kid] })
    const now = seconds(w.clock.t)
    const id = `urn:uuid:${randomUUID()}`
    const jwt = await new SignJWT({
      iss: own.did, sub: w.acme.did, jti: id, nbf: now - 60, exp: now + DAY,
      vc: { '@context': [VC_V1_CONTEXT], type: ['VerifiableCredential', 'MembershipCredential'], credentialSubject: { id: w.acme.did } }
    }).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(privateKey)
    // Stored: organization.md is right, the 'Issuer key' bullet of protocols/dcp.md leaves RSA out.
    expectStatus(await store(w, jwt), 201)
  })

  it('VCDM 2.0: issuer object naming the victim, a string issuer disagreeing with iss, iss disagreeing with an issuer object — refused', async () => {
    const w = await world()
    const m = await signerOf(w, w.mallory)
    const v2 = (extra: Record<string, unknown>): string => signJwt(m, {
      '@context': [VC_V2_CONTEXT], id: `urn:uuid:${randomUUID()}`, type: ['VerifiableCredential', 'MembershipCredential'],
      credentialSubject: { id: w.acme.did }, validFrom: new Date(w.clock.t - 3_600_000).toISOString(), ...extra
    }, { typ: 'vc+jwt' })
    for (const extra of [
      { issuer: { id: w.issuer.did, name: 'Totally the issuer' } },
      { issuer: { id: w.issuer.did }, iss: w.mallory.did },
      { issuer: w.issuer.did, iss: w.mallory.did },
      { issuer: w.mallory.did, iss: w.issuer.did },
      { issuer: { id: w.mallory.did }, iss: w.issuer.did },
      { issuer: [w.mallory.did, w.issuer.did] }
    ]) {
      const r = await store(w, v2(extra))
      expectStatus(r, 400)
    }
    expect(await held(w, w.acme)).toEqual([])
    // Consistent claims by mallory about acme: stored as mallory's.
    expectStatus(await store(w, v2({ issuer: { id: w.mallory.did }, iss: w.mallory.did })), 201)
    expect((await held(w, w.acme)).map(c => c.issuer)).toEqual([w.mallory.did])
  })

  it('duplicated claims in the signed payload: whatever is stored is credited to the key that signed, never to the victim', async () => {
    const w = await world()
    const own = await ownDid(1)
    const now = seconds(w.clock.t)
    const k = own.keys[0] as OwnDid['keys'][number]
    const vcPart = JSON.stringify({ '@context': [VC_V1_CONTEXT], type: ['VerifiableCredential', 'MembershipCredential'], credentialSubject: { id: w.acme.did } })
    const texts = [
      // victim first, signer last (JSON.parse keeps the last).
      `{"iss":"${w.issuer.did}","sub":"${w.acme.did}","jti":"urn:uuid:${randomUUID()}","nbf":${now - 60},"exp":${now + DAY},"vc":${vcPart},"iss":"${own.did}"}`,
      // signer first, victim last.
      `{"iss":"${own.did}","sub":"${w.acme.did}","jti":"urn:uuid:${randomUUID()}","nbf":${now - 60},"exp":${now + DAY},"vc":${vcPart},"iss":"${w.issuer.did}"}`,
      // subject duplicated: beta then acme.
      `{"iss":"${own.did}","sub":"${w.beta.did}","jti":"urn:uuid:${randomUUID()}","nbf":${now - 60},"exp":${now + DAY},"vc":${vcPart},"sub":"${w.acme.did}"}`
    ]
    for (const t of texts) {
      const r = await store(w, rawJws({ alg: 'EdDSA', typ: 'JWT', kid: k.kid }, t, k.privateKey))
      expectNo5xx(r)
    }
    for (const c of await held(w, w.acme)) expect(c.issuer).toBe(own.did)
  })

  it('validity boundaries at the hub\'s clock: exp = now refused, exp = now + 1 stored; nbf = now + 60 stored, now + 61 refused; the one expiring at now + 1 is not presented at now + 1', async () => {
    const w = await world()
    const k = await signerOf(w, w.issuer)
    const now = seconds(w.clock.t)
    w.clock.t = now * 1000
    const at = (nbf: number, exp: number): string => vc11(k, w.issuer.did, w.acme.did, nbf, { validitySeconds: exp - nbf }).jwt
    expectStatus(await store(w, at(now - 100, now)), 400, 'expired')
    expectStatus(await store(w, at(now - 100, now - 30)), 400, 'expired')
    const short = at(now - 100, now + 1)
    expectStatus(await store(w, short), 201)
    expectStatus(await store(w, at(now + 60, now + DAY)), 201)
    expectStatus(await store(w, at(now + 61, now + DAY)), 400, 'not_yet_valid')
    // Presented now (the nbf + 60 one is not valid yet, only the short one).
    const b0 = await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP])
    const q0 = await query(w.srv, w.acme, b0, scopeQuery([MEMBERSHIP]))
    expectStatus(q0, 200)
    expect(presentedIds(q0.body)).toHaveLength(1)
    w.clock.t = (now + 1) * 1000
    const b1 = await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP])
    const q1 = await query(w.srv, w.acme, b1, scopeQuery([MEMBERSHIP]))
    expectStatus(q1, 200)
    expect(presentedIds(q1.body)).toEqual([])
  })

  it('a subject naming the holder in another did:web spelling is refused: another path (org%3Aacme, ACME, …); a lower-case escape (%3a) is the same DID (canonical comparison) and is stored', async () => {
    const w = await world()
    const k = await signerOf(w, w.issuer)
    const now = seconds(w.clock.t)
    const port = new URL(w.srv.url).port
    expectStatus(await store(w, vc11(k, w.issuer.did, w.acme.did, now).jwt), 201)
    expectStatus(await store(w, vc11(k, w.issuer.did, `did:web:127.0.0.1%3a${port}:org:acme`, now).jwt), 201)
    for (const subject of [
      `did:web:127.0.0.1%3A${port}:org%3Aacme`,
      `did:web:127.0.0.1%3A${port}%3Aorg%3Aacme`,
      `did:web:127.0.0.1%3A${port}:org:ACME`,
      `did:web:127.0.0.1%3A${port}:org:acme:`,
      `did:web:127.0.0.1%3A${port}:org:acme%2F..%2Fbeta`,
      `did:web:127.0.0.1:org:acme`
    ]) {
      expectStatus(await store(w, vc11(k, w.issuer.did, subject, now).jwt), 400, 'wrong_subject')
    }
    expect(await held(w, w.acme)).toHaveLength(2)
  })

  it('a JWT just under the 1 MiB body cap is refused or stored without a 5xx; one over is 413', async () => {
    const w = await world()
    const k = await signerOf(w, w.issuer)
    const now = seconds(w.clock.t)
    const big = vc11(k, w.issuer.did, w.acme.did, now, { claims: { blob: 'x'.repeat(700_000) } }).jwt
    expectNo5xx(await store(w, big))
    const huge = vc11(k, w.issuer.did, w.acme.did, now, { claims: { blob: 'x'.repeat(900_000) } }).jwt
    expectStatus(await store(w, huge), 413)
  })
})

// ═══════════════════════════════════════════════════════════════════════
// The Storage API: what strangers can put into a holder's store
// ═══════════════════════════════════════════════════════════════════════

describe('Storage API: unsolicited credentials from strangers', () => {
  it('FIXED (was a hole): any DID can push credentials about the holder into its store without a request, an offer or being trusted', async () => {
    const w = await world()
    const m = await signerOf(w, w.mallory)
    const junk = vc11(m, w.mallory.did, w.acme.did, seconds(w.clock.t))
    const r = await deliver(w.srv, w.mallory, w.acme, credentialMessage([junk.jwt]))
    // Secure: refused (403) — acme never asked mallory for anything.
    expect(r.status).toBeGreaterThanOrEqual(400)
    expect(await held(w, w.acme)).toEqual([])
  })

  it('FIXED (was a hole): one unsolicited CredentialMessage from a stranger stores 1,000 credentials at once (no per-message or per-holder cap)', async () => {
    const w = await world()
    const m = await signerOf(w, w.mallory)
    const jwts = Array.from({ length: 1000 }, () => vc11(m, w.mallory.did, w.acme.did, seconds(w.clock.t), { claims: {} }).jwt)
    const r = await deliver(w.srv, w.mallory, w.acme, credentialMessage(jwts))
    expectNo5xx(r)
    // Secure: bounded (requests and offers name at most 16 credentials).
    expect((await held(w, w.acme)).length).toBeLessThanOrEqual(16)
  })

  it('FIXED (was a hole): an unsolicited credential makes its issuer "known", so the default offer policy (known) auto-accepts that stranger\'s offers', async () => {
    const w = await world()
    // mallory's IssuerService: a loopback server that records what the holder's hub sends it.
    const seen: string[] = []
    const trap = createServer((req, res) => { seen.push(`${req.method ?? ''} ${req.url ?? ''}`); req.resume(); res.writeHead(500).end() })
    httpServers.push(trap)
    await new Promise<void>(resolve => trap.listen(0, '127.0.0.1', resolve))
    const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/issuer`
    expectStatus(await w.srv.api('POST', `${IDENTITY}/mallory/did/services`, { key: w.mallory.apiKey, body: { id: '#issuer-service', type: 'IssuerService', serviceEndpoint: trapUrl } }), 201)
    const m = await signerOf(w, w.mallory)
    expectStatus(await deliver(w.srv, w.mallory, w.acme, credentialMessage([vc11(m, w.mallory.did, w.acme.did, seconds(w.clock.t)).jwt])), 403, 'unsolicited')
    // The offer policy is the default (known) and lists no trusted issuer.
    const policy = await w.srv.api('GET', `${IDENTITY}/acme/credentials/offer-policy`, { key: w.acme.apiKey })
    expect(policy.body).toMatchObject({ accept: 'known', trustedIssuers: [] })
    const offer = { '@context': [DCP_CONTEXT], type: 'CredentialOfferMessage', issuer: w.mallory.did, credentials: [{ id: 'x', type: 'CredentialObject', credentialType: 'MembershipCredential', offerReason: 'issuance' }] }
    expectStatus(await w.srv.api('POST', `${CREDENTIALS}/acme/offers`, { bearer: await stsToken(w.srv, w.mallory, w.acme.did), body: offer }), 200)
    await (await issuanceOf(w.srv.hub)).idle()
    const offers = await w.srv.api('GET', `${IDENTITY}/acme/credentials/offers`, { key: w.acme.apiKey })
    // Secure: a stranger's offer waits for acme (PENDING), and acme's hub never called mallory.
    expect(offers.body.map((o: { status: string }) => o.status)).toEqual(['PENDING'])
    expect(seen).toEqual([])
  })

  it('FIXED (was a hole): an unsolicited credential with a low id displaces the issuer\'s real credential in a Presentation Exchange answer', async () => {
    const w = await world()
    const k = await signerOf(w, w.issuer)
    const real = vc11(k, w.issuer.did, w.acme.did, seconds(w.clock.t), { id: `urn:uuid:${'f'.repeat(8)}-${randomUUID().slice(9)}` })
    expectStatus(await store(w, real.jwt), 201)
    const m = await signerOf(w, w.mallory)
    const junk = vc11(m, w.mallory.did, w.acme.did, seconds(w.clock.t), { id: 'urn:uuid:00000000-0000-4000-8000-000000000000' })
    await deliver(w.srv, w.mallory, w.acme, credentialMessage([junk.jwt]))
    const r = await query(w.srv, w.acme, await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP]), definitionQuery({ id: 'm', input_descriptors: [byType('membership', 'MembershipCredential')] }))
    expectStatus(r, 200)
    expect(presentedIds(r.body)).toEqual([real.id])
  })

  it('FIXED (was a hole): a stranger\'s unsolicited oversized credential of the granted type pushes the holder\'s answer past the verifier\'s 1 MiB cap: the holder can no longer be verified', async () => {
    const w = await world()
    const k = await signerOf(w, w.issuer)
    expectStatus(await store(w, vc11(k, w.issuer.did, w.acme.did, seconds(w.clock.t)).jwt), 201)
    const ok0 = await verifyHolder(orgOf(w.srv.hub), { verifierPid: 'beta', holderDid: w.acme.did, scopes: [MEMBERSHIP], resolveDocument: async d => await w.srv.hub.resolveDocument(d) })
    expect(ok0.ok).toBe(true)
    // Two ~600 KB credentials, each in its own (sub-1 MiB) CredentialMessage.
    const m = await signerOf(w, w.mallory)
    for (let i = 0; i < 2; i++) {
      const fat = vc11(m, w.mallory.did, w.acme.did, seconds(w.clock.t), { claims: { blob: 'x'.repeat(450_000) } })
      const r = await deliver(w.srv, w.mallory, w.acme, credentialMessage([fat.jwt]))
      expectStatus(r, 403, 'unsolicited')
    }
    const after = await verifyHolder(orgOf(w.srv.hub), { verifierPid: 'beta', holderDid: w.acme.did, scopes: [MEMBERSHIP], resolveDocument: async d => await w.srv.hub.resolveDocument(d) })
    // Secure: acme is still verified on the issuer's credential.
    expect(after.problems.map(p => p.code)).toEqual([])
    expect(after.missing).toEqual([])
  })

  it('a stranger\'s credential reusing the id of the holder\'s real credential does not replace it', async () => {
    const w = await world()
    const k = await signerOf(w, w.issuer)
    const real = vc11(k, w.issuer.did, w.acme.did, seconds(w.clock.t))
    expectStatus(await store(w, real.jwt), 201)
    const m = await signerOf(w, w.mallory)
    const clash = vc11(m, w.mallory.did, w.acme.did, seconds(w.clock.t), { id: real.id })
    const r = await deliver(w.srv, w.mallory, w.acme, credentialMessage([clash.jwt]))
    expectNo5xx(r)
    const after = await held(w, w.acme)
    const same = after.filter(c => c.credentialId === real.id)
    expect(same.map(c => c.issuer)).toEqual([w.issuer.did])
    const raw = await w.srv.api('GET', `${IDENTITY}/acme/credentials/${encodeURIComponent(real.id)}`, { key: w.acme.apiKey })
    expect(raw.body.raw).toBe(real.jwt)
  })

  it('a CredentialMessage naming beta\'s request (holderPid) sent to acme\'s Storage API settles nothing of beta\'s', async () => {
    const w = await world()
    const issuerSvc = await issuerTrap()
    expectStatus(await w.srv.api('POST', `${IDENTITY}/issuer/did/services`, { key: w.issuer.apiKey, body: { id: '#issuer-service', type: 'IssuerService', serviceEndpoint: issuerSvc.url } }), 201)
    const r = await w.srv.api('POST', `${IDENTITY}/beta/credentials/request`, { key: w.beta.apiKey, body: { issuerDid: w.issuer.did, credentials: ['membership'] } })
    expectStatus(r, 201)
    const k = await signerOf(w, w.issuer)
    const msg = credentialMessage([vc11(k, w.issuer.did, w.acme.did, seconds(w.clock.t)).jwt], { holderPid: r.body.holderPid as string, issuerPid: r.body.issuerPid as string })
    // acme has no such request and does not trust the issuer: unsolicited.
    expectStatus(await deliver(w.srv, w.issuer, w.acme, msg), 403, 'unsolicited')
    const beta = await w.srv.api('GET', `${IDENTITY}/beta/credentials/requests/${r.body.holderPid as string}`, { key: w.beta.apiKey })
    expect(beta.body.status).toBe('RECEIVED')
    // A REJECTED for beta's request sent by mallory to beta: still RECEIVED.
    expectStatus(await deliver(w.srv, w.mallory, w.beta, { ...credentialMessage([], { holderPid: r.body.holderPid as string, issuerPid: r.body.issuerPid as string, status: 'REJECTED' }), rejectionReason: 'no' }), 200)
    const again = await w.srv.api('GET', `${IDENTITY}/beta/credentials/requests/${r.body.holderPid as string}`, { key: w.beta.apiKey })
    expect(again.body.status).toBe('RECEIVED')
  })
})

/** An IssuerService that answers every credential request 201 RECEIVED and keeps it (nothing is ever delivered by it). */
async function issuerTrap (): Promise<{ url: string, requests: Array<{ holderPid: string, issuerPid: string, body: Record<string, unknown> }> }> {
  const requests: Array<{ holderPid: string, issuerPid: string, body: Record<string, unknown> }> = []
  let url = ''
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = ''
    req.on('data', (c: Buffer) => { data += c.toString() })
    req.on('end', () => {
      if (req.method === 'POST' && (req.url ?? '').endsWith('/credentials')) {
        const body = JSON.parse(data) as Record<string, unknown>
        const issuerPid = randomUUID()
        const holderPid = body.holderPid as string
        requests.push({ holderPid, issuerPid, body })
        res.writeHead(201, { 'content-type': 'application/json', location: `${new URL(url).pathname}/requests/${issuerPid}` })
          .end(JSON.stringify({ '@context': [DCP_CONTEXT], type: 'CredentialStatus', issuerPid, holderPid, status: 'RECEIVED' }))
        return
      }
      res.writeHead(404).end()
    })
  })
  httpServers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/issuance/v1/participants/issuer`
  return { url, requests }
}

// ═══════════════════════════════════════════════════════════════════════
// Renewal: can a CredentialMessage make the holder lose a good credential?
// ═══════════════════════════════════════════════════════════════════════

describe('renewal: superseding the old credential', () => {
  interface RenewalWorld extends World { oldId: string, oldJwt: string, renewal: { holderPid: string, issuerPid: string } }

  /** acme holds a 10-day MembershipCredential obtained by a request (delivered by hand as the issuer); 6 days later tick() sends its renewal to the trap. */
  async function renewalWorld (): Promise<RenewalWorld> {
    const w = await world()
    const now = (): number => w.clock.t
    const svc = await issuanceOf(w.srv.hub, { now, retryDelaysMs: [], pollIntervalMs: POLL_MS })
    const trap = await issuerTrap()
    expectStatus(await w.srv.api('POST', `${IDENTITY}/issuer/did/services`, { key: w.issuer.apiKey, body: { id: '#issuer-service', type: 'IssuerService', serviceEndpoint: trap.url } }), 201)
    const r = await w.srv.api('POST', `${IDENTITY}/acme/credentials/request`, { key: w.acme.apiKey, body: { issuerDid: w.issuer.did, credentials: ['membership'] } })
    expectStatus(r, 201)
    const first = trap.requests[0] as { holderPid: string, issuerPid: string }
    const k = await signerOf(w, w.issuer)
    const old = vc11(k, w.issuer.did, w.acme.did, seconds(w.clock.t), { validitySeconds: 10 * DAY })
    expectStatus(await deliver(w.srv, w.issuer, w.acme, credentialMessage([old.jwt], first)), 200)
    const rec = await w.srv.api('GET', `${IDENTITY}/acme/credentials/requests/${first.holderPid}`, { key: w.acme.apiKey })
    expect(rec.body).toMatchObject({ status: 'ISSUED', credentialIds: [old.id] })
    w.clock.t += 6 * DAY * 1000
    expect((await svc.tick()).renewed).toBe(1)
    const renewal = await until('the renewal request at the trap', async () => trap.requests[1], x => x !== undefined) as { holderPid: string, issuerPid: string }
    const mine = (await orgOf(w.srv.hub).listHolderRequests('acme')).find(x => x.renews === old.id)
    expect(mine?.holderPid).toBe(renewal.holderPid)
    await until('the renewal RECEIVED', async () => (await orgOf(w.srv.hub).findHolderRequest('acme', renewal.holderPid))?.status, s => s === 'RECEIVED')
    return { ...w, oldId: old.id, oldJwt: old.jwt, renewal }
  }

  const heldIds = async (w: RenewalWorld): Promise<string[]> => (await held(w, w.acme)).map(c => c.credentialId)

  it('another DID answering the renewal (its own credential, the renewal\'s holderPid and issuerPid) does not remove the old credential', async () => {
    const w = await renewalWorld()
    const m = await signerOf(w, w.mallory)
    const r = await deliver(w.srv, w.mallory, w.acme, credentialMessage([vc11(m, w.mallory.did, w.acme.did, seconds(w.clock.t)).jwt], w.renewal))
    expectNo5xx(r)
    expect(await heldIds(w)).toContain(w.oldId)
    expect((await orgOf(w.srv.hub).findHolderRequest('acme', w.renewal.holderPid))?.status).toBe('RECEIVED')
    // Nor a REJECTED from mallory.
    expectNo5xx(await deliver(w.srv, w.mallory, w.acme, { ...credentialMessage([], { ...w.renewal, status: 'REJECTED' }), rejectionReason: 'revoked, ha' }))
    expect((await orgOf(w.srv.hub).findHolderRequest('acme', w.renewal.holderPid))?.status).toBe('RECEIVED')
  })

  it('the issuer answering the renewal ISSUED with no credential at all does not remove the old credential', async () => {
    const w = await renewalWorld()
    const r = await deliver(w.srv, w.issuer, w.acme, { ...credentialMessage([], w.renewal) })
    expectNo5xx(r)
    expect(await heldIds(w)).toEqual([w.oldId])
  })

  it('the issuer answering the renewal with the old credential itself (a re-delivery) leaves it held', async () => {
    const w = await renewalWorld()
    const r = await deliver(w.srv, w.issuer, w.acme, credentialMessage([w.oldJwt], w.renewal))
    expectNo5xx(r)
    expect(await heldIds(w)).toEqual([w.oldId])
  })

  it('FIXED (was a hole): the issuer answers a MembershipCredential renewal with a credential of another type: the membership is gone', async () => {
    const w = await renewalWorld()
    const k = await signerOf(w, w.issuer)
    const other = vc11(k, w.issuer.did, w.acme.did, seconds(w.clock.t), { type: 'OtherCredential' })
    expectNo5xx(await deliver(w.srv, w.issuer, w.acme, credentialMessage([other.jwt], w.renewal)))
    const after = await held(w, w.acme)
    expect(after.some(c => c.types.includes('MembershipCredential'))).toBe(true)
  })

  it('a REJECTED answer to the renewal from the issuer leaves the old credential', async () => {
    const w = await renewalWorld()
    expectStatus(await deliver(w.srv, w.issuer, w.acme, { ...credentialMessage([], { ...w.renewal, status: 'REJECTED' }), rejectionReason: 'no' }), 200)
    expect(await heldIds(w)).toEqual([w.oldId])
    expect((await orgOf(w.srv.hub).findHolderRequest('acme', w.renewal.holderPid))?.status).toBe('REJECTED')
  })

  it('the renewal\'s holderPid with a wrong issuerPid does not settle it nor remove the old credential', async () => {
    const w = await renewalWorld()
    const k = await signerOf(w, w.issuer)
    const fresh = vc11(k, w.issuer.did, w.acme.did, seconds(w.clock.t))
    expectNo5xx(await deliver(w.srv, w.issuer, w.acme, credentialMessage([fresh.jwt], { holderPid: w.renewal.holderPid, issuerPid: 'not-the-one' })))
    expect(await heldIds(w)).toContain(w.oldId)
  })
})

// ═══════════════════════════════════════════════════════════════════════
// Offers
// ═══════════════════════════════════════════════════════════════════════

describe('offers', () => {
  const offerMessage = (issuer: string, ids = ['membership']): Record<string, unknown> =>
    ({ '@context': [DCP_CONTEXT], type: 'CredentialOfferMessage', issuer, credentials: ids.map(id => ({ id, type: 'CredentialObject', credentialType: 'MembershipCredential', offerReason: 'issuance' })) })

  it('FIXED (was a hole): under policy any, offers from a stranger whose IssuerService fails pile up as FAILED records without bound (PENDING is capped at 50, FAILED is not)', async () => {
    const w = await world()
    expectStatus(await w.srv.api('PUT', `${IDENTITY}/acme/credentials/offer-policy`, { key: w.acme.apiKey, body: { accept: 'any' } }), 200)
    // Every request to mallory's IssuerService is answered 500: the offer is FAILED.
    const seen: string[] = []
    const trap = createServer((req, res) => { seen.push(req.url ?? ''); req.resume(); res.writeHead(500).end() })
    httpServers.push(trap)
    await new Promise<void>(resolve => trap.listen(0, '127.0.0.1', resolve))
    expectStatus(await w.srv.api('POST', `${IDENTITY}/mallory/did/services`, { key: w.mallory.apiKey, body: { id: '#is', type: 'IssuerService', serviceEndpoint: `http://127.0.0.1:${(trap.address() as AddressInfo).port}/is` } }), 201)
    const svc = await issuanceOf(w.srv.hub)
    const N = 70
    let refused = 0
    for (let i = 0; i < N; i++) {
      const r = await w.srv.api('POST', `${CREDENTIALS}/acme/offers`, { bearer: await stsToken(w.srv, w.mallory, w.acme.did), body: offerMessage(w.mallory.did) })
      // Past the cap: 503 unavailable, too_many (documented) — the holder's state, not the request, is what is full.
      if (r.status !== 200) {
        expectStatus(r, 503, 'too_many')
        refused++
      }
      await svc.idle()
    }
    const list = await w.srv.api('GET', `${IDENTITY}/acme/credentials/offers`, { key: w.acme.apiKey })
    const byStatus: Record<string, number> = {}
    for (const o of list.body as Array<{ status: string }>) byStatus[o.status] = (byStatus[o.status] ?? 0) + 1
    floodOutcome.byStatus = byStatus
    floodOutcome.outbound = seen.length
    floodOutcome.refused = refused
    floodOutcome.requests = (await orgOf(w.srv.hub).listHolderRequests('acme')).length
    // Secure: offers waiting on acme (PENDING, or FAILED and acceptable again) are bounded like PENDING ones.
    expect((byStatus.FAILED ?? 0) + (byStatus.PENDING ?? 0)).toBeLessThanOrEqual(50)
  })

  it('an offering DID whose IssuerService is a metadata / link-local / private / non-loopback-HTTP address: accepted under any, FAILED, no connection made anywhere reachable', async () => {
    const w = await world()
    expectStatus(await w.srv.api('PUT', `${IDENTITY}/acme/credentials/offer-policy`, { key: w.acme.apiKey, body: { accept: 'any' } }), 200)
    const svc = await issuanceOf(w.srv.hub)
    const targets = [
      'https://169.254.169.254/latest/meta-data',
      'http://169.254.169.254/latest/meta-data',
      'https://[::ffff:169.254.169.254]/x',
      'https://[::ffff:a9fe:a9fe]/x',
      'https://10.0.0.1/x',
      'https://0.0.0.0/x',
      'https://2852039166/x',
      'http://user:pw@127.0.0.1:1/x'
    ]
    for (const endpoint of targets) {
      const own = await ownDid(1, [{ id: '#is', type: 'IssuerService', serviceEndpoint: endpoint }])
      const token = idTokenBy(own.signer(0), own.did, w.acme.did, seconds(w.clock.t))
      const r = await w.srv.api('POST', `${CREDENTIALS}/acme/offers`, { bearer: token, body: offerMessage(own.did) })
      expectStatus(r, 200)
      await svc.idle()
      const offers = await w.srv.api('GET', `${IDENTITY}/acme/credentials/offers`, { key: w.acme.apiKey })
      const mine = (offers.body as Array<{ issuerDid: string, status: string, reason?: string }>).find(o => o.issuerDid === own.did)
      expect(mine?.status, `${endpoint}: ${JSON.stringify(mine)}`).toBe('FAILED')
    }
  })

  it('an offer signed by a key of another DID\'s document, for the victim issuer, is refused (403) and records nothing', async () => {
    const w = await world()
    const own = await ownDid(1)
    // Token claims the victim issuer as iss but is signed under the attacker\'s own kid.
    const forged = idTokenBy(own.signer(0), w.issuer.did, w.acme.did, seconds(w.clock.t))
    const r = await w.srv.api('POST', `${CREDENTIALS}/acme/offers`, { bearer: forged, body: offerMessage(w.issuer.did) })
    expect(r.status).toBe(403)
    // A token under the victim's kid, signed by the attacker.
    const forged2 = idTokenBy(own.signer(0, `${w.issuer.did}#key-1`), w.issuer.did, w.acme.did, seconds(w.clock.t))
    expectStatus(await w.srv.api('POST', `${CREDENTIALS}/acme/offers`, { bearer: forged2, body: offerMessage(w.issuer.did) }), 403, 'bad_signature')
    const offers = await w.srv.api('GET', `${IDENTITY}/acme/credentials/offers`, { key: w.acme.apiKey })
    expect(offers.body).toEqual([])
  })
})

const shapeOutcome: { seen?: string[] } = {}
const refOutcome: { first?: string, again?: string } = {}
const floodOutcome: { byStatus?: Record<string, number>, outbound?: number, refused?: number, requests?: number } = {}

// ═══════════════════════════════════════════════════════════════════════
// Presentation Exchange
// ═══════════════════════════════════════════════════════════════════════

describe('Presentation Exchange: what a definition can make the holder disclose', () => {
  interface PeWorld extends World { gold: { id: string, jwt: string }, silver: { id: string, jwt: string }, secret: { id: string, jwt: string } }

  async function peWorld (): Promise<PeWorld> {
    const w = await world()
    const k = await signerOf(w, w.issuer)
    const now = seconds(w.clock.t)
    // silver sorts first in store order.
    const silver = vc11(k, w.issuer.did, w.acme.did, now, { id: 'urn:uuid:00000000-0000-4000-8000-000000000001', claims: { level: 'silver', note: 'a'.repeat(40) + '!' } })
    const gold = vc11(k, w.issuer.did, w.acme.did, now, { id: 'urn:uuid:00000000-0000-4000-8000-000000000002', claims: { level: 'gold' } })
    const secret = vc11(k, w.issuer.did, w.acme.did, now, { type: 'SecretCredential', claims: { level: 'secret' } })
    for (const c of [silver, gold, secret]) expectStatus(await store(w, c.jwt), 201)
    return { ...w, gold, silver, secret }
  }

  it('an id-scope grant for gold: a type definition gets gold only, a definition for silver\'s claim gets the same 403 as for a credential acme does not have', async () => {
    const w = await peWorld()
    const grant = [`${TYPE.replace('.type', '.id')}:${w.gold.id}`]
    const q = await query(w.srv, w.acme, await bearerFor(w.srv, w.acme, w.beta, grant), definitionQuery({ id: 'd', input_descriptors: [byType('m', 'MembershipCredential')] }))
    expectStatus(q, 200)
    expect(presentedIds(q.body)).toEqual([w.gold.id])
    const silverDef = { id: 'd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.credentialSubject.level', '$.vc.credentialSubject.level'], filter: { type: 'string', const: 'silver' } }] } }] }
    const nopeDef = { id: 'd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.credentialSubject.level', '$.vc.credentialSubject.level'], filter: { type: 'string', const: 'unobtainium' } }] } }] }
    const a = await query(w.srv, w.acme, await bearerFor(w.srv, w.acme, w.beta, grant), definitionQuery(silverDef))
    const b = await query(w.srv, w.acme, await bearerFor(w.srv, w.acme, w.beta, grant), definitionQuery(nopeDef))
    expectStatus(a, 403, 'definition_not_satisfiable')
    expect({ status: a.status, body: a.body }).toEqual({ status: b.status, body: b.body })
  })

  it('submission_requirements and formats cannot reach a type that is not granted; ungranted-held and not-held answer alike', async () => {
    const w = await peWorld()
    const defs = [
      { id: 'd', submission_requirements: [{ rule: 'pick', min: 0, max: 2, from: 'A' }], input_descriptors: [{ ...byType('s', 'SecretCredential'), group: ['A'] }] },
      { id: 'd', submission_requirements: [{ rule: 'all', from: 'A' }], input_descriptors: [{ ...byType('s', 'SecretCredential'), group: ['A'] }, { ...byType('m', 'MembershipCredential'), group: ['A'] }] },
      { id: 'd', format: { jwt_vc: { alg: ['EdDSA'] } }, input_descriptors: [{ id: 's', constraints: { fields: [{ path: ['$.vc.credentialSubject.level'], filter: { const: 'secret' } }] } }] }
    ]
    for (const def of defs) {
      const r = await query(w.srv, w.acme, await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP]), definitionQuery(def))
      expectNo5xx(r)
      if (r.status === 200) expect(presentedIds(r.body)).not.toContain(w.secret.id)
    }
    // `pick min 0` may answer with nothing: never the secret.
    const probeHeld = await query(w.srv, w.acme, await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP]), definitionQuery({ id: 'd', input_descriptors: [byType('s', 'SecretCredential')] }))
    const probeNone = await query(w.srv, w.acme, await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP]), definitionQuery({ id: 'd', input_descriptors: [byType('s', 'NeverHeldCredential')] }))
    expectStatus(probeHeld, 403, 'definition_not_satisfiable')
    expect(probeHeld.body).toEqual(probeNone.body)
  })

  it('JSONPath through the prototype chain (__proto__, constructor, toString) selects nothing: never a 200 on what is not an own property, never a 5xx', async () => {
    const w = await peWorld()
    const paths: Array<[string, unknown]> = [
      ['$.__proto__', { type: 'object' }],
      ["$['__proto__']", { type: 'object' }],
      ['$.constructor', {}],
      ['$.constructor.name', { const: 'Object' }],
      ['$.vc.type.constructor.name', { const: 'Array' }],
      ['$.toString', {}],
      ['$.hasOwnProperty', {}],
      ["$.vc['__proto__']['polluted']", {}]
    ]
    for (const [path, filter] of paths) {
      const r = await query(w.srv, w.acme, await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP]), definitionQuery({ id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: [path], filter }] } }] }))
      expectNo5xx(r)
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).not.toBe(200)
    }
  })

  it('descriptor ids, group names and format keys named after Object.prototype members: no crash, no pollution of this process', async () => {
    const w = await peWorld()
    const defs: unknown[] = [
      { id: 'd', input_descriptors: [byType('constructor', 'MembershipCredential'), byType('hasOwnProperty', 'MembershipCredential')] },
      { id: 'd', input_descriptors: [byType('__proto__', 'MembershipCredential'), byType('__proto__', 'MembershipCredential')] },
      { id: 'd', submission_requirements: [{ rule: 'all', from: 'constructor' }], input_descriptors: [byType('a', 'MembershipCredential')] },
      { id: 'd', submission_requirements: [{ rule: 'all', from: 'toString' }], input_descriptors: [{ ...byType('a', 'MembershipCredential'), group: ['x'] }] },
      { id: 'd', submission_requirements: [{ rule: 'all', from: '__proto__' }], input_descriptors: [{ ...byType('a', 'MembershipCredential'), group: ['__proto__'] }] },
      JSON.parse('{"id":"d","format":{"__proto__":{"alg":["EdDSA"]}},"input_descriptors":[{"id":"a","constraints":{"fields":[{"path":["$.type"],"filter":{"type":"string","const":"MembershipCredential"}}]}}]}'),
      JSON.parse('{"id":"d","input_descriptors":[{"id":"a","format":{"constructor":{"alg":["EdDSA"]}},"constraints":{"fields":[{"path":["$.type"]}]}}]}'),
      JSON.parse('{"id":"d","input_descriptors":[{"id":"a","constraints":{"fields":[{"path":["$.type"],"filter":{"__proto__":{"type":"number"},"type":"string"}}]}}]}')
    ]
    const statuses: number[] = []
    for (const def of defs) {
      const r = await query(w.srv, w.acme, await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP]), definitionQuery(def))
      expectNo5xx(r)
      statuses.push(r.status)
    }
    // Duplicate ids are 400; "from" a group no descriptor is in is 400.
    expect(statuses[1]).toBe(400)
    expect(statuses[2]).toBe(400)
    expect(statuses[3]).toBe(400)
    expect(({} as Record<string, unknown>).alg).toBeUndefined()
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('filters: recursive $ref through definitions, remote $ref, $async, $id, $data, unknown format, a 10,000-item enum, catastrophic and unsupported regexes — 400 before the token (which then still works), or a bounded answer; never a 5xx', async () => {
    const w = await peWorld()
    const def = (filter: unknown): unknown => ({ id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.vc.credentialSubject.note', '$.type'], filter }] } }] })
    const filters: unknown[] = [
      { definitions: { a: { $ref: '#/definitions/a' } }, $ref: '#/definitions/a' },
      { definitions: { a: { $ref: '#/definitions/b' }, b: { $ref: '#/definitions/a' } }, $ref: '#/definitions/a' },
      { $ref: 'http://169.254.169.254/schema.json' },
      { $ref: 'file:///etc/passwd' },
      { $async: true, type: 'string' },
      { $id: 'https://example.com/x', type: 'string' },
      { const: { $data: '1/x' } },
      { type: 'string', format: 'no-such-format' },
      { enum: Array.from({ length: 10_000 }, (_, i) => `v${i}`) },
      { type: 'string', pattern: '^(a+)+$' },
      { type: 'string', pattern: '(a|aa)+$' },
      { type: 'string', pattern: '^(?=a)a' },
      { type: 'string', pattern: '(a)\\1' },
      { type: 'string', pattern: 'a{1,100000}' },
      { type: 'string', pattern: '[' },
      { type: 'string', format: 'regex' }
    ]
    for (const f of filters) {
      const bearer = await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP])
      const r = await query(w.srv, w.acme, bearer, definitionQuery(def(f)))
      if (r.status === 400) {
        // Not consumed: the same ID token answers a plain definition.
        const again = await query(w.srv, w.acme, bearer, definitionQuery({ id: 'd', input_descriptors: [byType('m', 'MembershipCredential')] }))
        expect(again.status, `${JSON.stringify(f).slice(0, 80)} consumed the token: ${JSON.stringify(again.body)}`).toBe(200)
      }
    }
  })

  it('FIXED (was a hole): a filter {"$ref": "#"} passes the pre-token check, then overflows the stack while evaluating: 500 internal, and the ID token is used up', async () => {
    const w = await peWorld()
    const bearer = await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP])
    const def = { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.type'], filter: { $ref: '#' } }] } }] }
    const r = await query(w.srv, w.acme, bearer, definitionQuery(def))
    const again = await query(w.srv, w.acme, bearer, definitionQuery({ id: 'd', input_descriptors: [byType('m', 'MembershipCredential')] }))
    refOutcome.first = `${r.status} ${JSON.stringify(r.body)}`
    refOutcome.again = `${again.status} ${JSON.stringify(again.body)}`
    // Secure: a 400 (an unusable filter) before the token, which then still works.
    expectStatus(r, 400)
    expectStatus(again, 200)
  })

  it('deep paths, unicode names, huge indices and an oversized definition: 400 naming the limit, token not consumed', async () => {
    const w = await peWorld()
    const bearer = await bearerFor(w.srv, w.acme, w.beta, [MEMBERSHIP])
    const bad: unknown[] = [
      { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$' + '.a'.repeat(17)] }] } }] },
      { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.vc.type[100001]'] }] } }] },
      { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$..type'] }] } }] },
      { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.vc.type[-1]'] }] } }] },
      { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.vc.type[?(@.length>0)]'] }] } }] },
      { id: 'd', input_descriptors: [{ id: 'x', constraints: { fields: [{ path: ['$.typ\u0000e'] }] } }] },
      { id: 'd', name: 'n'.repeat(70_000), input_descriptors: [byType('m', 'MembershipCredential')] },
      { id: 'd', input_descriptors: Array.from({ length: 33 }, (_, i) => byType(`m${i}`, 'MembershipCredential')) }
    ]
    for (const d of bad) {
      const r = await query(w.srv, w.acme, bearer, definitionQuery(d))
      expectStatus(r, 400)
    }
    const ok = await query(w.srv, w.acme, bearer, definitionQuery({ id: 'd', input_descriptors: [byType('m', 'MembershipCredential')] }))
    expectStatus(ok, 200)
    // Now consumed.
    expectStatus(await query(w.srv, w.acme, bearer, definitionQuery({ id: 'd', input_descriptors: [byType('m', 'MembershipCredential')] })), 403, 'replayed')
  })
})

// ═══════════════════════════════════════════════════════════════════════
// The verifier
// ═══════════════════════════════════════════════════════════════════════

describe('verifyHolder against hostile holders', () => {
  interface VWorld { h: OrgServer, v: OrgServer, issuer: Party, beta: Party }

  async function vworld (): Promise<VWorld> {
    const h = await orgServer()
    const v = await orgServer()
    return { h, v, issuer: await participant(h, 'issuer'), beta: await participant(v, 'beta') }
  }

  /** eve on the holder hub, whose CredentialService is a loopback server answering `answer()`. */
  async function eve (w: VWorld, answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ party: Party, key: JwtSigner, seen: string[] }> {
    const seen: string[] = []
    const server = createServer((req, res) => { seen.push(req.url ?? ''); req.resume(); req.on('end', () => { answer(req, res) }) })
    httpServers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/credentials/v1/participants/eve`
    const party = await participant(w.h, 'eve', [{ id: '#cs', type: 'CredentialService', serviceEndpoint: url }])
    return { party, key: await orgOf(w.h.hub).signingKey('eve'), seen }
  }

  async function handOver (w: VWorld, holder: Party): Promise<string> {
    const r = await w.h.api('POST', '/api/sts/token', { key: holder.apiKey, body: { audience: w.beta.did, scope: [MEMBERSHIP] } })
    expectStatus(r, 200)
    return r.body.idToken as string
  }

  const run = async (w: VWorld, holder: Party, token: string): Promise<Awaited<ReturnType<typeof verifyHolder>>> =>
    await verifyHolder(orgOf(w.v.hub), { verifierPid: 'beta', holderDid: holder.did, scopes: [MEMBERSHIP], token, resolveDocument: async d => await w.v.hub.resolveDocument(d) })

  const json = (res: ServerResponse, body: unknown): void => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }
  const response = (vps: unknown[]): unknown => ({ '@context': [DCP_CONTEXT], type: 'PresentationResponseMessage', presentation: vps })

  it('FIXED (was a hole): a MembershipCredential eve issued to herself (iss = sub = eve) is VERIFIED: verifyHolder has no notion of a trusted issuer', async () => {
    const w = await vworld()
    let vps: string[] = []
    const e = await eve(w, (_req, res) => { json(res, response(vps)) })
    const nowS = Math.floor(Date.now() / 1000)
    const self = vc11(e.key, e.party.did, e.party.did, nowS)
    vps = buildPresentations(e.key, { holderDid: e.party.did, audience: w.beta.did, now: nowS, credentials: [{ raw: self.jwt, dataModel: '1.1' }] }).presentations
    const r = await run(w, e.party, await handOver(w, e.party))
    // Secure: a self-issued membership does not prove membership.
    expect(r.ok).toBe(false)
  })

  it('a VP with 2,000 credentials: at most 64 are looked at (too_many_credentials), one report, no 5xx', async () => {
    const w = await vworld()
    let vps: string[] = []
    const e = await eve(w, (_req, res) => { json(res, response(vps)) })
    const nowS = Math.floor(Date.now() / 1000)
    // Short junk JWTs, each naming another issuer DID that would need resolving.
    const junk = Array.from({ length: 2000 }, (_, i) => `${b64u(JSON.stringify({ alg: 'EdDSA' }))}.${b64u(JSON.stringify({ iss: `did:web:127.0.0.1%3A1:x${i}`, vc: {} }))}.AA`)
    vps = [signJwt(e.key, { iss: e.party.did, sub: e.party.did, aud: w.beta.did, iat: nowS, nbf: nowS, exp: nowS + 300, jti: `urn:uuid:${randomUUID()}`, vp: { '@context': [VC_V1_CONTEXT], type: ['VerifiablePresentation'], holder: e.party.did, verifiableCredential: junk } })]
    const r = await run(w, e.party, await handOver(w, e.party))
    expect(r.ok).toBe(false)
    expect(r.credentials.length).toBeLessThanOrEqual(64)
    const all = [...r.problems, ...r.presentations.flatMap(p => p.problems)].map(p => p.code)
    expect(all).toContain('too_many_credentials')
  })

  it('a genuinely signed credential whose status list URL is a metadata, link-local or internal-API address: status_unverifiable, the credential counts for nothing', async () => {
    const w = await vworld()
    let vps: string[] = []
    const e = await eve(w, (_req, res) => { json(res, response(vps)) })
    const ik = await orgOf(w.h.hub).signingKey('issuer')
    const nowS = Math.floor(Date.now() / 1000)
    const targets = ['https://169.254.169.254/latest/meta-data', 'http://169.254.169.254/x', 'https://[::ffff:a9fe:a9fe]/x', `${w.v.url}/api/identity/v1/participants`, 'https://10.1.2.3/list', 'file:///etc/passwd']
    for (const url of targets) {
      const c = vc11(ik, w.issuer.did, e.party.did, nowS, { credentialStatus: { id: `${url}#1`, type: 'BitstringStatusListEntry', statusPurpose: 'revocation', statusListIndex: '1', statusListCredential: url } })
      vps = buildPresentations(e.key, { holderDid: e.party.did, audience: w.beta.did, now: nowS, credentials: [{ raw: c.jwt, dataModel: '1.1' }] }).presentations
      const r = await run(w, e.party, await handOver(w, e.party))
      expect(r.ok, url).toBe(false)
      expect(r.credentials[0]?.checks.status, url).toBe('fail')
      expect(r.missing).toEqual([MEMBERSHIP])
    }
  })

  it('a holder ID token replayed to a second verification, or handed to another verifier, is refused before anything is sent', async () => {
    const w = await vworld()
    const e = await eve(w, (_req, res) => { json(res, response([])) })
    const token = await handOver(w, e.party)
    await run(w, e.party, token)
    expect(e.seen).toHaveLength(1)
    await expect(run(w, e.party, token)).rejects.toMatchObject({ code: 'bad_request' })
    const gamma = await participant(w.v, 'gamma')
    await expect(verifyHolder(orgOf(w.v.hub), { verifierPid: gamma.id, holderDid: e.party.did, scopes: [MEMBERSHIP], token: await handOver(w, e.party), resolveDocument: async d => await w.v.hub.resolveDocument(d) }))
      .rejects.toMatchObject({ code: 'bad_request' })
    expect(e.seen).toHaveLength(1)
  })

  it('a VP from eve carrying a credential the issuer made for acme but with eve\'s DID as subject in another spelling is bound to eve only when it is the same DID', async () => {
    const w = await vworld()
    let vps: string[] = []
    const e = await eve(w, (_req, res) => { json(res, response(vps)) })
    const ik = await orgOf(w.h.hub).signingKey('issuer')
    const nowS = Math.floor(Date.now() / 1000)
    const port = new URL(w.h.url).port
    const other = vc11(ik, w.issuer.did, `did:web:127.0.0.1%3A${port}:org%3Aeve`, nowS)
    vps = buildPresentations(e.key, { holderDid: e.party.did, audience: w.beta.did, now: nowS, credentials: [{ raw: other.jwt, dataModel: '1.1' }] }).presentations
    const r = await run(w, e.party, await handOver(w, e.party))
    expect(r.credentials[0]?.checks.holderBinding).toBe('fail')
    expect(r.ok).toBe(false)
  })
})

// The two tests above that only record what they saw report it here.
afterEach(() => {
  if (shapeOutcome.seen !== undefined) { console.info(`junk DID documents: ${shapeOutcome.seen.join('; ')}`); delete shapeOutcome.seen }
  if (refOutcome.first !== undefined) { console.info(`$ref "#": ${refOutcome.first} / then ${refOutcome.again ?? ''}`); delete refOutcome.first }
  if (floodOutcome.byStatus !== undefined) { console.info(`offer flood: ${JSON.stringify(floodOutcome)}`); delete floodOutcome.byStatus }
})
