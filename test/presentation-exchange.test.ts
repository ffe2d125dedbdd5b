/**
 * DIF Presentation Exchange queries over real HTTP on loopback: a verifier
 * (beta) sends a PresentationQueryMessage with a `presentationDefinition` to
 * a holder (acme); the definition is evaluated over what acme's access token
 * grants. An issuer hosted by the same server signs the credentials with a
 * key held outside the hub (jose). VPs are checked with did-jwt-vc against
 * DID documents fetched over HTTP, and every descriptor_map entry is
 * resolved by hand in the response.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { verifyPresentation } from 'did-jwt-vc'
import { Resolver, type DIDDocument, type DIDResolver } from 'did-resolver'
import { SignJWT, type JWK } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeJwt } from '../src/org/jwt.js'
import { parseVcJwt } from '../src/org/vc.js'
import { DCP_CONTEXT, validatePresentationQuery, validatePresentationResponse } from '../src/org/dcp/schemas.js'
import { cleanup } from './helpers.js'
import { orgServer, storeCredentialsAt, type ApiReply, type OrgServer } from './org-helpers.js'

afterEach(cleanup)

const TYPE = 'org.eclipse.dspace.dcp.vc.type'
const MEMBERSHIP = `${TYPE}:MembershipCredential`
const OTHER = `${TYPE}:OtherCredential`
const MODERN = `${TYPE}:ModernCredential`
const IDENTITY = '/api/identity/v1/participants'
const queryPath = (pid: string): string => `/api/credentials/v1/participants/${pid}/presentations/query`
const DAY = 86_400

interface Party { id: string, did: string, apiKey: string }
interface HeldVc { id: string, jwt: string }
interface World {
  srv: OrgServer
  issuer: Party
  acme: Party
  beta: Party
  creds: Record<'gold' | 'silver' | 'expired' | 'revoked' | 'other' | 'modern', HeldVc>
}

function expectStatus (r: ApiReply, status: number, reason?: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  if (reason !== undefined) expect(r.body?.error?.details?.reason, JSON.stringify(r.body)).toBe(reason)
}

async function participant (srv: OrgServer, name: string): Promise<Party> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: name, did: srv.did(name), active: true } })
  expectStatus(r, 201)
  return { id: name, did: srv.did(name), apiKey: r.body.apiKey as string }
}

/**
 * issuer, acme, beta; acme holds two valid MembershipCredentials (levels
 * gold and silver), an expired and a revoked one (both gold), a valid
 * OtherCredential and a VCDM 2.0 ModernCredential.
 */
async function world (): Promise<World> {
  const srv = await orgServer()
  const issuer = await participant(srv, 'issuer')
  const acme = await participant(srv, 'acme')
  const beta = await participant(srv, 'beta')
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const imported = await srv.api('POST', `${IDENTITY}/issuer/keypairs`, { key: issuer.apiKey, body: { keyId: 'vc-1', publicKeyJwk: publicKey.export({ format: 'jwk' }) as JWK, activate: true } })
  expectStatus(imported, 201)
  const kid = `${issuer.did}#vc-1`
  const t0 = Math.floor(Date.now() / 1000)
  const v11 = async (type: string, subject: Record<string, unknown>, nbf: number, exp: number): Promise<HeldVc> => {
    const id = `urn:uuid:${randomUUID()}`
    const jwt = await new SignJWT({
      iss: issuer.did, sub: acme.did, jti: id, nbf, exp,
      vc: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiableCredential', type], credentialSubject: { id: acme.did, ...subject } }
    }).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid }).sign(privateKey as KeyObject)
    return { id, jwt }
  }
  const id20 = `urn:uuid:${randomUUID()}`
  const modern = {
    id: id20,
    jwt: await new SignJWT({
      '@context': ['https://www.w3.org/ns/credentials/v2'], id: id20, type: ['VerifiableCredential', 'ModernCredential'], issuer: issuer.did,
      validFrom: new Date((t0 - 3600) * 1000).toISOString(), credentialSubject: { id: acme.did, level: 'gold' }
    }).setProtectedHeader({ alg: 'EdDSA', typ: 'vc+jwt', kid }).sign(privateKey)
  }
  const creds = {
    gold: await v11('MembershipCredential', { level: 'gold', memberOf: 'dataspace' }, t0 - 3600, t0 + 30 * DAY),
    silver: await v11('MembershipCredential', { level: 'silver' }, t0 - 3600, t0 + 30 * DAY),
    expired: await v11('MembershipCredential', { level: 'platinum' }, t0 - 2 * DAY, t0 - DAY),
    revoked: await v11('MembershipCredential', { level: 'diamond' }, t0 - 3600, t0 + 30 * DAY),
    other: await v11('OtherCredential', {}, t0 - 3600, t0 + 30 * DAY),
    modern
  }
  for (const c of Object.values(creds)) {
    if (c === creds.expired) continue
    const r = await srv.api('POST', `${IDENTITY}/acme/credentials`, { key: acme.apiKey, body: { jwt: c.jwt } })
    expectStatus(r, 201)
  }
  // Stored while it was valid (storing refuses a credential already expired).
  expect(await storeCredentialsAt(srv, 'acme', [creds.expired.jwt], (t0 - 1.5 * DAY) * 1000)).toEqual([creds.expired.id])
  expectStatus(await srv.api('POST', `${IDENTITY}/acme/credentials/${encodeURIComponent(creds.revoked.id)}/revoke`, { key: acme.apiKey }), 200)
  return { srv, issuer, acme, beta, creds }
}

/** acme grants beta `scopes`; beta wraps that in its ID token for acme: the Bearer of a query. */
async function bearerFor (w: World, scopes: string[]): Promise<string> {
  const grant = await w.srv.api('POST', '/api/sts/token', { key: w.acme.apiKey, body: { audience: w.beta.did, scope: scopes } })
  expectStatus(grant, 200)
  const id = await w.srv.api('POST', '/api/sts/token', { key: w.beta.apiKey, body: { audience: w.acme.did, token: grant.body.accessToken } })
  expectStatus(id, 200)
  return id.body.idToken as string
}

function definitionQuery (presentationDefinition: unknown): unknown {
  return { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', presentationDefinition }
}

async function query (w: World, bearer: string, body: unknown): Promise<ApiReply> {
  const r = await w.srv.api('POST', queryPath('acme'), { bearer, body })
  if (r.status === 200) validatePresentationResponse(r.body)
  return r
}

const byType = (id: string, type: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ id, constraints: { fields: [{ path: ['$.type'], filter: { type: 'string', const: type } }] }, ...extra })

/** The valid MembershipCredential a type-only descriptor takes: the first in store order, i.e. by credential id. */
function firstValidMember (w: World): HeldVc {
  return [w.creds.gold, w.creds.silver].sort((a, b) => a.id < b.id ? -1 : 1)[0] as HeldVc
}

/**
 * Every descriptor_map entry resolved by hand: `path` into the response's
 * `presentation`, the VP decoded, `path_nested.path` into it (a VCDM 2.0 VP
 * holds EnvelopedVerifiableCredentials). Returns descriptor id → credential id.
 */
function resolveSubmission (body: { presentation: string[], presentationSubmission: { descriptor_map: Array<{ id: string, format: string, path: string, path_nested: { id: string, format: string, path: string } }> } }): Record<string, string> {
  const out: Record<string, string> = {}
  for (const e of body.presentationSubmission.descriptor_map) {
    const top = /^\$\.presentation\[(\d+)\]$/.exec(e.path)
    expect(top, e.path).not.toBeNull()
    const vp = decodeJwt(body.presentation[Number(top?.[1])] as string)
    expect(e.path_nested.id).toBe(e.id)
    let jwt: string
    if (e.format === 'jwt_vp') {
      expect(e.path_nested.format).toBe('jwt_vc')
      const m = /^\$\.vp\.verifiableCredential\[(\d+)\]$/.exec(e.path_nested.path)
      expect(m, e.path_nested.path).not.toBeNull()
      jwt = (vp.payload.vp as { verifiableCredential: string[] }).verifiableCredential[Number(m?.[1])] as string
    } else {
      expect([e.format, e.path_nested.format, vp.header.typ]).toEqual(['vp+jwt', 'vc+jwt', 'vp+jwt'])
      const m = /^\$\.verifiableCredential\[(\d+)\]$/.exec(e.path_nested.path)
      expect(m, e.path_nested.path).not.toBeNull()
      const env = (vp.payload.verifiableCredential as Array<{ id: string }>)[Number(m?.[1])] as { id: string }
      expect(env.id.startsWith('data:application/vc+jwt,')).toBe(true)
      jwt = env.id.slice('data:application/vc+jwt,'.length)
    }
    out[e.id] = parseVcJwt(jwt).id
  }
  return out
}

/** did:web over plain HTTP (the server is on loopback), none of the hub's own resolution code. */
function independentResolver (): Resolver {
  const web: DIDResolver = async (did, parsed) => {
    const [host = '', ...path] = parsed.id.split(':').map(s => decodeURIComponent(s))
    const res = await fetch(`http://${host}/${path.map(encodeURIComponent).join('/')}/did.json`)
    const doc = await res.json() as DIDDocument
    return { didResolutionMetadata: {}, didDocument: doc.id === did ? doc : null, didDocumentMetadata: {} }
  }
  return new Resolver({ web }, { cache: false })
}

describe('Presentation Exchange queries (presentationDefinition)', () => {
  it('one descriptor by type: 200 with a VP holding the first valid matching credential and a submission that resolves to it; the VP verifies with did-jwt-vc', async () => {
    const w = await world()
    const bearer = await bearerFor(w, [MEMBERSHIP])
    const r = await query(w, bearer, definitionQuery({ id: 'pd-member', input_descriptors: [byType('membership', 'MembershipCredential')] }))
    expectStatus(r, 200)
    expect(r.body.presentation).toHaveLength(1)
    expect(r.body.presentationSubmission).toMatchObject({ id: expect.stringMatching(/^urn:uuid:/), definition_id: 'pd-member' })
    expect(r.body.presentationSubmission.descriptor_map).toEqual([
      { id: 'membership', format: 'jwt_vp', path: '$.presentation[0]', path_nested: { id: 'membership', format: 'jwt_vc', path: '$.vp.verifiableCredential[0]' } }
    ])
    // The first match in the holder's store order (by credential id): one of the two valid ones, never both,
    // never the expired or revoked ones.
    const first = firstValidMember(w)
    expect(resolveSubmission(r.body)).toEqual({ membership: first.id })
    const vp = r.body.presentation[0] as string
    expect((decodeJwt(vp).payload.vp as { verifiableCredential: string[] }).verifiableCredential).toEqual([first.jwt])
    const v = await verifyPresentation(vp, independentResolver(), { audience: w.beta.did })
    expect(v.verified).toBe(true)
    expect(v.issuer).toBe(w.acme.did)
  })

  it('the query in docs/organization.md (curl example) answers as the doc says', async () => {
    const w = await world()
    const doc = readFileSync(new URL('../docs/organization.md', import.meta.url), 'utf8')
    const section = doc.slice(doc.indexOf('### Presentation Exchange queries'))
    const body = /-d '(\{[\s\S]*?\})' \| jq/.exec(section)?.[1]
    expect(body).toBeTypeOf('string')
    const r = await query(w, await bearerFor(w, [MEMBERSHIP]), JSON.parse(body as string))
    expectStatus(r, 200)
    expect(r.body.presentationSubmission).toMatchObject({
      definition_id: 'membership-check',
      descriptor_map: [{ id: 'membership', format: 'jwt_vp', path: '$.presentation[0]', path_nested: { id: 'membership', format: 'jwt_vc', path: '$.vp.verifiableCredential[0]' } }]
    })
    expect(resolveSubmission(r.body)).toEqual({ membership: w.creds.gold.id })
  })

  it('a field filter on a claim value picks the credential that has it', async () => {
    const w = await world()
    const def = { id: 'pd-silver', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.type'], filter: { type: 'string', const: 'MembershipCredential' } }, { path: ['$.credentialSubject.level'], filter: { type: 'string', pattern: '^sil' } }] } }] }
    const r = await query(w, await bearerFor(w, [MEMBERSHIP]), definitionQuery(def))
    expectStatus(r, 200)
    expect(resolveSubmission(r.body)).toEqual({ m: w.creds.silver.id })
  })

  it('pick count 1 from a group of two answers one descriptor; across data models the submission points into two VPs', async () => {
    const w = await world()
    const group = [byType('other', 'OtherCredential', { group: ['G'] }), byType('member', 'MembershipCredential', { group: ['G'] })]
    const r = await query(w, await bearerFor(w, [MEMBERSHIP, OTHER]), definitionQuery({ id: 'pd-pick', input_descriptors: group, submission_requirements: [{ rule: 'pick', count: 1, from: 'G' }] }))
    expectStatus(r, 200)
    expect(resolveSubmission(r.body)).toEqual({ other: w.creds.other.id })
    // Only OtherCredential granted: pick 1 is still met (by "other"); pick 2 is not.
    const two = await query(w, await bearerFor(w, [OTHER]), definitionQuery({ id: 'pd-pick', input_descriptors: group, submission_requirements: [{ rule: 'pick', count: 2, from: 'G' }] }))
    expectStatus(two, 403, 'definition_not_satisfiable')

    const both = await query(w, await bearerFor(w, [MEMBERSHIP, MODERN]), definitionQuery({ id: 'pd-2', input_descriptors: [byType('modern', 'ModernCredential'), byType('member', 'MembershipCredential')] }))
    expectStatus(both, 200)
    expect(both.body.presentation).toHaveLength(2)
    expect(both.body.presentationSubmission.descriptor_map.map((e: { path: string }) => e.path)).toEqual(['$.presentation[1]', '$.presentation[0]'])
    expect(resolveSubmission(both.body)).toEqual({ modern: w.creds.modern.id, member: firstValidMember(w).id })
  })

  it('the official example definition (ldp_vc) cannot be satisfied here: 403 definition_not_satisfiable', async () => {
    const w = await world()
    const example = JSON.parse(readFileSync(new URL('../protocols/dcp/presentation/example/presentation-query-message-w-presentation-definition.json', import.meta.url), 'utf8')) as unknown
    const r = await query(w, await bearerFor(w, [MEMBERSHIP, OTHER]), validatePresentationQuery(example))
    expectStatus(r, 403, 'definition_not_satisfiable')
    expect(r.body.error.code).toBe('permissions_required')
  })

  it('the grant bounds the definition: a type held but not granted gets the same 403 as a type not held at all; granted, 200', async () => {
    const w = await world()
    const notGranted = await query(w, await bearerFor(w, [OTHER]), definitionQuery({ id: 'pd', input_descriptors: [byType('m', 'MembershipCredential')] }))
    expectStatus(notGranted, 403, 'definition_not_satisfiable')
    const notHeld = await query(w, await bearerFor(w, [OTHER]), definitionQuery({ id: 'pd', input_descriptors: [byType('m', 'NoSuchCredential')] }))
    expect(notHeld.status).toBe(notGranted.status)
    expect(notHeld.body).toEqual(notGranted.body)
    // A descriptor with no constraints would take anything: it still only sees what is granted.
    const any = await query(w, await bearerFor(w, [OTHER]), definitionQuery({ id: 'pd', input_descriptors: [{ id: 'anything' }] }))
    expectStatus(any, 200)
    expect(resolveSubmission(any.body)).toEqual({ anything: w.creds.other.id })
    const granted = await query(w, await bearerFor(w, [MEMBERSHIP]), definitionQuery({ id: 'pd', input_descriptors: [byType('m', 'MembershipCredential')] }))
    expectStatus(granted, 200)
  })

  it('expired and revoked credentials are never matched, even when granted and the definition asks for exactly them', async () => {
    const w = await world()
    for (const level of ['platinum', 'diamond']) {
      const def = { id: 'pd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.credentialSubject.level'], filter: { const: level } }] } }] }
      expectStatus(await query(w, await bearerFor(w, [MEMBERSHIP]), definitionQuery(def)), 403, 'definition_not_satisfiable')
    }
  })

  it('a malformed, unsupported or oversized definition is a 400 before the token is looked at: the same ID token then works', async () => {
    const w = await world()
    const bearer = await bearerFor(w, [MEMBERSHIP])
    const cases: Array<[unknown, string]> = [
      [{ id: 'pd' }, 'invalid_definition'],
      [{ id: 'pd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$..type'] }] } }] }, 'unsupported_feature'],
      [{ id: 'pd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.credentialSubject[?(@.level)]'] }] } }] }, 'unsupported_feature'],
      [{ id: 'pd', input_descriptors: [{ id: 'm', constraints: { limit_disclosure: 'required' } }] }, 'unsupported_feature'],
      [{ id: 'pd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.type'], filter: { type: 'string', pattern: '(a)\\1' } }] } }] }, 'invalid_definition'],
      [{ id: 'pd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.type'], filter: { $ref: 'http://127.0.0.1:1/schema.json' } }] } }] }, 'unsupported_feature'],
      [{ id: 'pd', input_descriptors: Array.from({ length: 33 }, (_, i) => ({ id: `d${i}` })) }, 'limit_exceeded']
    ]
    for (const [def, reason] of cases) {
      const r = await query(w, bearer, definitionQuery(def))
      expectStatus(r, 400, reason)
      expect(r.body.error.code).toBe('bad_request')
    }
    // A regex bomb against a long claim answers at once (linear-time engine), as not satisfiable.
    const bomb = { id: 'pd', input_descriptors: [{ id: 'm', constraints: { fields: [{ path: ['$.vc.credentialSubject.id'], filter: { type: 'string', pattern: '^(([a-z0-9%:.]+)+)+$!' } }] } }] }
    expectStatus(await query(w, bearer, definitionQuery(bomb)), 403, 'definition_not_satisfiable')
    // That one consumed the token; a fresh one still works after the 400s above did not.
    const fresh = await bearerFor(w, [MEMBERSHIP])
    for (const [def] of cases) expectStatus(await query(w, fresh, definitionQuery(def)), 400)
    expectStatus(await query(w, fresh, definitionQuery({ id: 'pd', input_descriptors: [byType('m', 'MembershipCredential')] })), 200)
  })

  it('a replayed ID token is refused for a definition query like any other; scope and presentationDefinition together stay 400', async () => {
    const w = await world()
    const bearer = await bearerFor(w, [MEMBERSHIP])
    const body = definitionQuery({ id: 'pd', input_descriptors: [byType('m', 'MembershipCredential')] })
    expectStatus(await query(w, bearer, body), 200)
    expectStatus(await query(w, bearer, body), 403, 'replayed')
    const fresh = await bearerFor(w, [MEMBERSHIP])
    const both = { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: [MEMBERSHIP], presentationDefinition: { id: 'pd', input_descriptors: [byType('m', 'MembershipCredential')] } }
    expectStatus(await query(w, fresh, both), 400)
    expectStatus(await query(w, fresh, body), 200)
  })

  it('a verifier cannot use a token for another verifier, nor query another holder with it', async () => {
    const w = await world()
    const gamma = await participant(w.srv, 'gamma')
    // acme's grant to beta, carried in gamma's ID token: wrong_caller.
    const grant = await w.srv.api('POST', '/api/sts/token', { key: w.acme.apiKey, body: { audience: w.beta.did, scope: [MEMBERSHIP] } })
    const stolen = await w.srv.api('POST', '/api/sts/token', { key: gamma.apiKey, body: { audience: w.acme.did, token: grant.body.accessToken } })
    const body = definitionQuery({ id: 'pd', input_descriptors: [byType('m', 'MembershipCredential')] })
    expectStatus(await query(w, stolen.body.idToken as string, body), 403, 'wrong_caller')
    // beta's ID token for acme sent to gamma's endpoint: wrong_audience.
    const r = await w.srv.api('POST', queryPath('gamma'), { bearer: await bearerFor(w, [MEMBERSHIP]), body })
    expectStatus(r, 403, 'wrong_audience')
  })
})
