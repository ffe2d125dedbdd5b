/**
 * Status lists: the pure decoding and checking (status-list.ts), and the
 * checker (status-checker.ts) with an injected fetch and a stub DID
 * resolver — no network. Over-HTTP acceptance tests: test/status-list.test.ts.
 */
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { BadRequestError, TooLargeError } from '../errors.js'
import type { DidDocument } from '../identity/did-key.js'
import { b64u } from '../identity/encoding.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { signJwt } from './jwt.js'
import { StatusListChecker, type StatusCheckable, type StatusListCheckerOptions } from './status-checker.js'
import {
  bitAt, decodeEncodedList, encodeBitstring, entryIsSet, MAX_BITSTRING_BYTES, MIN_BITSTRING_ENTRIES, parseStatusListPayload, setBit,
  statusEntries, type StatusEntry, type StatusList
} from './status-list.js'
import { parseVcJwt } from './vc.js'

// ── helpers ─────────────────────────────────────────────────────────────

/** A bitstring of `bytes` bytes with the given bit positions set (bit 0 = MSB of byte 0). */
function bitstring (set: number[], bytes = 16 * 1024): Uint8Array {
  const b = new Uint8Array(bytes)
  for (const i of set) b[i >> 3] = (b[i >> 3] as number) | (0x80 >> (i & 7))
  return b
}

const bslEncode = (bits: Uint8Array): string => 'u' + b64u(gzipSync(bits))
const sl2021Encode = (bits: Uint8Array): string => b64u(gzipSync(bits))

const LIST_URL = 'https://status.example/lists/1'

function entry (o: Partial<Record<string, unknown>> = {}): Record<string, unknown> {
  return {
    id: `${LIST_URL}#7`,
    type: 'BitstringStatusListEntry',
    statusPurpose: 'revocation',
    statusListIndex: '7',
    statusListCredential: LIST_URL,
    ...o
  }
}

function list (o: Partial<StatusList> = {}): StatusList {
  return { format: 'BitstringStatusList', purposes: ['revocation'], bits: bitstring([7]), ...o }
}

// ── bitstrings ─────────────────────────────────────────────────────────

describe('bitAt: bit order', () => {
  it('bit 0 is the most significant bit of byte 0, bit 8 the most significant of byte 1', () => {
    const bits = new Uint8Array([0b1000_0000, 0b0000_0001, 0b0100_0000])
    expect(bitAt(bits, 0)).toBe(true)
    for (let i = 1; i < 15; i++) expect(bitAt(bits, i), `bit ${i}`).toBe(false)
    expect(bitAt(bits, 15)).toBe(true)
    expect(bitAt(bits, 16)).toBe(false)
    expect(bitAt(bits, 17)).toBe(true)
  })

  it('agrees with the helper that sets bits, at every position of a small list', () => {
    const set = [0, 3, 8, 9, 31, 63]
    const bits = bitstring(set, 8)
    for (let i = 0; i < 64; i++) expect(bitAt(bits, i), `bit ${i}`).toBe(set.includes(i))
  })

  it('an index at or past the end is a BadRequestError, not "not revoked"', () => {
    const bits = new Uint8Array(2)
    expect(() => bitAt(bits, 16)).toThrow(BadRequestError)
    expect(() => bitAt(bits, 1e9)).toThrow(/outside the status list/)
    expect(() => bitAt(bits, -1)).toThrow(BadRequestError)
    expect(() => bitAt(bits, 1.5)).toThrow(BadRequestError)
  })
})

describe('decodeEncodedList', () => {
  const bits = bitstring([0, 5, 131071])

  it('BitstringStatusList: multibase base64url ("u") of GZIP', () => {
    expect(decodeEncodedList('BitstringStatusList', bslEncode(bits))).toEqual(bits)
  })

  it('BitstringStatusList without the "u" prefix is refused', () => {
    expect(() => decodeEncodedList('BitstringStatusList', sl2021Encode(bits))).toThrow(/multibase/)
  })

  it('StatusList2021: plain base64url of GZIP; a "u"-prefixed one is tolerated (unambiguous: GZIP encodes as H4sI…)', () => {
    expect(sl2021Encode(bits).startsWith('H4sI')).toBe(true)
    expect(decodeEncodedList('StatusList2021', sl2021Encode(bits))).toEqual(bits)
    expect(decodeEncodedList('StatusList2021', bslEncode(bits))).toEqual(bits)
  })

  it('trailing base64 padding is tolerated', () => {
    const padded = Buffer.from(gzipSync(bits)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
    expect(decodeEncodedList('StatusList2021', padded)).toEqual(bits)
  })

  it('malformed encodedList: every shape is a BadRequestError', () => {
    const gz = b64u(gzipSync(bits))
    const cases: unknown[] = [
      undefined, 42, '', 'u',
      'u' + gz.slice(0, 20) + '+/' + gz.slice(20), // standard base64 characters
      'u' + b64u('not gzip at all'),
      'u' + gz.slice(0, gz.length - 12), // truncated GZIP stream
      'u' + b64u(gzipSync(new Uint8Array(0))) // an empty bitstring
    ]
    for (const c of cases) expect(() => decodeEncodedList('BitstringStatusList', c), String(c)).toThrow(BadRequestError)
  })

  it('a GZIP bomb stops at the bound (TooLargeError), default 16 MiB', () => {
    const bomb = gzipSync(new Uint8Array(MAX_BITSTRING_BYTES + 1))
    expect(bomb.length).toBeLessThan(64 * 1024) // ~16 KiB on the wire
    expect(() => decodeEncodedList('BitstringStatusList', 'u' + b64u(bomb))).toThrow(TooLargeError)
    const small = 'u' + b64u(gzipSync(new Uint8Array(4096)))
    expect(() => decodeEncodedList('BitstringStatusList', small, 4095)).toThrow(TooLargeError)
    expect(decodeEncodedList('BitstringStatusList', small, 4096)).toHaveLength(4096)
  })
})

describe('setBit and encodeBitstring: the issuer side, read back by the decoder', () => {
  it('setBit sets (and clears) exactly the bit bitAt reads, at every position of a small list', () => {
    for (let i = 0; i < 64; i++) {
      const bits = new Uint8Array(8)
      setBit(bits, i)
      expect(bits, `bit ${i}`).toEqual(bitstring([i], 8))
      for (let j = 0; j < 64; j++) expect(bitAt(bits, j), `bit ${j} after setting ${i}`).toBe(i === j)
      setBit(bits, i) // idempotent
      expect(bits).toEqual(bitstring([i], 8))
      setBit(bits, i, false)
      expect(bits).toEqual(new Uint8Array(8))
    }
  })

  it('setBit past the end throws like bitAt and changes nothing', () => {
    const bits = new Uint8Array(2)
    for (const i of [16, -1, 1.5, 1e9]) expect(() => { setBit(bits, i) }, String(i)).toThrow(BadRequestError)
    expect(bits).toEqual(new Uint8Array(2))
  })

  it('a list of the spec\'s minimum size round-trips through the decoder, in both formats', () => {
    expect(MIN_BITSTRING_ENTRIES).toBe(16 * 1024 * 8)
    const bits = new Uint8Array(MIN_BITSTRING_ENTRIES / 8)
    for (const i of [0, 7, 8, 4242, MIN_BITSTRING_ENTRIES - 1]) setBit(bits, i)
    const encoded = encodeBitstring(bits)
    expect(encoded).toMatch(/^uH4sI[A-Za-z0-9_-]+$/) // multibase "u" + base64url GZIP, no padding
    expect(encoded.length).toBeLessThan(200) // mostly zeros: a few dozen bytes of GZIP
    expect(decodeEncodedList('BitstringStatusList', encoded)).toEqual(bits)
    expect(decodeEncodedList('StatusList2021', encodeBitstring(bits, 'StatusList2021'))).toEqual(bits)
    expect(encodeBitstring(bits, 'StatusList2021').startsWith('H4sI')).toBe(true)
  })

  it('a list credential made with encodeBitstring parses, and its set bits read as set', () => {
    const bits = new Uint8Array(16)
    setBit(bits, 3)
    const list = parseStatusListPayload({
      vc: { type: ['VerifiableCredential', 'BitstringStatusListCredential'], credentialSubject: { type: 'BitstringStatusList', statusPurpose: 'revocation', encodedList: encodeBitstring(bits) } }
    })
    const entry: StatusEntry = { format: 'BitstringStatusList', purpose: 'revocation', index: 3, listUrl: 'https://issuer.example/status/1' }
    expect(entryIsSet(entry, list)).toBe(true)
    expect(entryIsSet({ ...entry, index: 4 }, list)).toBe(false)
  })

  it('an empty bitstring cannot be encoded', () => {
    expect(() => encodeBitstring(new Uint8Array(0))).toThrow(BadRequestError)
  })
})

// ── credentialStatus entries ───────────────────────────────────────────

describe('statusEntries', () => {
  it('no credentialStatus: nothing to check', () => {
    expect(statusEntries(undefined)).toEqual({ entries: [], ignored: [] })
  })

  it('one BitstringStatusListEntry', () => {
    expect(statusEntries(entry())).toEqual({
      entries: [{ format: 'BitstringStatusList', purpose: 'revocation', index: 7, listUrl: LIST_URL }],
      ignored: []
    })
  })

  it('a StatusList2021Entry, and a numeric index', () => {
    expect(statusEntries(entry({ type: 'StatusList2021Entry', statusListIndex: 12 })).entries)
      .toEqual([{ format: 'StatusList2021', purpose: 'revocation', index: 12, listUrl: LIST_URL }])
  })

  it('an array of entries: revocation and suspension checked, message and unknown types ignored', () => {
    const r = statusEntries([
      entry(),
      entry({ statusPurpose: 'suspension', statusListIndex: '8', statusListCredential: 'https://status.example/lists/2' }),
      entry({ statusPurpose: 'message', statusSize: 2, statusListIndex: 'not even checked' }),
      { type: 'RevocationList2020Status', revocationListIndex: '1' }
    ])
    expect(r.entries.map(e => [e.purpose, e.index, e.listUrl])).toEqual([
      ['revocation', 7, LIST_URL],
      ['suspension', 8, 'https://status.example/lists/2']
    ])
    expect(r.ignored).toEqual([
      { type: 'BitstringStatusListEntry', purpose: 'message', why: 'non_blocking_purpose' },
      { type: 'RevocationList2020Status', why: 'unknown_type' }
    ])
  })

  it('malformed blocking entries throw (the caller fails closed)', () => {
    const bad: unknown[] = [
      'a string',
      [entry(), 42],
      entry({ statusPurpose: undefined }),
      entry({ statusListIndex: undefined }),
      entry({ statusListIndex: '-1' }),
      entry({ statusListIndex: '1.5' }),
      entry({ statusListIndex: '0x10' }),
      entry({ statusListIndex: '99999999999999999999' }),
      entry({ statusListIndex: -3 }),
      entry({ statusListCredential: undefined }),
      entry({ statusListCredential: 'not a url' }),
      entry({ statusListCredential: 'ftp://status.example/1' }),
      entry({ statusSize: 2 })
    ]
    for (const b of bad) expect(() => statusEntries(b), JSON.stringify(b)).toThrow(BadRequestError)
  })
})

// ── status list credentials and entries ────────────────────────────────

describe('parseStatusListPayload', () => {
  const subject = (o: Record<string, unknown> = {}): Record<string, unknown> =>
    ({ id: `${LIST_URL}#list`, type: 'BitstringStatusList', statusPurpose: 'revocation', encodedList: bslEncode(bitstring([3])), ...o })

  it('VCDM 1.1 (vc claim) and VCDM 2.0 (top-level claims)', () => {
    const v11 = parseStatusListPayload({ vc: { id: LIST_URL, type: ['VerifiableCredential', 'BitstringStatusListCredential'], credentialSubject: subject() } })
    expect(v11).toMatchObject({ format: 'BitstringStatusList', purposes: ['revocation'], id: LIST_URL })
    expect(bitAt(v11.bits, 3)).toBe(true)
    const v20 = parseStatusListPayload({ '@context': [], type: ['VerifiableCredential', 'BitstringStatusListCredential'], credentialSubject: subject({ statusPurpose: ['revocation', 'suspension'], ttl: 1000 }) })
    expect(v20).toMatchObject({ purposes: ['revocation', 'suspension'], ttlMs: 1000 })
  })

  it('StatusList2021', () => {
    const l = parseStatusListPayload({ vc: { type: ['VerifiableCredential', 'StatusList2021Credential'], credentialSubject: subject({ type: 'StatusList2021', encodedList: sl2021Encode(bitstring([9])) }) } })
    expect(l.format).toBe('StatusList2021')
    expect(bitAt(l.bits, 9)).toBe(true)
  })

  it('refuses a wrong credential type, a wrong or missing subject type, a missing purpose', () => {
    const cases: Array<Record<string, unknown>> = [
      { vc: { type: ['VerifiableCredential'], credentialSubject: subject() } },
      { vc: { type: ['VerifiableCredential', 'StatusList2021Credential'], credentialSubject: subject() } },
      { vc: { type: ['VerifiableCredential', 'BitstringStatusListCredential'], credentialSubject: subject({ type: 'Something' }) } },
      { vc: { type: ['VerifiableCredential', 'BitstringStatusListCredential'], credentialSubject: subject({ statusPurpose: undefined }) } },
      { vc: { type: ['VerifiableCredential', 'BitstringStatusListCredential'], credentialSubject: [subject(), subject()] } },
      { vc: { type: ['VerifiableCredential', 'BitstringStatusListCredential'] } }
    ]
    for (const c of cases) expect(() => parseStatusListPayload(c), JSON.stringify(c)).toThrow(BadRequestError)
  })
})

describe('entryIsSet', () => {
  const e = (o: Partial<StatusEntry> = {}): StatusEntry => ({ format: 'BitstringStatusList', purpose: 'revocation', index: 7, listUrl: LIST_URL, ...o })

  it('revocation: set and clear', () => {
    expect(entryIsSet(e(), list())).toBe(true)
    expect(entryIsSet(e({ index: 6 }), list())).toBe(false)
  })

  it('suspension needs a list that carries suspension', () => {
    expect(() => entryIsSet(e({ purpose: 'suspension' }), list())).toThrow(/not suspension/)
    expect(entryIsSet(e({ purpose: 'suspension' }), list({ purposes: ['revocation', 'suspension'] }))).toBe(true)
  })

  it('a format mismatch or an index out of range throws', () => {
    expect(() => entryIsSet(e({ format: 'StatusList2021' }), list())).toThrow(BadRequestError)
    expect(() => entryIsSet(e({ index: 16 * 1024 * 8 }), list())).toThrow(/outside/)
  })
})

// ── the checker, with an injected fetch ────────────────────────────────

const ISSUER = 'did:web:issuer.example'
const OTHER = 'did:web:other.example'
const keys: Record<string, Ed25519KeyPair> = { [ISSUER]: Ed25519KeyPair.generate(), [OTHER]: Ed25519KeyPair.generate() }

async function resolveDocument (did: string): Promise<DidDocument> {
  const kp = keys[did]
  if (kp === undefined) throw new Error(`unknown DID ${did}`)
  return {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: did,
    verificationMethod: [{ id: `${did}#key-1`, type: 'JsonWebKey2020', controller: did, publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: b64u(kp.publicKey) } }]
  }
}

const T0 = Date.parse('2030-01-01T00:00:00Z')

/** A status list JWT VC signed by `signer` (default the issuer). */
function listJwt (o: { set?: number[], purpose?: string | string[], id?: string, issuer?: string, signer?: string, nbf?: number, exp?: number, ttl?: number } = {}): string {
  const issuer = o.issuer ?? ISSUER
  const signer = o.signer ?? issuer
  const kp = keys[signer] as Ed25519KeyPair
  return signJwt({ kid: `${signer}#key-1`, sign: d => kp.sign(d) }, {
    iss: issuer,
    nbf: o.nbf ?? T0 / 1000 - 3600,
    ...(o.exp !== undefined ? { exp: o.exp } : {}),
    vc: {
      '@context': ['https://www.w3.org/2018/credentials/v1'],
      ...(o.id !== undefined ? { id: o.id } : {}),
      type: ['VerifiableCredential', 'BitstringStatusListCredential'],
      credentialSubject: {
        type: 'BitstringStatusList',
        statusPurpose: o.purpose ?? ['revocation', 'suspension'],
        encodedList: bslEncode(bitstring(o.set ?? [])),
        ...(o.ttl !== undefined ? { ttl: o.ttl } : {})
      }
    }
  })
}

function cred (status: unknown, id = 'urn:uuid:c1', issuer = ISSUER): StatusCheckable {
  return { id, issuer, ...(status !== undefined ? { credentialStatus: status } : {}) }
}

interface FakeNet {
  fetch: typeof fetch
  calls: Array<{ url: string, init: RequestInit | undefined }>
  /** URL → response body (string) or a Response factory. */
  routes: Map<string, string | (() => Response)>
}

function fakeNet (): FakeNet {
  const calls: FakeNet['calls'] = []
  const routes: FakeNet['routes'] = new Map()
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input)
    calls.push({ url, init })
    const r = routes.get(url)
    if (r === undefined) return new Response('not found', { status: 404 })
    return typeof r === 'string' ? new Response(r, { headers: { 'content-type': 'application/vc+jwt' } }) : r()
  }
  return { fetch: f as typeof fetch, calls, routes }
}

function checker (net: FakeNet, clock: { t: number }, o: Partial<StatusListCheckerOptions> = {}): StatusListChecker {
  return new StatusListChecker({ resolveDocument, fetch: net.fetch, now: () => clock.t, ...o })
}

describe('StatusListChecker', () => {
  it('revoked, suspended, clear, message-only and no status at all', async () => {
    const net = fakeNet()
    net.routes.set(LIST_URL, listJwt({ set: [1, 2] }))
    const c = checker(net, { t: T0 })
    const rev = cred(entry({ statusListIndex: '1' }), 'urn:rev')
    const sus = cred(entry({ statusListIndex: '2', statusPurpose: 'suspension' }), 'urn:sus')
    const ok = cred(entry({ statusListIndex: '3' }), 'urn:ok')
    const msg = cred(entry({ statusListIndex: '1', statusPurpose: 'message', statusListCredential: 'https://never.example/' }), 'urn:msg')
    const none = cred(undefined, 'urn:none')
    expect(await c.check(rev)).toMatchObject({ presentable: false, reason: 'revoked', statusListCredential: LIST_URL })
    expect(await c.check(sus)).toMatchObject({ presentable: false, reason: 'suspended' })
    expect(await c.check(ok)).toEqual({ presentable: true })
    expect(await c.check(msg)).toEqual({ presentable: true })
    expect(await c.check(none)).toEqual({ presentable: true })
    expect((await c.presentable([rev, ok, sus, msg, none])).map(x => x.id)).toEqual(['urn:ok', 'urn:msg', 'urn:none'])
    expect(net.calls.map(x => x.url)).toEqual([LIST_URL]) // one fetch, cached; message lists are never fetched
  })

  it('fetches with a timeout, no redirects and an Accept header; parallel checks of one list share a fetch', async () => {
    const net = fakeNet()
    net.routes.set(LIST_URL, listJwt())
    const c = checker(net, { t: T0 })
    const creds = Array.from({ length: 5 }, (_, i) => cred(entry({ statusListIndex: String(i) }), `urn:${i}`))
    expect(await c.presentable(creds)).toHaveLength(5)
    expect(net.calls).toHaveLength(1)
    const init = net.calls[0]?.init
    expect(init?.redirect).toBe('error')
    expect(init?.signal).toBeInstanceOf(AbortSignal)
    expect(new Headers(init?.headers).get('accept')).toContain('application/vc+jwt')
  })

  it('honours the TTL (and a shorter ttl from the list itself), with an injected clock', async () => {
    const net = fakeNet()
    const clock = { t: T0 }
    net.routes.set(LIST_URL, listJwt())
    const c = checker(net, clock, { ttlMs: 60_000 })
    const x = cred(entry({ statusListIndex: '4' }))
    expect(await c.check(x)).toEqual({ presentable: true })
    net.routes.set(LIST_URL, listJwt({ set: [4] }))
    clock.t += 59_999
    expect(await c.check(x)).toEqual({ presentable: true }) // still the cached list
    clock.t += 1
    expect(await c.check(x)).toMatchObject({ reason: 'revoked' })
    expect(net.calls).toHaveLength(2)

    const u2 = 'https://status.example/lists/short'
    net.routes.set(u2, listJwt({ ttl: 1000 }))
    const y = cred(entry({ statusListCredential: u2 }))
    await c.check(y)
    clock.t += 1000
    await c.check(y)
    expect(net.calls.filter(k => k.url === u2)).toHaveLength(2)
  })

  it('failures are cached briefly, then retried', async () => {
    const net = fakeNet()
    const clock = { t: T0 }
    const c = checker(net, clock, { failureTtlMs: 10_000 })
    const x = cred(entry())
    expect(await c.check(x)).toMatchObject({ presentable: false, reason: 'unverifiable', code: 'unavailable', detail: expect.stringContaining('HTTP 404') })
    net.routes.set(LIST_URL, listJwt())
    expect(await c.check(x)).toMatchObject({ reason: 'unverifiable' })
    clock.t += 10_000
    expect(await c.check(x)).toEqual({ presentable: true })
    expect(net.calls).toHaveLength(2)
  })

  it('HTTPS only, except loopback hosts; no user info in the URL', async () => {
    const net = fakeNet()
    for (const u of ['http://127.0.0.1:9/l', 'http://localhost:9/l', 'http://[::1]:9/l']) net.routes.set(u, listJwt())
    const c = checker(net, { t: T0 })
    for (const u of ['http://127.0.0.1:9/l', 'http://localhost:9/l', 'http://[::1]:9/l']) {
      expect(await c.check(cred(entry({ statusListCredential: u }))), u).toEqual({ presentable: true })
    }
    const before = net.calls.length
    for (const u of ['http://status.example/l', 'http://10.0.0.1/l', 'https://user:pw@status.example/l']) {
      expect(await c.check(cred(entry({ statusListCredential: u }))), u).toMatchObject({ reason: 'unverifiable', code: 'bad_request' })
    }
    expect(net.calls.length).toBe(before)
  })

  it('a thrown fetch (network error, timeout, redirect refused) is unverifiable', async () => {
    const c = new StatusListChecker({ resolveDocument, now: () => T0, fetch: (async () => { throw new TypeError('fetch failed') }) as typeof fetch })
    expect(await c.check(cred(entry()))).toMatchObject({ reason: 'unverifiable', code: 'unavailable', detail: expect.stringContaining('fetch failed') })
  })

  it('responses past the size cap are refused, declared or streamed', async () => {
    const net = fakeNet()
    const big = 'x'.repeat(2048)
    net.routes.set('https://s.example/declared', () => new Response(big, { headers: { 'content-length': String(big.length) } }))
    net.routes.set('https://s.example/streamed', () => new Response(new ReadableStream({
      pull (ctl) { ctl.enqueue(new TextEncoder().encode(big)) } // endless
    })))
    const c = checker(net, { t: T0 }, { maxResponseBytes: 1024 })
    for (const u of ['https://s.example/declared', 'https://s.example/streamed']) {
      expect(await c.check(cred(entry({ statusListCredential: u }))), u).toMatchObject({ reason: 'unverifiable', code: 'too_large' })
    }
  })

  it('only JWT VCs: a data-integrity proof or no proof at all is unverifiable; an enveloped JWT is fine', async () => {
    const net = fakeNet()
    const json = { '@context': [], type: ['VerifiableCredential', 'BitstringStatusListCredential'], issuer: ISSUER, credentialSubject: {} }
    net.routes.set('https://s.example/di', JSON.stringify({ ...json, proof: { type: 'DataIntegrityProof' } }))
    net.routes.set('https://s.example/plain', JSON.stringify(json))
    net.routes.set('https://s.example/env', JSON.stringify({ '@context': [], type: 'EnvelopedVerifiableCredential', id: `data:application/vc+jwt,${listJwt({ set: [7] })}` }))
    const c = checker(net, { t: T0 })
    expect(await c.check(cred(entry({ statusListCredential: 'https://s.example/di' })))).toMatchObject({ reason: 'unverifiable', code: 'unsupported', detail: expect.stringContaining('data-integrity') })
    expect(await c.check(cred(entry({ statusListCredential: 'https://s.example/plain' })))).toMatchObject({ reason: 'unverifiable', code: 'unsupported' })
    expect(await c.check(cred(entry({ statusListCredential: 'https://s.example/env' })))).toMatchObject({ reason: 'revoked' })
  })

  it('the list must be signed by, and issued by, the credential\'s issuer', async () => {
    const net = fakeNet()
    net.routes.set('https://s.example/other', listJwt({ issuer: OTHER }))
    net.routes.set('https://s.example/forged', listJwt({ issuer: ISSUER, signer: OTHER }))
    const good = listJwt({ set: [7] })
    const [h, , s] = good.split('.')
    const tamperedPayload = b64u(JSON.stringify({ ...parseVcJwtPayload(good), vc: { ...(parseVcJwtPayload(good).vc as object), credentialSubject: { type: 'BitstringStatusList', statusPurpose: 'revocation', encodedList: bslEncode(bitstring([])) } } }))
    net.routes.set('https://s.example/tampered', `${h}.${tamperedPayload}.${s}`)
    const c = checker(net, { t: T0 })
    expect(await c.check(cred(entry({ statusListCredential: 'https://s.example/other' })))).toMatchObject({ reason: 'unverifiable', detail: expect.stringContaining('not by the credential\'s issuer') })
    expect(await c.check(cred(entry({ statusListCredential: 'https://s.example/forged' })))).toMatchObject({ reason: 'unverifiable', code: 'authentication_failed' })
    expect(await c.check(cred(entry({ statusListCredential: 'https://s.example/tampered' })))).toMatchObject({ reason: 'unverifiable', code: 'authentication_failed' })
  })

  it('the list credential must be valid when used, even when cached; and must be the list asked for', async () => {
    const net = fakeNet()
    const clock = { t: T0 }
    net.routes.set('https://s.example/soon', listJwt({ exp: T0 / 1000 + 10 }))
    net.routes.set('https://s.example/future', listJwt({ nbf: T0 / 1000 + 3600 }))
    net.routes.set('https://s.example/a', listJwt({ id: 'https://s.example/b' }))
    net.routes.set('https://s.example/b', listJwt({ id: 'https://s.example/b' }))
    const c = checker(net, clock)
    const soon = cred(entry({ statusListCredential: 'https://s.example/soon' }))
    expect(await c.check(soon)).toEqual({ presentable: true })
    clock.t += 10_000
    expect(await c.check(soon)).toMatchObject({ reason: 'unverifiable', detail: expect.stringContaining('expired') })
    expect(await c.check(cred(entry({ statusListCredential: 'https://s.example/future' })))).toMatchObject({ reason: 'unverifiable', detail: expect.stringContaining('not yet valid') })
    expect(await c.check(cred(entry({ statusListCredential: 'https://s.example/a' })))).toMatchObject({ reason: 'unverifiable', detail: expect.stringContaining('not https://s.example/a') })
    expect(await c.check(cred(entry({ statusListCredential: 'https://s.example/b' })))).toEqual({ presentable: true })
  })

  it('several entries: all must be clear; revoked is reported before suspended before unverifiable', async () => {
    const net = fakeNet()
    net.routes.set(LIST_URL, listJwt({ set: [1, 2] }))
    const c = checker(net, { t: T0 })
    const unreachable = entry({ statusListCredential: 'https://s.example/missing' })
    expect(await c.check(cred([unreachable, entry({ statusListIndex: '2', statusPurpose: 'suspension' }), entry({ statusListIndex: '1' })]))).toMatchObject({ reason: 'revoked' })
    expect(await c.check(cred([unreachable, entry({ statusListIndex: '2', statusPurpose: 'suspension' })]))).toMatchObject({ reason: 'suspended' })
    expect(await c.check(cred([entry({ statusListIndex: '3' }), unreachable]))).toMatchObject({ reason: 'unverifiable' })
    expect(await c.check(cred([entry({ statusListIndex: '3' }), entry({ statusListIndex: '4', statusPurpose: 'suspension' })]))).toEqual({ presentable: true })
  })

  it('a malformed entry, a purpose the list does not carry, or an index past its end: unverifiable', async () => {
    const net = fakeNet()
    net.routes.set(LIST_URL, listJwt({ purpose: 'revocation' }))
    const c = checker(net, { t: T0 })
    expect(await c.check(cred(entry({ statusListIndex: 'seven' })))).toMatchObject({ reason: 'unverifiable', code: 'bad_request' })
    expect(await c.check(cred(entry({ statusPurpose: 'suspension' })))).toMatchObject({ reason: 'unverifiable', detail: expect.stringContaining('not suspension') })
    expect(await c.check(cred(entry({ statusListIndex: String(16 * 1024 * 8) })))).toMatchObject({ reason: 'unverifiable', detail: expect.stringContaining('outside') })
  })

  it('the cache is bounded by entries and by bytes, least recently used out first', async () => {
    const net = fakeNet()
    for (const i of [1, 2, 3]) net.routes.set(`https://s.example/${i}`, listJwt())
    const c = checker(net, { t: T0 }, { maxEntries: 2 })
    const at = (i: number): StatusCheckable => cred(entry({ statusListCredential: `https://s.example/${i}` }))
    await c.check(at(1))
    await c.check(at(2))
    await c.check(at(1)) // 1 is now the most recently used
    await c.check(at(3)) // evicts 2
    expect(c.cacheSize).toBe(2)
    await c.check(at(1))
    expect(net.calls.filter(k => k.url.endsWith('/1'))).toHaveLength(1)
    await c.check(at(2))
    expect(net.calls.filter(k => k.url.endsWith('/2'))).toHaveLength(2)

    const byBytes = checker(net, { t: T0 }, { maxCachedBytes: 16 * 1024 * 2 }) // two 16 KiB lists
    for (const i of [1, 2, 3]) await byBytes.check(at(i))
    expect(byBytes.cacheSize).toBe(2)
  })

  it('logs every rejection with its reason: revoked at info, unverifiable at warn', async () => {
    const net = fakeNet()
    net.routes.set(LIST_URL, listJwt({ set: [7] }))
    const lines: Array<{ level: string, msg: string, fields: Record<string, unknown> | undefined }> = []
    const rec = (level: string) => (msg: string, fields?: Record<string, unknown>) => { lines.push({ level, msg, fields }) }
    const logger = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'), child: () => logger }
    const c = checker(net, { t: T0 }, { logger })
    await c.presentable([cred(entry(), 'urn:rev'), cred(entry({ statusListCredential: 'https://s.example/missing' }), 'urn:gone')])
    expect(lines.filter(l => l.level !== 'debug')).toEqual([
      { level: 'info', msg: expect.stringContaining('revoked'), fields: expect.objectContaining({ credentialId: 'urn:rev', reason: 'revoked', statusListCredential: LIST_URL }) },
      { level: 'warn', msg: expect.stringContaining('cannot be verified'), fields: expect.objectContaining({ credentialId: 'urn:gone', reason: 'unverifiable', code: 'unavailable' }) }
    ])
  })
})

function parseVcJwtPayload (jwt: string): Record<string, unknown> {
  parseVcJwt(jwt) // it is a well-formed VC
  return JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>
}
