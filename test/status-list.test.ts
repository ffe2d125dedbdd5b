/**
 * Issuer status lists over real HTTP: acme holds credentials pointing into
 * BitstringStatusList and StatusList2021 lists served by a small node:http
 * server on loopback (JWT VCs signed with jose by the issuer's own key,
 * whose public half the hub hosts); beta queries acme through the DCP
 * presentation endpoint. A credential whose revocation or suspension bit is
 * set is left out, and so is any credential whose list cannot be fetched or
 * verified (fail closed); the rest are presented.
 *
 * The server's clock is injected (orgServer's `now`), and the status list
 * cache runs on it: the TTL is shown by moving that clock, never by waiting.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { SignJWT, type JWK } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { decodeJwt } from '../src/org/jwt.js'
import { DEFAULT_STATUS_LIST_TTL_MS, StatusListChecker, type StatusCheckable, type StatusVerdict } from '../src/org/status-checker.js'
import { parseVcJwt } from '../src/org/vc.js'
import { DCP_CONTEXT } from '../src/org/dcp/schemas.js'
import { cleanup } from './helpers.js'
import { orgServer, type ApiReply, type OrgServer } from './org-helpers.js'

const MEMBERSHIP = 'org.eclipse.dspace.dcp.vc.type:MembershipCredential'
const OTHER = 'org.eclipse.dspace.dcp.vc.type:OtherCredential'
const VC_V1 = 'https://www.w3.org/2018/credentials/v1'
const IDENTITY = '/api/identity/v1/participants'
const KEY_ID = 'vc-signing-1'
const DAY = 86_400
const LIST_BYTES = 16 * 1024 // the spec's minimum: 131 072 entries

interface Party { id: string, did: string, apiKey: string }
interface SigningKey { privateKey: KeyObject, kid: string }

// ── a status list server on loopback ────────────────────────────────────

interface StatusServer {
  /** `http://127.0.0.1:PORT` */
  url: string
  /** path → response body (a JWT, or whatever a test wants served) */
  bodies: Map<string, string>
  /** path → number of GETs */
  hits: Map<string, number>
}

const httpServers: Server[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const s of httpServers.splice(0)) await new Promise<void>(resolve => { s.close(() => { resolve() }) })
  await cleanup()
})

async function listen (server: Server): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function statusServer (): Promise<StatusServer> {
  const bodies = new Map<string, string>()
  const hits = new Map<string, number>()
  const server = createServer((req, res) => {
    const path = req.url ?? '/'
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const body = bodies.get(path)
    if (req.method !== 'GET' || body === undefined) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/vc+jwt' }).end(body)
  })
  httpServers.push(server)
  return { url: await listen(server), bodies, hits }
}

/** A loopback URL nothing listens on (the port was bound, then released). */
async function deadUrl (): Promise<string> {
  const s = createServer()
  const url = await listen(s)
  await new Promise<void>(resolve => { s.close(() => { resolve() }) })
  return `${url}/status/gone`
}

// ── bitstrings and list credentials ─────────────────────────────────────

function bits (set: number[]): Uint8Array {
  const b = new Uint8Array(LIST_BYTES)
  for (const i of set) b[i >> 3] = (b[i >> 3] as number) | (0x80 >> (i & 7))
  return b
}

type Format = 'BitstringStatusList' | 'StatusList2021'

/** A status list credential as a VCDM 1.1 JWT VC, signed with jose. */
async function listJwt (key: SigningKey, issuer: string, url: string, o: { format?: Format, purpose: string, set: number[] }): Promise<string> {
  const format = o.format ?? 'BitstringStatusList'
  const gz = Buffer.from(gzipSync(bits(o.set))).toString('base64url')
  return await new SignJWT({
    iss: issuer,
    nbf: Math.floor(Date.now() / 1000) - 3600,
    vc: {
      '@context': [VC_V1],
      id: url,
      type: ['VerifiableCredential', `${format}Credential`],
      credentialSubject: {
        id: `${url}#list`,
        type: format,
        statusPurpose: o.purpose,
        encodedList: format === 'BitstringStatusList' ? `u${gz}` : gz
      }
    }
  }).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid }).sign(key.privateKey)
}

function statusEntry (url: string, index: number, purpose = 'revocation', format: Format = 'BitstringStatusList'): Record<string, unknown> {
  return { id: `${url}#${index}`, type: `${format}Entry`, statusPurpose: purpose, statusListIndex: String(index), statusListCredential: url }
}

// ── the dataspace ───────────────────────────────────────────────────────

function expectStatus (r: ApiReply, status: number): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
}

async function participant (srv: OrgServer, name: string): Promise<Party> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: name, did: srv.did(name), active: true } })
  expectStatus(r, 201)
  return { id: name, did: srv.did(name), apiKey: r.body.apiKey as string }
}

/** A participant whose signing key lives outside the hub: only its public JWK is imported. */
async function externalIssuer (srv: OrgServer, name: string): Promise<{ party: Party, key: SigningKey }> {
  const party = await participant(srv, name)
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const r = await srv.api('POST', `${IDENTITY}/${name}/keypairs`, { key: party.apiKey, body: { keyId: KEY_ID, publicKeyJwk: publicKey.export({ format: 'jwk' }) as JWK, activate: true } })
  expectStatus(r, 201)
  return { party, key: { privateKey, kid: `${party.did}#${KEY_ID}` } }
}

interface World {
  srv: OrgServer
  clock: { ms: number }
  status: StatusServer
  issuer: { party: Party, key: SigningKey }
  acme: Party
  beta: Party
}

async function world (): Promise<World> {
  const clock = { ms: Date.now() }
  const srv = await orgServer({ now: () => clock.ms })
  return {
    srv,
    clock,
    status: await statusServer(),
    issuer: await externalIssuer(srv, 'issuer'),
    acme: await participant(srv, 'acme'),
    beta: await participant(srv, 'beta')
  }
}

/** A credential for acme from the issuer, stored through the Identity API; returns its id. */
async function hold (w: World, o: { status?: unknown, type?: string } = {}): Promise<string> {
  const id = `urn:uuid:${randomUUID()}`
  const t0 = Math.floor(Date.now() / 1000)
  const jwt = await new SignJWT({
    iss: w.issuer.party.did,
    sub: w.acme.did,
    jti: id,
    nbf: t0 - 3600,
    exp: t0 + 30 * DAY,
    vc: {
      '@context': [VC_V1],
      type: ['VerifiableCredential', o.type ?? 'MembershipCredential'],
      credentialSubject: { id: w.acme.did, memberOf: 'dataspace' },
      ...(o.status !== undefined ? { credentialStatus: o.status } : {})
    }
  }).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: w.issuer.key.kid }).sign(w.issuer.key.privateKey)
  const r = await w.srv.api('POST', `${IDENTITY}/acme/credentials`, { key: w.acme.apiKey, body: { jwt } })
  expectStatus(r, 201)
  return id
}

/** Publish a list signed by the issuer at `path` on the status server; returns its URL. */
async function publish (w: World, path: string, o: { format?: Format, purpose?: string, set: number[] }): Promise<string> {
  const url = w.status.url + path
  w.status.bodies.set(path, await listJwt(w.issuer.key, w.issuer.party.did, url, { purpose: 'revocation', ...o }))
  return url
}

/** beta asks acme for `scopes` (acme granting exactly those) and gets back the ids of the presented credentials. */
async function presented (w: World, scopes = [MEMBERSHIP]): Promise<string[]> {
  const grant = await w.srv.api('POST', '/api/sts/token', { key: w.acme.apiKey, body: { audience: w.beta.did, scope: scopes } })
  expectStatus(grant, 200)
  const id = await w.srv.api('POST', '/api/sts/token', { key: w.beta.apiKey, body: { audience: w.acme.did, token: grant.body.accessToken } })
  expectStatus(id, 200)
  const r = await w.srv.api('POST', `/api/credentials/v1/participants/acme/presentations/query`, {
    bearer: id.body.idToken as string,
    body: { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: scopes }
  })
  expectStatus(r, 200)
  const vp = decodeJwt(r.body.presentation[0] as string).payload as { vp: { verifiableCredential: string[] } }
  return vp.vp.verifiableCredential.map(j => parseVcJwt(j).id).sort()
}

const sorted = (...ids: string[]): string[] => [...ids].sort()

/** Record the checker's verdicts (credential id → verdict) by watching its public `check`. */
function watchVerdicts (): Map<string, StatusVerdict> {
  const verdicts = new Map<string, StatusVerdict>()
  const original = StatusListChecker.prototype.check
  vi.spyOn(StatusListChecker.prototype, 'check').mockImplementation(async function (this: StatusListChecker, c: StatusCheckable) {
    const v = await original.call(this, c)
    verdicts.set(c.id, v)
    return v
  })
  return verdicts
}

// ═══════════════════════════════════════════════════════════════════════

describe('status lists in DCP presentations', () => {
  it('leaves out revoked and suspended credentials (both list formats, array entries) and presents the rest', async () => {
    const w = await world()
    const rev = await publish(w, '/status/revocation', { set: [11, 40] })
    const sus = await publish(w, '/status/suspension', { purpose: 'suspension', set: [12] })
    const sl21 = await publish(w, '/status/2021', { format: 'StatusList2021', set: [5] })

    const ids = {
      clear: await hold(w, { status: statusEntry(rev, 10) }),
      revoked: await hold(w, { status: statusEntry(rev, 11) }),
      suspended: await hold(w, { status: statusEntry(sus, 12, 'suspension') }),
      unsuspended: await hold(w, { status: statusEntry(sus, 13, 'suspension') }),
      sl21Revoked: await hold(w, { status: statusEntry(sl21, 5, 'revocation', 'StatusList2021') }),
      sl21Clear: await hold(w, { status: statusEntry(sl21, 6, 'revocation', 'StatusList2021') }),
      // Both entries must be clear: revocation is, suspension is not.
      arrayOneSet: await hold(w, { status: [statusEntry(rev, 20), statusEntry(sus, 12, 'suspension')] }),
      arrayClear: await hold(w, { status: [statusEntry(rev, 21), statusEntry(sus, 21, 'suspension')] }),
      // A `message` purpose says nothing about validity: not even fetched.
      message: await hold(w, { status: statusEntry(`${w.status.url}/status/messages`, 40, 'message') }),
      noStatus: await hold(w)
    }
    const verdicts = watchVerdicts()
    expect(await presented(w)).toEqual(sorted(ids.clear, ids.unsuspended, ids.sl21Clear, ids.arrayClear, ids.message, ids.noStatus))
    expect(verdicts.get(ids.revoked)).toMatchObject({ presentable: false, reason: 'revoked', statusListCredential: rev })
    expect(verdicts.get(ids.suspended)).toMatchObject({ presentable: false, reason: 'suspended', statusListCredential: sus })
    expect(verdicts.get(ids.sl21Revoked)).toMatchObject({ presentable: false, reason: 'revoked', statusListCredential: sl21 })
    expect(verdicts.get(ids.arrayOneSet)).toMatchObject({ presentable: false, reason: 'suspended' })
    // Each list fetched once for the whole query (lists are fetched in parallel, and shared).
    expect(Object.fromEntries(w.status.hits)).toEqual({ '/status/revocation': 1, '/status/suspension': 1, '/status/2021': 1 })
  })

  it('checks only the credentials the query selects', async () => {
    const w = await world()
    const other = await publish(w, '/status/other', { set: [] })
    const member = await hold(w)
    await hold(w, { type: 'OtherCredential', status: statusEntry(other, 1) })
    expect(await presented(w)).toEqual([member])
    expect(w.status.hits.get('/status/other')).toBeUndefined()
  })

  it('caches lists for the TTL: a flipped bit shows once the TTL has passed on the server\'s clock', async () => {
    const w = await world()
    const url = await publish(w, '/status/list', { set: [] })
    const id = await hold(w, { status: statusEntry(url, 7) })
    expect(await presented(w)).toEqual([id])

    // The issuer revokes: a new list with bit 7 set.
    await publish(w, '/status/list', { set: [7] })
    w.clock.ms += DEFAULT_STATUS_LIST_TTL_MS - 1000
    expect(await presented(w)).toEqual([id]) // still the cached list
    expect(w.status.hits.get('/status/list')).toBe(1)

    w.clock.ms += 1000
    expect(await presented(w)).toEqual([])
    expect(w.status.hits.get('/status/list')).toBe(2)

    // And back (a suspension lifted would look the same): clear again after the next TTL.
    await publish(w, '/status/list', { set: [] })
    w.clock.ms += DEFAULT_STATUS_LIST_TTL_MS
    expect(await presented(w)).toEqual([id])
    expect(w.status.hits.get('/status/list')).toBe(3)
  })

  it('fails closed: a list that is unreachable, missing, signed by someone else, tampered with or not a JWT leaves its credential out', async () => {
    const w = await world()
    const mallory = await externalIssuer(w.srv, 'mallory')
    const good = await publish(w, '/status/good', { set: [] })

    // Signed by mallory, as mallory: a valid list, but not the credential's issuer's.
    const foreignUrl = `${w.status.url}/status/foreign`
    w.status.bodies.set('/status/foreign', await listJwt(mallory.key, mallory.party.did, foreignUrl, { purpose: 'revocation', set: [] }))
    // Claims to be the issuer's, signed with mallory's key.
    const forgedUrl = `${w.status.url}/status/forged`
    w.status.bodies.set('/status/forged', await listJwt(mallory.key, w.issuer.party.did, forgedUrl, { purpose: 'revocation', set: [] }))
    // The issuer's own list with bit 3 set, its payload swapped for an all-clear one: the signature no longer fits.
    const tamperedUrl = `${w.status.url}/status/tampered`
    const real = await listJwt(w.issuer.key, w.issuer.party.did, tamperedUrl, { purpose: 'revocation', set: [3] })
    const clean = await listJwt(mallory.key, w.issuer.party.did, tamperedUrl, { purpose: 'revocation', set: [] })
    const [h, , s] = real.split('.')
    w.status.bodies.set('/status/tampered', `${h}.${clean.split('.')[1]}.${s}`)
    // The same list as JSON without a proof.
    w.status.bodies.set('/status/json', JSON.stringify(decodeJwt(await listJwt(w.issuer.key, w.issuer.party.did, `${w.status.url}/status/json`, { purpose: 'revocation', set: [] })).payload.vc))

    const ids = {
      good: await hold(w, { status: statusEntry(good, 3) }),
      unreachable: await hold(w, { status: statusEntry(await deadUrl(), 3) }),
      missing: await hold(w, { status: statusEntry(`${w.status.url}/status/missing`, 3) }),
      foreign: await hold(w, { status: statusEntry(foreignUrl, 3) }),
      forged: await hold(w, { status: statusEntry(forgedUrl, 3) }),
      tampered: await hold(w, { status: statusEntry(tamperedUrl, 3) }),
      json: await hold(w, { status: statusEntry(`${w.status.url}/status/json`, 3) }),
      outOfRange: await hold(w, { status: statusEntry(good, LIST_BYTES * 8) }),
      noStatus: await hold(w)
    }
    const verdicts = watchVerdicts()
    expect(await presented(w)).toEqual(sorted(ids.good, ids.noStatus))
    // Each left out for its own reason (recorded as the log records it).
    const why = (id: string): unknown => verdicts.get(id)
    const unverifiable = (code: string, detail: string): unknown => ({ presentable: false, reason: 'unverifiable', code, detail: expect.stringContaining(detail), statusListCredential: expect.any(String) })
    expect(why(ids.unreachable)).toEqual(unverifiable('unavailable', 'cannot fetch'))
    expect(why(ids.missing)).toEqual(unverifiable('unavailable', 'HTTP 404'))
    expect(why(ids.foreign)).toEqual(unverifiable('authentication_failed', 'not by the credential\'s issuer'))
    expect(why(ids.forged)).toEqual(unverifiable('authentication_failed', 'iss'))
    expect(why(ids.tampered)).toEqual(unverifiable('authentication_failed', 'signature'))
    expect(why(ids.json)).toEqual(unverifiable('unsupported', 'no signature'))
    expect(why(ids.outOfRange)).toEqual(unverifiable('bad_request', 'outside the status list'))
    expect(why(ids.good)).toEqual({ presentable: true })
    for (const p of ['/status/missing', '/status/foreign', '/status/forged', '/status/tampered', '/status/json']) expect(w.status.hits.get(p), p).toBe(1)
  })

  it('a list that has expired is not trusted, even while cached', async () => {
    const w = await world()
    const url = `${w.status.url}/status/expiring`
    const t = Math.floor(w.clock.ms / 1000)
    w.status.bodies.set('/status/expiring', await new SignJWT({
      iss: w.issuer.party.did,
      nbf: t - 3600,
      exp: t + 60,
      vc: { '@context': [VC_V1], id: url, type: ['VerifiableCredential', 'BitstringStatusListCredential'], credentialSubject: { type: 'BitstringStatusList', statusPurpose: 'revocation', encodedList: `u${Buffer.from(gzipSync(bits([]))).toString('base64url')}` } }
    }).setProtectedHeader({ alg: 'EdDSA', kid: w.issuer.key.kid }).sign(w.issuer.key.privateKey))
    const id = await hold(w, { status: statusEntry(url, 1) })
    expect(await presented(w)).toEqual([id])
    w.clock.ms += 60_000
    const verdicts = watchVerdicts()
    expect(await presented(w)).toEqual([])
    expect(verdicts.get(id)).toMatchObject({ reason: 'unverifiable', detail: expect.stringContaining('expired') })
    expect(w.status.hits.get('/status/expiring')).toBe(1) // the cached copy was judged again, not refetched
  })

  it('both scopes at once: status filtering is per credential, not per query', async () => {
    const w = await world()
    const url = await publish(w, '/status/l', { set: [2] })
    const member = await hold(w, { status: statusEntry(url, 1) })
    await hold(w, { type: 'OtherCredential', status: statusEntry(url, 2) })
    const other = await hold(w, { type: 'OtherCredential' })
    expect(await presented(w, [MEMBERSHIP, OTHER])).toEqual(sorted(member, other))
  })
})
