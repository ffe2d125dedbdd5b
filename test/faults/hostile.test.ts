/**
 * Hostile input (issue 7): random and mutated messages into the sync and
 * request decoders of a real hub, over real libp2p streams, and straight
 * into the pure decoders at a higher volume.
 *
 * Network part. A founding hub with data (playlists, an update, a delete, a
 * grant to the fuzzing app, a paired device that is then stopped) is hit by
 * dial-only libp2p clients: 3 stranger lanes and 1 lane holding the paired
 * device's key on sync (so valid pulls reach readBatch), 8 lanes on request.
 * A lane reuses its stream until the hub ends it (a hub ends a stream on
 * garbage by design: that is counted as handled), then opens another; request
 * lanes change their libp2p identity every ROTATE_EVERY messages so the
 * per-peer rate limit does not hide the decoders behind `unavailable`.
 * Messages (fast-check, seeded: FAULTS_SEED=<seed printed in the test name> regenerates
 * the same messages; tokens get fresh jti/iat, and lanes interleave freely):
 *   random bytes; length prefixes that are over-long or claim too much;
 *   random JSON, text, and non-UTF-8 frames; valid messages mutated as JSON
 *   (fields deleted, wrong types, huge numbers, deep nesting, extra keys such
 *   as __proto__) and as text (flipped, deleted, inserted, truncated
 *   characters); request tokens whose claims or header are mutated and then
 *   re-signed by the app (so they pass the signature and reach the handlers),
 *   and tokens mutated as text; commit envelopes and headers mutated inside
 *   write/update/delete requests and inside a pull's `as.proof`; nesting up
 *   to 50,000 deep; frames cut short; and frames over the size limit.
 * For every complete frame the outcome is predicted with the hub's own
 * validators (a frame that does not parse or validate must end the stream;
 * a valid request must be answered under its id; a valid pull answered);
 * every frame the hub sends must itself validate.
 * Asserted: no unhandled rejection or uncaught exception, no reply that
 * breaks the protocol, no expected reply missing, no `internal` error other
 * than the known bugs listed in KNOWN_BUGS, the replicated data
 * (dumpData) unchanged, heap growth after a forced GC bounded, and the hub
 * still serving requests and sync afterwards.
 *
 * Decoder part. parseCommit, verifyRequest, validatePull,
 * validateClientMessage and FrameChannel.receive (over an in-memory stream
 * pair) on arbitrary and mutated input: they return or throw a HubError
 * with a known code, nothing else.
 *
 * Volumes: short profile (npm test) 3,000 network messages and 2,000 runs
 * per decoder; FAULTS_LONG=1 50,000 network messages and 25,000 per decoder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { forceGc, settledHeapMiB, watchProcess } from './watch.js'
import * as fc from 'fast-check'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { streamPair } from '@libp2p/utils'
import type { Connection } from '@libp2p/interface'
import { ERROR_CODES, HubError, type ErrorCode } from '../../src/errors.js'
import { createHubLibp2p, type HubLibp2p } from '../../src/net/node.js'
import { FrameChannel } from '../../src/net/channel.js'
import { MAX_FRAME_BYTES, REQUEST_PROTOCOL, SYNC_PROTOCOL } from '../../src/net/constants.js'
import { validatePull, validateSyncServerMessage, type PullMessage } from '../../src/net/messages.js'
import { MAX_REQUEST_FRAME_BYTES } from '../../src/request/server.js'
import { signRequest, validateClientMessage, validateServerMessage, verifyRequest, TOKEN_TYPE, type RequestClaims } from '../../src/request/token.js'
import { parseCommit, signCommit, type CommitEnvelope, type UnsignedHeader } from '../../src/commits/commit.js'
import { KeyResolver, createDidResolver } from '../../src/identity/resolver.js'
import { Ed25519KeyPair } from '../../src/identity/keys.js'
import { b64u, concat, utf8, utf8d } from '../../src/identity/encoding.js'
import { createLogger } from '../../src/log.js'
import { asCommitId, asObjectId, type Did } from '../../src/ids.js'
import { cleanup, dumpData, playlist, tempHub } from '../helpers.js'
import { handleRequest } from '../../src/request/handler.js'
import { device, eventually, founder, stopAll, stopHub, type Running } from '../net-helpers.js'
import { framed, varint, Wire } from './wire.js'
import { jsonMutsArb, mutate, mutateText, textMutsArb, type Json, type Mut, type TextMut } from './mutate.js'

const LONG = process.env.FAULTS_LONG === '1'
const NETWORK_MESSAGES = LONG ? 50_000 : 3_000
const DECODER_RUNS = LONG ? 25_000 : 2_000
const SEED = process.env.FAULTS_SEED !== undefined ? Number(process.env.FAULTS_SEED) : Date.now() % 2_147_483_647
/** Frames really over the size limit, per protocol (4 MiB each: kept few). */
const OVERSIZED = LONG ? 12 : 2
const SYNC_LANES = 3
const REQUEST_LANES = 8
/** A request lane takes a new libp2p identity after this many messages (below REQUEST_BURST). */
const ROTATE_EVERY = 400
/** How long an expected reply may take under load before it counts as missing. */
const REPLY_MS = 10_000
/** A waiting pull of the device lane is held by design (up to 25 s); it is dropped after this. */
const HOLD_MS = 300
/** A request stream the client half-closed is never closed by the hub (bug: see limits.test.ts): wait this long. */
const HALF_CLOSED_MS = 25
/**
 * Heap growth allowed over the whole run, measured after a forced full GC with
 * every client stopped (measured: ≈7 MiB short, ≈10 MiB long). Without a GC
 * function the figure includes garbage, hence the looser bound.
 */
const HEAP_GROWTH_BOUND_MIB = 64
const HEAP_GROWTH_BOUND_NO_GC_MIB = 200

/**
 * Bugs this suite found whose fixes belong to files it does not own (see the
 * deterministic `it.fails` reproductions at the end of this file). A failure
 * matching one of these is counted and printed, not failed, so the fuzz still
 * catches anything new. Delete an entry once its bug is fixed.
 */
const KNOWN_BUGS: ReadonlyArray<{ id: string, re: RegExp }> = []
const knownBug = (message: string): string | undefined => KNOWN_BUGS.find(b => b.re.test(message))?.id

const CTX = 'https://schema.org'
// The closed list has one home (src/errors.ts); a code outside it is a bug this fuzz reports.
const KNOWN_CODES: readonly ErrorCode[] = ERROR_CODES

// ------------------------------------------------------------------ process watch

const anomalies = watchProcess()
afterAll(async () => {
  await stopAll()
  await cleanup()
})


// ------------------------------------------------------------------ encoding helpers

const text = (s: string): Uint8Array => utf8.encode(s)

/** A compact JWS over exactly this header and claims text, signed by `signer` (valid signature, whatever the content). */
function signJws (signer: Ed25519KeyPair, headerText: string, claimsText: string): string {
  const h = b64u(headerText)
  const p = b64u(claimsText)
  return `${h}.${p}.${b64u(signer.sign(utf8.encode(`${h}.${p}`)))}`
}

function nestedText (depth: number, leaf = '0'): string {
  return '['.repeat(depth) + leaf + ']'.repeat(depth)
}

// ------------------------------------------------------------------ mutations

function nest (depth: number): Json {
  let v: Json = 0
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

const evilValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 2 ** 32, 2 ** 32 - 1, -(2 ** 53), 1e-300, '', ' ', '0', 'null', '__proto__', 'constructor', 'did:key:z6Mk', 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', 'a.b.c', '\u0000', '\ud800', '\uffff', '💥', [], {}, [null], { '': '' }, 'pull', 'request', 'cancel', 'create', 'update', 'delete', 'EdDSA', TOKEN_TYPE) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2000 }).map(nest) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 50_000 }).map(n => 'x'.repeat(n)) }
)
const mutsArb: fc.Arbitrary<Mut[]> = jsonMutsArb(['__proto__', 'constructor', 't', 'id', 'jws', 'as', 'proof', 'params', 'commit', ''], evilValue)

// ------------------------------------------------------------------ the target and its valid messages

interface World {
  a: Running
  owner: Did
  app: Ed25519KeyPair
  deviceKey: Ed25519KeyPair
  objectIds: string[]
  heads: Map<string, string>
  head: number
  /** A real DeviceAuthorization envelope (a valid `as.proof`, for the wrong peer). */
  proof: CommitEnvelope
  addr: string
  errorLogs: string[]
}

type ReqMethod = [RequestClaims['interface'], RequestClaims['method'], (w: World, i: number) => Record<string, unknown>]

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length] as T

const REQUEST_METHODS: readonly ReqMethod[] = [
  ['Profile', 'read', () => ({})],
  ['Collections', 'read', (w, i) => ({ objectId: pick(w.objectIds, i) })],
  ['Collections', 'history', (w, i) => ({ objectId: pick(w.objectIds, i) })],
  ['Collections', 'export', (w, i) => ({ objectId: pick(w.objectIds, i) })],
  ['Collections', 'query', () => ({ context: CTX, type: 'MusicPlaylist', where: [{ field: 'name', op: 'eq', value: 'Fuzz 1' }], sort: '-created', limit: 5 })],
  ['Collections', 'query', () => ({ context: CTX, type: 'MusicPlaylist', where: [{ field: 'numTracks', op: 'gte', value: 1 }], limit: 2 })],
  ['Collections', 'subscribe', () => ({ context: CTX, type: 'MusicPlaylist', where: [{ field: 'name', op: 'eq', value: 'Fuzz 2' }] })],
  ['Collections', 'write', (w, i) => ({ commit: appCommit(w, 'create', i) })],
  ['Collections', 'update', (w, i) => ({ commit: appCommit(w, 'update', i) })],
  ['Collections', 'delete', (w, i) => ({ commit: appCommit(w, 'delete', i) })],
  ['Keys', 'list', () => ({ context: CTX, type: 'MusicPlaylist' })],
  ['Permissions', 'list', () => ({})],
  ['Permissions', 'grant', w => ({ grantee: w.app.did, context: CTX, type: 'Diary', allow: 'CRUD' })],
  ['Permissions', 'revoke', (w, i) => ({ grantId: pick(w.objectIds, i) })]
]

function commitHeader (w: World, op: 'create' | 'update' | 'delete', i: number): UnsignedHeader {
  const objectId = pick(w.objectIds, i)
  return {
    interface: 'Collections',
    context: CTX,
    type: 'MusicPlaylist',
    operation: op,
    committed_at: new Date().toISOString(),
    commit_strategy: 'lww',
    sub: w.owner,
    ...(op === 'create' ? {} : { object_id: asObjectId(objectId) }),
    deps: op === 'create' ? [] : [asCommitId(w.heads.get(objectId) as string)]
  }
}

/** A valid commit by the app (it has no C/U/D: the hub must refuse it, after parsing and verifying it). */
function appCommit (w: World, op: 'create' | 'update' | 'delete', i: number): CommitEnvelope {
  const payload = op === 'delete' ? new Uint8Array() : utf8.encode(JSON.stringify(playlist(`by app ${i}`)))
  return signCommit(commitHeader(w, op, i), payload, w.app).envelope
}

/** A commit envelope whose header was mutated and then signed again (a valid signature over a hostile header). */
function resignedCommit (w: World, i: number, muts: Mut[]): Json {
  const h = mutate({ alg: 'EdDSA', kid: w.app.kid, ...commitHeader(w, pick(['create', 'update', 'delete'] as const, i), i) } as unknown as Json, muts)
  const protectedB64 = b64u(JSON.stringify(h))
  const payloadB64 = b64u(JSON.stringify(playlist(`resigned ${i}`)))
  return { protected: protectedB64, payload: payloadB64, signature: b64u(w.app.sign(utf8.encode(`${protectedB64}.${payloadB64}`))) }
}

function claimsOf (w: World, i: number): RequestClaims {
  const [iface, method, params] = pick(REQUEST_METHODS, i)
  const now = Math.floor(Date.now() / 1000)
  return { iss: w.app.did, aud: w.owner, sub: w.owner, iat: now, exp: now + 60, jti: b64u(randomBytes(16)), interface: iface, method, params: params(w, i) }
}

const headerText = (w: World): string => JSON.stringify({ alg: 'EdDSA', kid: w.app.kid, typ: TOKEN_TYPE })

function validRequest (w: World, i: number): Json {
  const [iface, method, params] = pick(REQUEST_METHODS, i)
  return { t: 'request', id: i % 4_000_000_000, jws: signRequest(w.app, w.owner, iface, method, params(w, i)) }
}

function validPull (w: World, i: number, withAs: boolean): Json {
  return {
    t: 'pull', v: 1, tenant: w.owner, after: i % (w.head + 3), limit: 1 + (i % 1000), wait: i % 7 === 0,
    ...(withAs ? { as: { did: i % 2 === 0 ? w.owner : w.app.did, proof: w.proof as unknown as Json } } : {})
  }
}

// ------------------------------------------------------------------ plans → shots

type Plan =
  | { k: 'random-bytes', bytes: Uint8Array }
  | { k: 'bad-varint', run: number, tail: Uint8Array }
  | { k: 'length-claim', n: number, tail: Uint8Array }
  | { k: 'random-json', json: Json }
  | { k: 'framed-bytes', bytes: Uint8Array }
  | { k: 'random-text', s: string }
  | { k: 'mutated', i: number, muts: Mut[] }
  | { k: 'mutated-text', i: number, muts: TextMut[] }
  | { k: 'signed-claims', i: number, muts: Mut[] }
  | { k: 'signed-header', i: number, muts: Mut[] }
  | { k: 'jws-text', i: number, muts: TextMut[] }
  | { k: 'commit', i: number, resign: boolean, muts: Mut[] }
  | { k: 'deep', i: number, depth: number, where: 'bare' | 'field' | 'params' }
  | { k: 'truncated', i: number, cut: number }
  | { k: 'cancel', id: number }
  | { k: 'valid', i: number }

const bytesArb = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: 1, maxLength: max })

function plans (protocol: string): fc.Arbitrary<Plan> {
  const common = [
    { weight: 6, arbitrary: bytesArb(512).map((bytes): Plan => ({ k: 'random-bytes', bytes })) },
    { weight: 3, arbitrary: fc.record({ run: fc.integer({ min: 4, max: 64 }), tail: bytesArb(32) }).map((r): Plan => ({ k: 'bad-varint', ...r })) },
    { weight: 3, arbitrary: fc.record({ n: fc.integer({ min: MAX_FRAME_BYTES + 1, max: Number.MAX_SAFE_INTEGER }), tail: bytesArb(64) }).map((r): Plan => ({ k: 'length-claim', ...r })) },
    { weight: 6, arbitrary: (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>).map((json): Plan => ({ k: 'random-json', json })) },
    { weight: 3, arbitrary: bytesArb(512).map((bytes): Plan => ({ k: 'framed-bytes', bytes })) },
    { weight: 3, arbitrary: fc.string({ maxLength: 300, unit: 'binary' }).map((s): Plan => ({ k: 'random-text', s })) },
    { weight: 14, arbitrary: fc.record({ i: fc.nat(), muts: mutsArb }).map((r): Plan => ({ k: 'mutated', ...r })) },
    { weight: 8, arbitrary: fc.record({ i: fc.nat(), muts: textMutsArb }).map((r): Plan => ({ k: 'mutated-text', ...r })) },
    { weight: 8, arbitrary: fc.record({ i: fc.nat(), resign: fc.boolean(), muts: mutsArb }).map((r): Plan => ({ k: 'commit', ...r })) },
    { weight: 4, arbitrary: fc.record({ i: fc.nat(), depth: fc.integer({ min: 1000, max: 50_000 }), where: fc.constantFrom<'bare' | 'field' | 'params'>('bare', 'field', 'params') }).map((r): Plan => ({ k: 'deep', ...r })) },
    { weight: 5, arbitrary: fc.record({ i: fc.nat(), cut: fc.double({ min: 0, max: 0.999, noNaN: true }) }).map((r): Plan => ({ k: 'truncated', ...r })) },
    { weight: 4, arbitrary: fc.nat().map((i): Plan => ({ k: 'valid', i })) }
  ]
  if (protocol === SYNC_PROTOCOL) return fc.oneof(...common)
  return fc.oneof(
    ...common,
    { weight: 20, arbitrary: fc.record({ i: fc.nat(), muts: mutsArb }).map((r): Plan => ({ k: 'signed-claims', ...r })) },
    { weight: 3, arbitrary: fc.record({ i: fc.nat(), muts: mutsArb }).map((r): Plan => ({ k: 'signed-header', ...r })) },
    { weight: 8, arbitrary: fc.record({ i: fc.nat(), muts: textMutsArb }).map((r): Plan => ({ k: 'jws-text', ...r })) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((id): Plan => ({ k: 'cancel', id })) }
  )
}

type Expect = 'reply' | 'none' | 'end' | 'any'
interface Shot { kind: string, bytes: Uint8Array, halfClose: boolean, expect: Expect, id?: number, describe: string }

/** What the hub must do with one complete frame, decided with its own decoder and validators. */
function expectationOf (protocol: string, body: Uint8Array): { expect: Expect, id?: number } {
  if (body.length > (protocol === SYNC_PROTOCOL ? MAX_FRAME_BYTES : MAX_REQUEST_FRAME_BYTES)) return { expect: 'end' }
  let v: unknown
  try { v = JSON.parse(utf8d.decode(body)) } catch { return { expect: 'end' } }
  if (protocol === SYNC_PROTOCOL) return validatePull(v) ? { expect: 'reply' } : { expect: 'end' }
  if (!validateClientMessage(v)) return { expect: 'end' }
  return v.t === 'cancel' ? { expect: 'none' } : { expect: 'reply', id: v.id }
}

function frameShot (protocol: string, kind: string, body: Uint8Array): Shot {
  const e = expectationOf(protocol, body)
  return { kind, bytes: framed(body), halfClose: false, ...e, describe: `${kind}: ${Buffer.from(body.subarray(0, 300)).toString('utf8')}` }
}

function rawShot (kind: string, bytes: Uint8Array, expect: Expect, halfClose: boolean): Shot {
  return { kind, bytes, halfClose, expect, describe: `${kind}: hex ${Buffer.from(bytes.subarray(0, 120)).toString('hex')}` }
}

function shotOf (w: World, protocol: string, plan: Plan, deviceLane: boolean): Shot {
  const sync = protocol === SYNC_PROTOCOL
  const base = (i: number): Json => sync ? validPull(w, i, !deviceLane && i % 3 === 0) : validRequest(w, i)
  switch (plan.k) {
    case 'random-bytes': return rawShot(plan.k, plan.bytes, 'any', true)
    case 'bad-varint': return rawShot(plan.k, concat(new Uint8Array(plan.run).fill(0x80 | (plan.run % 0x7f)), plan.tail), 'any', true)
    case 'length-claim': return rawShot(plan.k, concat(varint(plan.n), plan.tail), 'end', false)
    case 'random-json': return frameShot(protocol, plan.k, text(JSON.stringify(plan.json)))
    case 'framed-bytes': return frameShot(protocol, plan.k, plan.bytes)
    case 'random-text': return frameShot(protocol, plan.k, text(plan.s))
    case 'mutated': return frameShot(protocol, plan.k, text(JSON.stringify(mutate(base(plan.i), plan.muts))))
    case 'mutated-text': return frameShot(protocol, plan.k, text(mutateText(JSON.stringify(base(plan.i)), plan.muts)))
    case 'valid': return frameShot(protocol, plan.k, text(JSON.stringify(base(plan.i))))
    case 'cancel': return frameShot(protocol, plan.k, text(JSON.stringify({ t: 'cancel', id: plan.id })))
    case 'truncated': {
      const body = text(JSON.stringify(base(plan.i)))
      const whole = framed(body)
      const keep = Math.max(1, Math.floor(whole.length * plan.cut))
      return rawShot(plan.k, whole.subarray(0, keep), 'any', true)
    }
    case 'deep': {
      if (plan.where === 'bare') return frameShot(protocol, plan.k, text(nestedText(plan.depth)))
      if (plan.where === 'field' || sync) {
        const t = JSON.stringify(base(plan.i))
        return frameShot(protocol, plan.k, text(`${t.slice(0, -1)},"x":${nestedText(plan.depth)}}`))
      }
      // Deep nesting inside signed claims: it passes the signature and reaches the handler.
      const c = JSON.stringify({ ...claimsOf(w, plan.i), params: {} })
      const claimsText = c.replace('"params":{}', `"params":{"objectId":${nestedText(plan.depth)},"where":${nestedText(plan.depth)},"context":"${CTX}","type":"MusicPlaylist"}`)
      return frameShot(protocol, plan.k, text(JSON.stringify({ t: 'request', id: plan.i % 1000, jws: signJws(w.app, headerText(w), claimsText) })))
    }
    case 'commit': {
      const commit = plan.resign ? resignedCommit(w, plan.i, plan.muts) : mutate(appCommit(w, pick(['create', 'update', 'delete'] as const, plan.i), plan.i) as unknown as Json, plan.muts)
      if (sync) {
        const pull = validPull(w, plan.i, false) as { [k: string]: Json }
        return frameShot(protocol, plan.k, text(JSON.stringify({ ...pull, as: { did: plan.i % 2 === 0 ? w.owner : w.app.did, proof: commit } })))
      }
      const [iface, method] = pick([['Collections', 'write'], ['Collections', 'update'], ['Collections', 'delete']] as const, plan.i)
      const claims = { ...claimsOf(w, plan.i), interface: iface, method, params: { commit } }
      return frameShot(protocol, plan.k, text(JSON.stringify({ t: 'request', id: plan.i % 1000, jws: signJws(w.app, headerText(w), JSON.stringify(claims)) })))
    }
    case 'signed-claims': {
      const claims = mutate(claimsOf(w, plan.i) as unknown as Json, plan.muts)
      return frameShot(protocol, plan.k, text(JSON.stringify({ t: 'request', id: plan.i % 1000, jws: signJws(w.app, headerText(w), JSON.stringify(claims)) })))
    }
    case 'signed-header': {
      const header = mutate({ alg: 'EdDSA', kid: w.app.kid, typ: TOKEN_TYPE }, plan.muts)
      return frameShot(protocol, plan.k, text(JSON.stringify({ t: 'request', id: plan.i % 1000, jws: signJws(w.app, JSON.stringify(header), JSON.stringify(claimsOf(w, plan.i))) })))
    }
    case 'jws-text': {
      const jws = mutateText(signRequest(w.app, w.owner, 'Collections', 'read', { objectId: pick(w.objectIds, plan.i) }), plan.muts)
      return frameShot(protocol, plan.k, text(JSON.stringify({ t: 'request', id: plan.i % 1000, jws })))
    }
  }
}

function oversizedShot (protocol: string, w: World, i: number): Shot {
  const max = protocol === SYNC_PROTOCOL ? MAX_FRAME_BYTES : MAX_REQUEST_FRAME_BYTES
  const msg = JSON.stringify(protocol === SYNC_PROTOCOL ? validPull(w, i, false) : validRequest(w, i))
  const body = concat(text(msg), new Uint8Array(max + 1 + (i % 1000) - msg.length).fill(0x20))
  return { kind: 'oversized', bytes: framed(body), halfClose: false, expect: 'end', describe: `oversized: ${body.length} bytes` }
}

// ------------------------------------------------------------------ lanes

class Stats {
  readonly sent = new Map<string, number>()
  readonly outcomes = new Map<string, number>()
  readonly ms = new Map<string, number>()
  readonly failures: string[] = []
  failureCount = 0
  streams = 0
  peers = 0
  bump (m: Map<string, number>, k: string): void { m.set(k, (m.get(k) ?? 0) + 1) }
  fail (what: string, shot: Shot): void {
    this.failureCount++
    if (this.failures.length < 8) this.failures.push(`${what} — ${shot.describe.slice(0, 400)}`)
  }

  total (): number { let n = 0; for (const v of this.sent.values()) n += v; return n }
}

class Lane {
  readonly protocol: string
  readonly stats: Stats
  readonly #addr: string
  readonly #key: () => Ed25519KeyPair
  readonly #rotateEvery: number | undefined
  readonly #device: boolean
  #node: HubLibp2p | undefined
  #conn: Connection | undefined
  #wire: Wire | undefined
  #shots = 0

  constructor (opts: { protocol: string, addr: string, stats: Stats, key: () => Ed25519KeyPair, rotateEvery?: number, device?: boolean }) {
    this.protocol = opts.protocol
    this.stats = opts.stats
    this.#addr = opts.addr
    this.#key = opts.key
    this.#rotateEvery = opts.rotateEvery
    this.#device = opts.device ?? false
  }

  get device (): boolean { return this.#device }

  async #connection (): Promise<Connection> {
    if (this.#rotateEvery !== undefined && this.#shots >= this.#rotateEvery) {
      this.#shots = 0
      await this.close()
    }
    if (this.#conn !== undefined && this.#conn.status === 'open') return this.#conn
    await Promise.resolve(this.#node?.stop()).catch(() => {})
    this.#node = await createHubLibp2p(this.#key(), null)
    this.stats.peers++
    this.#conn = await this.#node.dial(multiaddr(this.#addr), { signal: AbortSignal.timeout(REPLY_MS) })
    return this.#conn
  }

  async #stream (): Promise<Wire | undefined> {
    if (this.#wire !== undefined && !this.#wire.ended && this.#wire.stream.status === 'open' && this.#wire.stream.writeStatus === 'writable') return this.#wire
    this.#wire?.abort()
    this.#wire = undefined
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const conn = await this.#connection()
        const s = await conn.newStream(this.protocol, { signal: AbortSignal.timeout(REPLY_MS) })
        this.stats.streams++
        this.#wire = new Wire(s)
        return this.#wire
      } catch {
        // A slot not yet freed by the hub (stream limit), or a connection that went away: try again.
        this.stats.bump(this.stats.outcomes, 'stream-retry')
        await new Promise(resolve => setTimeout(resolve, 5 * (attempt + 1)))
      }
    }
    return undefined
  }

  #drop (): void {
    this.#wire?.abort()
    this.#wire = undefined
  }

  async shoot (shot: Shot): Promise<void> {
    const t0 = performance.now()
    try {
      await this.#shoot(shot)
    } finally {
      this.stats.ms.set(shot.kind, (this.stats.ms.get(shot.kind) ?? 0) + performance.now() - t0)
    }
  }

  async #shoot (shot: Shot): Promise<void> {
    const s = this.stats
    s.bump(s.sent, shot.kind)
    this.#shots++
    let wire: Wire | undefined
    for (let attempt = 0; attempt < 3 && wire === undefined; attempt++) {
      const w = await this.#stream()
      if (w === undefined) break
      if (await w.write(shot.bytes)) wire = w
      else this.#drop() // the hub ended the stream just before: send again on a new one
    }
    if (wire === undefined) { s.bump(s.outcomes, 'refused'); s.fail('could not deliver', shot); return }
    if (shot.halfClose) await wire.stream.close({ signal: AbortSignal.timeout(REPLY_MS) }).catch(() => {})
    if (shot.expect === 'none') { s.bump(s.outcomes, 'sent (no reply by design)'); return }

    const sync = this.protocol === SYNC_PROTOCOL
    const wait = shot.expect === 'reply' && sync && this.#device ? HOLD_MS : shot.halfClose && !sync ? HALF_CLOSED_MS : REPLY_MS
    for (;;) {
      const n = await wire.next(wait)
      if (n.t === 'timeout') {
        this.#drop()
        if (shot.expect === 'reply' && sync && this.#device) { s.bump(s.outcomes, 'held (waiting pull)'); return }
        if (shot.halfClose && !sync) { s.bump(s.outcomes, 'half-closed, left open by the hub'); return }
        s.bump(s.outcomes, 'timeout'); s.fail(`no ${shot.expect} within ${wait} ms`, shot)
        return
      }
      if (n.t === 'end') {
        this.#drop()
        s.bump(s.outcomes, 'stream ended by the hub')
        if (shot.expect === 'reply') s.fail('stream ended instead of a reply', shot)
        return
      }
      if (!(sync ? validateSyncServerMessage(n.value) : validateServerMessage(n.value))) {
        s.bump(s.outcomes, 'invalid reply'); s.fail(`the hub sent an invalid frame ${JSON.stringify(n.value).slice(0, 300)}`, shot)
        this.#drop()
        return
      }
      const m = n.value as { t: string, id?: number, code?: string, message?: string }
      if (!sync && 'id' in m && shot.id !== undefined && m.id !== shot.id) { s.bump(s.outcomes, 'stray (earlier subscription)'); continue }
      const code = m.t === 'error' ? `:${String(m.code)}` : ''
      s.bump(s.outcomes, `reply ${m.t}${code}`)
      if (m.t === 'error' && !(KNOWN_CODES as readonly string[]).includes(String(m.code))) s.fail(`unknown error code ${String(m.code)}`, shot)
      if (m.t === 'error' && m.code === 'internal') {
        const bug = knownBug(String(m.message))
        if (bug !== undefined) s.bump(s.outcomes, `KNOWN BUG (${bug})`)
        else s.fail(`internal error: ${String(m.message)}`, shot)
      }
      if (shot.expect === 'end' && !(sync && m.t === 'error')) s.fail(`a reply (${m.t}${code}) to a frame that must end the stream`, shot)
      if (sync && m.t === 'error') {
        // The hub closes a sync stream after an error: see it end.
        const after = await wire.next(REPLY_MS)
        if (after.t !== 'end') s.fail(`sync stream not ended after an error (${after.t})`, shot)
        this.#drop()
        return
      }
      if (shot.halfClose || shot.expect === 'any') { this.#drop(); return }
      return
    }
  }

  async close (): Promise<void> {
    this.#drop()
    await Promise.resolve(this.#node?.stop()).catch(() => {})
    this.#node = undefined
    this.#conn = undefined
  }
}

async function runLanes (w: World, lanes: Lane[], protocol: string, total: number, seed: number): Promise<void> {
  const arb = plans(protocol)
  await Promise.all(lanes.map(async (lane, k) => {
    const perLane = Math.floor(total / lanes.length) + (k < total % lanes.length ? 1 : 0)
    const CHUNK = 100
    for (let done = 0; done < perLane; done += CHUNK) {
      const batch = fc.sample(arb, { numRuns: Math.min(CHUNK, perLane - done), seed: seed + k * 1_000_003 + done })
      for (const plan of batch) await lane.shoot(shotOf(w, protocol, plan, lane.device))
    }
  }))
  // A few frames really over the limit, each on its own stream.
  for (let i = 0; i < OVERSIZED; i++) await (lanes[i % lanes.length] as Lane).shoot(oversizedShot(protocol, w, i))
}

function table (m: Map<string, number>): string {
  return [...m.entries()].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k}=${v}`).join(', ')
}

// ------------------------------------------------------------------ the test

describe(`hostile input (${LONG ? 'long' : 'short'} profile, seed ${SEED})`, () => {
  let w: World

  beforeAll(async () => {
    const errorLogs: string[] = []
    const logger = createLogger('hub', 'error', line => { errorLogs.push(line) })
    const a = await founder({ logger })
    const owner = a.hub.did as Did
    const objectIds: string[] = []
    const heads = new Map<string, string>()
    for (let i = 0; i < 12; i++) {
      const r = await a.hub.collections.create(playlist(`Fuzz ${i}`, ['One', 'Two'].slice(0, 1 + (i % 2))))
      objectIds.push(r.objectId)
      heads.set(r.objectId, r.commitId)
    }
    const u = await a.hub.collections.update(objectIds[0] as string, playlist('Fuzz 0 (edited)'))
    heads.set(objectIds[0] as string, u.commitId)
    const d = await a.hub.collections.delete(objectIds[11] as string)
    heads.set(objectIds[11] as string, d.commitId)
    await a.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'private' })
    const app = Ed25519KeyPair.generate()
    await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    // A paired device, stopped: its key lets one lane pull as a device (readBatch on fuzzed pulls).
    const dev = await device(a)
    const deviceKey = dev.hub.hubKey
    await eventually(() => a.hub.store.registry.device(dev.hub.hubDid) !== undefined, 15_000, 'the device to be registered')
    await stopHub(dev)
    const reg = a.hub.store.registry.devices().find(x => x.device === dev.hub.hubDid)
    const proof = JSON.parse(await a.hub.store.getEnvelope(reg?.objectId as string) as string) as CommitEnvelope
    w = { a, owner, app, deviceKey, objectIds, heads, head: a.hub.store.durableSeq, proof, addr: a.node.multiaddrs()[0] as string, errorLogs }
  }, 60_000)

  it(`${NETWORK_MESSAGES} random and mutated messages over real streams: nothing crashes, nothing is stored, memory stays bounded`, async () => {
    const before = await dumpData(w.a.hub)
    const heap0 = await settledHeapMiB()
    let peakMiB = heap0
    const sampler = setInterval(() => { peakMiB = Math.max(peakMiB, process.memoryUsage().heapUsed / 2 ** 20) }, 100)
    const t0 = performance.now()

    const syncStats = new Stats()
    const requestStats = new Stats()
    const syncLanes = [
      ...Array.from({ length: SYNC_LANES }, () => new Lane({ protocol: SYNC_PROTOCOL, addr: w.addr, stats: syncStats, key: () => Ed25519KeyPair.generate() })),
      new Lane({ protocol: SYNC_PROTOCOL, addr: w.addr, stats: syncStats, key: () => w.deviceKey, device: true })
    ]
    const requestLanes = Array.from({ length: REQUEST_LANES }, () => new Lane({ protocol: REQUEST_PROTOCOL, addr: w.addr, stats: requestStats, key: () => Ed25519KeyPair.generate(), rotateEvery: ROTATE_EVERY }))
    try {
      await Promise.all([
        runLanes(w, syncLanes, SYNC_PROTOCOL, Math.floor(NETWORK_MESSAGES / 2) - OVERSIZED, SEED),
        runLanes(w, requestLanes, REQUEST_PROTOCOL, Math.ceil(NETWORK_MESSAGES / 2) - OVERSIZED, SEED + 7)
      ])
    } finally {
      clearInterval(sampler)
      for (const l of [...syncLanes, ...requestLanes]) await l.close()
    }
    const seconds = (performance.now() - t0) / 1000

    // Every client is gone: the hub must drop their connections and streams.
    await eventually(() => w.a.node.libp2p.getConnections().length === 0, 15_000, 'the hub to drop the fuzzing connections')
    const heap1 = await settledHeapMiB()
    const after = await dumpData(w.a.hub)

    const sent = syncStats.total() + requestStats.total()
    console.log([
      `hostile network fuzz, ${LONG ? 'long' : 'short'} profile, seed ${SEED}: ${sent} messages in ${seconds.toFixed(1)} s`,
      `  sync    ${syncStats.total()} sent on ${syncStats.streams} streams, ${syncStats.peers} peers: ${table(syncStats.sent)}`,
      `          outcomes: ${table(syncStats.outcomes)}`,
      `          ms by kind: ${table(new Map([...syncStats.ms].map(([k, v]) => [k, Math.round(v)])))}`,
      `  request ${requestStats.total()} sent on ${requestStats.streams} streams, ${requestStats.peers} peers: ${table(requestStats.sent)}`,
      `          outcomes: ${table(requestStats.outcomes)}`,
      `          ms by kind: ${table(new Map([...requestStats.ms].map(([k, v]) => [k, Math.round(v)])))}`,
      `  heap (after forced GC${forceGc === undefined ? ' — unavailable' : ''}): before ${heap0.toFixed(1)} MiB, after ${heap1.toFixed(1)} MiB (growth ${(heap1 - heap0).toFixed(1)} MiB), peak during ${peakMiB.toFixed(1)} MiB`,
      `  hub error logs: ${w.errorLogs.length}${w.errorLogs.length > 0 ? ` e.g. ${w.errorLogs.slice(0, 3).join(' | ')}` : ''}`,
      ...[...syncStats.failures, ...requestStats.failures].map(f => `  FAILURE ${f}`)
    ].join('\n'))

    expect(sent).toBe(NETWORK_MESSAGES)
    expect(anomalies).toEqual([])
    expect([...syncStats.failures, ...requestStats.failures]).toEqual([])
    expect(after).toEqual(before)
    expect(heap1 - heap0).toBeLessThan(forceGc === undefined ? HEAP_GROWTH_BOUND_NO_GC_MIB : HEAP_GROWTH_BOUND_MIB)

    // The hub still serves: a granted read over a fresh connection, and a device pull.
    const node = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    try {
      const ch = new FrameChannel(await node.dialProtocol(multiaddr(w.addr), REQUEST_PROTOCOL), MAX_REQUEST_FRAME_BYTES)
      await ch.send({ t: 'request', id: 1, jws: signRequest(w.app, w.owner, 'Collections', 'read', { objectId: w.objectIds[1] as string }) })
      expect(await ch.receive(validateServerMessage)).toMatchObject({ t: 'response', id: 1, result: { objectId: w.objectIds[1] } })
    } finally {
      await node.stop()
    }
    const devNode = await createHubLibp2p(w.deviceKey, null)
    try {
      const ch = new FrameChannel(await devNode.dialProtocol(multiaddr(w.addr), SYNC_PROTOCOL), MAX_FRAME_BYTES)
      await ch.send({ t: 'pull', v: 1, tenant: w.owner, after: 0, limit: 1000, wait: false } satisfies PullMessage)
      const batch = await ch.receive(validateSyncServerMessage)
      expect(batch).toMatchObject({ t: 'batch', last: w.head, head: w.head })
    } finally {
      await devNode.stop()
    }
    expect(anomalies).toEqual([])
  }, LONG ? 900_000 : 120_000)
})

// ------------------------------------------------------------------ pure decoders

function onlyHubErrors (what: string, fn: () => void): void {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof HubError) || !KNOWN_CODES.includes(err.code)) throw new Error(`${what} threw a non-HubError: ${String((err as Error)?.stack ?? err)}`)
  }
}

const knownBugHits = new Map<string, number>()

async function onlyHubErrorsAsync (what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn()
  } catch (err) {
    if (err instanceof HubError && KNOWN_CODES.includes(err.code)) return
    const bug = knownBug(String((err as Error)?.message))
    if (bug !== undefined) { knownBugHits.set(bug, (knownBugHits.get(bug) ?? 0) + 1); return }
    throw new Error(`${what} threw a non-HubError: ${String((err as Error)?.stack ?? err)}`)
  }
}

describe(`pure decoders (${DECODER_RUNS} runs each, seed ${SEED})`, () => {
  const signer = Ed25519KeyPair.generate()
  const owner = Ed25519KeyPair.generate().did
  // did:web never leaves the machine here: every fetch fails.
  const resolver = new KeyResolver(createDidResolver({ fetch: async () => { throw new TypeError('no network in this test') }, timeoutMs: 50 }))
  const lookup = async (kid: string): Promise<Uint8Array> => await resolver.resolveKey(kid)
  const header: UnsignedHeader = { interface: 'Collections', context: CTX, type: 'MusicPlaylist', operation: 'create', committed_at: new Date().toISOString(), commit_strategy: 'lww', sub: owner, deps: [] }
  const validEnvelope = signCommit(header, utf8.encode(JSON.stringify(playlist('p'))), signer).envelope as unknown as Json
  const validClaims = (): Json => {
    const now = Math.floor(Date.now() / 1000)
    return { iss: signer.did, aud: owner, sub: owner, iat: now, exp: now + 60, jti: 'abcdefghijklmnopqrstuv', interface: 'Collections', method: 'read', params: { objectId: 'x' } }
  }
  const params = { numRuns: DECODER_RUNS, seed: SEED }

  it('parseCommit: arbitrary text, arbitrary values, mutated envelopes and re-signed hostile headers', () => {
    fc.assert(fc.property(fc.oneof(
      fc.string({ unit: 'binary', maxLength: 400 }),
      textMutsArb.map(m => mutateText(JSON.stringify(validEnvelope), m)),
      mutsArb.map(m => JSON.stringify(mutate(validEnvelope, m))),
      fc.integer({ min: 1000, max: 50_000 }).map(d => nestedText(d))
    ), s => { onlyHubErrors('parseCommit(text)', () => parseCommit(s)) }), params)
    fc.assert(fc.property(fc.oneof(
      fc.anything({ maxDepth: 3 }),
      mutsArb.map(m => mutate(validEnvelope, m)),
      mutsArb.map(m => {
        const h = mutate({ alg: 'EdDSA', kid: signer.kid, ...header } as unknown as Json, m)
        const p = b64u(JSON.stringify(h))
        const pl = b64u('{}')
        return { protected: p, payload: pl, signature: b64u(signer.sign(utf8.encode(`${p}.${pl}`))) }
      })
    ), v => { onlyHubErrors('parseCommit(value)', () => parseCommit(v)) }), params)
  })

  it('verifyRequest: arbitrary and mutated tokens, and hostile claims and headers with valid signatures', async () => {
    const valid = signRequest(signer, owner, 'Collections', 'read', { objectId: 'x' })
    await fc.assert(fc.asyncProperty(fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.array(fc.string({ maxLength: 40 }), { maxLength: 5 }).map(parts => parts.join('.')),
      textMutsArb.map(m => mutateText(valid, m)),
      mutsArb.map(m => signJws(signer, JSON.stringify({ alg: 'EdDSA', kid: signer.kid, typ: TOKEN_TYPE }), JSON.stringify(mutate(validClaims(), m)))),
      mutsArb.map(m => signJws(signer, JSON.stringify(mutate({ alg: 'EdDSA', kid: signer.kid, typ: TOKEN_TYPE }, m)), JSON.stringify(validClaims()))),
      fc.integer({ min: 1000, max: 50_000 }).map(d => signJws(signer, JSON.stringify({ alg: 'EdDSA', kid: signer.kid, typ: TOKEN_TYPE }), JSON.stringify(validClaims()).replace('"params":{', `"params":{"deep":${nestedText(d)},`)))
    ), async jws => { await onlyHubErrorsAsync('verifyRequest', async () => await verifyRequest(jws, lookup)) }), params)
    if (knownBugHits.size > 0) console.log(`verifyRequest: known bugs hit ${table(knownBugHits)}`)
  })

  it('validatePull and validateClientMessage: never throw, and what they accept has the declared shape', () => {
    const pull: Json = { t: 'pull', v: 1, tenant: owner, after: 3, limit: 10, wait: true, as: { did: owner, proof: validEnvelope } }
    const req: Json = { t: 'request', id: 1, jws: 'a.b.c' }
    fc.assert(fc.property(fc.oneof(
      fc.anything({ maxDepth: 4 }),
      mutsArb.map(m => mutate(pull, m)),
      mutsArb.map(m => mutate(req, m)),
      fc.integer({ min: 1000, max: 50_000 }).map(d => JSON.parse(nestedText(d)) as unknown)
    ), v => {
      if (validatePull(v)) {
        expect(Number.isSafeInteger(v.after) && v.after >= 0 && Number.isInteger(v.limit) && v.limit >= 1 && v.limit <= 1000 && typeof v.wait === 'boolean').toBe(true)
      }
      if (validateClientMessage(v)) {
        expect(Number.isInteger(v.id) && v.id >= 0 && v.id <= 4294967295).toBe(true)
        if (v.t === 'request') expect(typeof v.jws).toBe('string')
      }
    }), params)
  })

  it('FrameChannel.receive: arbitrary byte streams end in messages, null, or a HubError', async () => {
    const max = 1024
    const pullText = JSON.stringify({ t: 'pull', v: 1, tenant: owner, after: 0, limit: 10, wait: false })
    const chunks = fc.oneof(
      bytesArb(200),
      fc.string({ unit: 'binary', maxLength: 100 }).map(s => framed(text(s))),
      textMutsArb.map(m => framed(text(mutateText(pullText, m)))),
      fc.constant(framed(text(pullText))),
      fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER }).map(varint),
      fc.integer({ min: 1, max: 40 }).map(n => new Uint8Array(n).fill(0xff)),
      bytesArb(100).map(b => concat(varint(b.length + 5), b))
    )
    await fc.assert(fc.asyncProperty(fc.array(chunks, { minLength: 1, maxLength: 4 }), async parts => {
      const [out, inb] = await streamPair({ delay: 0 })
      const ch = new FrameChannel(inb, max)
      for (const p of parts) out.send(p)
      await out.close()
      for (let i = 0; i < 10; i++) {
        let r: PullMessage | null
        try {
          r = await ch.receive(validatePull, AbortSignal.timeout(2000))
        } catch (err) {
          if (!(err instanceof HubError)) throw new Error(`receive threw a non-HubError: ${String((err as Error)?.stack ?? err)} for ${parts.map(p => Buffer.from(p).toString('hex')).join(' | ')}`)
          expect(['bad_request', 'too_large']).toContain(err.code)
          break
        }
        if (r === null) break
        expect(r.t).toBe('pull')
      }
      inb.abort(new Error('done'))
    }), { ...params, numRuns: Math.ceil(DECODER_RUNS / 2) })
  })
})

// ------------------------------------------------------------------ known bugs

describe('bugs found by this suite (deterministic reproductions; remove `.fails` once fixed)', () => {
  const app = Ed25519KeyPair.generate()
  const header = JSON.stringify({ alg: 'EdDSA', kid: app.kid, typ: TOKEN_TYPE })
  const claims = (owner: string, params = '{}'): string => {
    const now = Math.floor(Date.now() / 1000)
    return JSON.stringify({ iss: app.did, aud: owner, sub: owner, iat: now, exp: now + 60, jti: b64u(randomBytes(16)), interface: 'Collections', method: 'read', params: {} })
      .replace('"params":{}', `"params":${params}`)
  }

  // src/request/token.ts: `header.alg` is read before checking that the header is an object.
  it('verifyRequest: a token whose header is JSON null is bad_request', async () => {
    const jws = signJws(app, 'null', claims(app.did))
    await expect(verifyRequest(jws, async () => app.publicKey)).rejects.toMatchObject({ code: 'bad_request' })
  })

  // src/request/handler.ts auditUnauthenticated: `claims.aud` on a parsed `null`.
  it('a token whose claims are JSON null is answered bad_request', async () => {
    const hub = await tempHub()
    await expect(handleRequest(hub, signJws(app, header, 'null'))).rejects.toMatchObject({ code: 'bad_request' })
  })

  // src/store/query.ts validate(): reads `f.field` before checking that the filter is an object.
  it('a granted query whose where holds null is answered bad_request', async () => {
    const hub = await tempHub()
    await hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    const jws = signRequest(app, hub.did, 'Collections', 'query', { context: CTX, type: 'MusicPlaylist', where: [null] })
    await expect(handleRequest(hub, jws)).rejects.toMatchObject({ code: 'bad_request' })
  })

  // src/request/handler.ts handleRequest: the audit target is `String(params.objectId ?? …)`,
  // which recurses through a nested array (and is unbounded in size: see limits.test.ts).
  it('a signed request whose objectId is a 10,000-deep array is answered bad_request and audited', async () => {
    const hub = await tempHub()
    const jws = signJws(app, header, claims(hub.did, `{"objectId":${nestedText(10_000)}}`))
    await expect(handleRequest(hub, jws)).rejects.toMatchObject({ code: 'bad_request' })
    expect(await hub.audit.list()).toHaveLength(1)
  })
})
