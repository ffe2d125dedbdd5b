/**
 * Issuer-hosted revocation over real HTTP on loopback: an issuer whose
 * definitions opt into status lists (`statusList: true`), a holder (acme)
 * and a verifier (beta) on one hub.
 *
 * Credentials from such a definition carry a BitstringStatusListEntry into
 * the issuer's own list, served (unauthenticated) at
 * `<IssuerService endpoint>/status/<listId>` as a JWT VC. The issuer revokes
 * over the Identity API; acme's presentations — which check status lists
 * through the server's checker, fail closed — leave the revoked credential
 * out once the checker's cached copy of the list expires, while its list-mate
 * is still presented.
 *
 * The server's clock is injected (orgServer's `now`) and the checker runs
 * on it: the 5-minute cache is crossed by moving that clock, never by
 * waiting. Issuance itself runs before the clock moves (the issuance queue
 * signs its tokens with the real clock).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { DCP_CONTEXT } from '../src/org/dcp/schemas.js'
import { STATUS_LIST_VALIDITY_S } from '../src/org/issuance.js'
import { decodeJwt, verifyDidJwt } from '../src/org/jwt.js'
import { DEFAULT_STATUS_LIST_TTL_MS } from '../src/org/status-checker.js'
import { bitAt, MIN_BITSTRING_ENTRIES, parseStatusListPayload } from '../src/org/status-list.js'
import { parseVcJwt } from '../src/org/vc.js'
import { cleanup } from './helpers.js'
import { orgServer, presentedCredentialIds, type ApiReply, type OrgServer } from './org-helpers.js'
import { orgOf } from '../src/org/hub-org.js'

afterEach(cleanup)

const IDENTITY = '/api/identity/v1/participants'
const ISSUANCE = '/api/issuance/v1/participants'
const MEMBERSHIP = 'org.eclipse.dspace.dcp.vc.type:MembershipCredential'

interface Party { id: string, did: string, apiKey: string }
type Service = { id: string, type: string, serviceEndpoint: string }

interface World {
  srv: OrgServer
  issuer: Party
  acme: Party
  beta: Party
  /** Move the server's clock forward. */
  advance: (ms: number) => void
}

interface IssuedRecord { credentialId: string, holderDid: string, definitionId: string, credentialType: string, listId: string, index: number, statusListCredential: string, revoked: boolean, revokedAt?: string }

function expectStatus (r: ApiReply, status: number): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  if (status >= 400) expect(r.body?.error?.code, JSON.stringify(r.body)).toBeTypeOf('string')
}

async function createParticipant (srv: OrgServer, name: string, services: Service[] = []): Promise<Party> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: name, did: srv.did(name), active: true, services } })
  expectStatus(r, 201)
  return { id: name, did: srv.did(name), apiKey: r.body.apiKey as string }
}

const issuerService = (srv: OrgServer, name: string): Service => ({ id: '#issuer-service', type: 'IssuerService', serviceEndpoint: `${srv.url}${ISSUANCE}/${name}` })
const credentialService = (srv: OrgServer, name: string): Service => ({ id: '#credential-service', type: 'CredentialService', serviceEndpoint: `${srv.url}/api/credentials/v1/participants/${name}` })

async function define (w: World, issuer: Party, body: Record<string, unknown>): Promise<void> {
  expectStatus(await w.srv.api('POST', `${IDENTITY}/${issuer.id}/issuance/definitions`, { key: issuer.apiKey, body }), 201)
}

/**
 * issuer (IssuerService; `membership`: MembershipCredential with a status
 * list, `plain`: PlainCredential without), acme (CredentialService), beta.
 */
async function world (o: { statusListSize?: number } = {}): Promise<World> {
  let offset = 0
  const srv = await orgServer({ now: () => Date.now() + offset, ...(o.statusListSize !== undefined ? { open: { statusListSize: o.statusListSize } } : {}) })
  const issuer = await createParticipant(srv, 'issuer', [issuerService(srv, 'issuer')])
  const acme = await createParticipant(srv, 'acme', [credentialService(srv, 'acme')])
  const beta = await createParticipant(srv, 'beta')
  const w: World = { srv, issuer, acme, beta, advance: ms => { offset += ms } }
  await define(w, issuer, { id: 'membership', credentialType: 'MembershipCredential', statusList: true })
  await define(w, issuer, { id: 'plain', credentialType: 'PlainCredential' })
  return w
}

/** Poll `read` until `done` (the issuer processes after its 201). */
async function until<T> (read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let last: T | undefined
  for (let i = 0; i < 250; i++) {
    last = await read()
    if (done(last)) return last
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`never settled; last: ${JSON.stringify(last)}`)
}

/** acme asks the issuer for `definitions` through its Identity API; the ids of the credentials it gets. */
async function issue (w: World, definitions: string[]): Promise<string[]> {
  const r = await w.srv.api('POST', `${IDENTITY}/acme/credentials/request`, { key: w.acme.apiKey, body: { issuerDid: w.issuer.did, credentials: definitions } })
  expectStatus(r, 201)
  const rec = await until(async () => (await w.srv.api('GET', `${IDENTITY}/acme/credentials/requests/${r.body.holderPid as string}`, { key: w.acme.apiKey })).body as Record<string, unknown>,
    b => b.status === 'ISSUED' || b.status === 'REJECTED')
  expect(rec.status, JSON.stringify(rec)).toBe('ISSUED')
  return rec.credentialIds as string[]
}

/** The JWT acme holds for `credentialId`. */
async function heldJwt (w: World, credentialId: string): Promise<string> {
  const r = await w.srv.api('GET', `${IDENTITY}/acme/credentials/${encodeURIComponent(credentialId)}`, { key: w.acme.apiKey })
  expectStatus(r, 200)
  return r.body.raw as string
}

async function issued (w: World): Promise<IssuedRecord[]> {
  const r = await w.srv.api('GET', `${IDENTITY}/issuer/issuance/credentials`, { key: w.issuer.apiKey })
  expectStatus(r, 200)
  return r.body as IssuedRecord[]
}

async function revoke (w: World, credentialId: string, key = w.issuer.apiKey): Promise<ApiReply> {
  return await w.srv.api('POST', `${IDENTITY}/issuer/issuance/credentials/${encodeURIComponent(credentialId)}/revoke`, { key })
}

/** acme grants beta `scopes` and beta queries acme: the ids of the credentials in the VP, sorted. */
async function presentedIds (w: World, scopes = [MEMBERSHIP]): Promise<string[]> {
  return (await presentedCredentialIds(w.srv, w.acme, w.beta, scopes)).sort()
}

/** GET a status list URL as a verifier does: no credentials at all. */
async function fetchList (url: string, method = 'GET'): Promise<{ status: number, type: string | null, text: string }> {
  const res = await fetch(url, { method, headers: { accept: 'application/vc+jwt' } })
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() }
}

async function consistent (w: World): Promise<void> {
  expect(await orgOf(w.srv.hub).check()).toEqual([])
}

// ═══════════════════════════════════════════════════════════════════════

describe('issuer status lists: revocation end to end', () => {
  it('issued with credentialStatus → presented → revoked over the Identity API → left out once the cache expires; its list-mate still presented', async () => {
    const w = await world()
    const [c1] = await issue(w, ['membership'])
    const [c2, plain] = await issue(w, ['membership', 'plain'])
    const ids = [c1, c2] as string[]

    // Both carry an entry into the same list of the issuer, at indices 0 and 1.
    const records = await issued(w)
    expect(records.map(r => r.credentialId).sort()).toEqual([...ids].sort())
    const listUrl = records[0]?.statusListCredential as string
    expect(listUrl).toMatch(new RegExp(`^${w.srv.url}${ISSUANCE}/issuer/status/[0-9a-f-]{36}$`))
    for (const [i, id] of ids.entries()) {
      const r = records.find(x => x.credentialId === id)
      expect(r).toMatchObject({ holderDid: w.acme.did, definitionId: 'membership', credentialType: 'MembershipCredential', index: i, statusListCredential: listUrl, revoked: false })
      const vc = decodeJwt(await heldJwt(w, id)).payload.vc as Record<string, unknown>
      expect(vc.credentialStatus).toEqual({ id: `${listUrl}#${i}`, type: 'BitstringStatusListEntry', statusPurpose: 'revocation', statusListIndex: String(i), statusListCredential: listUrl })
    }
    // A definition without statusList issues as before: no credentialStatus, no record.
    expect(decodeJwt(await heldJwt(w, plain as string)).payload.vc).not.toHaveProperty('credentialStatus')
    expect(records.some(r => r.credentialId === plain)).toBe(false)

    // The verifier gets both (the checker fetched and verified the issuer's list).
    expect(await presentedIds(w)).toEqual([...ids].sort())

    const r = await revoke(w, c1 as string)
    expectStatus(r, 200)
    expect(r.body).toMatchObject({ credentialId: c1, revoked: true, revokedAt: expect.any(String), index: 0 })
    // Idempotent: the same record, nothing changes.
    const again = await revoke(w, c1 as string)
    expectStatus(again, 200)
    expect(again.body).toEqual(r.body)

    // The checker's copy of the list is still fresh: the revocation does not show yet.
    expect(await presentedIds(w)).toEqual([...ids].sort())
    w.advance(DEFAULT_STATUS_LIST_TTL_MS + 1000)
    expect(await presentedIds(w)).toEqual([c2])

    expect((await issued(w)).map(x => [x.credentialId, x.revoked]).sort()).toEqual([[c1, true], [c2, false]].sort())
    await consistent(w)
  })

  it('the served list is a JWT VC that verifies against the issuer\'s DID document and decodes with the status list parser', async () => {
    const w = await world()
    const [c1, c2] = [...await issue(w, ['membership']), ...await issue(w, ['membership'])] as [string, string]
    expectStatus(await revoke(w, c2), 200)
    const [rec] = await issued(w)
    const url = rec?.statusListCredential as string

    const before = Math.floor(Date.now() / 1000)
    const got = await fetchList(url)
    expect(got.status).toBe(200)
    expect(got.type).toBe('application/vc+jwt')
    const jwt = got.text
    const verified = await verifyDidJwt(jwt, async did => await w.srv.hub.resolveDocument(did))
    expect(verified.did).toBe(w.issuer.did)
    expect(verified.header).toMatchObject({ alg: 'EdDSA', kid: `${w.issuer.did}#key-1` })
    const payload = decodeJwt(jwt).payload as { iss: string, jti: string, iat: number, nbf: number, exp: number, vc: Record<string, unknown> }
    expect(payload).toMatchObject({
      iss: w.issuer.did,
      jti: url,
      vc: {
        id: url,
        type: ['VerifiableCredential', 'BitstringStatusListCredential'],
        issuer: w.issuer.did,
        credentialSubject: { id: `${url}#list`, type: 'BitstringStatusList', statusPurpose: 'revocation', encodedList: expect.stringMatching(/^uH4sI/) }
      }
    })
    expect(payload.iat).toBeGreaterThanOrEqual(before - 1)
    expect(payload.nbf).toBeLessThanOrEqual(payload.iat)
    expect(payload.exp - payload.iat).toBe(STATUS_LIST_VALIDITY_S)
    expect(parseVcJwt(jwt)).toMatchObject({ id: url, issuer: w.issuer.did })

    const list = parseStatusListPayload(payload)
    expect(list).toMatchObject({ format: 'BitstringStatusList', purposes: ['revocation'], id: url })
    expect(list.bits.length * 8).toBe(MIN_BITSTRING_ENTRIES)
    const all = await issued(w)
    const at = (id: string): number => all.find(x => x.credentialId === id)?.index as number
    expect(bitAt(list.bits, at(c2))).toBe(true)
    expect(bitAt(list.bits, at(c1))).toBe(false)
    expect([...list.bits].reduce((n, b) => n + (b === 0 ? 0 : 1), 0)).toBe(1)

    // HEAD: the headers only. Unknown lists, and one asked for under another participant: 404.
    const head = await fetchList(url, 'HEAD')
    expect([head.status, head.type, head.text]).toEqual([200, 'application/vc+jwt', ''])
    const listId = url.slice(url.lastIndexOf('/') + 1)
    for (const path of [`${ISSUANCE}/issuer/status/00000000-0000-4000-8000-000000000000`, `${ISSUANCE}/acme/status/${listId}`, `${ISSUANCE}/nobody/status/${listId}`, `${ISSUANCE}/issuer/status/..%2F..`]) {
      const r = await w.srv.api('GET', path)
      expect(r.status, path).toBe(404)
      expect(r.body.error.code).toBe('not_found')
    }
  })

  it('revoking: unknown credential 404, another participant\'s key 403, no key 401', async () => {
    const w = await world()
    const [c1] = await issue(w, ['membership']) as [string]
    const unknown = await revoke(w, 'urn:uuid:00000000-0000-4000-8000-000000000000')
    expectStatus(unknown, 404)
    expect(unknown.body.error.code).toBe('not_found')
    // A credential acme holds is not one acme issued.
    const notIssuedByAcme = await w.srv.api('POST', `${IDENTITY}/acme/issuance/credentials/${encodeURIComponent(c1)}/revoke`, { key: w.acme.apiKey })
    expectStatus(notIssuedByAcme, 404)
    expectStatus(await revoke(w, c1, w.acme.apiKey), 403)
    expectStatus(await w.srv.api('POST', `${IDENTITY}/issuer/issuance/credentials/${encodeURIComponent(c1)}/revoke`), 401)
    expectStatus(await w.srv.api('GET', `${IDENTITY}/issuer/issuance/credentials`, { key: w.acme.apiKey }), 403)
    expect((await issued(w)).map(x => x.revoked)).toEqual([false])
    // The admin key may revoke for any participant.
    expectStatus(await revoke(w, c1, w.srv.adminKey), 200)
    await consistent(w)
  })

  it('the list of a deactivated issuer is 404 (and served again once it is reactivated); a deleted issuer\'s lists are gone', async () => {
    const w = await world()
    await issue(w, ['membership'])
    const url = (await issued(w))[0]?.statusListCredential as string
    expect((await fetchList(url)).status).toBe(200)
    expectStatus(await w.srv.api('POST', `${IDENTITY}/issuer/deactivate`, { key: w.srv.adminKey }), 200)
    const gone = await fetchList(url)
    expect(gone.status).toBe(404)
    expect(JSON.parse(gone.text)).toMatchObject({ error: { code: 'not_found' } })
    expectStatus(await w.srv.api('POST', `${IDENTITY}/issuer/activate`, { key: w.srv.adminKey }), 200)
    expect((await fetchList(url)).status).toBe(200)

    expectStatus(await w.srv.api('DELETE', `${IDENTITY}/issuer`, { key: w.srv.adminKey }), 204)
    expect((await fetchList(url)).status).toBe(404)
    const left: string[] = []
    for await (const k of w.srv.hub.kv.keys({ gte: 'org!', lt: 'org"' })) if (/^org!(sl|ic)!issuer!/.test(k)) left.push(k)
    expect(left).toEqual([])
    await consistent(w)
  })

  it('an issuer without an IssuerService endpoint rejects statusList requests with a clear reason, and records nothing', async () => {
    const w = await world()
    const bare = await createParticipant(w.srv, 'bare')
    await define(w, bare, { id: 'revocable', credentialType: 'MembershipCredential', statusList: true })
    // acme cannot find a bare issuer's IssuerService either, so it asks over DCP directly.
    const grant = await w.srv.api('POST', '/api/sts/token', { key: w.acme.apiKey, body: { audience: bare.did } })
    expectStatus(grant, 200)
    const sent = await w.srv.api('POST', `${ISSUANCE}/bare/credentials`, {
      bearer: grant.body.idToken, body: { '@context': [DCP_CONTEXT], type: 'CredentialRequestMessage', holderPid: 'h-1', credentials: [{ id: 'revocable' }] }
    })
    expectStatus(sent, 201)
    const rec = await until(async () => (await w.srv.api('GET', `${IDENTITY}/bare/issuance/requests`, { key: bare.apiKey })).body[0] as Record<string, unknown>, b => b.status !== 'RECEIVED')
    expect(rec).toMatchObject({ status: 'REJECTED', delivered: true })
    expect(rec.rejectionReason).toBe('credential definition "revocable" issues revocable credentials, but the issuer\'s DID document lists no IssuerService endpoint to serve its status list from')
    expect((await w.srv.api('GET', `${IDENTITY}/bare/issuance/credentials`, { key: bare.apiKey })).body).toEqual([])
    expect(await orgOf(w.srv.hub).listStatusLists('bare')).toEqual([])
    await consistent(w)
  })

  it('a full list is left and a second one started (statusListSize 8); each list serves its own bits', async () => {
    const w = await world({ statusListSize: 8 })
    for (const id of ['m2', 'm3', 'm4', 'm5']) await define(w, w.issuer, { id, credentialType: 'MembershipCredential', statusList: true })
    const five = ['membership', 'm2', 'm3', 'm4', 'm5']
    const got = [...await issue(w, five), ...await issue(w, five)]
    expect(got).toHaveLength(10)

    const records = await issued(w)
    const lists = [...new Set(records.map(r => r.statusListCredential))]
    expect(lists).toHaveLength(2)
    const stored = await orgOf(w.srv.hub).listStatusLists('issuer')
    expect(stored.map(l => [l.seq, l.size, l.next])).toEqual([[1, 8, 8], [2, 8, 2]])
    const [first, second] = stored.map(l => l.url) as [string, string]
    const indices = (url: string): number[] => records.filter(r => r.statusListCredential === url).map(r => r.index).sort((a, b) => a - b)
    expect(indices(first)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(indices(second)).toEqual([0, 1])
    // Indices follow issuance order: the first request filled 0…4 of the first list.
    const firstRequest = records.filter(r => got.slice(0, 5).includes(r.credentialId))
    expect(firstRequest.every(r => r.statusListCredential === first && r.index < 5)).toBe(true)

    // Revoke one in each list: each list's served bits say exactly that.
    const inSecond = records.find(r => r.statusListCredential === second && r.index === 1) as IssuedRecord
    const inFirst = records.find(r => r.statusListCredential === first && r.index === 6) as IssuedRecord
    for (const r of [inSecond, inFirst]) expectStatus(await revoke(w, r.credentialId), 200)
    for (const [url, bit] of [[first, 6], [second, 1]] as const) {
      const res = await fetchList(url)
      expect(res.status).toBe(200)
      await verifyDidJwt(res.text, async did => await w.srv.hub.resolveDocument(did))
      const list = parseStatusListPayload(decodeJwt(res.text).payload)
      expect(list.bits).toHaveLength(1)
      for (let i = 0; i < 8; i++) expect(bitAt(list.bits, i), `${url} bit ${i}`).toBe(i === bit)
    }

    // The presentation checks both lists: everything but the two revoked credentials.
    w.advance(DEFAULT_STATUS_LIST_TTL_MS + 1000)
    expect(await presentedIds(w)).toEqual(got.filter(id => id !== inSecond.credentialId && id !== inFirst.credentialId).sort())
    await consistent(w)
  })
})
