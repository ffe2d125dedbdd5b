/**
 * Acceptance tests of the organization side's Decentralized Claims Protocol
 * endpoints over real HTTP on loopback: the presentation query (Resolution
 * API), the Storage API and the token service (STS), with an issuer, a
 * holder (acme) and a verifier (beta) hosted by one hub.
 *
 * Every VP is also checked by an independent implementation: did-jwt-vc,
 * with a did:web driver written here that fetches the DID documents from the
 * server over HTTP (none of the hub's own resolution code is involved).
 *
 * Time-dependent cases use tokens with crafted timestamps or the `now`
 * injection of orgServer, never waiting.
 */
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { verifyCredential, verifyPresentation } from 'did-jwt-vc'
import { Resolver, type DIDDocument, type DIDResolver } from 'did-resolver'
import { SignJWT, type JWK } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpServer } from '../src/http/app.js'
import { Hub } from '../src/hub.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { decodeJwt, signJwt, type JwtPayload, type JwtSigner } from '../src/org/jwt.js'
import { parseVcJwt } from '../src/org/vc.js'
import {
  CONTEXT_SCHEMA_ID, DCP_CONTEXT, validateCredentialMessage, validatePresentationQuery, validatePresentationResponse,
  type CredentialMessage, type PresentationQueryMessage
} from '../src/org/dcp/schemas.js'
import { cleanup } from './helpers.js'
import { orgServer, storeCredentialsAt, type ApiReply, type OrgServer } from './org-helpers.js'
import { orgOf } from '../src/org/hub-org.js'
import { orgKeys } from '../src/org/layout.js'

afterEach(cleanup)

const TYPE = 'org.eclipse.dspace.dcp.vc.type'
const ID = 'org.eclipse.dspace.dcp.vc.id'
const MEMBERSHIP = `${TYPE}:MembershipCredential`
const OTHER = `${TYPE}:OtherCredential`
const VC_V1 = 'https://www.w3.org/2018/credentials/v1'
const ISSUER_KEY_ID = 'vc-signing-1'
const DAY = 86_400

const IDENTITY = '/api/identity/v1/participants'
const queryPath = (pid: string): string => `/api/credentials/v1/participants/${pid}/presentations/query`
const storagePath = (pid: string): string => `/api/credentials/v1/participants/${pid}/credentials`

interface Party { id: string, did: string, apiKey: string }
interface HeldVc { id: string, jwt: string }

interface World {
  srv: OrgServer
  issuer: Party
  acme: Party
  beta: Party
  /** The issuer's own Ed25519 key; only its public half was imported into the hub. */
  issuerKey: { privateKey: KeyObject, publicKeyJwk: JWK, kid: string }
  /** Wall-clock seconds the credentials' validity windows are relative to. */
  t0: number
  creds: Record<'member' | 'expired' | 'future' | 'revoked' | 'other', HeldVc>
}

const seconds = (): number => Math.floor(Date.now() / 1000)

function expectStatus (r: ApiReply, status: number, reason?: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  if (status >= 400) expect(r.body?.error?.code, JSON.stringify(r.body)).toBeTypeOf('string')
  if (reason !== undefined) expect(r.body?.error?.details?.reason, JSON.stringify(r.body)).toBe(reason)
}

async function createParticipant (srv: OrgServer, name: string, active = true): Promise<Party> {
  const r = await srv.api('POST', IDENTITY, { key: srv.adminKey, body: { participantId: name, did: srv.did(name), active } })
  expectStatus(r, 201)
  expect(r.body).toMatchObject({ participantId: name, did: srv.did(name), state: active ? 'ACTIVATED' : 'CREATED' })
  return { id: name, did: srv.did(name), apiKey: r.body.apiKey as string }
}

/** A VCDM 1.1 JWT VC signed with jose by a key held outside the hub. */
async function issueVc (
  key: { privateKey: KeyObject, kid: string },
  issuerDid: string,
  subjectDid: string,
  o: { types: string[], nbf: number, exp?: number, id?: string }
): Promise<HeldVc> {
  const id = o.id ?? `urn:uuid:${randomUUID()}`
  const payload: JwtPayload = {
    iss: issuerDid,
    sub: subjectDid,
    jti: id,
    nbf: o.nbf,
    ...(o.exp !== undefined ? { exp: o.exp } : {}),
    vc: {
      '@context': [VC_V1],
      type: ['VerifiableCredential', ...o.types],
      credentialSubject: { id: subjectDid, memberOf: 'dataspace' }
    }
  }
  const jwt = await new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid }).sign(key.privateKey)
  return { id, jwt }
}

/** Store `vc` for acme through an OrgStore on the hub's records whose clock reads `atMs`. */
async function storeAt (w: Pick<World, 'srv'>, vc: HeldVc, atMs: number): Promise<void> {
  expect(await storeCredentialsAt(w.srv, 'acme', [vc.jwt], atMs)).toEqual([vc.id])
}

async function storeViaIdentityApi (w: Pick<World, 'srv' | 'acme'>, vc: HeldVc): Promise<void> {
  const r = await w.srv.api('POST', `${IDENTITY}/acme/credentials`, { key: w.acme.apiKey, body: { jwt: vc.jwt } })
  expectStatus(r, 201)
  expect(r.body.credentialId).toBe(vc.id)
}

/**
 * One server; issuer, acme (holder) and beta (verifier) ACTIVATED through
 * the admin API; the issuer's imported key; acme's credentials: a valid
 * MembershipCredential, an expired one, a not-yet-valid one, a revoked one
 * and a valid OtherCredential.
 */
async function world (opts: { now?: () => number } = {}): Promise<World> {
  const srv = await orgServer(opts)
  const issuer = await createParticipant(srv, 'issuer')
  const acme = await createParticipant(srv, 'acme')
  const beta = await createParticipant(srv, 'beta')

  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const publicKeyJwk = publicKey.export({ format: 'jwk' }) as JWK
  const imported = await srv.api('POST', `${IDENTITY}/issuer/keypairs`, { key: issuer.apiKey, body: { keyId: ISSUER_KEY_ID, publicKeyJwk, activate: true } })
  expectStatus(imported, 201)
  expect(imported.body).toMatchObject({ keyId: ISSUER_KEY_ID, state: 'ACTIVATED', hasPrivateKey: false, kid: `${issuer.did}#${ISSUER_KEY_ID}` })
  const issuerKey = { privateKey, publicKeyJwk, kid: `${issuer.did}#${ISSUER_KEY_ID}` }

  const t0 = seconds()
  const vc = async (types: string[], nbf: number, exp?: number): Promise<HeldVc> =>
    await issueVc(issuerKey, issuer.did, acme.did, { types, nbf, ...(exp !== undefined ? { exp } : {}) })
  const creds = {
    member: await vc(['MembershipCredential'], t0 - 3600, t0 + 30 * DAY),
    expired: await vc(['MembershipCredential'], t0 - 2 * DAY, t0 - DAY),
    future: await vc(['MembershipCredential'], t0 + DAY, t0 + 2 * DAY),
    revoked: await vc(['MembershipCredential'], t0 - 3600, t0 + 30 * DAY),
    other: await vc(['OtherCredential'], t0 - 3600)
  }
  const w: World = { srv, issuer, acme, beta, issuerKey, t0, creds }
  for (const c of [creds.member, creds.revoked, creds.other]) await storeViaIdentityApi(w, c)
  // The store refuses credentials that are expired or start more than 60 s ahead, so these two go in
  // through a store whose clock says they were valid then: the expired one 1.5 days ago, while it was
  // valid; the future one by a writer whose clock ran a day and a half ahead. What the presentation
  // query must prove is that it still holds both back by its own clock.
  await storeAt(w, creds.expired, (t0 - 1.5 * DAY) * 1000)
  await storeAt(w, creds.future, (t0 + 1.5 * DAY) * 1000)
  const rev = await srv.api('POST', `${IDENTITY}/acme/credentials/${encodeURIComponent(creds.revoked.id)}/revoke`, { key: acme.apiKey })
  expectStatus(rev, 200)
  expect(rev.body).toMatchObject({ credentialId: creds.revoked.id, state: 'REVOKED' })
  return w
}

// ── token service ───────────────────────────────────────────────────────

async function sts (w: Pick<World, 'srv'>, key: string, body: unknown): Promise<ApiReply> {
  return await w.srv.api('POST', '/api/sts/token', { key, body })
}

/** The holder (default acme) grants `scopes` to the verifier (default beta): its access token. */
async function grant (w: World, scopes: string[], o: { holder?: Party, verifier?: Party } = {}): Promise<string> {
  const holder = o.holder ?? w.acme
  const verifier = o.verifier ?? w.beta
  const r = await sts(w, holder.apiKey, { audience: verifier.did, scope: scopes })
  expectStatus(r, 200)
  expect(r.body.accessToken).toBeTypeOf('string')
  return r.body.accessToken as string
}

/** The verifier's (default beta) self-issued ID token for the holder (default acme), carrying `accessToken`. */
async function present (w: World, accessToken: string, o: { holder?: Party, verifier?: Party } = {}): Promise<string> {
  const holder = o.holder ?? w.acme
  const verifier = o.verifier ?? w.beta
  const r = await sts(w, verifier.apiKey, { audience: holder.did, token: accessToken })
  expectStatus(r, 200)
  expect(r.body.accessToken).toBeUndefined()
  return r.body.idToken as string
}

/** acme's access token for beta, inside beta's ID token for acme: the Bearer of a query. */
async function bearerFor (w: World, scopes: string[]): Promise<string> {
  return await present(w, await grant(w, scopes))
}

// ── presentation query ──────────────────────────────────────────────────

/** A PresentationQueryMessage, checked against the official schema before it is sent. */
function queryMessage (scope: string[]): PresentationQueryMessage {
  return validatePresentationQuery({ '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope })
}

async function query (w: Pick<World, 'srv'>, bearer: string | undefined, body: unknown, pid = 'acme'): Promise<ApiReply> {
  const r = await w.srv.api('POST', queryPath(pid), { ...(bearer !== undefined ? { bearer } : {}), body })
  if (r.status === 200) validatePresentationResponse(r.body)
  return r
}

/** Query acme for `requested` with a fresh bearer granting `granted`; expects 200 and returns the one VP. */
async function presentation (w: World, requested: string[], granted = requested): Promise<string> {
  const r = await query(w, await bearerFor(w, granted), queryMessage(requested))
  expectStatus(r, 200)
  expect(r.body.presentation).toHaveLength(1)
  const vp = r.body.presentation[0]
  expect(vp).toBeTypeOf('string')
  return vp as string
}

/** The ids of the credentials inside a JWT VP. */
function presentedIds (vp: string): string[] {
  const p = decodeJwt(vp).payload as { vp: { verifiableCredential: string[] } }
  return p.vp.verifiableCredential.map(jwt => parseVcJwt(jwt).id).sort()
}

const sorted = (...ids: string[]): string[] => [...ids].sort()

// ── independent verification (did-jwt-vc + a did:web driver over HTTP) ──

/**
 * A did:web driver in the spirit of `web-did-resolver`, but over plain HTTP:
 * the server listens on loopback, where did:web resolvers allow http. Every
 * URL it fetches is recorded in `fetched`.
 */
function didWebOverHttp (fetched: string[]): DIDResolver {
  return async (did, parsed) => {
    const [host = '', ...path] = parsed.id.split(':').map(s => decodeURIComponent(s))
    const url = `http://${host}/${path.length === 0 ? '.well-known' : path.map(encodeURIComponent).join('/')}/did.json`
    fetched.push(url)
    const res = await fetch(url, { headers: { accept: 'application/did+json, application/json' } })
    if (res.status !== 200) {
      await res.body?.cancel()
      return { didResolutionMetadata: { error: 'notFound', message: `${url} answered ${res.status}` }, didDocument: null, didDocumentMetadata: {} }
    }
    const doc = await res.json() as DIDDocument
    if (doc.id !== did) return { didResolutionMetadata: { error: 'invalidDid', message: `document id ${doc.id} ≠ ${did}` }, didDocument: null, didDocumentMetadata: {} }
    return { didResolutionMetadata: { contentType: 'application/did+json' }, didDocument: doc, didDocumentMetadata: {} }
  }
}

function independentResolver (fetched: string[] = []): Resolver {
  return new Resolver({ web: didWebOverHttp(fetched) }, { cache: false })
}

// ── crafted tokens ──────────────────────────────────────────────────────

/**
 * A self-issued ID token from beta to acme, built by hand: the valid claims
 * (carrying a real access token) with `overrides` applied (`undefined`
 * removes a claim), signed with beta's real signing key unless `signer`.
 */
async function craftIdToken (w: World, accessToken: string, overrides: Record<string, unknown> = {}, signer?: JwtSigner): Promise<string> {
  const now = seconds()
  const payload: Record<string, unknown> = {
    iss: w.beta.did,
    sub: w.beta.did,
    aud: w.acme.did,
    iat: now,
    exp: now + 300,
    jti: `urn:uuid:${randomUUID()}`,
    token: accessToken
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete payload[k]
    else payload[k] = v
  }
  return signJwt(signer ?? await orgOf(w.srv.hub).signingKey('beta'), payload)
}

/** An access token from acme to beta, built by hand and signed with acme's real key unless `signer`. */
async function craftAccessToken (w: World, overrides: Record<string, unknown> = {}, signer?: JwtSigner): Promise<string> {
  const now = seconds()
  const payload: Record<string, unknown> = {
    iss: w.acme.did,
    sub: w.beta.did,
    aud: w.acme.did,
    scope: MEMBERSHIP,
    iat: now,
    exp: now + 300,
    jti: `urn:uuid:${randomUUID()}`
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete payload[k]
    else payload[k] = v
  }
  return signJwt(signer ?? await orgOf(w.srv.hub).signingKey('acme'), payload)
}

/** A signer for `kid` whose key is in nobody's DID document. */
function rogueSigner (kid: string): JwtSigner {
  const kp = Ed25519KeyPair.generate()
  return { kid, sign: d => kp.sign(d) }
}

// ═══════════════════════════════════════════════════════════════════════

describe('DCP presentation query: happy path', () => {
  it('answers 200 with one JWT VP for beta holding exactly the valid, granted, non-revoked MembershipCredential', async () => {
    const w = await world()
    const accessToken = await grant(w, [MEMBERSHIP])
    const idToken = await present(w, accessToken)
    const msg = queryMessage([MEMBERSHIP])
    const before = seconds()
    const r = await query(w, idToken, msg)
    const after = seconds()
    expectStatus(r, 200)

    // The body is a PresentationResponseMessage: through the product's validator…
    expect(() => { validatePresentationResponse(r.body) }).not.toThrow()
    // …and through the official schema file read from disk, compiled on its own.
    const root = new URL('../protocols/dcp/', import.meta.url)
    const read = (rel: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(rel, root), 'utf8')) as Record<string, unknown>
    const ajv = new Ajv2019({ strict: false })
    ajv.addSchema({ ...read('common/context-schema.json'), $id: CONTEXT_SCHEMA_ID }) // upstream declares a v08 $id, referenced as v1.0
    // The DIF Presentation Exchange schema it $refs is not shipped: a permissive stand-in.
    ajv.addSchema({ $id: 'https://identity.foundation/presentation-exchange/schemas/presentation-submission.json', type: 'object', properties: { presentation_submission: { type: 'object' } } })
    const official = ajv.compile(read('presentation/presentation-response-message-schema.json'))
    expect(official(r.body), JSON.stringify(official.errors)).toBe(true)
    expect(r.body).toEqual({ '@context': [DCP_CONTEXT], type: 'PresentationResponseMessage', presentation: [expect.any(String)] })

    const vp = r.body.presentation[0] as string
    const { header, payload } = decodeJwt(vp)
    expect(header).toMatchObject({ alg: 'EdDSA', kid: `${w.acme.did}#key-1` })
    expect(payload).toMatchObject({ iss: w.acme.did, sub: w.acme.did, aud: w.beta.did })
    const iat = payload.iat as number
    const exp = payload.exp as number
    expect(iat).toBeGreaterThanOrEqual(before)
    expect(iat).toBeLessThanOrEqual(after)
    expect(exp).toBeGreaterThan(iat)
    expect(exp - iat).toBeLessThanOrEqual(300) // short-lived: 5 minutes at most (protocols/dcp.md: exactly 300 s)
    expect(payload.nbf).toBe(iat)
    expect(payload.jti).toMatch(/^urn:uuid:[0-9a-f-]{36}$/)
    expect(payload.vp).toMatchObject({ type: ['VerifiablePresentation'], holder: w.acme.did })
    // Exactly the valid member credential: not the expired, not-yet-valid, revoked or OtherCredential ones.
    expect((payload.vp as { verifiableCredential: string[] }).verifiableCredential).toEqual([w.creds.member.jwt])
  })

  it('presents every granted type asked for, and only what was asked for', async () => {
    const w = await world()
    expect(presentedIds(await presentation(w, [MEMBERSHIP, OTHER]))).toEqual(sorted(w.creds.member.id, w.creds.other.id))
    // Granted both, asked for one: only that one.
    expect(presentedIds(await presentation(w, [OTHER], [MEMBERSHIP, OTHER]))).toEqual([w.creds.other.id])
  })

  it('accepts the older three-part scope form (…vc.type:MembershipCredential:read) in the grant, the query, or both', async () => {
    const w = await world()
    const legacy = `${MEMBERSHIP}:read`
    expect(presentedIds(await presentation(w, [legacy]))).toEqual([w.creds.member.id])
    expect(presentedIds(await presentation(w, [legacy], [MEMBERSHIP]))).toEqual([w.creds.member.id])
    expect(presentedIds(await presentation(w, [MEMBERSHIP], [legacy]))).toEqual([w.creds.member.id])

    // The STS normalises the legacy form in the access token it signs.
    const at = await grant(w, [legacy])
    expect(decodeJwt(at).payload.scope).toBe(MEMBERSHIP)
  })

  it('answers id scopes (org.eclipse.dspace.dcp.vc.id:<id>) with that credential only, if presentable', async () => {
    const w = await world()
    const byId = (c: HeldVc): string => `${ID}:${c.id}`
    expect(presentedIds(await presentation(w, [byId(w.creds.other)]))).toEqual([w.creds.other.id])
    expect(presentedIds(await presentation(w, [byId(w.creds.member), byId(w.creds.other)]))).toEqual(sorted(w.creds.member.id, w.creds.other.id))
    // Granted and asked for by id, but revoked / expired / not yet valid: still never presented.
    for (const c of [w.creds.revoked, w.creds.expired, w.creds.future]) {
      expect(presentedIds(await presentation(w, [byId(c)]))).toEqual([])
    }
  })

  it('answers 200 with an empty VP when nothing matches', async () => {
    const w = await world()
    expect(presentedIds(await presentation(w, [`${TYPE}:NoSuchCredential`]))).toEqual([])
  })

  it('selects credentials by the hub clock (now injection): later, the not-yet-valid one is presented', async () => {
    let clock = Date.now()
    const w = await world({ now: () => clock })
    clock += 1.5 * DAY * 1000 // past the "future" credential's nbf, before its exp
    const vp = await presentation(w, [MEMBERSHIP])
    expect(presentedIds(vp)).toEqual(sorted(w.creds.member.id, w.creds.future.id))
    expect(decodeJwt(vp).payload.iat).toBe(Math.floor(clock / 1000))
  })

  it('a credential stored while valid is dropped once the hub clock passes its exp', async () => {
    let clock = Date.now()
    const w = await world({ now: () => clock })
    expect(presentedIds(await presentation(w, [MEMBERSHIP, OTHER]))).toEqual(sorted(w.creds.member.id, w.creds.other.id))
    clock = (w.t0 + 30 * DAY) * 1000 // the member credential's exp: not valid at or after it
    expect(presentedIds(await presentation(w, [MEMBERSHIP, OTHER]))).toEqual([w.creds.other.id])
  })
})

describe('DCP presentation query: independent verification with did-jwt-vc', () => {
  it('the VP and the VC inside verify with did-jwt-vc, resolving did:web over HTTP from the server', async () => {
    const w = await world()
    const vp = await presentation(w, [MEMBERSHIP])
    const fetched: string[] = []
    const resolver = independentResolver(fetched)

    const v = await verifyPresentation(vp, resolver, { audience: w.beta.did })
    expect(v.verified).toBe(true)
    expect(v.issuer).toBe(w.acme.did)
    expect(v.signer.id).toBe(`${w.acme.did}#key-1`)
    expect(v.verifiablePresentation.holder).toBe(w.acme.did)
    const inner = v.verifiablePresentation.verifiableCredential ?? []
    expect(inner).toHaveLength(1)
    expect(inner[0]?.proof).toMatchObject({ type: 'JwtProof2020', jwt: w.creds.member.jwt })

    const c = await verifyCredential(w.creds.member.jwt, resolver)
    expect(c.verified).toBe(true)
    expect(c.issuer).toBe(w.issuer.did)
    expect(c.signer.id).toBe(w.issuerKey.kid)
    expect(c.verifiableCredential.type).toContain('MembershipCredential')
    expect(c.verifiableCredential.credentialSubject.id).toBe(w.acme.did)

    // Both documents came over HTTP from our server.
    const base = w.srv.url
    expect(fetched).toContain(`${base}/org/acme/did.json`)
    expect(fetched).toContain(`${base}/org/issuer/did.json`)
  })

  it('did-jwt-vc refuses the VP for another audience', async () => {
    const w = await world()
    const vp = await presentation(w, [MEMBERSHIP])
    await expect(verifyPresentation(vp, independentResolver(), { audience: w.issuer.did })).rejects.toThrow(/audience/i)
  })
})

describe('key rotation and revocation', () => {
  it('a VP signed before rotation keeps verifying (ROTATED key stays published), new VPs use the successor; after revoke only the new one verifies', async () => {
    const w = await world()
    const resolver = independentResolver()
    const vp1 = await presentation(w, [MEMBERSHIP])
    expect(decodeJwt(vp1).header.kid).toBe(`${w.acme.did}#key-1`)
    // An access token signed with key-1, used later.
    const oldAccess = await grant(w, [MEMBERSHIP])
    expect(decodeJwt(oldAccess).header.kid).toBe(`${w.acme.did}#key-1`)
    expect((await verifyPresentation(vp1, resolver, { audience: w.beta.did })).verified).toBe(true)

    const rot = await w.srv.api('POST', `${IDENTITY}/acme/keypairs/key-1/rotate`, { key: w.acme.apiKey, body: { successor: { keyId: 'key-2' } } })
    expectStatus(rot, 200)
    expect(rot.body.rotated).toMatchObject({ keyId: 'key-1', state: 'ROTATED', hasPrivateKey: false, successor: 'key-2' })
    expect(rot.body.successor).toMatchObject({ keyId: 'key-2', state: 'ACTIVATED', isDefault: true, hasPrivateKey: true })

    const doc1 = await w.srv.api('GET', '/org/acme/did.json')
    expectStatus(doc1, 200)
    expect(doc1.body.verificationMethod.map((m: { id: string }) => m.id)).toEqual([`${w.acme.did}#key-1`, `${w.acme.did}#key-2`])

    // The old VP still verifies; a new query is signed with the successor and verifies too.
    expect((await verifyPresentation(vp1, resolver, { audience: w.beta.did })).verified).toBe(true)
    const vp2 = await presentation(w, [MEMBERSHIP])
    expect(decodeJwt(vp2).header.kid).toBe(`${w.acme.did}#key-2`)
    const v2 = await verifyPresentation(vp2, resolver, { audience: w.beta.did })
    expect(v2.verified).toBe(true)
    expect(v2.signer.id).toBe(`${w.acme.did}#key-2`)
    // The access token acme signed with key-1 is still honoured while key-1 is ROTATED.
    expectStatus(await query(w, await present(w, oldAccess), queryMessage([MEMBERSHIP])), 200)

    const rev = await w.srv.api('POST', `${IDENTITY}/acme/keypairs/key-1/revoke`, { key: w.acme.apiKey })
    expectStatus(rev, 200)
    expect(rev.body).toMatchObject({ keyId: 'key-1', state: 'REVOKED' })
    const doc2 = await w.srv.api('GET', '/org/acme/did.json')
    expect(doc2.body.verificationMethod.map((m: { id: string }) => m.id)).toEqual([`${w.acme.did}#key-2`])

    // did-jwt-vc now rejects the old VP, and still accepts the new one.
    await expect(verifyPresentation(vp1, resolver, { audience: w.beta.did })).rejects.toThrow(/signature|public key/i)
    expect((await verifyPresentation(vp2, resolver, { audience: w.beta.did })).verified).toBe(true)

    // The access token signed with the revoked key is refused.
    const refused = await query(w, await present(w, oldAccess), queryMessage([MEMBERSHIP]))
    expectStatus(refused, 403, 'bad_signature')
    expect(refused.body.error.details.cause).toBe('unknown_key')
    // A fresh grant (signed with key-2) works.
    expectStatus(await query(w, await bearerFor(w, [MEMBERSHIP]), queryMessage([MEMBERSHIP])), 200)
  })

  it('an ID token signed with the verifier\'s revoked key is refused (its method left the DID document)', async () => {
    const w = await world()
    const accessToken = await grant(w, [MEMBERSHIP])
    const oldBetaKey = await orgOf(w.srv.hub).signingKey('beta')
    const rot = await w.srv.api('POST', `${IDENTITY}/beta/keypairs/key-1/rotate`, { key: w.beta.apiKey, body: { successor: { keyId: 'key-2' } } })
    expectStatus(rot, 200)
    expectStatus(await w.srv.api('POST', `${IDENTITY}/beta/keypairs/key-1/revoke`, { key: w.beta.apiKey }), 200)
    const r = await query(w, await craftIdToken(w, accessToken, {}, oldBetaKey), queryMessage([MEMBERSHIP]))
    expectStatus(r, 403, 'unresolvable_key')
    // beta's tokens from its successor key work.
    expectStatus(await query(w, await present(w, accessToken), queryMessage([MEMBERSHIP])), 200)
  })
})

describe('DCP presentation query: authentication and request checks', () => {
  it('401 without an Authorization header (WWW-Authenticate: Bearer)', async () => {
    const w = await world()
    const r = await query(w, undefined, queryMessage([MEMBERSHIP]))
    expectStatus(r, 401)
    expect(r.body.error.code).toBe('authentication_failed')
    expect(r.headers.get('www-authenticate')).toBe('Bearer')
  })

  it('401 for a non-Bearer scheme', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    for (const authorization of [`Basic ${Buffer.from('beta:secret').toString('base64')}`, `Token ${idToken}`, 'Bearer', `Bearer ${idToken} extra`]) {
      const r = await w.srv.api('POST', queryPath('acme'), { headers: { authorization }, body: queryMessage([MEMBERSHIP]) })
      expectStatus(r, 401)
    }
    // None of those consumed the token.
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 200)
  })

  it('the auth scheme is case-insensitive (RFC 7235): "bearer <token>" is accepted', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    const r = await w.srv.api('POST', queryPath('acme'), { headers: { authorization: `bearer ${idToken}` }, body: queryMessage([MEMBERSHIP]) })
    expectStatus(r, 200)
    validatePresentationResponse(r.body)
  })

  it('404 for an unknown participant', async () => {
    const w = await world()
    const r = await query(w, await bearerFor(w, [MEMBERSHIP]), queryMessage([MEMBERSHIP]), 'nobody')
    expectStatus(r, 404)
    expect(r.body.error.code).toBe('not_found')
  })

  it('404 for a DEACTIVATED participant (and its did:web document is gone too)', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    expectStatus(await w.srv.api('POST', `${IDENTITY}/acme/deactivate`, { key: w.srv.adminKey }), 200)
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 404)
    expectStatus(await w.srv.api('GET', '/org/acme/did.json'), 404)
    // Reactivated, the same (unconsumed) token works.
    expectStatus(await w.srv.api('POST', `${IDENTITY}/acme/activate`, { key: w.srv.adminKey }), 200)
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 200)
  })

  it('404 for a CREATED (never activated) participant', async () => {
    const w = await world()
    await createParticipant(w.srv, 'fresh', false)
    expectStatus(await query(w, await bearerFor(w, [MEMBERSHIP]), queryMessage([MEMBERSHIP]), 'fresh'), 404)
  })

  it('400 for a malformed JSON body — and that request does not consume the token', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    const r = await w.srv.api('POST', queryPath('acme'), { bearer: idToken, rawBody: '{"@context": [', headers: { 'content-type': 'application/json' } })
    expectStatus(r, 400)
    expect(r.body.error.code).toBe('bad_request')
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 200)
  })

  it('checks in the documented order: unknown participant (404) and missing Bearer (401) come before a malformed body (400)', async () => {
    const w = await world()
    const bad = { rawBody: '{"@context": [', headers: { 'content-type': 'application/json' } }
    expectStatus(await w.srv.api('POST', queryPath('nobody'), { bearer: await bearerFor(w, [MEMBERSHIP]), ...bad }), 404)
    const r = await w.srv.api('POST', queryPath('acme'), bad)
    expectStatus(r, 401)
    expect(r.body.error.code).toBe('authentication_failed')
    expectStatus(await w.srv.api('POST', storagePath('acme'), bad), 401)
  })

  it('400 for bodies that are not a PresentationQueryMessage — none of them consumes the token', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    const good = queryMessage([MEMBERSHIP])
    const bad: unknown[] = [
      { ...good, type: 'PresentationResponseMessage' },
      { type: 'PresentationQueryMessage', scope: [MEMBERSHIP] },
      { ...good, '@context': ['https://example.com/other.jsonld'] },
      { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage' },
      { ...good, scope: MEMBERSHIP },
      [good],
      'PresentationQueryMessage'
    ]
    for (const body of bad) {
      expect(() => validatePresentationQuery(body), JSON.stringify(body)).toThrow()
      const r = await query(w, idToken, body)
      expectStatus(r, 400)
      expect(r.body.error.details.schema).toBe('PresentationQueryMessage')
    }
    expectStatus(await query(w, idToken, good), 200)
  })

  it('400 for an empty scope list', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    const body = { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: [] }
    expect(() => validatePresentationQuery(body)).toThrow()
    expectStatus(await query(w, idToken, body), 400)
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 200)
  })

  it('400 for a malformed scope (unknown alias, write operation)', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    for (const scope of ['org.example.vc.type:MembershipCredential', `${MEMBERSHIP}:write`, TYPE]) {
      const r = await query(w, idToken, queryMessage([scope]))
      expectStatus(r, 400)
      expect(r.body.error.details.scope).toBe(scope)
    }
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 200)
  })

  it('a stored credential today\'s parser refuses (an older version stored it) is left out, and the holder\'s queries keep working', async () => {
    const w = await world()
    const now = seconds()
    // A VCDM 2.0 credential using the 1.1-only issuanceDate: refused by parseVcJwt since issue 14.
    const stale = await new SignJWT({ '@context': ['https://www.w3.org/ns/credentials/v2'], id: 'urn:uuid:stale', type: ['VerifiableCredential', 'MembershipCredential'], issuer: w.issuer.did, issuanceDate: new Date().toISOString(), credentialSubject: { id: w.acme.did }, iss: w.issuer.did, nbf: now - 60 })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'vc+jwt', kid: w.issuerKey.kid }).sign(w.issuerKey.privateKey)
    const record = { credentialId: 'urn:uuid:stale', participantId: 'acme', format: 'jwt', types: ['VerifiableCredential', 'MembershipCredential'], issuer: w.issuer.did, state: 'ISSUED', createdAt: new Date().toISOString(), raw: stale }
    await w.srv.hub.kv.batch([{ type: 'put', key: orgKeys.credential('acme', 'urn:uuid:stale'), value: new TextEncoder().encode(JSON.stringify(record)) }])
    expect(presentedIds(await presentation(w, [MEMBERSHIP]))).toEqual([w.creds.member.id])
  })

  it('a presentationDefinition query is answered (no longer 501): the VP and a presentationSubmission; the same token is not reusable', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    const body = validatePresentationQuery({
      '@context': [DCP_CONTEXT],
      type: 'PresentationQueryMessage',
      presentationDefinition: { id: 'pd-1', input_descriptors: [{ id: 'membership', constraints: { fields: [{ path: ['$.vc.type'], filter: { type: 'string', const: 'MembershipCredential' } }] } }] }
    })
    const r = await query(w, idToken, body)
    expectStatus(r, 200)
    expect(r.body.presentationSubmission).toMatchObject({ definition_id: 'pd-1', descriptor_map: [expect.objectContaining({ id: 'membership' })] })
    expect(presentedIds(r.body.presentation[0] as string)).toEqual([w.creds.member.id])
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 403, 'replayed')
  })

  it('400 for scope and presentationDefinition together', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    const body = validatePresentationQuery({
      '@context': [DCP_CONTEXT],
      type: 'PresentationQueryMessage',
      scope: [MEMBERSHIP],
      presentationDefinition: { id: 'pd-1', input_descriptors: [] }
    })
    expectStatus(await query(w, idToken, body), 400)
  })
})

describe('DCP presentation query: ID token checks (403 with details.reason)', () => {
  it('sanity: the hand-built ID token with no override is accepted', async () => {
    const w = await world()
    const r = await query(w, await craftIdToken(w, await grant(w, [MEMBERSHIP])), queryMessage([MEMBERSHIP]))
    expectStatus(r, 200)
    expect(presentedIds(r.body.presentation[0] as string)).toEqual([w.creds.member.id])
  })

  const now = seconds
  const cases: Array<[string, string, (w: World) => Record<string, unknown>]> = [
    ['iss ≠ sub', 'iss_sub_mismatch', w => ({ sub: w.issuer.did })],
    ['no sub', 'iss_sub_mismatch', () => ({ sub: undefined })],
    ['wrong aud (another participant)', 'wrong_audience', w => ({ aud: w.beta.did })],
    ['wrong aud (array without acme)', 'wrong_audience', w => ({ aud: [w.beta.did, w.issuer.did] })],
    ['expired', 'expired', () => ({ iat: now() - 900, exp: now() - 600 })],
    ['no exp', 'expired', () => ({ exp: undefined })],
    ['nbf in the future', 'not_yet_valid', () => ({ nbf: now() + 600 })],
    ['iat in the future', 'iat_in_future', () => ({ iat: now() + 600, exp: now() + 900 })],
    ['lifetime over an hour', 'lifetime_too_long', () => ({ exp: now() + 7200 })],
    ['no jti', 'missing_jti', () => ({ jti: undefined })],
    ['exp not a number', 'malformed', () => ({ exp: 'tomorrow' })],
    ['no token claim', 'missing_token', () => ({ token: undefined })],
    ['token claim not a JWT', 'malformed', () => ({ token: 'not-a-jwt' })]
  ]
  it.each(cases)('403 for %s → %s', async (_what, reason, overrides) => {
    const w = await world()
    const r = await query(w, await craftIdToken(w, await grant(w, [MEMBERSHIP]), overrides(w)), queryMessage([MEMBERSHIP]))
    expectStatus(r, 403, reason)
    expect(r.body.error.code).toBe('permissions_required')
  })

  it('403 missing_token for an STS ID token made without scope or token', async () => {
    const w = await world()
    const r = await sts(w, w.beta.apiKey, { audience: w.acme.did })
    expectStatus(r, 200)
    expect(decodeJwt(r.body.idToken as string).payload.token).toBeUndefined()
    expectStatus(await query(w, r.body.idToken as string, queryMessage([MEMBERSHIP])), 403, 'missing_token')
  })

  it('403 unresolvable_key for an ID token whose kid is not in the caller\'s DID document', async () => {
    const w = await world()
    const token = await craftIdToken(w, await grant(w, [MEMBERSHIP]), {}, rogueSigner(`${w.beta.did}#rogue`))
    expectStatus(await query(w, token, queryMessage([MEMBERSHIP])), 403, 'unresolvable_key')
  })

  it('403 bad_signature for an ID token under beta\'s kid but signed by another key', async () => {
    const w = await world()
    const token = await craftIdToken(w, await grant(w, [MEMBERSHIP]), {}, rogueSigner(`${w.beta.did}#key-1`))
    const r = await query(w, token, queryMessage([MEMBERSHIP]))
    expectStatus(r, 403, 'bad_signature')
    expect(r.body.error.details.cause).toBe('bad_signature')
  })

  it('403 bad_signature for an ID token claiming iss beta but signed with acme\'s real key', async () => {
    const w = await world()
    const token = await craftIdToken(w, await grant(w, [MEMBERSHIP]), {}, await orgOf(w.srv.hub).signingKey('acme'))
    const r = await query(w, token, queryMessage([MEMBERSHIP]))
    expectStatus(r, 403, 'bad_signature')
    expect(r.body.error.details.cause).toBe('iss_mismatch')
  })

  it('403 unresolvable_key when the caller is DEACTIVATED (its DID document is not served)', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    expectStatus(await w.srv.api('POST', `${IDENTITY}/beta/deactivate`, { key: w.srv.adminKey }), 200)
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 403, 'unresolvable_key')
  })

  it('a forged copy does not burn the real token\'s jti', async () => {
    const w = await world()
    const accessToken = await grant(w, [MEMBERSHIP])
    const jti = `urn:uuid:${randomUUID()}`
    const forged = await craftIdToken(w, accessToken, { jti }, rogueSigner(`${w.beta.did}#key-1`))
    expectStatus(await query(w, forged, queryMessage([MEMBERSHIP])), 403, 'bad_signature')
    const expired = await craftIdToken(w, accessToken, { jti, iat: seconds() - 900, exp: seconds() - 600 })
    expectStatus(await query(w, expired, queryMessage([MEMBERSHIP])), 403, 'expired')
    expectStatus(await query(w, await craftIdToken(w, accessToken, { jti }), queryMessage([MEMBERSHIP])), 200)
  })
})

describe('DCP presentation query: replay protection', () => {
  it('the same ID token twice: 200, then 403 replayed', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 200)
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 403, 'replayed')
    // A fresh ID token around the same access token is fine: access tokens are reusable until they expire.
    const again = await sts(w, w.beta.apiKey, { audience: w.acme.did, token: decodeJwt(idToken).payload.token })
    expectStatus(await query(w, again.body.idToken as string, queryMessage([MEMBERSHIP])), 200)
  })

  it('the same ID token sent five times at once: exactly one 200, four 403 replayed', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    const replies = await Promise.all(Array.from({ length: 5 }, async () => await query(w, idToken, queryMessage([MEMBERSHIP]))))
    expect(replies.filter(r => r.status === 200)).toHaveLength(1)
    for (const r of replies.filter(r => r.status !== 200)) expectStatus(r, 403, 'replayed')
  })

  it('a request refused after the ID token verified (scope escalation) does consume its jti', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    expectStatus(await query(w, idToken, queryMessage([OTHER])), 403, 'scope_escalation')
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 403, 'replayed')
  })

  it('the replay cache survives a restart of the hub', async () => {
    const w = await world()
    const idToken = await bearerFor(w, [MEMBERSHIP])
    expectStatus(await query(w, idToken, queryMessage([MEMBERSHIP])), 200)

    const port = Number(new URL(w.srv.url).port)
    const dir = w.srv.hub.dir
    await w.srv.server.close()
    await w.srv.hub.close()
    const hub = await Hub.open(dir)
    const server = createHttpServer(hub, { adminKey: w.srv.adminKey })
    try {
      // Same port, so the DIDs (which name it) stay the same.
      expect(await server.listen('127.0.0.1', port)).toBe(w.srv.url)
      const w2: World = { ...w, srv: { ...w.srv, hub, server } }
      expectStatus(await query(w2, idToken, queryMessage([MEMBERSHIP])), 403, 'replayed')
      // The restarted hub still answers fresh tokens.
      expectStatus(await query(w2, await bearerFor(w2, [MEMBERSHIP]), queryMessage([MEMBERSHIP])), 200)
    } finally {
      await server.close()
      await hub.close()
    }
  })
})

describe('DCP presentation query: access token checks (403 with details.reason)', () => {
  it('403 scope_escalation when the query asks for a type the access token did not grant', async () => {
    const w = await world()
    const r = await query(w, await bearerFor(w, [MEMBERSHIP]), queryMessage([MEMBERSHIP, OTHER]))
    expectStatus(r, 403, 'scope_escalation')
  })

  it('403 scope_escalation for an id scope under a type grant (grants match exactly)', async () => {
    const w = await world()
    const r = await query(w, await bearerFor(w, [MEMBERSHIP]), queryMessage([`${ID}:${w.creds.member.id}`]))
    expectStatus(r, 403, 'scope_escalation')
  })

  it('403 wrong_participant for an access token issued by beta, used against acme', async () => {
    const w = await world()
    const betasToken = await grant(w, [MEMBERSHIP], { holder: w.beta, verifier: w.acme })
    expect(decodeJwt(betasToken).payload).toMatchObject({ iss: w.beta.did, aud: w.beta.did })
    const r = await query(w, await present(w, betasToken), queryMessage([MEMBERSHIP]))
    expectStatus(r, 403, 'wrong_participant')
  })

  it('403 wrong_participant for acme\'s access token presented at beta\'s endpoint', async () => {
    const w = await world()
    const accessToken = await grant(w, [MEMBERSHIP])
    // The issuer presents it to beta: the ID token is fine, the access token is not beta's.
    const id = await present(w, accessToken, { verifier: w.issuer, holder: w.beta })
    expectStatus(await query(w, id, queryMessage([MEMBERSHIP]), 'beta'), 403, 'wrong_participant')
  })

  it('403 wrong_caller for an access token handed to beta but presented by a fourth participant', async () => {
    const w = await world()
    const gamma = await createParticipant(w.srv, 'gamma')
    const accessToken = await grant(w, [MEMBERSHIP])
    const r = await query(w, await present(w, accessToken, { verifier: gamma }), queryMessage([MEMBERSHIP]))
    expectStatus(r, 403, 'wrong_caller')
  })

  it('403 expired for an access token past its exp (hub clock moved on by 10 minutes)', async () => {
    let clock = Date.now()
    const w = await world({ now: () => clock })
    const accessToken = await grant(w, [MEMBERSHIP])
    clock += 10 * 60 * 1000
    // beta's ID token is made at the new time and is valid; the access token is not.
    const r = await query(w, await present(w, accessToken), queryMessage([MEMBERSHIP]))
    expectStatus(r, 403, 'expired')
  })

  const cases: Array<[string, string, (w: World) => Record<string, unknown>]> = [
    ['not yet valid (nbf)', 'not_yet_valid', () => ({ nbf: seconds() + 600 })],
    ['without scope', 'missing_scope', () => ({ scope: undefined })],
    ['for another subject', 'wrong_caller', w => ({ sub: w.issuer.did })],
    ['with aud ≠ acme', 'wrong_participant', w => ({ aud: w.beta.did })]
  ]
  it.each(cases)('403 for a hand-built access token %s → %s', async (_what, reason, overrides) => {
    const w = await world()
    const r = await query(w, await present(w, await craftAccessToken(w, overrides(w))), queryMessage([MEMBERSHIP]))
    expectStatus(r, 403, reason)
  })

  it('403 bad_signature for an access token claiming acme but signed with beta\'s key, or with a key acme never had', async () => {
    const w = await world()
    const foreign = await craftAccessToken(w, {}, await orgOf(w.srv.hub).signingKey('beta'))
    const r1 = await query(w, await present(w, foreign), queryMessage([MEMBERSHIP]))
    expectStatus(r1, 403, 'bad_signature')
    expect(r1.body.error.details.cause).toBe('foreign_kid')
    const forged = await craftAccessToken(w, {}, rogueSigner(`${w.acme.did}#key-1`))
    const r2 = await query(w, await present(w, forged), queryMessage([MEMBERSHIP]))
    expectStatus(r2, 403, 'bad_signature')
    expect(r2.body.error.details.cause).toBe('bad_signature')
  })
})

describe('DCP Storage API', () => {
  /** The issuer's self-issued ID token for acme (the Storage API's Bearer). */
  async function issuerToken (w: World, audience = w.acme.did): Promise<string> {
    const r = await sts(w, w.issuer.apiKey, { audience })
    expectStatus(r, 200)
    return r.body.idToken as string
  }

  function credentialMessage (vcs: HeldVc[], o: Partial<CredentialMessage> = {}): CredentialMessage {
    return validateCredentialMessage({
      '@context': [DCP_CONTEXT],
      type: 'CredentialMessage',
      issuerPid: `issuance-${randomUUID()}`,
      holderPid: 'acme-request-1',
      status: 'ISSUED',
      credentials: vcs.map(c => ({ credentialType: 'MembershipCredential', format: 'jwt', payload: c.jwt })),
      ...o
    })
  }

  /**
   * The world, with acme trusting the issuer: these messages answer no request acme
   * recorded, which only a trusted issuer may send (else 403 unsolicited, below).
   */
  async function storageWorld (): Promise<World> {
    const w = await world()
    expectStatus(await w.srv.api('PUT', `${IDENTITY}/acme/credentials/offer-policy`, { key: w.acme.apiKey, body: { trustedIssuers: [w.issuer.did] } }), 200)
    return w
  }

  it('403 unsolicited and nothing stored when the message answers no request of acme and the issuer is not one it trusts', async () => {
    const w = await world()
    const before = await storedIds(w)
    const r = await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w), body: credentialMessage([await newVc(w)]) })
    expectStatus(r, 403, 'unsolicited')
    expect(await storedIds(w)).toEqual(before)
  })

  async function storedIds (w: World): Promise<string[]> {
    const r = await w.srv.api('GET', `${IDENTITY}/acme/credentials`, { key: w.acme.apiKey })
    expectStatus(r, 200)
    return (r.body as Array<{ credentialId: string }>).map(c => c.credentialId).sort()
  }

  async function newVc (w: World, types = ['MembershipCredential']): Promise<HeldVc> {
    return await issueVc(w.issuerKey, w.issuer.did, w.acme.did, { types, nbf: seconds() - 60, exp: seconds() + DAY })
  }

  it('200: the credentials are stored, listed by the Identity API, and then presented', async () => {
    const w = await storageWorld()
    const a = await newVc(w, ['MembershipCredential'])
    const b = await newVc(w, ['OtherCredential'])
    const before = await storedIds(w)
    const r = await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w), body: credentialMessage([a, b]) })
    expectStatus(r, 200)
    expect([...r.body.stored].sort()).toEqual(sorted(a.id, b.id))
    expect(await storedIds(w)).toEqual(sorted(...before, a.id, b.id))
    const got = await w.srv.api('GET', `${IDENTITY}/acme/credentials/${encodeURIComponent(a.id)}`, { key: w.acme.apiKey })
    expectStatus(got, 200)
    expect(got.body).toMatchObject({ credentialId: a.id, issuer: w.issuer.did, state: 'ISSUED', raw: a.jwt })
    expect(presentedIds(await presentation(w, [MEMBERSHIP]))).toEqual(sorted(w.creds.member.id, a.id))
  })

  it('403 wrong_issuer and nothing stored when one credential was issued by someone else than the token\'s iss', async () => {
    const w = await storageWorld()
    const good = await newVc(w)
    // Issued (and properly signed) by beta, delivered by the issuer.
    const now = seconds()
    const bad = signJwt(await orgOf(w.srv.hub).signingKey('beta'), {
      iss: w.beta.did,
      sub: w.acme.did,
      jti: `urn:uuid:${randomUUID()}`,
      nbf: now - 60,
      vc: { '@context': [VC_V1], type: ['VerifiableCredential', 'MembershipCredential'], credentialSubject: { id: w.acme.did } }
    })
    const before = await storedIds(w)
    const r = await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w), body: credentialMessage([good, { id: parseVcJwt(bad).id, jwt: bad }]) })
    expectStatus(r, 403, 'wrong_issuer')
    expect(await storedIds(w)).toEqual(before)
    // The good one alone goes through.
    expectStatus(await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w), body: credentialMessage([good]) }), 200)
    expect(await storedIds(w)).toEqual(sorted(...before, good.id))
  })

  it('403 bad_credential_signature and nothing stored when a credential claims the caller as issuer but its signature does not verify', async () => {
    const w = await storageWorld()
    const good = await newVc(w)
    const before = await storedIds(w)
    const types = ['MembershipCredential']
    // Under the issuer's real kid but another key, and under a kid its DID document does not list.
    const forged = await issueVc({ privateKey: generateKeyPairSync('ed25519').privateKey, kid: w.issuerKey.kid }, w.issuer.did, w.acme.did, { types, nbf: seconds() - 60 })
    const unlisted = await issueVc({ ...w.issuerKey, kid: `${w.issuer.did}#not-published` }, w.issuer.did, w.acme.did, { types, nbf: seconds() - 60 })
    for (const [bad, cause] of [[forged, 'bad_signature'], [unlisted, 'unknown_key']] as const) {
      const r = await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w), body: credentialMessage([good, bad]) })
      expectStatus(r, 403, 'bad_credential_signature')
      expect(r.body.error.details.cause).toBe(cause)
      expect(r.headers.get('www-authenticate')).toBeNull()
      expect(await storedIds(w)).toEqual(before)
    }
    // A credential signed with any key of the issuer's document is fine, e.g. its hub-held key-1.
    const now = seconds()
    const viaHubKey = signJwt(await orgOf(w.srv.hub).signingKey('issuer'), {
      iss: w.issuer.did,
      sub: w.acme.did,
      jti: `urn:uuid:${randomUUID()}`,
      nbf: now - 60,
      vc: { '@context': [VC_V1], type: ['VerifiableCredential', 'MembershipCredential'], credentialSubject: { id: w.acme.did } }
    })
    const r = await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w), body: credentialMessage([good, { id: parseVcJwt(viaHubKey).id, jwt: viaHubKey }]) })
    expectStatus(r, 200)
    expect(await storedIds(w)).toEqual(sorted(...before, good.id, parseVcJwt(viaHubKey).id))
  })

  it('404 for a DEACTIVATED holder', async () => {
    const w = await storageWorld()
    const token = await issuerToken(w)
    expectStatus(await w.srv.api('POST', `${IDENTITY}/acme/deactivate`, { key: w.srv.adminKey }), 200)
    expectStatus(await w.srv.api('POST', storagePath('acme'), { bearer: token, body: credentialMessage([await newVc(w)]) }), 404)
  })

  it('status REJECTED: 200 and nothing stored', async () => {
    const w = await storageWorld()
    const before = await storedIds(w)
    const msg = credentialMessage([await newVc(w)], { status: 'REJECTED', rejectionReason: 'not a member' })
    const r = await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w), body: msg })
    expectStatus(r, 200)
    expect(r.body).toEqual({ stored: [] })
    expect(await storedIds(w)).toEqual(before)
  })

  it('401 without a Bearer token', async () => {
    const w = await storageWorld()
    const r = await w.srv.api('POST', storagePath('acme'), { body: credentialMessage([await newVc(w)]) })
    expectStatus(r, 401)
    expect(r.headers.get('www-authenticate')).toBe('Bearer')
    const r2 = await w.srv.api('POST', storagePath('acme'), { key: w.issuer.apiKey, body: credentialMessage([await newVc(w)]) })
    expectStatus(r2, 401)
  })

  it('400 for an invalid CredentialMessage — without consuming the token', async () => {
    const w = await storageWorld()
    const token = await issuerToken(w)
    const good = credentialMessage([await newVc(w)])
    const { issuerPid: _omit, ...noIssuerPid } = good
    for (const body of [{ ...good, type: 'CredentialOfferMessage' }, noIssuerPid, { ...good, status: 'MAYBE' }, { ...good, '@context': [] }]) {
      expect(() => validateCredentialMessage(body), JSON.stringify(body)).toThrow()
      expectStatus(await w.srv.api('POST', storagePath('acme'), { bearer: token, body }), 400)
    }
    expectStatus(await w.srv.api('POST', storagePath('acme'), { bearer: token, rawBody: '{', headers: { 'content-type': 'application/json' } }), 400)
    expectStatus(await w.srv.api('POST', storagePath('acme'), { bearer: token, body: good }), 200)
  })

  it('403 for an ID token addressed to someone else, or replayed; 404 for an unknown holder', async () => {
    const w = await storageWorld()
    const vc = await newVc(w)
    expectStatus(await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w, w.beta.did), body: credentialMessage([vc]) }), 403, 'wrong_audience')
    const token = await issuerToken(w)
    expectStatus(await w.srv.api('POST', storagePath('acme'), { bearer: token, body: credentialMessage([vc]) }), 200)
    expectStatus(await w.srv.api('POST', storagePath('acme'), { bearer: token, body: credentialMessage([await newVc(w)]) }), 403, 'replayed')
    expectStatus(await w.srv.api('POST', storagePath('nobody'), { bearer: await issuerToken(w), body: credentialMessage([await newVc(w)]) }), 404)
  })

  it('409 for a credential already stored (e.g. delivered twice), and nothing else from that message is stored', async () => {
    const w = await storageWorld()
    const fresh = await newVc(w)
    const before = await storedIds(w)
    const r = await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w), body: credentialMessage([fresh, w.creds.member]) })
    expectStatus(r, 409)
    expect(await storedIds(w)).toEqual(before)
  })

  it('a credential about another subject is refused (400) and nothing is stored', async () => {
    const w = await storageWorld()
    const before = await storedIds(w)
    const good = await newVc(w)
    const aboutBeta = await issueVc(w.issuerKey, w.issuer.did, w.beta.did, { types: ['MembershipCredential'], nbf: seconds() - 60 })
    const r = await w.srv.api('POST', storagePath('acme'), { bearer: await issuerToken(w), body: credentialMessage([good, aboutBeta]) })
    expectStatus(r, 400)
    expect(await storedIds(w)).toEqual(before)
  })
})

describe('STS (POST /api/sts/token)', () => {
  it('tokens decode to the documented claims (fixed hub clock)', async () => {
    const fixed = Math.floor(Date.now() / 1000) * 1000 + 500
    const w = await world({ now: () => fixed })
    const t = Math.floor(fixed / 1000)

    const holder = await sts(w, w.acme.apiKey, { audience: w.beta.did, scope: [MEMBERSHIP, `${OTHER}:read`, MEMBERSHIP] })
    expectStatus(holder, 200)
    expect(holder.body).toEqual({ idToken: expect.any(String), accessToken: expect.any(String), expiresIn: 300 })
    const access = decodeJwt(holder.body.accessToken as string)
    expect(access.header).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: `${w.acme.did}#key-1` })
    expect(access.payload).toEqual({ iss: w.acme.did, sub: w.beta.did, aud: w.acme.did, scope: `${MEMBERSHIP} ${OTHER}`, iat: t, exp: t + 300, jti: expect.stringMatching(/^urn:uuid:[0-9a-f-]{36}$/) })
    const holderId = decodeJwt(holder.body.idToken as string)
    expect(holderId.header).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: `${w.acme.did}#key-1` })
    expect(holderId.payload).toEqual({ iss: w.acme.did, sub: w.acme.did, aud: w.beta.did, iat: t, exp: t + 300, jti: expect.stringMatching(/^urn:uuid:/), token: holder.body.accessToken })

    const verifier = await sts(w, w.beta.apiKey, { audience: w.acme.did, token: holder.body.accessToken, ttl: 60 })
    expectStatus(verifier, 200)
    expect(verifier.body).toEqual({ idToken: expect.any(String), expiresIn: 60 })
    const verifierId = decodeJwt(verifier.body.idToken as string)
    expect(verifierId.header).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: `${w.beta.did}#key-1` })
    expect(verifierId.payload).toEqual({ iss: w.beta.did, sub: w.beta.did, aud: w.acme.did, iat: t, exp: t + 60, jti: expect.stringMatching(/^urn:uuid:/), token: holder.body.accessToken })
    expect(verifierId.payload.jti).not.toBe(holderId.payload.jti)

    // A space-separated scope string means the same list.
    const spaced = await sts(w, w.acme.apiKey, { audience: w.beta.did, scope: `${MEMBERSHIP} ${OTHER}` })
    expectStatus(spaced, 200)
    expect(decodeJwt(spaced.body.accessToken as string).payload.scope).toBe(`${MEMBERSHIP} ${OTHER}`)
  })

  it('the admin key needs participantId (400), and works with it', async () => {
    const w = await world()
    expectStatus(await sts(w, w.srv.adminKey, { audience: w.beta.did, scope: [MEMBERSHIP] }), 400)
    const r = await sts(w, w.srv.adminKey, { participantId: 'acme', audience: w.beta.did, scope: [MEMBERSHIP] })
    expectStatus(r, 200)
    expect(decodeJwt(r.body.accessToken as string).payload.iss).toBe(w.acme.did)
    expectStatus(await sts(w, w.srv.adminKey, { participantId: 'nobody', audience: w.beta.did, scope: [MEMBERSHIP] }), 404)
  })

  it('a participant key for another participantId → 403; for its own → 200', async () => {
    const w = await world()
    expectStatus(await sts(w, w.acme.apiKey, { participantId: 'beta', audience: w.acme.did, scope: [MEMBERSHIP] }), 403)
    expectStatus(await sts(w, w.acme.apiKey, { participantId: 'acme', audience: w.beta.did, scope: [MEMBERSHIP] }), 200)
  })

  it('401 without or with an unknown x-api-key', async () => {
    const w = await world()
    expectStatus(await w.srv.api('POST', '/api/sts/token', { body: { audience: w.beta.did, scope: [MEMBERSHIP] } }), 401)
    expectStatus(await sts(w, `${w.acme.apiKey.split('.')[0] ?? ''}.${'A'.repeat(43)}`, { audience: w.beta.did, scope: [MEMBERSHIP] }), 401)
  })

  it('400 for scope and token together', async () => {
    const w = await world()
    const accessToken = await grant(w, [MEMBERSHIP])
    expectStatus(await sts(w, w.beta.apiKey, { audience: w.acme.did, scope: [MEMBERSHIP], token: accessToken }), 400)
  })

  it('400 for a non-DID or missing audience', async () => {
    const w = await world()
    for (const audience of ['https://beta.example.com', 'beta', '', 42]) {
      expectStatus(await sts(w, w.acme.apiKey, { audience, scope: [MEMBERSHIP] }), 400)
    }
    expectStatus(await sts(w, w.acme.apiKey, { scope: [MEMBERSHIP] }), 400)
  })

  it('400 for an empty or invalid scope list, a bad token or ttl, or a non-object body', async () => {
    const w = await world()
    const bodies: unknown[] = [
      { audience: w.beta.did, scope: [] },
      { audience: w.beta.did, scope: '' },
      { audience: w.beta.did, scope: ['org.example.other:Foo'] },
      { audience: w.beta.did, scope: [`${MEMBERSHIP}:write`] },
      { audience: w.beta.did, scope: [42] },
      { audience: w.beta.did, token: '' },
      { audience: w.beta.did, scope: [MEMBERSHIP], ttl: 3601 },
      { audience: w.beta.did, scope: [MEMBERSHIP], ttl: 0 },
      { audience: w.beta.did, scope: [MEMBERSHIP], ttl: 1.5 },
      [w.beta.did]
    ]
    for (const body of bodies) expectStatus(await sts(w, w.acme.apiKey, body), 400)
  })

  it('409 for a CREATED (not activated) participant, and for a DEACTIVATED one', async () => {
    const w = await world()
    const fresh = await createParticipant(w.srv, 'fresh', false)
    expectStatus(await sts(w, fresh.apiKey, { audience: w.beta.did, scope: [MEMBERSHIP] }), 409)
    expectStatus(await sts(w, w.srv.adminKey, { participantId: 'fresh', audience: w.beta.did, scope: [MEMBERSHIP] }), 409)
    expectStatus(await w.srv.api('POST', `${IDENTITY}/acme/deactivate`, { key: w.srv.adminKey }), 200)
    expectStatus(await sts(w, w.acme.apiKey, { audience: w.beta.did, scope: [MEMBERSHIP] }), 409)
  })
})
