/**
 * did:web hosting over real HTTP on loopback: a participant's DID document
 * is served at the path its DID names exactly while the document is
 * PUBLISHED and the participant ACTIVATED, and the hub's own did:web
 * resolver (which fetches over HTTP on loopback) resolves it.
 */
import { request as httpRequest } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { AuthenticationError } from '../src/errors.js'
import { fromB64u } from '../src/identity/encoding.js'
import { cleanup } from './helpers.js'
import { orgServer, type ApiReply, type OrgServer } from './org-helpers.js'

afterEach(cleanup)

const PARTICIPANTS = '/api/identity/v1/participants'
const P = (id: string): string => `${PARTICIPANTS}/${encodeURIComponent(id)}`

async function createParticipant (s: OrgServer, id: string, extra: Record<string, unknown> = {}): Promise<{ did: string, apiKey: string }> {
  const r = await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: id, did: s.did(id), ...extra } })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return { did: r.body.did, apiKey: r.body.apiKey }
}

async function admin (s: OrgServer, method: string, path: string, body?: unknown): Promise<ApiReply> {
  const r = await s.api(method, path, { key: s.adminKey, ...(body !== undefined ? { body } : {}) })
  expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300)
  return r
}

/** A GET with the path sent exactly as given (fetch would normalize it) and an optional Host header. */
function rawGet (s: OrgServer, path: string, headers: Record<string, string> = {}): Promise<{ status: number, body: string, contentType: string | undefined }> {
  const u = new URL(s.url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method: 'GET', path, headers }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, contentType: res.headers['content-type'] }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('did:web hosting', () => {
  it('serves a document only while it is PUBLISHED and its participant ACTIVATED', async () => {
    const s = await orgServer()
    const { did } = await createParticipant(s, 'acme')
    const path = '/org/acme/did.json'
    const served = async (): Promise<boolean> => {
      const r = await s.api('GET', path)
      if (r.status === 404) {
        expect(r.body).toEqual({ error: { code: 'not_found', message: 'no published DID document here' } })
        return false
      }
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toBe('application/did+json')
      expect(r.headers.get('cache-control')).toBe('no-store')
      expect(r.body.id).toBe(did)
      // Exactly the document the Identity API shows.
      expect(r.body).toEqual((await s.api('GET', `${P('acme')}/did`, { key: s.adminKey })).body.document)
      return true
    }
    const state = async (): Promise<[string, string]> => [
      (await s.api('GET', P('acme'), { key: s.adminKey })).body.state,
      (await s.api('GET', `${P('acme')}/did`, { key: s.adminKey })).body.state
    ]

    expect(await state()).toEqual(['CREATED', 'UNPUBLISHED'])
    expect(await served()).toBe(false)

    await admin(s, 'POST', `${P('acme')}/did/publish`)
    expect(await state()).toEqual(['CREATED', 'PUBLISHED'])
    expect(await served()).toBe(false)

    await admin(s, 'POST', `${P('acme')}/activate`)
    expect(await state()).toEqual(['ACTIVATED', 'PUBLISHED'])
    expect(await served()).toBe(true)

    await admin(s, 'POST', `${P('acme')}/did/unpublish`)
    expect(await state()).toEqual(['ACTIVATED', 'UNPUBLISHED'])
    expect(await served()).toBe(false)

    await admin(s, 'POST', `${P('acme')}/did/publish`)
    expect(await served()).toBe(true)

    // Deactivating unpublishes; publishing again while DEACTIVATED still serves nothing.
    await admin(s, 'POST', `${P('acme')}/deactivate`)
    expect(await state()).toEqual(['DEACTIVATED', 'UNPUBLISHED'])
    expect(await served()).toBe(false)
    await admin(s, 'POST', `${P('acme')}/did/publish`)
    expect(await state()).toEqual(['DEACTIVATED', 'PUBLISHED'])
    expect(await served()).toBe(false)

    await admin(s, 'POST', `${P('acme')}/activate`)
    expect(await state()).toEqual(['ACTIVATED', 'PUBLISHED'])
    expect(await served()).toBe(true)
  })

  it('serves the current document: key and service changes show at once', async () => {
    const s = await orgServer()
    const { did } = await createParticipant(s, 'acme', { active: true })
    const doc = async (): Promise<ApiReply['body']> => {
      const r = await s.api('GET', '/org/acme/did.json')
      expect(r.status).toBe(200)
      return r.body
    }
    const vms = async (): Promise<string[]> => ((await doc()).verificationMethod as Array<{ id: string }>).map(m => m.id)
    expect(await vms()).toEqual([`${did}#key-1`])
    await admin(s, 'POST', `${P('acme')}/keypairs/key-1/rotate`, { successor: { keyId: 'key-2' } })
    expect(await vms()).toEqual([`${did}#key-1`, `${did}#key-2`])
    await admin(s, 'POST', `${P('acme')}/keypairs/key-1/revoke`)
    expect(await vms()).toEqual([`${did}#key-2`])
    await admin(s, 'POST', `${P('acme')}/did/services`, { id: '#cs', type: 'CredentialService', serviceEndpoint: `${s.url}/api/credentials/v1/participants/acme` })
    expect((await doc()).service).toEqual([{ id: `${did}#cs`, type: 'CredentialService', serviceEndpoint: `${s.url}/api/credentials/v1/participants/acme` }])
    // Nothing private is ever served.
    expect(JSON.stringify(await doc())).not.toMatch(/"d":/)
  })

  it('serves a bare-host DID at /.well-known/did.json', async () => {
    const s = await orgServer()
    const port = new URL(s.url).port
    const did = `did:web:127.0.0.1%3A${port}`
    expectNotFound(await s.api('GET', '/.well-known/did.json'))
    const r = await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: 'root', did, active: true } })
    expect(r.status).toBe(201)
    const got = await s.api('GET', '/.well-known/did.json')
    expect(got.status).toBe(200)
    expect(got.body.id).toBe(did)
    expect(got.body.verificationMethod[0].id).toBe(`${did}#key-1`)
    // A path DID on the same host is a different document.
    const { did: pathDid } = await createParticipant(s, 'acme', { active: true })
    expect((await s.api('GET', '/org/acme/did.json')).body.id).toBe(pathDid)
    expect((await s.api('GET', '/.well-known/did.json')).body.id).toBe(did)
    // And the hub's resolver finds it over HTTP.
    expect((await s.hub.keys.resolveDocument(did)).id).toBe(did)
  })

  it('answers 404 for unknown paths and path tricks, never another document', async () => {
    const s = await orgServer()
    const { did } = await createParticipant(s, 'acme', { active: true })
    await createParticipant(s, 'hidden')
    const notFound = [
      '/org/nobody/did.json',
      '/org/hidden/did.json',
      '/org/did.json',
      '/acme/did.json',
      '/ORG/acme/did.json',
      '/org/ACME/did.json',
      '/org/acme/DID.json',
      '/org/acme/did.json/',
      '/org/acme/did.jsonx',
      '/org/acme/',
      '/org/acme',
      '/did.json',
      '//did.json',
      '/org//acme/did.json',
      '/org/acme//did.json',
      '/org%2Facme/did.json',
      '/org/acme%2Fdid.json',
      '/org/acme%00/did.json',
      '/org/%2E%2E/did.json',
      '/org/acme/../../../etc/passwd',
      '/../../../etc/passwd/did.json',
      '/org/acme/did.json/..',
      '/org/acme/did.json/../../hidden/did.json',
      '/.well-known/did.json',
      '/.well-known/../.well-known/did.json'
    ]
    for (const path of notFound) {
      const r = await rawGet(s, path)
      expect({ path, status: r.status }).toEqual({ path, status: 404 })
    }
    // Malformed percent-encoding is a bad request, as on every route.
    const malformed = await rawGet(s, '/org/%ZZ/did.json')
    expect(malformed.status).toBe(400)
    expect(JSON.parse(malformed.body).error.code).toBe('bad_request')
    // Another Host names another DID: nothing to serve.
    for (const host of ['evil.example', 'evil.example:80', `localhost:${new URL(s.url).port}`, '127.0.0.1']) {
      const r = await rawGet(s, '/org/acme/did.json', { host })
      expect({ host, status: r.status }).toEqual({ host, status: 404 })
    }
    // Dot segments are resolved as any URL resolver would before the path is mapped:
    // whatever is served is the document of the resulting path, with that DID.
    const dotted = await rawGet(s, '/org/hidden/../acme/did.json')
    expect(dotted.status).toBe(200)
    expect(JSON.parse(dotted.body).id).toBe(did)
    // The host name is case-insensitive.
    const upper = await rawGet(s, '/org/acme/did.json', { host: `127.0.0.1:${new URL(s.url).port}`.toUpperCase() })
    expect(upper.status).toBe(200)
  })

  it('serves a DID whose path segment is percent-encoded', async () => {
    const s = await orgServer()
    const port = new URL(s.url).port
    const did = `did:web:127.0.0.1%3A${port}:org:caf%C3%A9`
    const r = await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: 'cafe', did, active: true } })
    expect(r.status).toBe(201)
    expect(r.body.did).toBe(did)
    const got = await s.api('GET', '/org/caf%C3%A9/did.json')
    expect(got.status).toBe(200)
    expect(got.body.id).toBe(did)
    expect((await s.hub.keys.resolveDocument(did)).id).toBe(did)
    // Percent-encoding is not a way around the path rules.
    expect((await rawGet(s, '/org/caf%25C3%25A9/did.json')).status).toBe(404)
  })

  it('stores DIDs in the canonical form the server rebuilds from a request (so they can be served)', async () => {
    const s = await orgServer()
    const port = new URL(s.url).port
    const r = await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: 'ab', did: `did:web:127.0.0.1%3a${port}:org:a%2Db`, active: true } })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    expect(r.body.did).toBe(`did:web:127.0.0.1%3A${port}:org:a-b`)
    expect((await s.api('GET', '/org/a-b/did.json')).body.id).toBe(r.body.did)
    for (const did of [`did:web:127.0.0.1%3A${port}:org:%2E%2E`, `did:web:127.0.0.1%3A${port}:org:a%2Fb`, `did:web:127.0.0.1%3A${port}:org:%E0%A4%A`]) {
      expect((await s.api('POST', PARTICIPANTS, { key: s.adminKey, body: { participantId: 'x', did } })).status, did).toBe(400)
    }
  })

  it('answers HEAD like GET, without a body', async () => {
    const s = await orgServer()
    await createParticipant(s, 'acme', { active: true })
    const res = await fetch(`${s.url}/org/acme/did.json`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/did+json')
    expect(await res.text()).toBe('')
    expect((await fetch(`${s.url}/org/nobody/did.json`, { method: 'HEAD' })).status).toBe(404)
  })

  it("is resolved by the hub's own did:web resolver over HTTP, and stops resolving when deactivated", async () => {
    const s = await orgServer()
    const { did } = await createParticipant(s, 'acme', { active: true })
    const doc = await s.hub.keys.resolveDocument(did)
    expect(doc.id).toBe(did)
    expect(doc).toEqual((await s.api('GET', `${P('acme')}/did`, { key: s.adminKey })).body.document)
    const jwk = doc.verificationMethod?.[0]?.publicKeyJwk as { x: string }
    expect(await s.hub.keys.resolveKey(`${did}#key-1`)).toEqual(fromB64u(jwk.x))

    await admin(s, 'POST', `${P('acme')}/deactivate`)
    await expect(s.hub.keys.resolveDocument(did)).rejects.toBeInstanceOf(AuthenticationError)
    await expect(s.hub.keys.resolveDocument(s.did('nobody'))).rejects.toBeInstanceOf(AuthenticationError)
    await admin(s, 'POST', `${P('acme')}/activate`)
    expect((await s.hub.keys.resolveDocument(did)).id).toBe(did)

    await admin(s, 'DELETE', P('acme'))
    await expect(s.hub.keys.resolveDocument(did)).rejects.toBeInstanceOf(AuthenticationError)
  })
})

function expectNotFound (r: ApiReply): void {
  expect(r.status).toBe(404)
  expect(r.body.error.code).toBe('not_found')
}
