/**
 * The Identity API (`/api/identity/v1/…`) over real HTTP on loopback: every
 * endpoint with its success path and the 400/401/403/404/409 paths that
 * apply, the routing and OpenAPI contract, and the events each operation
 * emits. did:web hosting has its own file (did-web.test.ts).
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { SignJWT, type JWK } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { hubRoutes } from '../src/http/app.js'
import { MAX_HTTP_BODY_BYTES } from '../src/http/server.js'
import type { OrgEvent } from '../src/org/types.js'
import { cleanup } from './helpers.js'
import { orgServer, type ApiReply, type OrgServer } from './org-helpers.js'
import { orgOf } from '../src/org/hub-org.js'

afterEach(cleanup)

const B = '/api/identity/v1'
const PARTICIPANTS = `${B}/participants`
const P = (id: string): string => `${PARTICIPANTS}/${encodeURIComponent(id)}`

function expectError (r: ApiReply, status: number, code: string): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code })
  expect(typeof r.body.error.message).toBe('string')
}

interface Created { id: string, did: string, apiKey: string, body: ApiReply['body'] }

async function createParticipant (s: OrgServer, id: string, extra: Record<string, unknown> = {}): Promise<Created> {
  const r = await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: id, did: s.did(id), ...extra } })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return { id, did: r.body.did, apiKey: r.body.apiKey, body: r.body }
}

/** A fresh Ed25519 key: its public JWK (no `d`) and the private KeyObject to sign with. */
function edKey (): { publicJwk: JWK, privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  return { publicJwk: publicKey.export({ format: 'jwk' }) as JWK, privateKey }
}

/** Every LevelDB key under `org!`. */
async function orgKvKeys (s: OrgServer): Promise<string[]> {
  const out: string[] = []
  for await (const k of s.hub.kv.keys({ gte: 'org!', lt: 'org"' })) out.push(k)
  return out
}

async function hasPrivateKeyRecord (s: OrgServer, pid: string, keyId: string): Promise<boolean> {
  return (await orgKvKeys(s)).includes(`org!sk!${pid}!${keyId}`)
}

/**
 * Verification method ids of a participant's current DID document (from GET
 * …/did), sorted: the document orders them by creation time (milliseconds),
 * so keys created within one millisecond have no stable order to assert.
 */
async function methodIds (s: OrgServer, pid: string): Promise<string[]> {
  const r = await s.api('GET', `${P(pid)}/did`, { key: s.adminKey })
  expect(r.status).toBe(200)
  const doc = r.body.document
  const ids = (doc.verificationMethod as Array<{ id: string }>).map(m => m.id)
  expect(doc.authentication).toEqual(ids)
  expect(doc.assertionMethod).toEqual(ids)
  return [...ids].sort()
}

// ── credentials: an issuer participant on the same server, and JWT VCs it signs

interface Issuer { id: string, did: string, keyId: string, privateKey: KeyObject }

/** An ACTIVATED (hence published) participant whose only key is a public key we hold the private half of. */
async function createIssuer (s: OrgServer, id = 'issuer'): Promise<Issuer> {
  const { publicJwk, privateKey } = edKey()
  const c = await createParticipant(s, id, { active: true, key: { keyId: 'signing', publicKeyJwk: publicJwk } })
  expect(c.body.state).toBe('ACTIVATED')
  expect(c.body.defaultKey).toMatchObject({ keyId: 'signing', state: 'ACTIVATED', hasPrivateKey: false })
  return { id, did: c.did, keyId: 'signing', privateKey }
}

const NBF = 1_700_000_000
const EXP = 4_102_444_800 // 2100-01-01

async function issueVc (issuer: Issuer, subject: string, opts: { jti?: string, types?: string[], privateKey?: KeyObject, kid?: string } = {}): Promise<{ jwt: string, jti: string }> {
  const jti = opts.jti ?? `urn:uuid:${randomUUID()}`
  const jwt = await new SignJWT({
    iss: issuer.did,
    sub: subject,
    jti,
    nbf: NBF,
    exp: EXP,
    vc: {
      '@context': ['https://www.w3.org/2018/credentials/v1'],
      type: ['VerifiableCredential', ...(opts.types ?? ['MembershipCredential'])],
      credentialSubject: { id: subject }
    }
  })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: opts.kid ?? `${issuer.did}#${issuer.keyId}` })
    .sign(opts.privateKey ?? issuer.privateKey)
  return { jwt, jti }
}

/** Every Identity API route that names a participant, as a request against participant `pid`. */
function participantRoutes (s: OrgServer, pid: string): Array<{ method: string, path: string, body?: unknown }> {
  return hubRoutes(s.hub)
    .filter(r => r.path.startsWith(`${B}/participants/{participantId}`))
    .map(r => {
      const path = r.path
        .replace('{participantId}', encodeURIComponent(pid))
        .replace('{keyId}', 'key-1')
        .replace('{serviceId}', 'svc')
        .replace('{credentialId}', encodeURIComponent('urn:uuid:00000000-0000-4000-8000-000000000000'))
      const body = r.operationId === 'addServiceEndpoint'
        ? { id: '#svc', type: 'CredentialService', serviceEndpoint: 'https://example.com/cs' }
        : r.operationId === 'addCredential' ? { jwt: 'a.b.c' } : r.method === 'POST' ? {} : undefined
      return { method: r.method, path, ...(body !== undefined ? { body } : {}) }
    })
}

// ─────────────────────────────────────────────────────────────────────────

describe('Identity API: authentication and authorization', () => {
  it('refuses a request without x-api-key with 401 and www-authenticate', async () => {
    const s = await orgServer()
    await createParticipant(s, 'acme')
    for (const [method, path] of [['GET', PARTICIPANTS], ['POST', PARTICIPANTS], ['GET', P('acme')], ['GET', `${P('acme')}/keypairs`], ['POST', `${P('acme')}/api-key`]] as const) {
      const r = await s.api(method, path, method === 'POST' ? { body: { participantId: 'x', did: s.did('x') } } : {})
      expectError(r, 401, 'authentication_failed')
      expect(r.headers.get('www-authenticate')).toBe('x-api-key')
    }
    // An empty header is no key either.
    expectError(await s.api('GET', P('acme'), { headers: { 'x-api-key': '' } }), 401, 'authentication_failed')
    // Nothing was created by the unauthenticated POST.
    const list = await s.api('GET', PARTICIPANTS, { key: s.adminKey })
    expect(list.body.map((p: { participantId: string }) => p.participantId)).toEqual(['acme'])
  })

  it('refuses wrong keys with 401: garbage, a forged key naming a real participant, an almost-admin key', async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    const forged = `${Buffer.from('acme').toString('base64url')}.${'A'.repeat(43)}`
    const tampered = a.apiKey.slice(0, -1) + (a.apiKey.endsWith('A') ? 'B' : 'A')
    for (const key of ['nonsense', 'x.y', forged, tampered, s.adminKey + 'x', s.adminKey.slice(1)]) {
      for (const path of [PARTICIPANTS, P('acme')]) {
        const r = await s.api('GET', path, { key })
        expectError(r, 401, 'authentication_failed')
        expect(r.headers.get('www-authenticate')).toBe('x-api-key')
      }
    }
  })

  it("refuses a participant's key on another participant's routes with 403", async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    await createParticipant(s, 'globex')
    for (const route of participantRoutes(s, 'globex')) {
      const r = await s.api(route.method, route.path, { key: a.apiKey, ...(route.body !== undefined ? { body: route.body } : {}) })
      expectError(r, 403, 'permissions_required')
    }
    // …and the same for a participant that does not exist (no existence oracle for participant keys).
    const r = await s.api('GET', P('ghost'), { key: a.apiKey })
    expectError(r, 403, 'permissions_required')
    // globex is untouched (the 403 on DELETE, api-key and so on changed nothing).
    const g = await s.api('GET', P('globex'), { key: s.adminKey })
    expect(g.status).toBe(200)
    expect(g.body.state).toBe('CREATED')
  })

  it('refuses a participant key on the admin-only routes with 403, even for its own context', async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    const adminOnly: Array<[string, string, unknown?]> = [
      ['GET', PARTICIPANTS],
      ['POST', PARTICIPANTS, { participantId: 'other', did: s.did('other') }],
      ['DELETE', P('acme')],
      ['POST', `${P('acme')}/activate`],
      ['POST', `${P('acme')}/deactivate`]
    ]
    for (const [method, path, body] of adminOnly) {
      const r = await s.api(method, path, { key: a.apiKey, ...(body !== undefined ? { body } : {}) })
      expectError(r, 403, 'permissions_required')
    }
    const after = await s.api('GET', P('acme'), { key: a.apiKey })
    expect(after.status).toBe(200)
    expect(after.body.state).toBe('CREATED')
    const list = await s.api('GET', PARTICIPANTS, { key: s.adminKey })
    expect(list.body).toHaveLength(1)
  })

  it('accepts the admin key on every route and the participant key on its own routes', async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    for (const key of [s.adminKey, a.apiKey]) {
      for (const path of [P('acme'), `${P('acme')}/keypairs`, `${P('acme')}/keypairs/key-1`, `${P('acme')}/did`, `${P('acme')}/credentials`]) {
        const r = await s.api('GET', path, { key })
        expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(200)
      }
    }
    expect((await s.api('GET', PARTICIPANTS, { key: s.adminKey })).status).toBe(200)
    expect((await s.api('POST', `${P('acme')}/activate`, { key: s.adminKey })).status).toBe(200)
    expect((await s.api('POST', `${P('acme')}/deactivate`, { key: s.adminKey })).status).toBe(200)
    // The participant key can act on its own resources.
    const k = await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: { keyId: 'mine' } })
    expect(k.status).toBe(201)
  })

  it('regenerating the API key makes the old one fail at once and the new one work', async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    expect((await s.api('GET', P('acme'), { key: a.apiKey })).status).toBe(200)

    const r = await s.api('POST', `${P('acme')}/api-key`, { key: a.apiKey })
    expect(r.status).toBe(200)
    const fresh = r.body.apiKey as string
    expect(typeof fresh).toBe('string')
    expect(fresh).not.toBe(a.apiKey)
    expectError(await s.api('GET', P('acme'), { key: a.apiKey }), 401, 'authentication_failed')
    expect((await s.api('GET', P('acme'), { key: fresh })).status).toBe(200)

    // The admin can regenerate too (e.g. for a participant that lost its key).
    const r2 = await s.api('POST', `${P('acme')}/api-key`, { key: s.adminKey })
    expect(r2.status).toBe(200)
    expectError(await s.api('GET', P('acme'), { key: fresh }), 401, 'authentication_failed')
    expect((await s.api('GET', P('acme'), { key: r2.body.apiKey })).status).toBe(200)
    // Neither the key nor its hash is ever readable afterwards.
    const got = await s.api('GET', P('acme'), { key: s.adminKey })
    expect(JSON.stringify(got.body)).not.toContain(r2.body.apiKey)
    expect(got.body).not.toHaveProperty('apiKeyHash')
  })

  it('refuses the API key of a deleted participant with 401, also after re-creating the same id', async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    expect((await s.api('DELETE', P('acme'), { key: s.adminKey })).status).toBe(204)
    expectError(await s.api('GET', P('acme'), { key: a.apiKey }), 401, 'authentication_failed')
    const again = await createParticipant(s, 'acme')
    expectError(await s.api('GET', P('acme'), { key: a.apiKey }), 401, 'authentication_failed')
    expect((await s.api('GET', P('acme'), { key: again.apiKey })).status).toBe(200)
  })
})

describe('Identity API: participant contexts', () => {
  it('creates a participant: 201 with its API key once; GET and list never return it nor its hash', async () => {
    const s = await orgServer()
    const r = await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: 'acme', did: s.did('acme') } })
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({ participantId: 'acme', did: s.did('acme'), state: 'CREATED' })
    expect(typeof r.body.apiKey).toBe('string')
    expect(r.body.apiKey.length).toBeGreaterThan(40)
    expect(r.body).not.toHaveProperty('apiKeyHash')
    expect(r.body.defaultKey).toMatchObject({ keyId: 'key-1', kid: `${s.did('acme')}#key-1`, state: 'ACTIVATED', isDefault: true, hasPrivateKey: true })
    expect(r.body.defaultKey.publicKeyJwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' })
    expect(r.body.defaultKey.publicKeyJwk).not.toHaveProperty('d')
    const apiKey = r.body.apiKey as string

    const got = await s.api('GET', P('acme'), { key: s.adminKey })
    expect(got.status).toBe(200)
    expect(Object.keys(got.body).sort()).toEqual(['createdAt', 'did', 'participantId', 'state', 'updatedAt'])
    const list = await s.api('GET', PARTICIPANTS, { key: s.adminKey })
    expect(list.status).toBe(200)
    expect(list.body).toEqual([got.body])
    for (const body of [got.body, list.body]) {
      const text = JSON.stringify(body)
      expect(text).not.toContain(apiKey)
      expect(text).not.toContain('apiKey')
    }
  })

  it('creates an ACTIVATED participant with services and an imported key in one request', async () => {
    const s = await orgServer()
    const { publicJwk } = edKey()
    const r = await s.api('POST', PARTICIPANTS, {
      key: s.adminKey,
      body: { participantId: 'acme', did: s.did('acme'), active: true, key: { keyId: 'ext', publicKeyJwk: publicJwk }, services: [{ id: '#cs', type: 'CredentialService', serviceEndpoint: 'https://acme.example/cs' }] }
    })
    expect(r.status).toBe(201)
    expect(r.body.state).toBe('ACTIVATED')
    expect(r.body.defaultKey).toMatchObject({ keyId: 'ext', state: 'ACTIVATED', hasPrivateKey: false })
    const did = await s.api('GET', `${P('acme')}/did`, { key: s.adminKey })
    expect(did.body.state).toBe('PUBLISHED')
    expect(did.body.services).toEqual([{ id: `${s.did('acme')}#cs`, type: 'CredentialService', serviceEndpoint: 'https://acme.example/cs' }])
  })

  it('refuses a duplicate participant id or DID with 409 and stores nothing', async () => {
    const s = await orgServer()
    await createParticipant(s, 'acme')
    const before = await orgKvKeys(s)
    const dupId = await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: 'acme', did: s.did('other') } })
    expectError(dupId, 409, 'already_exists')
    const dupDid = await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: 'other', did: s.did('acme') } })
    expectError(dupDid, 409, 'already_exists')
    // The same DID spelled with a lower-case percent escape is the same DID.
    const dupDidLower = await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: 'other', did: s.did('acme').replace('%3A', '%3a') } })
    expectError(dupDidLower, 409, 'already_exists')
    expect(await orgKvKeys(s)).toEqual(before)
  })

  it('serializes concurrent creates of the same id or DID: one 201, the others 409', async () => {
    const s = await orgServer()
    const create = (participantId: string, name: string): Promise<ApiReply> =>
      s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId, did: s.did(name) } })
    const [sameId, sameDid] = await Promise.all([
      Promise.all([create('acme', 'a1'), create('acme', 'a2'), create('acme', 'a3')]),
      Promise.all([create('b1', 'shared'), create('b2', 'shared'), create('b3', 'shared')])
    ])
    for (const group of [sameId, sameDid]) {
      expect(group.map(r => r.status).sort()).toEqual([201, 409, 409])
      for (const r of group.filter(x => x.status === 409)) expect(r.body.error.code).toBe('already_exists')
    }
    const list = await s.api('GET', PARTICIPANTS, { key: s.adminKey })
    expect(list.body).toHaveLength(2)
    expect((await orgKvKeys(s)).filter(k => k.startsWith('org!did!'))).toHaveLength(2)
    expect((await orgKvKeys(s)).filter(k => k.startsWith('org!k!'))).toHaveLength(2)
  })

  it('refuses malformed bodies with 400 and stores nothing', async () => {
    const s = await orgServer()
    const bad: Array<{ rawBody?: string, body?: unknown, headers?: Record<string, string> }> = [
      { rawBody: '{"participantId": "acme", ', headers: { 'content-type': 'application/json' } },
      { rawBody: 'not json at all', headers: { 'content-type': 'application/json' } },
      { body: ['acme'] },
      { body: 'acme' },
      { body: null },
      {},
      { body: { participantId: 'acme' } },
      { body: { did: s.did('acme') } },
      { body: { participantId: 'bad id', did: s.did('acme') } },
      { body: { participantId: 'bad!id', did: s.did('acme') } },
      { body: { participantId: '-leading', did: s.did('acme') } },
      { body: { participantId: 'x'.repeat(65), did: s.did('acme') } },
      { body: { participantId: '', did: s.did('acme') } },
      { body: { participantId: 42, did: s.did('acme') } },
      { body: { participantId: 'acme', did: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK' } },
      { body: { participantId: 'acme', did: 'https://acme.example' } },
      { body: { participantId: 'acme', did: 'did:web:' } },
      { body: { participantId: 'acme', did: 'did:web:acme.example/evil' } },
      { body: { participantId: 'acme', did: 'did:web:acme.example:a%2Fb' } },
      { body: { participantId: 'acme', did: s.did('acme'), active: 'yes' } },
      { body: { participantId: 'acme', did: s.did('acme'), services: 'nope' } },
      { body: { participantId: 'acme', did: s.did('acme'), services: [{ id: '#cs', type: 'X', serviceEndpoint: 'not a url' }] } },
      { body: { participantId: 'acme', did: s.did('acme'), key: { keyId: 'bad key' } } },
      { body: { participantId: 'acme', did: s.did('acme'), key: { activate: false } } }
    ]
    for (const b of bad) {
      const r = await s.api('POST', PARTICIPANTS, { key: s.adminKey, ...b })
      expect({ input: b, status: r.status, code: r.body?.error?.code }).toEqual({ input: b, status: 400, code: 'bad_request' })
    }
    expect(await orgKvKeys(s)).toEqual([])
  })

  it('refuses a body over 1 MiB with 413, with or without a content-length', async () => {
    const s = await orgServer()
    const big = JSON.stringify({ participantId: 'acme', did: s.did('acme'), pad: 'x'.repeat(MAX_HTTP_BODY_BYTES) })
    const r = await s.api('POST', PARTICIPANTS, { key: s.adminKey, rawBody: big, headers: { 'content-type': 'application/json' } })
    expectError(r, 413, 'too_large')

    // Chunked: no content-length, the limit is enforced while reading.
    const chunked = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const u = new URL(s.url)
      const req = httpRequest({ host: u.hostname, port: u.port, method: 'POST', path: PARTICIPANTS, headers: { 'x-api-key': s.adminKey, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, res => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        res.on('error', reject)
      })
      // A response can arrive (and the server stop reading) before every chunk is written.
      req.on('error', () => {})
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      for (let i = 0; i < 20; i++) req.write(chunk)
      req.end()
    })
    expect(chunked.status).toBe(413)
    expect(JSON.parse(chunked.body).error.code).toBe('too_large')
    expect(await orgKvKeys(s)).toEqual([])
    // The server is still healthy.
    await createParticipant(s, 'acme')
  })

  it('follows CREATED → ACTIVATED ⇄ DEACTIVATED and refuses other transitions with 409', async () => {
    const s = await orgServer()
    await createParticipant(s, 'acme')
    const state = async (): Promise<string> => (await s.api('GET', P('acme'), { key: s.adminKey })).body.state

    expectError(await s.api('POST', `${P('acme')}/deactivate`, { key: s.adminKey }), 409, 'conflict')
    expect(await state()).toBe('CREATED')

    const act = await s.api('POST', `${P('acme')}/activate`, { key: s.adminKey })
    expect(act.status).toBe(200)
    expect(act.body).toMatchObject({ participantId: 'acme', state: 'ACTIVATED' })
    expect(act.body).not.toHaveProperty('apiKeyHash')
    expect(await state()).toBe('ACTIVATED')

    expectError(await s.api('POST', `${P('acme')}/activate`, { key: s.adminKey }), 409, 'conflict')

    const de = await s.api('POST', `${P('acme')}/deactivate`, { key: s.adminKey })
    expect(de.status).toBe(200)
    expect(de.body.state).toBe('DEACTIVATED')
    expectError(await s.api('POST', `${P('acme')}/deactivate`, { key: s.adminKey }), 409, 'conflict')

    const re = await s.api('POST', `${P('acme')}/activate`, { key: s.adminKey })
    expect(re.status).toBe(200)
    expect(re.body.state).toBe('ACTIVATED')
    expect(await state()).toBe('ACTIVATED')
  })

  it('refuses to activate a participant without an ACTIVATED key pair (409)', async () => {
    const s = await orgServer()
    await createParticipant(s, 'acme')
    expect((await s.api('POST', `${P('acme')}/keypairs/key-1/revoke`, { key: s.adminKey })).status).toBe(200)
    // A CREATED key is not enough either.
    expect((await s.api('POST', `${P('acme')}/keypairs`, { key: s.adminKey, body: { keyId: 'pending' } })).status).toBe(201)
    expectError(await s.api('POST', `${P('acme')}/activate`, { key: s.adminKey }), 409, 'conflict')
    expect((await s.api('GET', P('acme'), { key: s.adminKey })).body.state).toBe('CREATED')
    expect((await s.api('POST', `${P('acme')}/keypairs/pending/activate`, { key: s.adminKey })).status).toBe(200)
    expect((await s.api('POST', `${P('acme')}/activate`, { key: s.adminKey })).status).toBe(200)
  })

  it('answers 404 for an unknown participant on every participant route', async () => {
    const s = await orgServer()
    await createParticipant(s, 'acme')
    const routes = participantRoutes(s, 'ghost')
    expect(routes.length).toBeGreaterThanOrEqual(19)
    for (const route of routes) {
      const r = await s.api(route.method, route.path, { key: s.adminKey, ...(route.body !== undefined ? { body: route.body } : {}) })
      expect({ route, status: r.status, code: r.body?.error?.code }).toEqual({ route, status: 404, code: 'not_found' })
      expect(r.body.error.message).not.toMatch(/^no route/)
    }
  })

  it('answers 400 for a malformed participant id in the path', async () => {
    const s = await orgServer()
    for (const id of ['bad!id', 'x'.repeat(65), '-x']) {
      expectError(await s.api('GET', P(id), { key: s.adminKey }), 400, 'bad_request')
    }
    // Malformed percent-encoding never reaches a handler.
    expectError(await s.api('GET', `${PARTICIPANTS}/%E0%A4%A`, { key: s.adminKey }), 400, 'bad_request')
  })

  it('deletes a participant with everything it holds, in LevelDB too', async () => {
    const s = await orgServer()
    const keeper = await createParticipant(s, 'keeper', { active: true })
    const doomed = await createParticipant(s, 'doomed', { active: true, services: [{ id: '#cs', type: 'CredentialService', serviceEndpoint: 'https://doomed.example/cs' }] })
    expect((await s.api('POST', `${P('doomed')}/keypairs`, { key: s.adminKey, body: { keyId: 'spare' } })).status).toBe(201)
    const issuer = await createIssuer(s)
    const { jwt } = await issueVc(issuer, doomed.did)
    expect((await s.api('POST', `${P('doomed')}/credentials`, { key: doomed.apiKey, body: { jwt } })).status).toBe(201)
    const { jwt: jwtKeeper } = await issueVc(issuer, keeper.did)
    expect((await s.api('POST', `${P('keeper')}/credentials`, { key: keeper.apiKey, body: { jwt: jwtKeeper } })).status).toBe(201)
    expect((await s.api('GET', '/org/doomed/did.json')).status).toBe(200)

    const before = await orgKvKeys(s)
    const mentions = (keys: string[]): string[] => keys.filter(k => k.includes('doomed'))
    // Every kind of record is there before (so the check below means something).
    for (const prefix of ['org!p!doomed', 'org!did!', 'org!d!doomed', 'org!k!doomed!key-1', 'org!k!doomed!spare', 'org!sk!doomed!key-1', 'org!sk!doomed!spare', 'org!c!doomed!']) {
      expect(mentions(before).some(k => k.startsWith(prefix)), prefix).toBe(true)
    }

    const del = await s.api('DELETE', P('doomed'), { key: s.adminKey })
    expect(del.status).toBe(204)
    expect(del.body).toBeUndefined()

    expectError(await s.api('GET', P('doomed'), { key: s.adminKey }), 404, 'not_found')
    expectError(await s.api('DELETE', P('doomed'), { key: s.adminKey }), 404, 'not_found')
    expectError(await s.api('GET', `${P('doomed')}/keypairs`, { key: s.adminKey }), 404, 'not_found')
    expectError(await s.api('GET', `${P('doomed')}/credentials`, { key: s.adminKey }), 404, 'not_found')
    expect((await s.api('GET', '/org/doomed/did.json')).status).toBe(404)
    expect(await orgOf(s.hub).participantOfDid(doomed.did)).toBeUndefined()

    const after = await orgKvKeys(s)
    expect(mentions(after)).toEqual([])
    expect(after.filter(k => k.startsWith('org!sk!'))).toEqual(before.filter(k => k.startsWith('org!sk!') && !k.includes('doomed')))
    // Exactly the doomed records went; the others are all still there.
    expect(after).toEqual(before.filter(k => !k.includes('doomed')))
    expect((await s.api('GET', '/org/keeper/did.json')).status).toBe(200)
    expect((await s.api('GET', `${P('keeper')}/credentials`, { key: keeper.apiKey })).body).toHaveLength(1)

    // The id and the DID are free again.
    const again = await createParticipant(s, 'doomed')
    expect(again.did).toBe(doomed.did)
    expect((await s.api('GET', `${P('doomed')}/credentials`, { key: s.adminKey })).body).toEqual([])
  })
})

describe('Identity API: key pairs', () => {
  it('lists, creates (generated and imported), gets and refuses bad or duplicate keys', async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    const list0 = await s.api('GET', `${P('acme')}/keypairs`, { key: a.apiKey })
    expect(list0.status).toBe(200)
    expect(list0.body).toHaveLength(1)
    expect(list0.body[0]).toMatchObject({ keyId: 'key-1', state: 'ACTIVATED', isDefault: true, hasPrivateKey: true })

    const gen = await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: {} })
    expect(gen.status).toBe(201)
    expect(gen.body).toMatchObject({ participantId: 'acme', keyId: 'key-2', kid: `${a.did}#key-2`, state: 'CREATED', isDefault: false, hasPrivateKey: true })
    expect(gen.body.publicKeyJwk).not.toHaveProperty('d')
    expect(await hasPrivateKeyRecord(s, 'acme', 'key-2')).toBe(true)

    const { publicJwk } = edKey()
    expect(publicJwk).not.toHaveProperty('d')
    const imp = await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: { keyId: 'imported', publicKeyJwk: publicJwk } })
    expect(imp.status).toBe(201)
    expect(imp.body).toMatchObject({ keyId: 'imported', state: 'CREATED', hasPrivateKey: false, isDefault: false })
    expect(imp.body.publicKeyJwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', x: publicJwk.x })
    expect(await hasPrivateKeyRecord(s, 'acme', 'imported')).toBe(false)

    const got = await s.api('GET', `${P('acme')}/keypairs/imported`, { key: a.apiKey })
    expect(got.status).toBe(200)
    expect(got.body).toEqual(imp.body)

    const list1 = await s.api('GET', `${P('acme')}/keypairs`, { key: a.apiKey })
    expect(list1.body.map((k: { keyId: string }) => k.keyId).sort()).toEqual(['imported', 'key-1', 'key-2'])
    expect(JSON.stringify(list1.body)).not.toMatch(/"d":/)
    const keysBefore = await orgKvKeys(s)

    // A private JWK is refused outright.
    const priv = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })
    expect(priv).toHaveProperty('d')
    expectError(await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: { keyId: 'leak', publicKeyJwk: priv } }), 400, 'bad_request')
    // Garbage JWKs.
    for (const jwk of ['garbage', 42, [], { kty: 'OKP', crv: 'Ed25519', x: 'not-a-key' }, { kty: 'nope' }, {}]) {
      expectError(await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: { keyId: 'junk', publicKeyJwk: jwk } }), 400, 'bad_request')
    }
    // Bad key ids and flags.
    for (const body of [{ keyId: 'bad id' }, { keyId: 'a#b' }, { keyId: 7 }, { activate: 'yes' }, { isDefault: 1 }]) {
      expectError(await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body }), 400, 'bad_request')
    }
    // Duplicate key ids: generated or imported.
    expectError(await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: { keyId: 'key-1' } }), 409, 'already_exists')
    expectError(await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: { keyId: 'imported', publicKeyJwk: edKey().publicJwk } }), 409, 'already_exists')
    expect(await orgKvKeys(s)).toEqual(keysBefore)

    expectError(await s.api('GET', `${P('acme')}/keypairs/nope`, { key: a.apiKey }), 404, 'not_found')
    expectError(await s.api('GET', `${P('acme')}/keypairs/bad!id`, { key: a.apiKey }), 400, 'bad_request')
  })

  it('activates, rotates and revokes, with the DID document following every step', async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    const kid = (k: string): string => `${a.did}#${k}`
    const kids = (...k: string[]): string[] => k.map(kid).sort()
    const kp = (k: string, verb?: string): string => `${P('acme')}/keypairs/${k}${verb !== undefined ? '/' + verb : ''}`
    expect(await methodIds(s, 'acme')).toEqual(kids('key-1'))

    // CREATED keys are not verification methods.
    expect((await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: { keyId: 'k2' } })).status).toBe(201)
    expect((await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: { keyId: 'ext', publicKeyJwk: edKey().publicJwk } })).status).toBe(201)
    expect(await methodIds(s, 'acme')).toEqual(kids('key-1'))

    // activate CREATED → ACTIVATED; again → 409.
    const act = await s.api('POST', kp('k2', 'activate'), { key: a.apiKey })
    expect(act.status).toBe(200)
    expect(act.body).toMatchObject({ keyId: 'k2', state: 'ACTIVATED', hasPrivateKey: true })
    expect(typeof act.body.activatedAt).toBe('string')
    expectError(await s.api('POST', kp('k2', 'activate'), { key: a.apiKey }), 409, 'conflict')
    expect(await methodIds(s, 'acme')).toEqual(kids('key-1', 'k2'))
    expect((await s.api('POST', kp('ext', 'activate'), { key: a.apiKey })).status).toBe(200)
    expect(await methodIds(s, 'acme')).toEqual(kids('key-1', 'k2', 'ext'))

    // rotate without a successor: ROTATED, private key gone, still a verification method.
    expect(await hasPrivateKeyRecord(s, 'acme', 'k2')).toBe(true)
    const rot = await s.api('POST', kp('k2', 'rotate'), { key: a.apiKey })
    expect(rot.status).toBe(200)
    expect(rot.body.rotated).toMatchObject({ keyId: 'k2', state: 'ROTATED', hasPrivateKey: false, isDefault: false })
    expect(rot.body.rotated).not.toHaveProperty('successor')
    expect(rot.body).not.toHaveProperty('successor')
    expect(await hasPrivateKeyRecord(s, 'acme', 'k2')).toBe(false)
    expect(await methodIds(s, 'acme')).toEqual(kids('key-1', 'k2', 'ext'))
    expectError(await s.api('POST', kp('k2', 'rotate'), { key: a.apiKey }), 409, 'conflict')
    expectError(await s.api('POST', kp('k2', 'activate'), { key: a.apiKey }), 409, 'conflict')

    // rotate the default key with a successor: the successor is ACTIVATED and becomes the default.
    const sigBefore = await orgOf(s.hub).signingKey('acme')
    expect(sigBefore.kid).toBe(kid('key-1'))
    const rot2 = await s.api('POST', kp('key-1', 'rotate'), { key: a.apiKey, body: { successor: { keyId: 'key-next' } } })
    expect(rot2.status).toBe(200)
    expect(rot2.body.rotated).toMatchObject({ keyId: 'key-1', state: 'ROTATED', isDefault: false, hasPrivateKey: false, successor: 'key-next' })
    expect(rot2.body.successor).toMatchObject({ keyId: 'key-next', state: 'ACTIVATED', isDefault: true, hasPrivateKey: true })
    expect(await hasPrivateKeyRecord(s, 'acme', 'key-1')).toBe(false)
    expect(await hasPrivateKeyRecord(s, 'acme', 'key-next')).toBe(true)
    const keys = (await s.api('GET', `${P('acme')}/keypairs`, { key: a.apiKey })).body as Array<{ keyId: string, isDefault: boolean, state: string }>
    expect(keys.filter(k => k.isDefault).map(k => k.keyId)).toEqual(['key-next'])
    expect((await orgOf(s.hub).signingKey('acme')).kid).toBe(kid('key-next'))
    expect(await methodIds(s, 'acme')).toEqual(kids('key-1', 'k2', 'ext', 'key-next'))
    expectError(await s.api('POST', kp('key-1', 'rotate'), { key: a.apiKey, body: { successor: {} } }), 409, 'conflict')

    // A successor whose id is taken: 409 and nothing changed.
    const kvBefore = await orgKvKeys(s)
    const taken = await s.api('POST', kp('key-next', 'rotate'), { key: a.apiKey, body: { successor: { keyId: 'ext' } } })
    expectError(taken, 409, 'already_exists')
    expect((await s.api('GET', kp('key-next'), { key: a.apiKey })).body).toMatchObject({ state: 'ACTIVATED', isDefault: true, hasPrivateKey: true })
    expect(await orgKvKeys(s)).toEqual(kvBefore)
    // A malformed rotation body: 400.
    expectError(await s.api('POST', kp('key-next', 'rotate'), { key: a.apiKey, body: { successor: 'x' } }), 400, 'bad_request')
    expectError(await s.api('POST', kp('key-next', 'rotate'), { key: a.apiKey, body: [] }), 400, 'bad_request')

    // revoke → REVOKED: removed from the document, private key gone; again → 409.
    const rev = await s.api('POST', kp('key-next', 'revoke'), { key: a.apiKey })
    expect(rev.status).toBe(200)
    expect(rev.body).toMatchObject({ keyId: 'key-next', state: 'REVOKED', hasPrivateKey: false, isDefault: false })
    expect(await hasPrivateKeyRecord(s, 'acme', 'key-next')).toBe(false)
    expect(await methodIds(s, 'acme')).not.toContain(kid('key-next'))
    expectError(await s.api('POST', kp('key-next', 'revoke'), { key: a.apiKey }), 409, 'conflict')
    expectError(await s.api('POST', kp('key-next', 'rotate'), { key: a.apiKey }), 409, 'conflict')
    expectError(await s.api('POST', kp('key-next', 'activate'), { key: a.apiKey }), 409, 'conflict')

    // A ROTATED key can be revoked (then it stops verifying), and so can a CREATED one.
    expect((await s.api('POST', kp('k2', 'revoke'), { key: a.apiKey })).body.state).toBe('REVOKED')
    expect((await s.api('POST', `${P('acme')}/keypairs`, { key: a.apiKey, body: { keyId: 'unused' } })).status).toBe(201)
    expect((await s.api('POST', kp('unused', 'revoke'), { key: a.apiKey })).body.state).toBe('REVOKED')
    expect(await hasPrivateKeyRecord(s, 'acme', 'unused')).toBe(false)
    expect(await methodIds(s, 'acme')).toEqual(kids('ext', 'key-1'))
    expect((await orgKvKeys(s)).filter(k => k.startsWith('org!sk!'))).toEqual([])

    // 404s for unknown keys on every key route.
    for (const verb of ['activate', 'rotate', 'revoke']) {
      expectError(await s.api('POST', kp('ghost', verb), { key: a.apiKey }), 404, 'not_found')
    }
  })
})

describe('Identity API: DID documents', () => {
  it('gets, publishes and unpublishes (idempotently)', async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    const got = await s.api('GET', `${P('acme')}/did`, { key: a.apiKey })
    expect(got.status).toBe(200)
    expect(got.body).toMatchObject({ participantId: 'acme', did: a.did, state: 'UNPUBLISHED', services: [] })
    expect(got.body.document).toMatchObject({ id: a.did, '@context': expect.arrayContaining(['https://www.w3.org/ns/did/v1']) })
    expect(got.body.document.verificationMethod).toEqual([
      { id: `${a.did}#key-1`, type: 'JsonWebKey2020', controller: a.did, publicKeyJwk: a.body.defaultKey.publicKeyJwk }
    ])

    for (const [verb, state] of [['publish', 'PUBLISHED'], ['publish', 'PUBLISHED'], ['unpublish', 'UNPUBLISHED'], ['unpublish', 'UNPUBLISHED'], ['publish', 'PUBLISHED']] as const) {
      const r = await s.api('POST', `${P('acme')}/did/${verb}`, { key: a.apiKey })
      expect(r.status).toBe(200)
      expect(r.body).toMatchObject({ did: a.did, state })
      expect((await s.api('GET', `${P('acme')}/did`, { key: a.apiKey })).body.state).toBe(state)
    }
  })

  it('adds and removes service endpoints', async () => {
    const s = await orgServer()
    const a = await createParticipant(s, 'acme')
    const svc = `${P('acme')}/did/services`
    const add = await s.api('POST', svc, { key: a.apiKey, body: { id: '#credential-service', type: 'CredentialService', serviceEndpoint: 'https://acme.example/api/credentials/v1' } })
    expect(add.status).toBe(201)
    expect(add.body).toEqual({ id: `${a.did}#credential-service`, type: 'CredentialService', serviceEndpoint: 'https://acme.example/api/credentials/v1' })
    // Ids may be a bare fragment or the full DID URL.
    const add2 = await s.api('POST', svc, { key: a.apiKey, body: { id: `${a.did}#dsp`, type: 'ProtocolEndpoint', serviceEndpoint: 'https://acme.example/dsp' } })
    expect(add2.status).toBe(201)
    const add3 = await s.api('POST', svc, { key: a.apiKey, body: { id: 'other', type: 'X', serviceEndpoint: 'https://acme.example/x' } })
    expect(add3.status).toBe(201)
    expect(add3.body.id).toBe(`${a.did}#other`)

    let doc = (await s.api('GET', `${P('acme')}/did`, { key: a.apiKey })).body
    expect(doc.services).toEqual([add.body, add2.body, add3.body])
    expect(doc.document.service).toEqual([add.body, add2.body, add3.body])

    // Duplicates, spelled either way: 409.
    expectError(await s.api('POST', svc, { key: a.apiKey, body: { id: '#credential-service', type: 'Y', serviceEndpoint: 'https://b.example' } }), 409, 'already_exists')
    expectError(await s.api('POST', svc, { key: a.apiKey, body: { id: `${a.did}#credential-service`, type: 'Y', serviceEndpoint: 'https://b.example' } }), 409, 'already_exists')
    // Malformed: 400.
    for (const body of [
      { id: '#x', type: 'X', serviceEndpoint: 'not a url' },
      { id: '#x', type: 'X', serviceEndpoint: 42 },
      { id: '#x', type: 'X' },
      { id: '#x', serviceEndpoint: 'https://x.example' },
      { id: '', type: 'X', serviceEndpoint: 'https://x.example' },
      { id: '#bad fragment', type: 'X', serviceEndpoint: 'https://x.example' },
      ['#x'],
      'x'
    ]) {
      expectError(await s.api('POST', svc, { key: a.apiKey, body }), 400, 'bad_request')
    }
    expectError(await s.api('POST', svc, { key: a.apiKey }), 400, 'bad_request')

    // Remove by fragment and by percent-encoded full id.
    const rm = await s.api('DELETE', `${svc}/credential-service`, { key: a.apiKey })
    expect(rm.status).toBe(204)
    expect(rm.body).toBeUndefined()
    expect((await s.api('DELETE', `${svc}/${encodeURIComponent(`${a.did}#dsp`)}`, { key: a.apiKey })).status).toBe(204)
    expectError(await s.api('DELETE', `${svc}/credential-service`, { key: a.apiKey }), 404, 'not_found')
    expectError(await s.api('DELETE', `${svc}/never-was`, { key: a.apiKey }), 404, 'not_found')
    doc = (await s.api('GET', `${P('acme')}/did`, { key: a.apiKey })).body
    expect(doc.services).toEqual([add3.body])
    expect(doc.document.service).toEqual([add3.body])
  })
})

describe('Identity API: credentials', () => {
  it('stores, lists, filters, gets, revokes and deletes a JWT VC', async () => {
    const s = await orgServer()
    const issuer = await createIssuer(s)
    const h = await createParticipant(s, 'holder')
    const { jwt, jti } = await issueVc(issuer, h.did)
    const creds = `${P('holder')}/credentials`

    const add = await s.api('POST', creds, { key: h.apiKey, body: { jwt } })
    expect(add.status, JSON.stringify(add.body)).toBe(201)
    expect(add.body).toEqual({ credentialId: jti, types: ['VerifiableCredential', 'MembershipCredential'], issuer: issuer.did })
    expectError(await s.api('POST', creds, { key: h.apiKey, body: { jwt } }), 409, 'already_exists')

    const list = await s.api('GET', creds, { key: h.apiKey })
    expect(list.status).toBe(200)
    expect(list.body).toHaveLength(1)
    expect(list.body[0]).toMatchObject({
      credentialId: jti,
      participantId: 'holder',
      format: 'jwt',
      types: ['VerifiableCredential', 'MembershipCredential'],
      issuer: issuer.did,
      subjectId: h.did,
      issuanceDate: new Date(NBF * 1000).toISOString(),
      expirationDate: new Date(EXP * 1000).toISOString(),
      state: 'ISSUED',
      raw: jwt
    })
    expect((await s.api('GET', `${creds}?type=MembershipCredential`, { key: h.apiKey })).body).toEqual(list.body)
    expect((await s.api('GET', `${creds}?type=VerifiableCredential`, { key: h.apiKey })).body).toEqual(list.body)
    expect((await s.api('GET', `${creds}?type=Other`, { key: h.apiKey })).body).toEqual([])

    const one = `${creds}/${encodeURIComponent(jti)}`
    const got = await s.api('GET', one, { key: h.apiKey })
    expect(got.status).toBe(200)
    expect(got.body).toEqual(list.body[0])
    expectError(await s.api('GET', `${creds}/${encodeURIComponent('urn:uuid:nope')}`, { key: h.apiKey }), 404, 'not_found')

    const rev = await s.api('POST', `${one}/revoke`, { key: h.apiKey })
    expect(rev.status).toBe(200)
    expect(rev.body).toMatchObject({ credentialId: jti, state: 'REVOKED' })
    expect((await s.api('GET', one, { key: h.apiKey })).body.state).toBe('REVOKED')
    // Revoking again is a no-op.
    const rev2 = await s.api('POST', `${one}/revoke`, { key: h.apiKey })
    expect(rev2.status).toBe(200)
    expect(rev2.body.state).toBe('REVOKED')
    expectError(await s.api('POST', `${creds}/${encodeURIComponent('urn:uuid:nope')}/revoke`, { key: h.apiKey }), 404, 'not_found')

    const del = await s.api('DELETE', one, { key: h.apiKey })
    expect(del.status).toBe(204)
    expectError(await s.api('GET', one, { key: h.apiKey }), 404, 'not_found')
    expectError(await s.api('DELETE', one, { key: h.apiKey }), 404, 'not_found')
    expect((await s.api('GET', creds, { key: h.apiKey })).body).toEqual([])
    // Deleted, it can be stored again.
    expect((await s.api('POST', creds, { key: h.apiKey, body: { jwt } })).status).toBe(201)
  })

  it('refuses credentials about someone else, malformed ones and bad bodies with 400, storing nothing', async () => {
    const s = await orgServer()
    const issuer = await createIssuer(s)
    const h = await createParticipant(s, 'holder')
    const creds = `${P('holder')}/credentials`
    const other = await issueVc(issuer, s.did('someone-else'))
    const r = await s.api('POST', creds, { key: h.apiKey, body: { jwt: other.jwt } })
    expectError(r, 400, 'bad_request')
    for (const body of [{}, { jwt: 42 }, { jwt: 'a.b.c' }, { jwt: 'not a jwt' }, ['x'], 'x']) {
      expectError(await s.api('POST', creds, { key: h.apiKey, body }), 400, 'bad_request')
    }
    // A VP, not a VC.
    const vp = await new SignJWT({ iss: h.did, vp: { type: ['VerifiablePresentation'] } })
      .setProtectedHeader({ alg: 'EdDSA', kid: `${issuer.did}#signing` })
      .sign(issuer.privateKey)
    expectError(await s.api('POST', creds, { key: h.apiKey, body: { jwt: vp } }), 400, 'bad_request')
    expect((await s.api('GET', creds, { key: h.apiKey })).body).toEqual([])
    expect((await orgKvKeys(s)).filter(k => k.startsWith('org!c!'))).toEqual([])
  })

  it('refuses a credential whose issuer signature does not verify (400 bad_credential_signature) and stores nothing', async () => {
    const s = await orgServer()
    const issuer = await createIssuer(s)
    const h = await createParticipant(s, 'holder')
    const creds = `${P('holder')}/credentials`
    const events: OrgEvent[] = []
    orgOf(s.hub).on('*', e => { events.push(e) })

    const cases: Array<[string, Promise<{ jwt: string }>]> = [
      // The issuer's kid, signed by a key that is not in its document.
      ['bad_signature', issueVc(issuer, h.did, { privateKey: edKey().privateKey })],
      // A kid the issuer's document does not list.
      ['unknown_key', issueVc(issuer, h.did, { kid: `${issuer.did}#ghost`, privateKey: edKey().privateKey })],
      // An issuer DID nobody serves (resolved over HTTP on loopback: 404).
      ['unresolvable_did', issueVc({ ...issuer, did: s.did('nobody') }, h.did)],
      // A kid naming another DID than iss.
      ['iss_mismatch', issueVc(issuer, h.did, { kid: `${h.did}#key-1` })]
    ]
    for (const [reason, p] of cases) {
      const { jwt } = await p
      const r = await s.api('POST', creds, { key: h.apiKey, body: { jwt } })
      expectError(r, 400, 'bad_request')
      expect(r.body.error.details).toMatchObject({ reason: 'bad_credential_signature', cause: reason })
    }
    expect((await s.api('GET', creds, { key: h.apiKey })).body).toEqual([])
    expect((await orgKvKeys(s)).filter(k => k.startsWith('org!c!'))).toEqual([])
    expect(events).toEqual([])

    // Once the issuer's key is revoked, what it signed no longer verifies.
    const { jwt } = await issueVc(issuer, h.did)
    expect((await s.api('POST', `${P('issuer')}/keypairs/signing/revoke`, { key: s.adminKey })).status).toBe(200)
    const r = await s.api('POST', creds, { key: h.apiKey, body: { jwt } })
    expectError(r, 400, 'bad_request')
    expect(r.body.error.details).toMatchObject({ reason: 'bad_credential_signature', cause: 'unknown_key' })
  })

  it("keeps one participant's credentials from another", async () => {
    const s = await orgServer()
    const issuer = await createIssuer(s)
    const h = await createParticipant(s, 'holder')
    const o = await createParticipant(s, 'other')
    const { jwt, jti } = await issueVc(issuer, h.did)
    // The other participant cannot store into, read or delete the holder's credentials.
    expectError(await s.api('POST', `${P('holder')}/credentials`, { key: o.apiKey, body: { jwt } }), 403, 'permissions_required')
    expect((await s.api('POST', `${P('holder')}/credentials`, { key: h.apiKey, body: { jwt } })).status).toBe(201)
    const one = `${P('holder')}/credentials/${encodeURIComponent(jti)}`
    expectError(await s.api('GET', one, { key: o.apiKey }), 403, 'permissions_required')
    expectError(await s.api('DELETE', one, { key: o.apiKey }), 403, 'permissions_required')
    // …and the credential does not exist under the other participant.
    expectError(await s.api('GET', `${P('other')}/credentials/${encodeURIComponent(jti)}`, { key: o.apiKey }), 404, 'not_found')
    // A credential about the holder cannot be stored under the other participant.
    expectError(await s.api('POST', `${P('other')}/credentials`, { key: o.apiKey, body: { jwt } }), 400, 'bad_request')
  })
})

describe('Identity API: OpenAPI document and routing', () => {
  it('serves an OpenAPI 3.1 document without auth that lists exactly the routes', async () => {
    const s = await orgServer()
    const r = await s.api('GET', `${B}/openapi.json`)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^application\/json/)
    const doc = r.body
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info.title).toBeTruthy()
    expect(doc.components.securitySchemes.apiKey).toEqual(expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-api-key' }))

    const routes = hubRoutes(s.hub)
    const routeKeys = new Set(routes.map(rt => `${rt.method.toLowerCase()} ${rt.path.replace(/\{([A-Za-z]+)\+\}/g, '{$1}')}`))
    expect(routeKeys.size).toBe(routes.length)
    for (const rt of routes) {
      const path = rt.path.replace(/\{([A-Za-z]+)\+\}/g, '{$1}')
      const op = doc.paths[path]?.[rt.method.toLowerCase()]
      expect(op, `${rt.method} ${rt.path}`).toBeDefined()
      expect(op.operationId).toBe(rt.operationId)
      for (const name of [...path.matchAll(/\{([A-Za-z]+)\}/g)].map(m => m[1])) {
        expect(op.parameters, `${rt.operationId} documents {${name}}`).toContainEqual(expect.objectContaining({ name, in: 'path', required: true }))
      }
      expect(op.security).toEqual(rt.auth === 'none' ? [] : rt.auth === 'bearer' ? [{ selfIssuedIdToken: [] }] : [{ apiKey: [] }])
    }
    const documented: string[] = []
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops)) documented.push(`${method} ${path}`)
    }
    expect(documented.sort()).toEqual([...routeKeys].sort())
    const opIds = routes.map(rt => rt.operationId)
    expect(new Set(opIds).size).toBe(opIds.length)
    // Every Identity API route is documented with its auth errors.
    for (const rt of routes.filter(x => x.path.startsWith(`${B}/participants`))) {
      const op = doc.paths[rt.path][rt.method.toLowerCase()]
      expect(Object.keys(op.responses), rt.operationId).toEqual(expect.arrayContaining(['401', '403']))
    }
  })

  it('serves every documented path and method (no 404 "no route", no 405)', async () => {
    const s = await orgServer()
    await createParticipant(s, 'acme', { active: true })
    const { paths } = (await s.api('GET', `${B}/openapi.json`)).body as { paths: Record<string, Record<string, unknown>> }
    const ids: Record<string, string> = {
      participantId: 'acme',
      keyId: 'key-1',
      serviceId: 'svc',
      credentialId: encodeURIComponent('urn:uuid:00000000-0000-4000-8000-000000000000'),
      didPath: 'org/acme',
      definitionId: 'def-1',
      holderPid: 'holder-pid-1',
      issuerPid: 'issuer-pid-1',
      listId: '00000000-0000-4000-8000-000000000000',
      offerId: '00000000-0000-4000-8000-000000000001'
    }
    const requests: Array<{ method: string, path: string }> = []
    for (const [template, ops] of Object.entries(paths)) {
      const path = template.replace(/\{([A-Za-z]+)\}/g, (_m, name: string) => {
        const v = ids[name]
        if (v === undefined) throw new Error(`no test value for {${name}}`)
        return v
      })
      for (const method of Object.keys(ops)) requests.push({ method: method.toUpperCase(), path })
    }
    // Destructive requests last, so the others run against a live participant.
    requests.sort((x, y) => Number(x.method === 'DELETE') - Number(y.method === 'DELETE'))
    expect(requests.length).toBe(hubRoutes(s.hub).length)
    for (const { method, path } of requests) {
      const r = await s.api(method, path, { key: s.adminKey, ...(method === 'POST' ? { body: {} } : {}) })
      const where = `${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`
      expect(r.status, where).not.toBe(405)
      expect(r.status, where).toBeLessThan(500)
      if (r.status === 404) expect(r.body.error.message, where).not.toMatch(/^no route/)
    }
    // The DELETE routes ran last and really acted: the participant is gone.
    expectError(await s.api('GET', P('acme'), { key: s.adminKey }), 404, 'not_found')
  })

  it('answers 405 with Allow for a wrong method on a known path, and 404 for an unknown path', async () => {
    const s = await orgServer()
    await createParticipant(s, 'acme')
    const cases: Array<[string, string, string]> = [
      ['PUT', PARTICIPANTS, 'GET, POST'],
      ['DELETE', PARTICIPANTS, 'GET, POST'],
      ['POST', P('acme'), 'GET, DELETE'],
      ['GET', `${P('acme')}/activate`, 'POST'],
      ['DELETE', `${P('acme')}/keypairs/key-1/rotate`, 'POST'],
      ['POST', `${B}/openapi.json`, 'GET'],
      ['DELETE', '/.well-known/did.json', 'GET'],
      ['POST', '/org/acme/did.json', 'GET']
    ]
    for (const [method, path, allow] of cases) {
      const r = await s.api(method, path, { key: s.adminKey })
      expect({ method, path, status: r.status, code: r.body?.error?.code }).toEqual({ method, path, status: 405, code: 'bad_request' })
      expect(r.headers.get('allow')).toBe(allow)
    }
    for (const path of ['/', '/nope', `${B}`, `${B}/participant`, `${P('acme')}/nope`, `${P('acme')}/keypairs/key-1/explode`, '/api/identity/v2/participants']) {
      const r = await s.api('GET', path, { key: s.adminKey })
      expectError(r, 404, 'not_found')
      expect(r.body.error.message).toMatch(/^no route/)
    }
    // An unknown path needs no key to be told it is unknown.
    expectError(await s.api('GET', '/nope'), 404, 'not_found')
  })
})

describe('Identity API: events', () => {
  function recorder (s: OrgServer): { take: () => OrgEvent[] } {
    let events: OrgEvent[] = []
    orgOf(s.hub).on('*', e => { events.push(e) })
    return { take: () => { const out = events; events = []; return out } }
  }

  it('emits exactly the typed events of each operation, in order, and none for a failed one', async () => {
    const s = await orgServer()
    const ev = recorder(s)
    const typed: string[] = []
    orgOf(s.hub).on('keypair.rotated', e => { typed.push(`${e.keyId}→${e.successor ?? ''}`) })
    const did = s.did('acme')
    const admin = { key: s.adminKey }

    await createParticipant(s, 'acme')
    expect(ev.take()).toEqual([
      { type: 'participant.created', participantId: 'acme', did },
      { type: 'keypair.created', participantId: 'acme', keyId: 'key-1' },
      { type: 'keypair.activated', participantId: 'acme', keyId: 'key-1' }
    ])

    // Failures emit nothing.
    expectError(await s.api('POST', PARTICIPANTS, { ...admin, body: { participantId: 'acme', did: s.did('x') } }), 409, 'already_exists')
    expectError(await s.api('POST', `${P('acme')}/deactivate`, admin), 409, 'conflict')
    expectError(await s.api('POST', `${P('acme')}/keypairs/key-1/activate`, admin), 409, 'conflict')
    expectError(await s.api('POST', `${P('acme')}/keypairs`, { ...admin, body: { keyId: 'key-1' } }), 409, 'already_exists')
    expectError(await s.api('POST', `${P('acme')}/keypairs`, { ...admin, body: { publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: 'bad' } } }), 400, 'bad_request')
    expectError(await s.api('POST', `${P('ghost')}/keypairs`, { ...admin, body: {} }), 404, 'not_found')
    expect(ev.take()).toEqual([])

    expect((await s.api('POST', `${P('acme')}/activate`, admin)).status).toBe(200)
    expect(ev.take()).toEqual([
      { type: 'participant.activated', participantId: 'acme' },
      { type: 'did.published', participantId: 'acme', did }
    ])
    expectError(await s.api('POST', `${P('acme')}/activate`, admin), 409, 'conflict')
    // Publishing an already published document changes nothing and says nothing.
    expect((await s.api('POST', `${P('acme')}/did/publish`, admin)).status).toBe(200)
    expect(ev.take()).toEqual([])

    expect((await s.api('POST', `${P('acme')}/keypairs`, { ...admin, body: { keyId: 'k2' } })).status).toBe(201)
    expect(ev.take()).toEqual([{ type: 'keypair.created', participantId: 'acme', keyId: 'k2' }])
    expect((await s.api('POST', `${P('acme')}/keypairs/k2/activate`, admin)).status).toBe(200)
    expect(ev.take()).toEqual([{ type: 'keypair.activated', participantId: 'acme', keyId: 'k2' }])

    expect((await s.api('POST', `${P('acme')}/keypairs/k2/rotate`, admin)).status).toBe(200)
    expect(ev.take()).toEqual([{ type: 'keypair.rotated', participantId: 'acme', keyId: 'k2' }])
    expectError(await s.api('POST', `${P('acme')}/keypairs/k2/rotate`, admin), 409, 'conflict')
    expect(ev.take()).toEqual([])

    expect((await s.api('POST', `${P('acme')}/keypairs/key-1/rotate`, { ...admin, body: { successor: { keyId: 'k3' } } })).status).toBe(200)
    expect(ev.take()).toEqual([
      { type: 'keypair.created', participantId: 'acme', keyId: 'k3' },
      { type: 'keypair.activated', participantId: 'acme', keyId: 'k3' },
      { type: 'keypair.rotated', participantId: 'acme', keyId: 'key-1', successor: 'k3' }
    ])
    expect(typed).toEqual(['k2→', 'key-1→k3'])

    expect((await s.api('POST', `${P('acme')}/keypairs/k2/revoke`, admin)).status).toBe(200)
    expect(ev.take()).toEqual([{ type: 'keypair.revoked', participantId: 'acme', keyId: 'k2' }])
    expectError(await s.api('POST', `${P('acme')}/keypairs/k2/revoke`, admin), 409, 'conflict')
    expect(ev.take()).toEqual([])

    expect((await s.api('POST', `${P('acme')}/did/services`, { ...admin, body: { id: '#cs', type: 'CredentialService', serviceEndpoint: 'https://a.example' } })).status).toBe(201)
    expectError(await s.api('POST', `${P('acme')}/did/services`, { ...admin, body: { id: '#cs', type: 'CredentialService', serviceEndpoint: 'https://a.example' } }), 409, 'already_exists')
    expect((await s.api('DELETE', `${P('acme')}/did/services/cs`, admin)).status).toBe(204)
    expectError(await s.api('DELETE', `${P('acme')}/did/services/cs`, admin), 404, 'not_found')
    expect(ev.take()).toEqual([
      { type: 'did.service.added', participantId: 'acme', serviceId: `${did}#cs` },
      { type: 'did.service.removed', participantId: 'acme', serviceId: `${did}#cs` }
    ])

    expect((await s.api('POST', `${P('acme')}/api-key`, admin)).status).toBe(200)
    expect(ev.take()).toEqual([{ type: 'participant.apikey.regenerated', participantId: 'acme' }])

    expect((await s.api('POST', `${P('acme')}/deactivate`, admin)).status).toBe(200)
    expect(ev.take()).toEqual([
      { type: 'participant.deactivated', participantId: 'acme' },
      { type: 'did.unpublished', participantId: 'acme', did }
    ])

    expect((await s.api('DELETE', P('acme'), admin)).status).toBe(204)
    expect(ev.take()).toEqual([{ type: 'participant.deleted', participantId: 'acme', did }])
    expectError(await s.api('DELETE', P('acme'), admin), 404, 'not_found')
    expect(ev.take()).toEqual([])
  })

  it('emits credential events, and participant events for an active create', async () => {
    const s = await orgServer()
    const issuer = await createIssuer(s)
    const ev = recorder(s)
    const h = await createParticipant(s, 'holder', { active: true })
    expect(ev.take()).toEqual([
      { type: 'participant.created', participantId: 'holder', did: h.did },
      { type: 'keypair.created', participantId: 'holder', keyId: 'key-1' },
      { type: 'keypair.activated', participantId: 'holder', keyId: 'key-1' },
      { type: 'participant.activated', participantId: 'holder' },
      { type: 'did.published', participantId: 'holder', did: h.did }
    ])
    const { jwt, jti } = await issueVc(issuer, h.did)
    const creds = `${P('holder')}/credentials`
    const one = `${creds}/${encodeURIComponent(jti)}`
    expect((await s.api('POST', creds, { key: h.apiKey, body: { jwt } })).status).toBe(201)
    expectError(await s.api('POST', creds, { key: h.apiKey, body: { jwt } }), 409, 'already_exists')
    expect((await s.api('POST', `${one}/revoke`, { key: h.apiKey })).status).toBe(200)
    expect((await s.api('POST', `${one}/revoke`, { key: h.apiKey })).status).toBe(200)
    expect((await s.api('DELETE', one, { key: h.apiKey })).status).toBe(204)
    expectError(await s.api('DELETE', one, { key: h.apiKey }), 404, 'not_found')
    expect(ev.take()).toEqual([
      { type: 'credential.stored', participantId: 'holder', credentialId: jti },
      { type: 'credential.revoked', participantId: 'holder', credentialId: jti },
      { type: 'credential.deleted', participantId: 'holder', credentialId: jti }
    ])
  })
})
