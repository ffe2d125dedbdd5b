/**
 * Hostile input over real HTTP: the hub's HTTP server (Identity API, DCP,
 * did:web, OpenAPI) hit through raw TCP sockets, so nothing between the
 * generator and Node's parser tidies the requests up.
 *
 * Fuzz (fast-check, seeded: FAULTS_SEED=<seed printed in the test name>
 * regenerates the same requests; tokens get fresh jti/iat, lanes interleave):
 *   every POST route of the route table (hubRoutes), path parameters filled
 *   with real and random ids, with random JSON, valid bodies mutated as JSON
 *   (fields deleted, wrong types, huge values, extra keys such as __proto__)
 *   and as text, nesting bombs, non-UTF-8 bytes, non-JSON content types,
 *   chunked bodies, wrong Content-Length, truncated bodies; DCP Bearer tokens
 *   derived from valid ID tokens: claims or header mutated and re-signed by
 *   the caller (so they reach the checks behind the signature), access tokens
 *   mutated and re-signed by the holder, flipped bits, swapped or extra
 *   segments, `alg: none`, huge claims, nested JSON bombs; random x-api-key
 *   values and keys of the wrong participant; random paths (`..`, `%`
 *   garbage, very long), random methods, odd Host/Expect/Upgrade headers;
 *   requests that stall (answered by the server's timeouts).
 * Phase 1 uses no key that may change anything (no admin key; a
 * participant's key only on STS, GET routes or another participant's
 * routes; valid DCP tokens only with bodies that cannot store anything: the
 * Storage API seed is a credential already stored, other bearer routes get
 * bodies no random mutation turns into a valid message), so the
 * organization records (LevelDB `org!` range) must come out byte-identical
 * (the replay records of accepted tokens live under `n!`). Phase 2 fuzzes the
 * bodies of every POST route with valid keys (admin and the participant's
 * own), with the JSON depth limit lifted so that nesting bombs reach the
 * handlers: state may change, but never into something `hub doctor`
 * (org.check) calls damage.
 *
 * Asserted for every response: never 5xx; every error is the typed body
 * `{"error":{"code","message"}}` with a known code that is not `internal`
 * and the status of that code (or one of the documented exceptions: 405,
 * 408, 417, 429, 431); no error logged by the server; no request left in flight;
 * no unhandled rejection or uncaught exception; heap growth after a forced
 * GC bounded; and valid requests still served afterwards.
 *
 * Limits (protocols/dcp.md "Limits"): the fuzz runs with the rate limits
 * raised so that they do not hide the handlers; separate tests drive the
 * token buckets with an injected clock and client key (429, Retry-After,
 * other clients unaffected, recovery), the failed-authentication bucket,
 * the defaults, the connection cap, header limits and timeouts.
 *
 * Every bug the fuzz found has a deterministic reproduction at the end of
 * this file ("regressions found by the HTTP fuzz").
 *
 * Volumes: short profile (npm test) 3,000 phase-1 and 600 phase-2 requests;
 * FAULTS_LONG=1 50,000 and 10,000.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { forceGc, settledHeapMiB, watchProcess } from './watch.js'
import * as fc from 'fast-check'
import net from 'node:net'
import type { IncomingMessage } from 'node:http'
import { randomBytes, randomUUID } from 'node:crypto'
import { hubRoutes } from '../../src/http/app.js'
import { Router, type Route } from '../../src/http/router.js'
import { DEFAULT_HTTP_LIMITS, HttpServer, clientAddressKey, type HttpLimits } from '../../src/http/server.js'
import { httpStatusOf, isErrorCode } from '../../src/daemon/protocol.js'
import { PeerRateLimiter } from '../../src/request/rate-limit.js'
import { AuthenticationError, BadRequestError } from '../../src/errors.js'
import { parseScope } from '../../src/org/dcp/scopes.js'
import { signJwt, type JwtSigner } from '../../src/org/jwt.js'
import { createAccessToken, createIdToken } from '../../src/org/dcp/tokens.js'
import { DCP_CONTEXT } from '../../src/org/dcp/schemas.js'
import { b64u } from '../../src/identity/encoding.js'
import { createLogger } from '../../src/log.js'
import { ORG_PREFIX } from '../../src/org/layout.js'
import type { Hub } from '../../src/hub.js'
import { cleanup, tempHub } from '../helpers.js'
import { eventually } from '../net-helpers.js'
import { jsonMutsArb, mutate, mutateText, textMutsArb, type Json, type Mut, type TextMut } from './mutate.js'
import { orgOf } from '../../src/org/hub-org.js'

const LONG = process.env.FAULTS_LONG === '1'
const PHASE1_REQUESTS = LONG ? 50_000 : 3_000
const PHASE2_REQUESTS = LONG ? 10_000 : 600
const SEED = process.env.FAULTS_SEED !== undefined ? Number(process.env.FAULTS_SEED) : Date.now() % 2_147_483_647
/** Concurrent keep-alive connections of the fuzz. */
const LANES = 12
/** Requests that stall (headers or body never finished), each on its own connection, answered by the timeouts. */
const STALLS = LONG ? 40 : 6
/** Bodies really over the 1 MiB limit (1 MiB each: kept few). */
const OVERSIZED = LONG ? 10 : 2
/** How long a reply may take under load before it counts as missing (a hang). */
const REPLY_MS = 15_000
/** Timeouts of the fuzzed server: short, so that stalled requests are answered within the run. */
const FUZZ_LIMITS: Partial<HttpLimits> = {
  public: { ratePerSecond: 1e9, burst: 1e9 },
  apiKey: { ratePerSecond: 1e9, burst: 1e9 },
  authFailures: { ratePerSecond: 1e9, burst: 1e9 },
  headersTimeoutMs: 1500,
  requestTimeoutMs: 2500
}
/**
 * Heap growth allowed over the whole run, measured after a forced full GC
 * with every client gone. Without a GC function the figure includes garbage,
 * hence the looser bound.
 */
const HEAP_GROWTH_BOUND_MIB = 48
const HEAP_GROWTH_BOUND_NO_GC_MIB = 200

const MEMBERSHIP = 'org.eclipse.dspace.dcp.vc.type:MembershipCredential'
const VC_V1 = 'https://www.w3.org/2018/credentials/v1'
/** Statuses a typed error may carry besides its code's own (server.ts documents each). */
const EXTRA_STATUS: Record<string, number[]> = { bad_request: [405, 408, 417], unavailable: [429], too_large: [431] }

// ------------------------------------------------------------------ process watch

const anomalies = watchProcess()
afterAll(async () => {
  await cleanup()
})

const servers: HttpServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close(500)
})


// ------------------------------------------------------------------ a raw HTTP/1.1 client

interface Reply { status: number, headers: Record<string, string>, body: Buffer }
type Outcome = { t: 'reply', reply: Reply } | { t: 'closed', partial: number } | { t: 'timeout' }

/** One TCP connection; replies are read one at a time (interim 1xx skipped). */
class Conn {
  readonly socket: net.Socket
  #buf: Buffer = Buffer.alloc(0)
  #closed = false
  #wake: (() => void) | undefined

  private constructor (socket: net.Socket) {
    this.socket = socket
    socket.on('data', (c: Buffer) => { this.#buf = Buffer.concat([this.#buf, c]); this.#poke() })
    socket.on('close', () => { this.#closed = true; this.#poke() })
    socket.on('error', () => { /* seen as close */ })
  }

  static async open (port: number): Promise<Conn> {
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve())
      socket.once('error', reject)
    })
    socket.setNoDelay(true)
    return new Conn(socket)
  }

  get closed (): boolean { return this.#closed }

  #poke (): void {
    const w = this.#wake
    this.#wake = undefined
    w?.()
  }

  write (bytes: Buffer, halfClose = false): void {
    if (this.#closed || this.socket.destroyed) return
    this.socket.write(bytes)
    if (halfClose) this.socket.end()
  }

  close (): void { this.socket.destroy() }

  /** The next complete reply (no body for HEAD), or the connection closing, or nothing within `ms`. */
  async reply (head: boolean, ms = REPLY_MS): Promise<Outcome> {
    const deadline = Date.now() + ms
    for (;;) {
      const r = this.#parse(head)
      if (r !== undefined) return { t: 'reply', reply: r }
      if (this.#closed) return { t: 'closed', partial: this.#buf.length }
      const left = deadline - Date.now()
      if (left <= 0) return { t: 'timeout' }
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => { clearTimeout(timer); resolve() }
      })
    }
  }

  #parse (head: boolean): Reply | undefined {
    for (;;) {
      const end = this.#buf.indexOf('\r\n\r\n')
      if (end < 0) return undefined
      const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n')
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')
      if (m === null) throw new Error(`not an HTTP response: ${JSON.stringify(this.#buf.subarray(0, 200).toString('latin1'))}`)
      const status = Number(m[1])
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':')
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
      }
      let rest = this.#buf.subarray(end + 4)
      if (status < 200) { this.#buf = rest; continue } // 100 Continue
      let body: Buffer
      if (head || status === 204 || status === 304) {
        body = Buffer.alloc(0)
      } else if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length'])
        if (rest.length < n) return undefined
        body = rest.subarray(0, n)
        rest = rest.subarray(n)
      } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        const parts: Buffer[] = []
        let at = 0
        for (;;) {
          const eol = rest.indexOf('\r\n', at)
          if (eol < 0) return undefined
          const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16)
          if (rest.length < eol + 2 + size + 2) return undefined
          parts.push(rest.subarray(eol + 2, eol + 2 + size))
          at = eol + 2 + size + 2
          if (size === 0) break
        }
        body = Buffer.concat(parts)
        rest = rest.subarray(at)
      } else {
        if (!this.#closed) return undefined // delimited by the connection closing
        body = rest
        rest = Buffer.alloc(0)
      }
      this.#buf = rest
      return { status, headers, body }
    }
  }
}

/** Pseudo-headers for rawRequest: leave out the Host header; use another HTTP version. */
const OMIT_HOST = '\0omit-host'
const VERSION = '\0version'

/** Serialize a request. Header values are sent as latin1 bytes, whatever they contain. */
function rawRequest (method: string, target: string, headers: Array<[string, string]>, body?: Buffer): Buffer {
  const omitHost = headers.some(([k]) => k === OMIT_HOST)
  const version = headers.find(([k]) => k === VERSION)?.[1] ?? '1.1'
  const real = headers.filter(([k]) => !k.startsWith('\0') && !(omitHost && k === 'host'))
  const head = `${method} ${target} HTTP/${version}\r\n${real.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`
  return body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body])
}

/** What is wrong with a reply, if anything: the invariant every response must keep. */
function replyProblem (r: Reply, head: boolean): string | undefined {
  if (r.status >= 500) return `status ${r.status}: ${r.body.subarray(0, 300).toString('utf8')}`
  if (r.status < 200) return `status ${r.status}`
  if (head || r.status === 204) return r.body.length === 0 ? undefined : `a ${r.status} with a body`
  let v: unknown
  try { v = JSON.parse(r.body.toString('utf8')) } catch { return `status ${r.status} with a non-JSON body: ${r.body.subarray(0, 120).toString('latin1')}` }
  if (r.status < 400) return undefined
  const e = (v as { error?: { code?: unknown, message?: unknown } } | null)?.error
  if (e === undefined || typeof e.message !== 'string' || !isErrorCode(e.code)) return `status ${r.status} without a typed error: ${r.body.subarray(0, 200).toString('utf8')}`
  if (e.code === 'internal') return `internal error: ${e.message}`
  const allowed = [httpStatusOf(e.code), ...(EXTRA_STATUS[e.code] ?? [])]
  if (!allowed.includes(r.status)) return `status ${r.status} for code ${e.code}`
  return undefined
}

// ------------------------------------------------------------------ mutations

function nest (depth: number): Json {
  let v: Json = 0
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v }
  return v
}

const evilValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 2, 2 ** 32, 1e-300, '', ' ', '0', 'null', '__proto__', 'constructor', 'toString', 'did:web:127.0.0.1', 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', 'a.b.c', '\u0000', '\ud800', '\uffff', '💥', [], {}, [null], { '': '' }, 'none', 'EdDSA', 'HS256', 'REJECTED', 'ISSUED', 'jwt', MEMBERSHIP, `${MEMBERSHIP}:read`, 'org.eclipse.dspace.dcp.vc.id:x:y', 'PresentationQueryMessage', 'CredentialMessage', DCP_CONTEXT) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map(nest) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 60_000 }).map(n => 'x'.repeat(n)) }
)
const mutsArb: fc.Arbitrary<Mut[]> = jsonMutsArb(['__proto__', 'constructor', 'scope', 'type', '@context', 'token', 'aud', 'iss', 'sub', 'exp', 'iat', 'nbf', 'jti', 'kid', 'alg', 'credentials', 'status', 'payload', 'format', ''], evilValue)

// ------------------------------------------------------------------ the target

interface Party { id: string, did: string, apiKey: string, signer: JwtSigner }

interface World {
  hub: Hub
  server: HttpServer
  port: number
  adminKey: string
  issuer: Party
  acme: Party
  beta: Party
  /** CREATED, never activated: its DCP endpoints and did:web document do not exist. */
  gamma: Party
  vc: { id: string, jwt: string }
  routes: Route[]
  errorLogs: string[]
  /** did:web resolutions the fuzz made the hub attempt beyond this server (refused by the test: no network). */
  external: string[]
  /** Route handlers that have not returned yet. */
  pending: Map<number, string>
}

/**
 * One hub, one server on 127.0.0.1 (its DIDs name that port); issuer, acme
 * (holder of a MembershipCredential by the issuer) and beta ACTIVATED, gamma
 * CREATED. Resolution of DIDs not hosted here is refused (counted): a
 * mutated token must not send the test out to the network.
 */
async function makeWorld (limits: Partial<HttpLimits>, opts: { clientKey?: (req: IncomingMessage) => string, clock?: () => number } = {}): Promise<World> {
  const hub = await tempHub()
  const errorLogs: string[] = []
  const external: string[] = []
  const local = hub.resolveDocument.bind(hub)
  let port = 0
  Object.defineProperty(hub, 'resolveDocument', {
    value: async (did: string) => {
      if (did.startsWith(`did:web:127.0.0.1%3A${port}`) || did.startsWith('did:key:')) return await local(did)
      external.push(did)
      throw new AuthenticationError(`cannot resolve ${did}: the test has no network`)
    }
  })
  // Handlers still running, for the report when a request never finishes.
  const pending = new Map<number, string>()
  let seq = 0
  const routes = hubRoutes(hub).map((r): Route => ({
    ...r,
    handler: async (req) => {
      const n = seq++
      pending.set(n, `${r.operationId} ${req.path} ${JSON.stringify(req.headers).slice(0, 300)}`)
      try {
        return await r.handler(req)
      } finally {
        pending.delete(n)
      }
    }
  }))
  const adminKey = randomBytes(24).toString('base64url')
  const server = new HttpServer({ router: new Router(routes), org: orgOf(hub), adminKey, logger: createLogger('hub', 'error', line => { errorLogs.push(line) }), limits, ...opts })
  servers.push(server)
  port = Number(new URL(await server.listen('127.0.0.1', 0)).port)
  const did = (name: string): string => `did:web:127.0.0.1%3A${port}:org:${name}`
  const party = async (id: string, active: boolean): Promise<Party> => {
    const c = await orgOf(hub).createParticipant({ participantId: id, did: did(id), active })
    return { id, did: did(id), apiKey: c.apiKey, signer: await orgOf(hub).signingKey(id) }
  }
  const issuer = await party('issuer', true)
  const acme = await party('acme', true)
  const beta = await party('beta', true)
  const gamma = await party('gamma', false)
  const now = Math.floor(Date.now() / 1000)
  const id = `urn:uuid:${randomUUID()}`
  const jwt = signJwt(issuer.signer, {
    iss: issuer.did, sub: acme.did, jti: id, nbf: now - 3600, exp: now + 30 * 86_400,
    vc: { '@context': [VC_V1], type: ['VerifiableCredential', 'MembershipCredential'], credentialSubject: { id: acme.did, memberOf: 'dataspace' } }
  })
  await orgOf(hub).storeCredentials('acme', [jwt])
  return { hub, server, port, adminKey, issuer, acme, beta, gamma, vc: { id, jwt }, routes, errorLogs, external, pending }
}

async function orgRecords (hub: Hub): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for await (const [k, v] of hub.kv.entries({ gte: ORG_PREFIX, lt: 'org"' })) out.set(k, Buffer.from(v).toString('base64'))
  return out
}

const seconds = (): number => Math.floor(Date.now() / 1000)

/** acme's access token granting beta MembershipCredential (claims optionally replaced). */
function accessToken (w: World, claims?: Json): string {
  if (claims === undefined) return createAccessToken(w.acme.signer, { holderDid: w.acme.did, verifierDid: w.beta.did, scopes: [MEMBERSHIP], now: seconds() })
  return signJws(w.acme.signer, JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: w.acme.signer.kid }), JSON.stringify(claims))
}

function accessClaims (w: World): Json {
  const now = seconds()
  return { iss: w.acme.did, sub: w.beta.did, aud: w.acme.did, scope: MEMBERSHIP, iat: now, exp: now + 300, jti: `urn:uuid:${randomUUID()}` }
}

/** The claims of a valid, fresh ID token of `caller` for acme. */
function idClaims (caller: Party, w: World, token?: string): Json {
  const now = seconds()
  return { iss: caller.did, sub: caller.did, aud: w.acme.did, iat: now, exp: now + 300, jti: `urn:uuid:${randomUUID()}`, ...(token !== undefined ? { token } : {}) }
}

/** A compact JWS over exactly this header and claims text, signed by `signer` (valid signature, whatever the content). */
function signJws (signer: JwtSigner, headerText: string, claimsText: string): string {
  const h = b64u(headerText)
  const p = b64u(claimsText)
  return `${h}.${p}.${b64u(signer.sign(Buffer.from(`${h}.${p}`)))}`
}

/** A fresh valid Bearer for a route: beta's query token, or the issuer's storage token. */
function validBearer (w: World, route: Route): string {
  if (route.operationId === 'storeCredentials') return createIdToken(w.issuer.signer, { did: w.issuer.did, audience: w.acme.did, now: seconds() })
  return createIdToken(w.beta.signer, { did: w.beta.did, audience: w.acme.did, token: accessToken(w), now: seconds() })
}

/** A valid body per operation (unknown operations: an empty object). */
function seedBody (w: World, route: Route, i: number): Json {
  switch (route.operationId) {
    case 'queryPresentation': return { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: [MEMBERSHIP] }
    // Already stored: with a valid token this is a 409, never a change.
    case 'storeCredentials': return { '@context': [DCP_CONTEXT], type: 'CredentialMessage', issuerPid: 'i-1', holderPid: 'h-1', status: 'ISSUED', credentials: [{ credentialType: 'MembershipCredential', format: 'jwt', payload: w.vc.jwt }] }
    case 'issueToken': return i % 2 === 0 ? { audience: w.acme.did, scope: [MEMBERSHIP] } : { audience: w.acme.did, token: accessToken(w), ttl: 60 }
    case 'createParticipant': return { participantId: `fuzz-${i % 50}`, did: `did:web:127.0.0.1%3A${w.port}:org:fuzz-${i % 50}`, active: i % 2 === 0, key: { keyId: 'k1' }, services: [{ id: '#cs', type: 'CredentialService', serviceEndpoint: 'https://example.com/cs' }] }
    case 'createKeyPair': return i % 3 === 0 ? { keyId: `k-${i % 40}`, activate: true, isDefault: i % 2 === 0 } : { keyId: `imp-${i % 40}`, publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: b64u(randomBytes(32)) } }
    case 'rotateKeyPair': return { successor: { keyId: `succ-${i % 40}` } }
    case 'addServiceEndpoint': return { id: `#svc-${i % 40}`, type: 'CredentialService', serviceEndpoint: 'https://example.com/x' }
    case 'addCredential': return { jwt: w.vc.jwt }
    default: return {}
  }
}

// ------------------------------------------------------------------ plans → shots

type AuthPlan =
  | 'none' | 'random-key' | 'random-bytes-key' | 'flipped-admin-key' | 'flipped-own-key' | 'other-participant-key' | 'two-keys'
  | 'valid-bearer' | 'bearer-garbage' | 'basic'

type BodyPlan =
  | { k: 'seed' }
  | { k: 'random-json', json: Json }
  | { k: 'mutated', muts: Mut[] }
  | { k: 'mutated-text', muts: TextMut[] }
  | { k: 'deep', depth: number, where: 'bare' | 'field' }
  | { k: 'bytes', bytes: Uint8Array }
  | { k: 'empty' }
  | { k: 'huge-string', n: number }

type TokenPlan =
  | { k: 'claims', muts: Mut[] }
  | { k: 'header', muts: Mut[] }
  | { k: 'access-claims', muts: Mut[] }
  | { k: 'text', muts: TextMut[] }
  | { k: 'segments', order: number[] }
  | { k: 'alg-none', sig: 'empty' | 'garbage' | 'valid' }
  | { k: 'huge-claim', n: number }
  | { k: 'bomb', depth: number, inner: boolean }
  | { k: 'wrong-caller' }

type Framing = 'plain' | 'chunked' | 'bad-chunked' | 'cl-short' | 'cl-long-cut' | 'no-cl' | 'cut'

interface Plan {
  k: 'route' | 'token' | 'path' | 'get-route'
  route: number
  ids: number[]
  rawIds: boolean
  auth: AuthPlan
  body: BodyPlan
  token: TokenPlan
  framing: Framing
  contentType: string | null
  method: string
  path: string
  cut: number
  extra: Array<[string, string]>
  i: number
}

const contentTypes = fc.constantFrom<string | null>('application/json', 'application/json', 'application/json; charset=utf-8', null, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/octet-stream', '*/*', '')

const extraHeaders: fc.Arbitrary<Array<[string, string]>> = fc.array(fc.oneof(
  fc.constantFrom<[string, string]>(
    ['expect', '100-continue'], ['expect', 'something-else'], ['connection', 'upgrade'], ['upgrade', 'websocket'], ['upgrade', 'h2c'],
    ['host', ''], ['host', '127.0.0.1'], ['host', 'EXAMPLE.com:8080'], ['host', '[::1]:80'], ['host', 'a@b'], ['host', 'a/b'], ['host', '%'], ['host', 'x'.repeat(3000)],
    ['x-forwarded-for', '1.2.3.4'], ['accept-encoding', 'gzip'], ['range', 'bytes=0-1'], ['if-none-match', '*'], ['cookie', 'a=b'],
    ['content-encoding', 'gzip'], ['transfer-encoding', 'identity'], ['authorization', 'Bearer'], ['x-api-key', ''],
    // Not headers: instructions to rawRequest (no Host at all; another HTTP version).
    [OMIT_HOST, ''], [VERSION, '1.0'], [VERSION, '2.0'], [VERSION, '0.9'], [VERSION, '1.2']
  ),
  fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), fc.string({ maxLength: 40, unit: 'binary-ascii' }).map(s => s.replace(/[\r\n]/g, ' ')))
), { maxLength: 3 })

const methods = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND', 'SEARCH', 'QUERY') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z]{1,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom('get', 'G ET', 'GET\t', '') }
)

const pathSegment = fc.oneof(
  fc.constantFrom('..', '.', '', '%', '%zz', '%2', '%00', '%ff', '%2F', '%2e%2e', '%c0%af', '~', 'did.json', '.well-known', 'api', 'identity', 'v1', 'participants', 'acme', 'credentials', 'presentations', 'query', 'sts', 'token', 'openapi.json', 'keypairs', 'key-1', 'org', '?', '#', ';', '*', '\\', '💥', encodeURIComponent('💥')),
  fc.string({ maxLength: 12 }).map(s => encodeURIComponent(s)),
  fc.string({ maxLength: 8, unit: 'binary-ascii' }).map(s => s.replace(/[\s]/g, '_'))
)
const randomPath = fc.oneof(
  { weight: 6, arbitrary: fc.array(pathSegment, { maxLength: 10 }).map(segs => '/' + segs.join('/')) },
  { weight: 1, arbitrary: fc.integer({ min: 2_000, max: 20_000 }).map(n => '/' + 'a/'.repeat(n / 2)) },
  { weight: 1, arbitrary: fc.constantFrom('*', 'http://[', '//[', 'http://x/api/identity/v1/openapi.json', 'https://127.0.0.1/.well-known/did.json', '//evil/.well-known/did.json', '/a?' + 'q=1&'.repeat(200), '/?%zz=%zz', '/api/identity/v1/participants?type=%ff') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: 'binary-ascii' }).map(s => s.replace(/[\s]/g, '')) }
)

const bodyPlan: fc.Arbitrary<BodyPlan> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<BodyPlan>({ k: 'seed' }) },
  { weight: 4, arbitrary: (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>).map((json): BodyPlan => ({ k: 'random-json', json })) },
  { weight: 12, arbitrary: mutsArb.map((muts): BodyPlan => ({ k: 'mutated', muts })) },
  { weight: 5, arbitrary: textMutsArb.map((muts): BodyPlan => ({ k: 'mutated-text', muts })) },
  { weight: 2, arbitrary: fc.record({ depth: fc.integer({ min: 1000, max: 400_000 }), where: fc.constantFrom<'bare' | 'field'>('bare', 'field') }).map((r): BodyPlan => ({ k: 'deep', ...r })) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes): BodyPlan => ({ k: 'bytes', bytes })) },
  { weight: 1, arbitrary: fc.constant<BodyPlan>({ k: 'empty' }) },
  { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 900_000 }).map((n): BodyPlan => ({ k: 'huge-string', n })) }
)

const tokenPlan: fc.Arbitrary<TokenPlan> = fc.oneof(
  { weight: 10, arbitrary: mutsArb.map((muts): TokenPlan => ({ k: 'claims', muts })) },
  { weight: 4, arbitrary: mutsArb.map((muts): TokenPlan => ({ k: 'header', muts })) },
  { weight: 8, arbitrary: mutsArb.map((muts): TokenPlan => ({ k: 'access-claims', muts })) },
  { weight: 6, arbitrary: textMutsArb.map((muts): TokenPlan => ({ k: 'text', muts })) },
  { weight: 2, arbitrary: fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 5 }).map((order): TokenPlan => ({ k: 'segments', order })) },
  { weight: 2, arbitrary: fc.constantFrom<'empty' | 'garbage' | 'valid'>('empty', 'garbage', 'valid').map((sig): TokenPlan => ({ k: 'alg-none', sig })) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 30_000 }).map((n): TokenPlan => ({ k: 'huge-claim', n })) },
  { weight: 2, arbitrary: fc.record({ depth: fc.integer({ min: 100, max: 4000 }), inner: fc.boolean() }).map((r): TokenPlan => ({ k: 'bomb', ...r })) },
  { weight: 1, arbitrary: fc.constant<TokenPlan>({ k: 'wrong-caller' }) }
)

const authPlan = fc.constantFrom<AuthPlan>('none', 'random-key', 'random-key', 'random-bytes-key', 'flipped-admin-key', 'flipped-own-key', 'other-participant-key', 'other-participant-key', 'two-keys', 'valid-bearer', 'valid-bearer', 'bearer-garbage', 'basic')
const framing = fc.constantFrom<Framing>('plain', 'plain', 'plain', 'plain', 'plain', 'plain', 'plain', 'plain', 'chunked', 'bad-chunked', 'cl-short', 'cl-long-cut', 'no-cl', 'cut')

function planArb (): fc.Arbitrary<Plan> {
  return fc.record({
    k: fc.constantFrom<Plan['k']>('route', 'route', 'route', 'route', 'token', 'token', 'token', 'path', 'get-route'),
    route: fc.nat(),
    ids: fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
    rawIds: fc.boolean(),
    auth: authPlan,
    body: bodyPlan,
    token: tokenPlan,
    framing,
    contentType: contentTypes,
    method: methods,
    path: randomPath,
    cut: fc.double({ min: 0, max: 0.999, noNaN: true }),
    extra: fc.oneof({ weight: 4, arbitrary: fc.constant<Array<[string, string]>>([]) }, { weight: 1, arbitrary: extraHeaders }),
    i: fc.nat()
  })
}

interface Shot {
  kind: string
  bytes: Buffer
  head: boolean
  /** A reply is owed (a complete, well-framed request); otherwise a close is fine too. */
  expect: 'reply' | 'any'
  /** Half-close after sending (truncation); the connection is retired after this shot. */
  halfClose: boolean
  retire: boolean
  describe: string
}

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length] as T
/** The Host the server's DIDs are derived from. */
const host = (w: World): string => `127.0.0.1:${w.port}`

/** Path parameter values: real ids, absent ones, and hostile strings. */
function paramValue (w: World, name: string, n: number, raw: boolean, readOnly: boolean): string {
  const real: Record<string, string[]> = {
    participantId: readOnly ? ['acme', 'beta', 'gamma', 'issuer'] : ['acme'],
    keyId: ['key-1', 'k1'],
    credentialId: [w.vc.id],
    serviceId: ['cs', '#cs'],
    didPath: ['org/acme', 'org/beta', 'org/gamma']
  }
  const hostile = ['nobody', '..', '.', '%', '%zz', '%00', '💥', 'x'.repeat(300), 'a/b', '__proto__', 'constructor', ' ', 'ACME', 'acme%20', `did:web:127.0.0.1%3A${w.port}:org:acme`, 'urn:uuid:00000000-0000-0000-0000-000000000000']
  const v = n % 3 === 0 ? pick(hostile, n) : pick(real[name] ?? hostile, n)
  if (raw) return v
  return name === 'didPath' ? v.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(v)
}

function fillPath (w: World, route: Route, ids: number[], raw: boolean, readOnly: boolean): string {
  let k = 0
  return route.path.replace(/\{([A-Za-z]+)\+?\}/g, (_m, name: string) => paramValue(w, name, ids[k++ % ids.length] as number, raw, readOnly))
}

function randomKey (i: number): string {
  return pick([
    () => randomBytes(1 + (i % 40)).toString('base64url'),
    () => `${b64u('acme')}.${randomBytes(24).toString('base64url')}`,
    () => `${b64u('nobody')}.x`,
    () => '.',
    () => `${'A'.repeat(i % 9000)}.x`,
    () => `${b64u('💥')}.${randomBytes(8).toString('hex')}`
  ], i)()
}

function flip (s: string, i: number): string {
  const at = i % s.length
  return s.slice(0, at) + String.fromCharCode(s.charCodeAt(at) ^ (1 + (i % 5))) + s.slice(at + 1)
}

/** Auth headers for a plan. In phase 1 never a key that may act on the route the request names. */
function authHeaders (w: World, route: Route, path: string, plan: Plan, phase: 1 | 2): Array<[string, string]> {
  const h: Array<[string, string]> = []
  const apiKeyRoute = route.auth === 'admin' || route.auth === 'participant'
  if (phase === 2 && apiKeyRoute) {
    // Phase 2: keys that work (the admin's, or the participant's own).
    h.push(['x-api-key', route.auth === 'admin' || plan.i % 4 === 0 ? w.adminKey : w.acme.apiKey])
    return h
  }
  switch (plan.auth) {
    case 'none': break
    case 'random-key': h.push(['x-api-key', randomKey(plan.i)]); break
    case 'random-bytes-key': h.push(['x-api-key', randomBytes(1 + (plan.i % 60)).toString('latin1').replace(/[\r\n\0]/g, 'x')]); break
    case 'flipped-admin-key': h.push(['x-api-key', flip(w.adminKey, plan.i)]); break
    case 'flipped-own-key': h.push(['x-api-key', flip(w.acme.apiKey, plan.i)]); break
    case 'other-participant-key': {
      // Phase 1 may only use a real key where it cannot act: STS (read-only), GET routes,
      // or another participant's path (403). Elsewhere: a key of a participant not in the path.
      const owner = /\/participants\/([^/]+)/.exec(path)?.[1]
      const key = owner === 'beta' ? w.acme.apiKey : w.beta.apiKey
      const harmless = route.operationId === 'issueToken' || route.method === 'GET' || (owner !== undefined && decodeURIComponentSafe(owner) !== (key === w.beta.apiKey ? 'beta' : 'acme'))
      h.push(['x-api-key', harmless ? key : randomKey(plan.i)])
      break
    }
    case 'two-keys': h.push(['x-api-key', randomKey(plan.i)], ['x-api-key', w.beta.apiKey]); break
    case 'valid-bearer': if (route.auth === 'bearer') h.push(['authorization', `Bearer ${validBearer(w, route)}`]); break
    case 'bearer-garbage': h.push(['authorization', pick(['Bearer', 'Bearer ', 'bearer a.b.c', 'Bearer a b', `Bearer ${'x'.repeat(plan.i % 12_000)}`, 'Basic Zm9vOmJhcg==', 'Bearer \u00ff\u00fe'], plan.i)]); break
    case 'basic': h.push(['authorization', 'Basic YWRtaW46YWRtaW4=']); break
  }
  return h
}

function decodeURIComponentSafe (s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

function bodyBytes (w: World, route: Route, plan: BodyPlan, i: number): Buffer | undefined {
  const seed = (): Json => seedBody(w, route, i)
  switch (plan.k) {
    case 'seed': return Buffer.from(JSON.stringify(seed()))
    case 'random-json': return Buffer.from(JSON.stringify(plan.json))
    case 'mutated': return Buffer.from(JSON.stringify(mutate(seed(), plan.muts)) ?? 'null')
    case 'mutated-text': return Buffer.from(mutateText(JSON.stringify(seed()), plan.muts))
    case 'deep': {
      const bomb = '['.repeat(plan.depth) + ']'.repeat(plan.depth)
      if (plan.where === 'bare') return Buffer.from(bomb)
      const t = JSON.stringify(seed())
      return Buffer.from(t.length > 2 ? `${t.slice(0, -1)},"scope":${bomb},"x":${bomb}}` : `{"x":${bomb}}`)
    }
    case 'bytes': return Buffer.from(plan.bytes)
    case 'empty': return undefined
    case 'huge-string': return Buffer.from(JSON.stringify({ ...(seed() as object), jwt: 'x'.repeat(plan.n), scope: ['y'.repeat(plan.n / 2)] }))
  }
}

/** A Bearer derived from a valid ID token by one hostile change. */
function hostileToken (w: World, route: Route, plan: TokenPlan): string {
  const storage = route.operationId === 'storeCredentials'
  const caller = storage ? w.issuer : w.beta
  const header = (): Json => ({ alg: 'EdDSA', typ: 'JWT', kid: caller.signer.kid })
  const claims = (): Json => idClaims(caller, w, storage ? undefined : accessToken(w))
  const signed = (h: Json, c: Json): string => signJws(caller.signer, JSON.stringify(h), JSON.stringify(c))
  switch (plan.k) {
    case 'claims': return signed(header(), mutate(claims(), plan.muts))
    case 'header': return signed(mutate(header(), plan.muts), claims())
    case 'access-claims': return signed(header(), idClaims(caller, w, accessToken(w, mutate(accessClaims(w), plan.muts))))
    case 'text': return mutateText(validBearer(w, route), plan.muts)
    case 'segments': {
      const parts = validBearer(w, route).split('.')
      return plan.order.map(i => parts[i] ?? '').join('.')
    }
    case 'alg-none': {
      const h = b64u(JSON.stringify({ alg: 'none', typ: 'JWT', kid: caller.signer.kid }))
      const p = b64u(JSON.stringify(claims()))
      const sig = plan.sig === 'empty' ? '' : plan.sig === 'garbage' ? b64u(randomBytes(64)) : b64u(caller.signer.sign(Buffer.from(`${h}.${p}`)))
      return `${h}.${p}.${sig}`
    }
    case 'huge-claim': return signed(header(), { ...(claims() as object), blob: 'x'.repeat(plan.n) })
    case 'bomb': {
      const bomb = '['.repeat(plan.depth) + ']'.repeat(plan.depth)
      if (!plan.inner) {
        const c = JSON.stringify(claims())
        return signJws(caller.signer, JSON.stringify(header()), `${c.slice(0, -1)},"aud":${bomb},"x":${bomb}}`)
      }
      const a = JSON.stringify(accessClaims(w))
      const inner = signJws(w.acme.signer, JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: w.acme.signer.kid }), `${a.slice(0, -1)},"scope":${bomb}}`)
      return signed(header(), idClaims(caller, w, inner))
    }
    case 'wrong-caller': {
      // gamma (not ACTIVATED: its DID does not resolve) and acme itself as the caller.
      const who = pick([w.gamma, w.acme], seconds())
      return createIdToken(who.signer, { did: who.did, audience: w.acme.did, token: accessToken(w), now: seconds() })
    }
  }
}

function frame (host: string, method: string, target: string, headers: Array<[string, string]>, body: Buffer | undefined, how: Framing, cut: number, contentType: string | null): { bytes: Buffer, expect: Shot['expect'], halfClose: boolean, retire: boolean } {
  // An extra Host header (plan.extra) comes second: Node keeps the first.
  const h: Array<[string, string]> = [['host', host], ...headers]
  if (body !== undefined && contentType !== null) h.push(['content-type', contentType])
  const b = body ?? Buffer.alloc(0)
  switch (how) {
    case 'plain':
      if (body !== undefined || method === 'POST' || method === 'PUT') h.push(['content-length', String(b.length)])
      return { bytes: rawRequest(method, target, h, b), expect: 'reply', halfClose: false, retire: false }
    case 'chunked': {
      h.push(['transfer-encoding', 'chunked'])
      const chunks: Buffer[] = []
      for (let at = 0; at < b.length; at += 1000) {
        const c = b.subarray(at, at + 1000)
        chunks.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'))
      }
      chunks.push(Buffer.from('0\r\n\r\n'))
      return { bytes: rawRequest(method, target, h, Buffer.concat(chunks)), expect: 'reply', halfClose: false, retire: false }
    }
    case 'bad-chunked':
      h.push(['transfer-encoding', 'chunked'])
      return { bytes: rawRequest(method, target, h, Buffer.concat([Buffer.from('zz\r\n'), b, Buffer.from('\r\n0\r\n\r\n')])), expect: 'reply', halfClose: false, retire: true }
    case 'cl-short': {
      // The rest of the body arrives as the next "request": garbage to the parser.
      const n = Math.floor(b.length * cut)
      h.push(['content-length', String(n)])
      return { bytes: rawRequest(method, target, h, b), expect: 'reply', halfClose: false, retire: true }
    }
    case 'cl-long-cut':
      // Claims more than it sends, then ends its side: the body is cut short.
      h.push(['content-length', String(b.length + 1 + Math.floor(cut * 1000))])
      return { bytes: rawRequest(method, target, h, b), expect: 'any', halfClose: true, retire: true }
    case 'no-cl':
      return { bytes: rawRequest(method, target, h, b), expect: 'any', halfClose: false, retire: true }
    case 'cut': {
      if (body !== undefined) h.push(['content-length', String(b.length)])
      const whole = rawRequest(method, target, h, b)
      return { bytes: whole.subarray(0, Math.max(1, Math.floor(whole.length * cut))), expect: 'any', halfClose: true, retire: true }
    }
  }
}

function shotOf (w: World, plan: Plan, phase: 1 | 2): Shot {
  const posts = w.routes.filter(r => r.method === 'POST')
  const gets = w.routes.filter(r => r.method === 'GET' || r.method === 'DELETE')
  const route = pick(plan.k === 'token' ? posts.filter(r => r.auth === 'bearer') : plan.k === 'get-route' ? gets : posts, plan.route)
  const target = fillPath(w, route, plan.ids, plan.rawIds, phase === 1)
  if (plan.k === 'path') {
    // Never a real key here: a random path may land on a route where it could act.
    const auth = plan.auth === 'other-participant-key' || plan.auth === 'two-keys' ? 'random-key' : plan.auth
    const f = frame(host(w), plan.method, plan.path, [...authHeaders(w, route, plan.path, { ...plan, auth }, 1), ...plan.extra], plan.i % 3 === 0 ? bodyBytes(w, route, plan.body, plan.i) : undefined, plan.framing === 'plain' ? 'plain' : 'cut', plan.cut, plan.contentType)
    // A method Node's parser refuses, or a CONNECT/Upgrade it hands to no one, may end with a close.
    return { kind: 'path', ...f, expect: 'any', retire: true, head: plan.method === 'HEAD', describe: `${plan.method} ${plan.path.slice(0, 200)}` }
  }
  if (plan.k === 'get-route') {
    const method = route.method === 'DELETE' && phase === 1 ? 'DELETE' : plan.i % 5 === 0 ? 'HEAD' : route.method
    // DELETE in phase 1: only with keys that cannot act (authHeaders never hands out one that may).
    const headers = authHeaders(w, route, target, { ...plan, auth: route.method === 'DELETE' && plan.auth === 'other-participant-key' ? 'random-key' : plan.auth }, 1)
    const f = frame(host(w), method, target, [...headers, ...plan.extra], undefined, 'plain', plan.cut, null)
    return { kind: `get:${route.operationId}`, ...f, head: method === 'HEAD', expect: plan.extra.length > 0 ? 'any' : 'reply', retire: plan.extra.length > 0, describe: `${method} ${target.slice(0, 200)} ${JSON.stringify(headers).slice(0, 200)}` }
  }
  const headers = plan.k === 'token'
    ? [['authorization', `Bearer ${hostileToken(w, route, plan.token)}`] as [string, string]]
    : authHeaders(w, route, target, plan, phase)
  const body = bodyBytes(w, route, plan.k === 'token' ? { k: 'seed' } : plan.body, plan.i)
  const how: Framing = plan.k === 'token' ? 'plain' : plan.framing
  const f = frame(host(w), 'POST', target, [...headers, ...plan.extra], body, how, plan.cut, plan.k === 'token' ? 'application/json' : plan.contentType)
  const kind = plan.k === 'token' ? `token:${plan.token.k}` : `body:${plan.body.k}${how === 'plain' ? '' : `/${how}`}`
  return {
    kind: `${kind} → ${route.operationId}`,
    ...f,
    head: false,
    expect: plan.extra.length > 0 ? 'any' : f.expect,
    retire: f.retire || plan.extra.length > 0,
    describe: `POST ${target.slice(0, 200)} ${JSON.stringify(headers).slice(0, 300)} ${plan.extra.length > 0 ? JSON.stringify(plan.extra).slice(0, 200) : ''} body ${body?.subarray(0, 300).toString('latin1') ?? '(none)'}`
  }
}

// ------------------------------------------------------------------ lanes

class Stats {
  readonly sent = new Map<string, number>()
  readonly statuses = new Map<string, number>()
  readonly failures: string[] = []
  failureCount = 0
  connections = 0
  total = 0
  bump (m: Map<string, number>, k: string): void { m.set(k, (m.get(k) ?? 0) + 1) }
  fail (msg: string): void {
    this.failureCount++
    if (this.failures.length < 25) this.failures.push(msg)
  }
}

function table (m: Map<string, number>): string {
  return [...m.entries()].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k}=${v}`).join(', ')
}

async function shoot (w: World, conn: { c?: Conn }, shot: Shot, stats: Stats): Promise<void> {
  if (conn.c === undefined || conn.c.closed) {
    conn.c = await Conn.open(w.port)
    stats.connections++
  }
  const c = conn.c
  stats.total++
  stats.bump(stats.sent, shot.kind.replace(/ → .*/, ''))
  c.write(shot.bytes, shot.halfClose)
  const out = await c.reply(shot.head)
  if (out.t === 'reply') {
    stats.bump(stats.statuses, String(out.reply.status))
    const problem = replyProblem(out.reply, shot.head)
    if (problem !== undefined) stats.fail(`${shot.kind}: ${problem} — ${shot.describe}`)
    if (out.reply.headers.connection?.toLowerCase() === 'close') shot = { ...shot, retire: true }
  } else {
    stats.bump(stats.statuses, out.t)
    if (out.t === 'timeout') stats.fail(`${shot.kind}: no reply within ${REPLY_MS} ms (hang) — ${shot.describe}`)
    else if (shot.expect === 'reply') stats.fail(`${shot.kind}: connection closed without a reply — ${shot.describe}`)
  }
  if (shot.retire || out.t !== 'reply') {
    c.close()
    conn.c = undefined
  }
}

async function runLanes (w: World, total: number, seed: number, phase: 1 | 2, stats: Stats): Promise<void> {
  // Phase 2 is about what the keys let through: bodies to the POST routes only.
  const arb = phase === 1 ? planArb() : planArb().map((p): Plan => ({ ...p, k: 'route' }))
  await Promise.all(Array.from({ length: LANES }, async (_, k) => {
    const perLane = Math.floor(total / LANES) + (k < total % LANES ? 1 : 0)
    const conn: { c?: Conn } = {}
    const CHUNK = 100
    try {
      for (let done = 0; done < perLane; done += CHUNK) {
        const batch = fc.sample(arb, { numRuns: Math.min(CHUNK, perLane - done), seed: seed + k * 1_000_003 + done })
        for (const plan of batch) await shoot(w, conn, shotOf(w, plan, phase), stats)
      }
    } finally {
      conn.c?.close()
    }
  }))
}

/** Requests that never finish: the server's timeouts must answer (408) or close them, nothing else. */
async function stalls (w: World, n: number, stats: Stats): Promise<void> {
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const c = await Conn.open(w.port)
    stats.connections++
    stats.total++
    const route = `/api/credentials/v1/participants/acme/presentations/query`
    const bytes = i % 3 === 0
      ? Buffer.from(`GET /.well-known/did.json HTTP/1.1\r\nHost: ${host(w)}\r\nX-Slow: `) // headers never end
      : i % 3 === 1
        ? Buffer.from(`POST ${route} HTTP/1.1\r\nHost: ${host(w)}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"type":`) // body never ends
        : Buffer.from('') // never says anything
    c.write(bytes)
    const out = await c.reply(false, REPLY_MS)
    stats.bump(stats.sent, 'stall')
    stats.bump(stats.statuses, out.t === 'reply' ? String(out.reply.status) : out.t)
    if (out.t === 'timeout') stats.fail(`stall ${i % 3}: the server never timed the connection out`)
    if (out.t === 'reply') {
      const p = replyProblem(out.reply, false)
      if (p !== undefined || out.reply.status !== 408) stats.fail(`stall ${i % 3}: ${p ?? `status ${out.reply.status}`}`)
    }
    c.close()
  }))
}

/** Bodies over the 1 MiB limit: 413 too_large (declared) or the connection closed after it (chunked). */
async function oversized (w: World, n: number, stats: Stats): Promise<void> {
  for (let i = 0; i < n; i++) {
    const c = await Conn.open(w.port)
    stats.connections++
    stats.total++
    stats.bump(stats.sent, 'oversized')
    const body = Buffer.alloc(1024 * 1024 + 1 + i, 0x20)
    const headers: Array<[string, string]> = [['host', host(w)], ['content-type', 'application/json']]
    const chunked = i % 2 === 1
    headers.push(chunked ? ['transfer-encoding', 'chunked'] : ['content-length', String(body.length)])
    const payload = chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body
    c.write(rawRequest('POST', '/api/credentials/v1/participants/acme/presentations/query', headers, payload))
    const out = await c.reply(false)
    stats.bump(stats.statuses, out.t === 'reply' ? String(out.reply.status) : out.t)
    if (out.t !== 'reply' || out.reply.status !== 413 || replyProblem(out.reply, false) !== undefined) stats.fail(`oversized ${chunked ? 'chunked' : 'declared'}: ${JSON.stringify(out.t === 'reply' ? { status: out.reply.status, body: out.reply.body.toString() } : out)}`)
    c.close()
  }
}

function report (title: string, stats: Stats, secs: number, extra: string[]): string {
  return [
    `${title}: ${stats.total} requests on ${stats.connections} connections in ${secs.toFixed(1)} s`,
    `  sent: ${table(stats.sent)}`,
    `  outcomes: ${table(stats.statuses)}`,
    ...extra,
    ...stats.failures.map(f => `  FAILURE ${f}`)
  ].join('\n')
}

/** A request through fetch (valid requests after the fuzz). */
async function api (w: World, method: string, path: string, o: { key?: string, bearer?: string, body?: unknown } = {}): Promise<{ status: number, body: { [k: string]: unknown } }> {
  const headers: Record<string, string> = {}
  if (o.key !== undefined) headers['x-api-key'] = o.key
  if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`
  if (o.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`http://127.0.0.1:${w.port}${path}`, { method, headers, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}) })
  const text = await res.text()
  return { status: res.status, body: text === '' ? {} : JSON.parse(text) as { [k: string]: unknown } }
}

async function validRequestsWork (w: World): Promise<void> {
  const query = { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: [MEMBERSHIP] }
  const q = await api(w, 'POST', '/api/credentials/v1/participants/acme/presentations/query', { bearer: validBearer(w, { operationId: 'queryPresentation' } as Route), body: query })
  expect(q.status, JSON.stringify(q.body)).toBe(200)
  expect(q.body.presentation).toHaveLength(1)
  expect((await api(w, 'GET', '/org/acme/did.json')).status).toBe(200)
  expect((await api(w, 'GET', '/api/identity/v1/openapi.json')).status).toBe(200)
  const sts = await api(w, 'POST', '/api/sts/token', { key: w.beta.apiKey, body: { audience: w.acme.did, token: accessToken(w) } })
  expect(sts.status, JSON.stringify(sts.body)).toBe(200)
  const kp = await api(w, 'POST', '/api/identity/v1/participants/acme/keypairs', { key: w.acme.apiKey, body: { keyId: `after-${randomUUID().slice(0, 8)}` } })
  expect(kp.status, JSON.stringify(kp.body)).toBe(201)
  expect((await api(w, 'GET', '/api/identity/v1/participants', { key: w.adminKey })).status).toBe(200)
}

// ------------------------------------------------------------------ the fuzz

describe(`hostile HTTP input (${LONG ? 'long' : 'short'} profile, seed ${SEED})`, () => {
  it(`phase 1: ${PHASE1_REQUESTS} random and mutated requests without a key that may act: typed 4xx/2xx only, org records untouched, memory bounded`, async () => {
    const w = await makeWorld(FUZZ_LIMITS)
    // Warm up (JIT, ajv schemas, caches) before the heap baseline.
    await validRequestsWork(w)
    await orgOf(w.hub).idle()
    const before = await orgRecords(w.hub)
    const heap0 = await settledHeapMiB()
    let peakMiB = heap0
    const sampler = setInterval(() => { peakMiB = Math.max(peakMiB, process.memoryUsage().heapUsed / 2 ** 20) }, 100)
    const stats = new Stats()
    const t0 = performance.now()
    try {
      await Promise.all([
        runLanes(w, PHASE1_REQUESTS - STALLS - OVERSIZED, SEED, 1, stats),
        stalls(w, STALLS, stats),
        oversized(w, OVERSIZED, stats)
      ])
    } finally {
      clearInterval(sampler)
    }
    const secs = (performance.now() - t0) / 1000
    await eventually(() => w.server.inFlight === 0, 10_000, 'every request to be done with').catch((err: Error) => {
      throw new Error(`${err.message}: ${w.server.inFlight} in flight; handlers not returned: ${[...w.pending.values()].join(' | ') || 'none'}`)
    })
    await orgOf(w.hub).idle()
    const heap1 = await settledHeapMiB()
    const after = await orgRecords(w.hub)
    console.log(report(`hostile HTTP fuzz phase 1, ${LONG ? 'long' : 'short'} profile, seed ${SEED}`, stats, secs, [
      `  heap (after forced GC${forceGc === undefined ? ' — unavailable' : ''}): before ${heap0.toFixed(1)} MiB, after ${heap1.toFixed(1)} MiB (growth ${(heap1 - heap0).toFixed(1)} MiB), peak during ${peakMiB.toFixed(1)} MiB`,
      `  did:web resolutions refused (not hosted here): ${w.external.length}`,
      `  server error logs: ${w.errorLogs.length}${w.errorLogs.length > 0 ? ` e.g. ${w.errorLogs.slice(0, 3).join(' | ')}` : ''}`
    ]))

    expect(anomalies, anomalies.join('\n')).toEqual([])
    expect(stats.failures, `${stats.failureCount} failures`).toEqual([])
    expect(w.errorLogs).toEqual([])
    expect(stats.total).toBe(PHASE1_REQUESTS)
    // Nothing that was sent may have changed an organization record.
    expect([...after.keys()]).toEqual([...before.keys()])
    expect(after).toEqual(before)
    expect(heap1 - heap0).toBeLessThan(forceGc === undefined ? HEAP_GROWTH_BOUND_NO_GC_MIB : HEAP_GROWTH_BOUND_MIB)
    // And the server still does its job.
    await validRequestsWork(w)
    expect(await orgOf(w.hub).check()).toEqual([])
  }, LONG ? 1_800_000 : 60_000)

  it(`phase 2: ${PHASE2_REQUESTS} mutated bodies with keys that work: typed replies only, and the records stay consistent`, async () => {
    // Without the JSON depth limit: nesting bombs reach the handlers (defence in depth).
    const w = await makeWorld({ ...FUZZ_LIMITS, maxJsonDepth: 1_000_000 })
    const stats = new Stats()
    const t0 = performance.now()
    await runLanes(w, PHASE2_REQUESTS, SEED + 17, 2, stats)
    const secs = (performance.now() - t0) / 1000
    await eventually(() => w.server.inFlight === 0, 10_000, 'every request to be done with')
    await orgOf(w.hub).idle()
    const problems = await orgOf(w.hub).check()
    console.log(report(`hostile HTTP fuzz phase 2 (valid keys), seed ${SEED}`, stats, secs, [
      `  participants afterwards: ${(await orgOf(w.hub).listParticipants()).length}; doctor problems: ${problems.length}`,
      `  server error logs: ${w.errorLogs.length}${w.errorLogs.length > 0 ? ` e.g. ${w.errorLogs.slice(0, 3).join(' | ')}` : ''}`
    ]))
    expect(anomalies, anomalies.join('\n')).toEqual([])
    expect(stats.failures, `${stats.failureCount} failures`).toEqual([])
    expect(w.errorLogs).toEqual([])
    expect(problems).toEqual([])
    // A new participant can still be created and serve its DID document.
    const name = `after-${randomUUID().slice(0, 8)}`
    const c = await api(w, 'POST', '/api/identity/v1/participants', { key: w.adminKey, body: { participantId: name, did: `did:web:127.0.0.1%3A${w.port}:org:${name}`, active: true } })
    expect(c.status, JSON.stringify(c.body)).toBe(201)
    expect((await api(w, 'GET', `/org/${name}/did.json`)).status).toBe(200)
  }, LONG ? 900_000 : 60_000)
})

// ------------------------------------------------------------------ limits

/** One request on a fresh connection, through the raw client. */
async function once (w: World, method: string, path: string, headers: Array<[string, string]> = [], body?: string): Promise<Outcome> {
  const c = await Conn.open(w.port)
  try {
    const h: Array<[string, string]> = [['host', host(w)], ...headers]
    if (body !== undefined) h.push(['content-type', 'application/json'], ['content-length', String(Buffer.byteLength(body))])
    c.write(rawRequest(method, path, h, body === undefined ? undefined : Buffer.from(body)))
    return await c.reply(method === 'HEAD')
  } finally {
    c.close()
  }
}

function replyOf (o: Outcome): Reply {
  if (o.t !== 'reply') throw new Error(`expected a reply, got ${JSON.stringify(o)}`)
  const p = replyProblem(o.reply, false)
  if (p !== undefined && o.reply.body.length > 0) throw new Error(p)
  return o.reply
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- replies are inspected field by field
const json = (r: Reply): any => JSON.parse(r.body.toString('utf8'))

describe('rate limits (per client, injected clock and client key)', () => {
  const client = (req: IncomingMessage): string => String(req.headers['x-client'] ?? 'default')

  it('unit: the limiter forgets the oldest clients past maxPeers, and debit() goes into (bounded) debt', () => {
    let now = 0
    const l = new PeerRateLimiter({ ratePerSecond: 10, burst: 5, maxPeers: 100, now: () => now })
    for (let i = 0; i < 10_000; i++) {
      for (let k = 0; k < 5; k++) l.take(`p${i}`) // every bucket empty: nothing is swept as refilled
      expect(l.size).toBeLessThanOrEqual(100)
    }
    expect(l.take('p9999')).toBe(false) // recent clients are still remembered…
    expect(l.take('p0')).toBe(true) // …the oldest were forgotten: they start full again
    // debit: every failure counts, even past zero; the debt is paid back by the refill.
    for (let i = 0; i < 5; i++) l.debit('d')
    expect(l.retryAfterMs('d')).toBe(100)
    for (let i = 0; i < 20; i++) l.debit('d')
    expect(l.retryAfterMs('d')).toBe(2100)
    now += 2100
    expect(l.retryAfterMs('d')).toBe(0)
    // At most a minute of debt, however many failures.
    for (let i = 0; i < 100_000; i++) l.debit('e')
    expect(l.retryAfterMs('e')).toBeLessThanOrEqual(60_100)
    expect(() => new PeerRateLimiter({ ratePerSecond: 1, burst: 1, maxPeers: 0 })).toThrow(RangeError)
  })

  it('unit: clients are keyed by IPv4 address, IPv6 by /64', () => {
    expect(clientAddressKey('203.0.113.7')).toBe('203.0.113.7')
    expect(clientAddressKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
    expect(clientAddressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64')
    expect(clientAddressKey('2001:db8:1:2::99')).toBe('2001:db8:1:2::/64')
    expect(clientAddressKey('2001:0db8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64')
    expect(clientAddressKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(clientAddressKey('2001:db8:0:1::1')).not.toBe(clientAddressKey('2001:db8::1'))
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64')
    expect(clientAddressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(clientAddressKey('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64')
    expect(clientAddressKey(undefined)).toBe('unknown')
  })

  it('public routes: 429 with Retry-After once the bucket is empty, other clients and the x-api-key bucket unaffected, recovery as it refills', async () => {
    let now = 0
    const w = await makeWorld({ public: { ratePerSecond: 2, burst: 5 } }, { clientKey: client, clock: () => now })
    const get = async (who: string, path = '/org/acme/did.json', method = 'GET'): Promise<Reply> => replyOf(await once(w, method, path, [['x-client', who]]))
    for (let i = 0; i < 5; i++) expect((await get('A')).status).toBe(200)
    const limited = await get('A')
    expect(limited.status).toBe(429)
    expect(limited.headers['retry-after']).toBe('1')
    expect(json(limited)).toEqual({ error: { code: 'unavailable', message: expect.stringMatching(/^rate limit: at most 2 requests per second per client \(burst 5\) on public routes; retry in 500 ms$/), details: { reason: 'rate_limited', retryAfterMs: 500 } } })
    // Every public route and unknown paths share the bucket; HEAD gets the header without a body.
    expect((await get('A', '/api/identity/v1/openapi.json')).status).toBe(429)
    expect((await get('A', '/nothing/here')).status).toBe(429)
    const head = await get('A', '/org/acme/did.json', 'HEAD')
    expect(head.status).toBe(429)
    expect(head.headers['retry-after']).toBe('1')
    expect((await get('A', '/api/credentials/v1/participants/acme/presentations/query', 'POST')).status).toBe(429)
    // Another client has its own bucket; x-api-key routes have their own (default) bucket.
    expect((await get('B')).status).toBe(200)
    expect(replyOf(await once(w, 'GET', '/api/identity/v1/participants', [['x-client', 'A'], ['x-api-key', w.adminKey]])).status).toBe(200)
    // Refill: 2 tokens a second.
    now += 499
    expect((await get('A')).status).toBe(429)
    now += 1
    expect((await get('A')).status).toBe(200)
    expect((await get('A')).status).toBe(429)
    now += 60_000 // long idle: back to the burst, not beyond
    for (let i = 0; i < 5; i++) expect((await get('A')).status).toBe(200)
    expect((await get('A')).status).toBe(429)
    expect(w.errorLogs).toEqual([])
  })

  it('a 429 leaves the keep-alive connection usable (a refused body is drained, not misread as the next request)', async () => {
    let now = 0
    const w = await makeWorld({ public: { ratePerSecond: 1, burst: 1 } }, { clock: () => now })
    const c = await Conn.open(w.port)
    const query = JSON.stringify({ '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: [MEMBERSHIP] })
    const post = (): Buffer => rawRequest('POST', '/api/credentials/v1/participants/acme/presentations/query', [['host', host(w)], ['authorization', `Bearer ${validBearer(w, { operationId: 'queryPresentation' } as Route)}`], ['content-type', 'application/json'], ['content-length', String(query.length)]], Buffer.from(query))
    try {
      c.write(post())
      expect(replyOf(await c.reply(false)).status).toBe(200)
      c.write(post())
      const r = replyOf(await c.reply(false))
      expect(r.status).toBe(429)
      expect(r.headers.connection).not.toBe('close')
      now += 1000
      c.write(post())
      expect(replyOf(await c.reply(false)).status).toBe(200)
    } finally {
      c.close()
    }
  })

  it('failed authentications: after the burst of 401s every x-api-key request of that client gets 429 (even with the right key), others are unaffected; debt from concurrent failures is paid back', async () => {
    let now = 0
    const w = await makeWorld({ authFailures: { ratePerSecond: 1, burst: 3 } }, { clientKey: client, clock: () => now })
    const list = async (who: string, key: string): Promise<Reply> => replyOf(await once(w, 'GET', '/api/identity/v1/participants', [['x-client', who], ['x-api-key', key]]))
    for (let i = 0; i < 3; i++) expect((await list('A', `wrong-${i}`)).status).toBe(401)
    const refused = await list('A', w.adminKey)
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    expect(json(refused).error).toMatchObject({ code: 'unavailable', details: { reason: 'rate_limited', retryAfterMs: 1000 } })
    expect(json(refused).error.message).toMatch(/too many failed authentications/)
    // A participant key is refused just the same (the key is not even looked at).
    expect((await once(w, 'GET', '/api/identity/v1/participants/acme', [['x-client', 'A'], ['x-api-key', w.acme.apiKey]]).then(replyOf)).status).toBe(429)
    // Other clients, and this client's public requests, are unaffected.
    expect((await list('B', w.adminKey)).status).toBe(200)
    expect(replyOf(await once(w, 'GET', '/org/acme/did.json', [['x-client', 'A']])).status).toBe(200)
    // One token back after a second; successes cost nothing.
    now += 1000
    for (let i = 0; i < 10; i++) expect((await list('A', w.adminKey)).status).toBe(200)
    expect((await list('A', 'wrong-again')).status).toBe(401)
    expect((await list('A', w.adminKey)).status).toBe(429)

    // Many wrong keys at once (participant-shaped keys: their check waits on the store):
    // whatever got past the check before the bucket ran dry is still charged.
    now += 60_000
    const burst = await Promise.all(Array.from({ length: 12 }, async (_, i) => await list('C', `${b64u('acme')}.wrong-${i}`)))
    const n401 = burst.filter(r => r.status === 401).length
    expect(n401 + burst.filter(r => r.status === 429).length).toBe(12)
    expect(n401).toBeGreaterThanOrEqual(3)
    const next = await list('C', w.adminKey)
    expect(next.status).toBe(429)
    expect(json(next).error.details.retryAfterMs).toBe((n401 - 2) * 1000)
  })

  it(`the defaults: ${DEFAULT_HTTP_LIMITS.public === false ? '' : DEFAULT_HTTP_LIMITS.public.burst} public requests at once, then 429; ${DEFAULT_HTTP_LIMITS.authFailures === false ? '' : DEFAULT_HTTP_LIMITS.authFailures.burst} failed authentications, then 429`, async () => {
    const w = await makeWorld({}, { clock: () => 0 })
    expect(w.server.limits).toEqual(DEFAULT_HTTP_LIMITS)
    const pub = DEFAULT_HTTP_LIMITS.public as { burst: number, ratePerSecond: number }
    const fails = DEFAULT_HTTP_LIMITS.authFailures as { burst: number }
    // Eight keep-alive connections from 127.0.0.1: one client.
    const statuses: number[] = []
    await Promise.all(Array.from({ length: 8 }, async () => {
      const c = await Conn.open(w.port)
      try {
        for (let i = 0; i < (pub.burst + 40) / 8; i++) {
          c.write(rawRequest('GET', '/nothing', [['host', host(w)]]))
          statuses.push(replyOf(await c.reply(false)).status)
        }
      } finally {
        c.close()
      }
    }))
    expect(statuses.filter(s => s === 404)).toHaveLength(pub.burst)
    expect(statuses.filter(s => s === 429)).toHaveLength(40)
    for (let i = 0; i < fails.burst; i++) expect(replyOf(await once(w, 'GET', '/api/identity/v1/participants', [['x-api-key', `nope-${i}`]])).status).toBe(401)
    expect(replyOf(await once(w, 'GET', '/api/identity/v1/participants', [['x-api-key', w.adminKey]])).status).toBe(429)
  })
})

describe('connection and request limits', () => {
  it('at most maxConnections at once: one more is closed unanswered, and a closed one frees its slot', async () => {
    const w = await makeWorld({ maxConnections: 4, keepAliveTimeoutMs: 60_000 })
    const held: Conn[] = []
    try {
      for (let i = 0; i < 4; i++) {
        const c = await Conn.open(w.port)
        held.push(c)
        c.write(rawRequest('GET', '/org/acme/did.json', [['host', host(w)]]))
        expect(replyOf(await c.reply(false)).status).toBe(200)
      }
      const extra = await Conn.open(w.port)
      extra.write(rawRequest('GET', '/org/acme/did.json', [['host', host(w)]]))
      expect((await extra.reply(false, 5000)).t).toBe('closed')
      // The held connections still work.
      const first = held[0] as Conn
      first.write(rawRequest('GET', '/org/acme/did.json', [['host', host(w)]]))
      expect(replyOf(await first.reply(false)).status).toBe(200)
      first.close()
      await eventually(async () => {
        const o = await once(w, 'GET', '/org/acme/did.json')
        return o.t === 'reply' && o.reply.status === 200
      }, 10_000, 'a slot to free up')
    } finally {
      for (const c of held) c.close()
    }
  })

  it('headers: larger than maxHeaderBytes → 431 too_large; past maxHeadersCount further headers are ignored', async () => {
    const w = await makeWorld({})
    const big = replyOf(await once(w, 'GET', '/org/acme/did.json', [['x-big', 'a'.repeat(DEFAULT_HTTP_LIMITS.maxHeaderBytes)]]))
    expect(big.status).toBe(431)
    expect(json(big)).toEqual({ error: { code: 'too_large', message: 'the request headers exceed 16384 bytes' } })
    const junk = (n: number): Array<[string, string]> => Array.from({ length: n }, (_, i) => [`x-junk-${i}`, 'x'] as [string, string])
    expect(replyOf(await once(w, 'GET', '/api/identity/v1/participants', [...junk(10), ['x-api-key', w.adminKey]])).status).toBe(200)
    expect(replyOf(await once(w, 'GET', '/api/identity/v1/participants', [...junk(DEFAULT_HTTP_LIMITS.maxHeadersCount), ['x-api-key', w.adminKey]])).status).toBe(401)
  })

  it(`JSON bodies nested deeper than maxJsonDepth (${DEFAULT_HTTP_LIMITS.maxJsonDepth}) are refused before parsing; strings do not count`, async () => {
    const w = await makeWorld({})
    const sts = async (body: string): Promise<Reply> => replyOf(await once(w, 'POST', '/api/sts/token', [['x-api-key', w.beta.apiKey]], body))
    const d = DEFAULT_HTTP_LIMITS.maxJsonDepth
    const wrap = (n: number, leaf: string): string => '{"x":'.repeat(n - 1) + leaf + '}'.repeat(n - 1)
    const atLimit = await sts(wrap(d, `{"audience":"${w.acme.did}"}`))
    expect(json(atLimit).error.message).not.toMatch(/nested deeper/) // parsed, refused by the handler
    const over = await sts(wrap(d + 1, '{}'))
    expect(over.status).toBe(400)
    expect(json(over).error).toEqual({ code: 'bad_request', message: `the request body is nested deeper than ${d} levels` })
    const brackets = '[{'.repeat(100) + '"\\"]'
    const inString = await sts(JSON.stringify({ audience: w.acme.did, scope: [brackets] }))
    expect(json(inString).error.message).not.toMatch(/nested deeper/)
  })

  it('timeouts: unfinished headers or body get 408 (typed) and the connection closed; an idle keep-alive connection is closed', async () => {
    const w = await makeWorld({ headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 200 })
    for (const partial of [
      `GET /org/acme/did.json HTTP/1.1\r\nHost: ${host(w)}\r\nX-Slow: `,
      `POST /api/credentials/v1/participants/acme/presentations/query HTTP/1.1\r\nHost: ${host(w)}\r\nContent-Length: 100\r\n\r\n{"type":`
    ]) {
      const c = await Conn.open(w.port)
      c.write(Buffer.from(partial))
      const r = replyOf(await c.reply(false, 10_000))
      expect(r.status).toBe(408)
      expect(json(r)).toEqual({ error: { code: 'bad_request', message: 'the request did not arrive in time' } })
      expect((await c.reply(false, 10_000)).t).toBe('closed')
    }
    const c = await Conn.open(w.port)
    c.write(rawRequest('GET', '/org/acme/did.json', [['host', host(w)]]))
    expect(replyOf(await c.reply(false)).status).toBe(200)
    expect((await c.reply(false, 10_000)).t).toBe('closed')
    await eventually(() => w.server.inFlight === 0, 5000, 'the timed-out requests to be done with')
    expect(w.errorLogs).toEqual([])
  })
})

// ------------------------------------------------------------------ regressions (bugs this suite found)

describe('regressions found by the HTTP fuzz', () => {
  it('a request target new URL() cannot parse ("//[", "http://[") is a 400, not a 500 internal error', async () => {
    const w = await makeWorld({})
    for (const target of ['//[', 'http://[', '*', '//org/acme/did.json']) {
      const r = replyOf(await once(w, 'GET', target))
      expect(r.status, target).toBeLessThan(500)
      expect(json(r).error.code, target).not.toBe('internal')
    }
    expect(json(replyOf(await once(w, 'GET', '//['))).error).toEqual({ code: 'not_found', message: 'no route GET //[' })
    expect(json(replyOf(await once(w, 'GET', 'http://['))).error).toEqual({ code: 'bad_request', message: 'malformed request target' })
    expect(w.errorLogs).toEqual([])
  })

  it('a client that ends its side in the middle of a body is not logged as an internal error', async () => {
    const w = await makeWorld({})
    for (const [path, key] of [['/api/credentials/v1/participants/acme/presentations/query', undefined], ['/api/sts/token', w.beta.apiKey]] as const) {
      const c = await Conn.open(w.port)
      c.write(rawRequest('POST', path, [['host', host(w)], ['content-type', 'application/json'], ['content-length', '100'], ...(key !== undefined ? [['x-api-key', key] as [string, string]] : [])], Buffer.from('{"type":')), true)
      const o = await c.reply(false)
      if (o.t === 'reply') expect(replyProblem(o.reply, false)).toBeUndefined()
      else expect(o.t).toBe('closed')
      c.close()
    }
    await eventually(() => w.server.inFlight === 0, 5000, 'the cut requests to be done with')
    expect(w.errorLogs).toEqual([])
  })

  it('a client gone while its API key is being checked: the request is still finished (the body reader used to wait forever)', async () => {
    const w = await makeWorld({})
    const org = orgOf(w.hub)
    const check = org.authenticateApiKey.bind(org)
    let release = (): void => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    let entered = (): void => {}
    const inCheck = new Promise<void>(resolve => { entered = resolve })
    Object.defineProperty(org, 'authenticateApiKey', {
      configurable: true,
      value: async (key: string) => { entered(); await gate; return await check(key) }
    })
    try {
      const c = await Conn.open(w.port)
      c.write(rawRequest('POST', '/api/identity/v1/participants/acme/keypairs', [['host', host(w)], ['x-api-key', w.acme.apiKey], ['content-type', 'application/json'], ['content-length', '100']], Buffer.from('{"keyId":')))
      await inCheck
      c.socket.resetAndDestroy()
      await eventually(() => c.closed, 5000, 'the client socket to close')
      await new Promise(resolve => setTimeout(resolve, 200)) // the server sees the reset before the check returns
      release()
      await eventually(() => w.server.inFlight === 0, 5000, 'the request to be done with')
    } finally {
      release()
      Reflect.deleteProperty(org, 'authenticateApiKey')
    }
    expect(w.errorLogs).toEqual([])
    expect((await orgOf(w.hub).listKeyPairs('acme')).map(k => k.keyId)).toEqual(['key-1'])
  })

  it('a scope that is a deeply nested array (STS) is a 400, not a 500 (String() of it overflowed the stack)', async () => {
    expect(() => parseScope(nest(200_000) as unknown as string)).toThrow(BadRequestError)
    // Over HTTP, with and without the JSON depth limit in front of it.
    for (const maxJsonDepth of [DEFAULT_HTTP_LIMITS.maxJsonDepth, 1_000_000]) {
      const w = await makeWorld({ maxJsonDepth })
      const deep = '['.repeat(20_000) + ']'.repeat(20_000)
      for (const scope of [deep, `["${MEMBERSHIP}",${deep}]`, '[{"a":1}]', '[7]', '[null]']) {
        const r = replyOf(await once(w, 'POST', '/api/sts/token', [['x-api-key', w.beta.apiKey]], `{"audience":"${w.acme.did}","scope":${scope}}`))
        expect(r.status, scope.slice(0, 40)).toBe(400)
        expect(json(r).error.code).toBe('bad_request')
      }
      expect(w.errorLogs).toEqual([])
    }
  })

  it('requests Node refuses before the route table get the typed error body too (Expect, no Host, malformed request line, bad chunking)', async () => {
    const w = await makeWorld({})
    const expectation = replyOf(await once(w, 'POST', '/api/sts/token', [['expect', 'something-else']], '{}'))
    expect(expectation.status).toBe(417)
    expect(json(expectation)).toEqual({ error: { code: 'bad_request', message: 'only "Expect: 100-continue" is supported' } })
    const cont = replyOf(await once(w, 'GET', '/org/acme/did.json', [['expect', '100-continue']]))
    expect(cont.status).toBe(200)

    const c = await Conn.open(w.port)
    c.write(Buffer.from('GET /org/acme/did.json HTTP/1.1\r\n\r\n'))
    const noHost = replyOf(await c.reply(false))
    expect(noHost.status).toBe(400)
    expect(json(noHost)).toEqual({ error: { code: 'bad_request', message: 'an HTTP/1.1 request needs a Host header' } })
    c.close()
    // HTTP/1.0 has no Host requirement.
    const c10 = await Conn.open(w.port)
    c10.write(Buffer.from('GET /api/identity/v1/openapi.json HTTP/1.0\r\n\r\n'))
    expect(replyOf(await c10.reply(false)).status).toBe(200)
    c10.close()

    for (const bad of ['G ET / HTTP/1.1\r\n\r\n', `POST /api/sts/token HTTP/1.1\r\nHost: ${host(w)}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, `GET / HTTP/1.1\r\nHost: ${host(w)}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`]) {
      const k = await Conn.open(w.port)
      k.write(Buffer.from(bad))
      const r = replyOf(await k.reply(false))
      expect(r.status, bad).toBe(400)
      expect(json(r).error.code).toBe('bad_request')
      expect(r.headers.connection).toBe('close')
      k.close()
    }
    expect(w.errorLogs).toEqual([])
  })
})
