import { CompactSign, exportJWK, generateKeyPair, type JWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { AuthenticationError, BadRequestError } from '../errors.js'
import { didKeyDocument, didKeyFromPublicKey, type DidDocument } from '../identity/did-key.js'
import { b64u, concat, multibaseEncode, utf8 } from '../identity/encoding.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { decodeJwt, MAX_KEYS_TRIED, signJwt, verifyDidJwt, verifyJwtWithKeys, type JwtSigner } from './jwt.js'

const DID = 'did:web:127.0.0.1%3A8080:org:acme'
const KID = `${DID}#key-1`

function signer (kp: Ed25519KeyPair, kid = KID): JwtSigner {
  return { kid, sign: d => kp.sign(d) }
}

function docWith (methods: DidDocument['verificationMethod'], id = DID): DidDocument {
  return { '@context': ['https://www.w3.org/ns/did/v1'], id, verificationMethod: methods }
}

function jwkMethod (kp: Ed25519KeyPair, id = KID): NonNullable<DidDocument['verificationMethod']>[number] {
  return { id, type: 'JsonWebKey2020', controller: DID, publicKeyJwk: kp.publicJwk() }
}

function resolverFor (...docs: DidDocument[]): (did: string) => Promise<DidDocument> {
  return async (did) => {
    const d = docs.find(x => x.id === did)
    if (d === undefined) throw new AuthenticationError(`cannot resolve ${did}`)
    return d
  }
}

/** A token with an arbitrary header and signature bytes, for shapes signJwt refuses to make. */
function rawJwt (header: Record<string, unknown>, payload: Record<string, unknown>, sig = 'c2ln'): string {
  return `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}.${sig}`
}

async function reasonOf (p: Promise<unknown>): Promise<unknown> {
  const err: unknown = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(AuthenticationError)
  return (err as AuthenticationError).details?.reason
}

describe('signJwt / decodeJwt', () => {
  it('signs EdDSA with the signer kid and decodes back', () => {
    const kp = Ed25519KeyPair.generate()
    const jwt = signJwt(signer(kp), { iss: DID, n: 1 })
    const d = decodeJwt(jwt)
    expect(d.header).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: KID })
    expect(d.payload).toEqual({ iss: DID, n: 1 })
    expect(d.signingInput).toBe(jwt.split('.').slice(0, 2).join('.'))
    expect(d.signature).toHaveLength(64)
  })

  it('lets the caller set typ and extra header fields but never alg or kid', () => {
    const kp = Ed25519KeyPair.generate()
    const d = decodeJwt(signJwt(signer(kp), {}, { typ: 'vc+jwt', alg: 'none', kid: 'did:web:evil#k', cty: 'x' }))
    expect(d.header).toEqual({ alg: 'EdDSA', typ: 'vc+jwt', kid: KID, cty: 'x' })
  })

  it.each([
    ['two parts', 'a.b'],
    ['four parts', 'a.b.c.d'],
    ['empty signature', `${b64u('{"alg":"none"}')}.${b64u('{}')}.`],
    ['padding', `${b64u('{"alg":"EdDSA"}')}=.${b64u('{}')}.c2ln`],
    ['foreign characters', `${b64u('{"alg":"EdDSA"}')}.${b64u('{}')}.c2+n`],
    ['header not JSON', `${b64u('nope')}.${b64u('{}')}.c2ln`],
    ['payload an array', `${b64u('{"alg":"EdDSA"}')}.${b64u('[1]')}.c2ln`],
    ['payload null', `${b64u('{"alg":"EdDSA"}')}.${b64u('null')}.c2ln`],
    ['header without alg', `${b64u('{"typ":"JWT"}')}.${b64u('{}')}.c2ln`],
    ['invalid UTF-8', `${b64u(new Uint8Array([0x7b, 0xff, 0x7d]))}.${b64u('{}')}.c2ln`]
  ])('rejects %s with BadRequestError', (_name, jwt) => {
    expect(() => decodeJwt(jwt)).toThrow(BadRequestError)
  })
})

describe('verifyJwtWithKeys', () => {
  const kp = Ed25519KeyPair.generate()
  const lookup = async (kid: string): Promise<JWK | undefined> => kid === KID ? kp.publicJwk() : undefined

  it('verifies a token signed by a known key', async () => {
    const jwt = signJwt(signer(kp), { a: 1 })
    const v = await verifyJwtWithKeys(jwt, lookup)
    expect(v.kid).toBe(KID)
    expect(v.payload).toEqual({ a: 1 })
  })

  it('accepts the fully-specified Ed25519 alg name for an Ed25519 key', async () => {
    const h = b64u(JSON.stringify({ alg: 'Ed25519', kid: KID }))
    const p = b64u('{"a":1}')
    const jwt = `${h}.${p}.${b64u(kp.sign(utf8.encode(`${h}.${p}`)))}`
    await expect(verifyJwtWithKeys(jwt, lookup)).resolves.toMatchObject({ kid: KID })
  })

  it('malformed', async () => {
    expect(await reasonOf(verifyJwtWithKeys('not.a-jwt', lookup))).toBe('malformed')
  })

  it.each(['none', 'HS256'])('alg_not_allowed: %s', async (alg) => {
    expect(await reasonOf(verifyJwtWithKeys(rawJwt({ alg, kid: KID }, {}), lookup))).toBe('alg_not_allowed')
  })

  it('missing_kid', async () => {
    expect(await reasonOf(verifyJwtWithKeys(rawJwt({ alg: 'EdDSA' }, {}), lookup))).toBe('missing_kid')
  })

  it('unknown_key', async () => {
    expect(await reasonOf(verifyJwtWithKeys(signJwt(signer(kp, `${DID}#key-2`), {}), lookup))).toBe('unknown_key')
  })

  it('alg_mismatch: ES256 header on an Ed25519 key, or a JWK pinned to another alg', async () => {
    expect(await reasonOf(verifyJwtWithKeys(rawJwt({ alg: 'ES256', kid: KID }, {}), lookup))).toBe('alg_mismatch')
    const pinned = async (): Promise<JWK> => ({ ...kp.publicJwk(), alg: 'Ed25519' })
    expect(await reasonOf(verifyJwtWithKeys(signJwt(signer(kp), {}), pinned))).toBe('alg_mismatch')
  })

  it('unsupported_key: a symmetric or non-signing key', async () => {
    const oct = async (): Promise<JWK> => ({ kty: 'oct', k: b64u('secret') })
    expect(await reasonOf(verifyJwtWithKeys(signJwt(signer(kp), {}), oct))).toBe('unsupported_key')
    const x25519 = async (): Promise<JWK> => ({ kty: 'OKP', crv: 'X25519', x: b64u(kp.x25519PublicKey()) })
    expect(await reasonOf(verifyJwtWithKeys(signJwt(signer(kp), {}), x25519))).toBe('unsupported_key')
  })

  it('bad_signature: another key, or a modified payload', async () => {
    const other = Ed25519KeyPair.generate()
    expect(await reasonOf(verifyJwtWithKeys(signJwt(signer(other), {}), lookup))).toBe('bad_signature')
    const [h, , s] = signJwt(signer(kp), { a: 1 }).split('.')
    expect(await reasonOf(verifyJwtWithKeys(`${h}.${b64u('{"a":2}')}.${s}`, lookup))).toBe('bad_signature')
  })

  it('imports only the public members of a JWK', async () => {
    const leaky = async (): Promise<JWK> => kp.privateJwk()
    await expect(verifyJwtWithKeys(signJwt(signer(kp), {}), leaky)).resolves.toMatchObject({ kid: KID })
  })
})

describe('verifyDidJwt', () => {
  const kp = Ed25519KeyPair.generate()
  const doc = docWith([jwkMethod(kp)])
  const resolve = resolverFor(doc)

  it('verifies with a publicKeyJwk method matched by full id', async () => {
    const v = await verifyDidJwt(signJwt(signer(kp), { iss: DID }), resolve)
    expect(v).toMatchObject({ did: DID, kid: KID, payload: { iss: DID } })
    expect(v.verificationMethod.id).toBe(KID)
  })

  it('accepts a bare #fragment kid relative to iss, and a relative method id in the document', async () => {
    const relative = resolverFor(docWith([{ ...jwkMethod(kp), id: '#key-1' }]))
    await expect(verifyDidJwt(signJwt(signer(kp, '#key-1'), { iss: DID }), relative)).resolves.toMatchObject({ kid: KID })
    await expect(verifyDidJwt(signJwt(signer(kp), {}), relative)).resolves.toMatchObject({ did: DID })
  })

  it('verifies with an Ed25519 publicKeyMultibase method (multicodec 0xed01)', async () => {
    const mb = multibaseEncode(concat(new Uint8Array([0xed, 0x01]), kp.publicKey))
    const r = resolverFor(docWith([{ id: KID, type: 'Ed25519VerificationKey2020', controller: DID, publicKeyMultibase: mb }]))
    await expect(verifyDidJwt(signJwt(signer(kp), { iss: DID }), r)).resolves.toMatchObject({ kid: KID })
  })

  it('verifies an ES256 token against a P-256 publicKeyJwk', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
    const pub = await exportJWK(publicKey)
    const r = resolverFor(docWith([{ id: KID, type: 'JsonWebKey2020', controller: DID, publicKeyJwk: { ...pub } }]))
    const jwt = await new CompactSign(utf8.encode(JSON.stringify({ iss: DID }))).setProtectedHeader({ alg: 'ES256', kid: KID }).sign(privateKey)
    await expect(verifyDidJwt(jwt, r)).resolves.toMatchObject({ kid: KID, header: { alg: 'ES256' } })
    // …and refuses EdDSA under that P-256 key id.
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp), { iss: DID }), r))).toBe('alg_mismatch')
  })

  it('malformed', async () => {
    expect(await reasonOf(verifyDidJwt('x.y', resolve))).toBe('malformed')
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp), { iss: 42 }), resolve))).toBe('malformed')
  })

  it('alg_not_allowed', async () => {
    expect(await reasonOf(verifyDidJwt(rawJwt({ alg: 'none', kid: KID }, { iss: DID }), resolve))).toBe('alg_not_allowed')
  })

  it('missing_kid: no kid and no iss, or an iss that is not a DID', async () => {
    expect(await reasonOf(verifyDidJwt(rawJwt({ alg: 'EdDSA' }, {}), resolve))).toBe('missing_kid')
    expect(await reasonOf(verifyDidJwt(rawJwt({ alg: 'EdDSA' }, { iss: 'https://issuer.example' }), resolve))).toBe('missing_kid')
    expect(await reasonOf(verifyDidJwt(rawJwt({ alg: 'EdDSA' }, { iss: KID }), resolve))).toBe('missing_kid')
    expect(await reasonOf(verifyDidJwt(rawJwt({ alg: 'EdDSA', kid: '' }, { iss: DID }), resolve))).toBe('missing_kid')
  })

  it.each([
    ['no fragment', DID, { iss: DID }],
    ['bare fragment without iss', '#key-1', {}],
    ['empty fragment', `${DID}#`, { iss: DID }],
    ['not a DID', 'https://example.com#key-1', {}]
  ])('bad_kid: %s', async (_name, kid, payload) => {
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp, kid), payload), resolve))).toBe('bad_kid')
  })

  it('iss_mismatch: a key of one DID signing as another', async () => {
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp), { iss: 'did:web:victim.example' }), resolve))).toBe('iss_mismatch')
  })

  it('unresolvable_did: resolution fails, or returns a document for another DID', async () => {
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp, 'did:web:nowhere#key-1'), {}), resolve))).toBe('unresolvable_did')
    const lying = async (): Promise<DidDocument> => docWith([jwkMethod(kp)], 'did:web:someone-else')
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp), { iss: DID }), lying))).toBe('unresolvable_did')
  })

  it('unknown_key: the fragment is not among verificationMethod', async () => {
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp, `${DID}#key-9`), { iss: DID }), resolve))).toBe('unknown_key')
    // Listed only under authentication (embedded) does not count.
    const embedded = resolverFor({ ...docWith([]), authentication: [jwkMethod(kp)] })
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp), { iss: DID }), embedded))).toBe('unknown_key')
  })

  it('unsupported_key: a method without key material, or a non-Ed25519 multibase key', async () => {
    const bare = resolverFor(docWith([{ id: KID, type: 'JsonWebKey2020', controller: DID }]))
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp), { iss: DID }), bare))).toBe('unsupported_key')
    const x = multibaseEncode(concat(new Uint8Array([0xec, 0x01]), kp.x25519PublicKey()))
    const xr = resolverFor(docWith([{ id: KID, type: 'Multikey', controller: DID, publicKeyMultibase: x }]))
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp), { iss: DID }), xr))).toBe('unsupported_key')
    const garbage = resolverFor(docWith([{ id: KID, type: 'Multikey', controller: DID, publicKeyMultibase: 'z0OIl' }]))
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp), { iss: DID }), garbage))).toBe('unsupported_key')
  })

  it('bad_signature', async () => {
    expect(await reasonOf(verifyDidJwt(signJwt(signer(Ed25519KeyPair.generate()), { iss: DID }), resolve))).toBe('bad_signature')
  })
})

/** A compact EdDSA JWS with exactly `header` (no kid added), for kid-less shapes. */
function signRaw (kp: Ed25519KeyPair, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`
  return `${input}.${b64u(kp.sign(utf8.encode(input)))}`
}

describe('verifyDidJwt without a kid', () => {
  const kp = Ed25519KeyPair.generate()
  const other = Ed25519KeyPair.generate()
  const kidless = (k: Ed25519KeyPair, payload: Record<string, unknown> = { iss: DID }): string => signRaw(k, { alg: 'EdDSA', typ: 'JWT' }, payload)

  it('finds the key among the assertionMethod keys of iss\'s document', async () => {
    const doc = { ...docWith([jwkMethod(other, `${DID}#key-0`), jwkMethod(kp, `${DID}#key-1`)]), assertionMethod: [`${DID}#key-0`, '#key-1'] }
    const v = await verifyDidJwt(kidless(kp), resolverFor(doc), { purpose: 'assertionMethod' })
    expect(v).toMatchObject({ did: DID, kid: KID })
    expect(v.verificationMethod.id).toBe(KID)
  })

  it('takes embedded assertionMethod methods, and verificationMethod when the document has no such relationship', async () => {
    const embedded = { ...docWith([]), assertionMethod: [jwkMethod(kp, '#key-7')] }
    await expect(verifyDidJwt(kidless(kp), resolverFor(embedded), { purpose: 'assertionMethod' })).resolves.toMatchObject({ kid: `${DID}#key-7` })
    await expect(verifyDidJwt(kidless(kp), resolve1(kp), { purpose: 'assertionMethod' })).resolves.toMatchObject({ kid: KID })
    await expect(verifyDidJwt(kidless(kp), resolve1(kp))).resolves.toMatchObject({ kid: KID })
  })

  it('verifies a did:key issuer (multibase key) without a kid', async () => {
    const did = didKeyFromPublicKey(kp.publicKey)
    const v = await verifyDidJwt(kidless(kp, { iss: did }), async d => didKeyDocument(d), { purpose: 'assertionMethod' })
    expect(v.did).toBe(did)
  })

  it('bad_signature: signed by a key the document does not list', async () => {
    expect(await reasonOf(verifyDidJwt(kidless(other), resolve1(kp), { purpose: 'assertionMethod' }))).toBe('bad_signature')
  })

  it('does not try a key listed only for keyAgreement or authentication when assertionMethod is listed', async () => {
    const doc = { ...docWith([jwkMethod(other, `${DID}#a`), jwkMethod(kp, `${DID}#k`)]), assertionMethod: [`${DID}#a`], keyAgreement: [`${DID}#k`], authentication: [`${DID}#k`] }
    expect(await reasonOf(verifyDidJwt(kidless(kp), resolverFor(doc), { purpose: 'assertionMethod' }))).toBe('bad_signature')
    // The same key verifies for authentication.
    await expect(verifyDidJwt(kidless(kp), resolverFor(doc), { purpose: 'authentication' })).resolves.toMatchObject({ kid: `${DID}#k` })
  })

  it('unknown_key: no listed key fits alg, or the relationship only references other DIDs\' keys', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true })
    const p256 = resolverFor(docWith([{ id: KID, type: 'JsonWebKey2020', controller: DID, publicKeyJwk: { ...await exportJWK(publicKey) } }]))
    expect(await reasonOf(verifyDidJwt(kidless(kp), p256, { purpose: 'assertionMethod' }))).toBe('unknown_key')
    const foreign = { ...docWith([jwkMethod(kp, 'did:web:elsewhere#k')]), assertionMethod: ['did:web:elsewhere#k'] }
    expect(await reasonOf(verifyDidJwt(kidless(kp), resolverFor(foreign), { purpose: 'assertionMethod' }))).toBe('unknown_key')
  })

  it(`tries at most ${MAX_KEYS_TRIED} keys, so a hostile document cannot buy unbounded signature checks`, async () => {
    const decoys = Array.from({ length: MAX_KEYS_TRIED }, (_, i) => jwkMethod(other, `${DID}#decoy-${i}`))
    const doc = docWith([...decoys, jwkMethod(kp, `${DID}#real`)])
    let resolved = 0
    const counting = async (did: string): Promise<DidDocument> => { resolved++; return await resolverFor(doc)(did) }
    expect(await reasonOf(verifyDidJwt(kidless(kp), counting))).toBe('bad_signature')
    expect(resolved).toBe(1)
    // One decoy fewer and the real key is within the bound.
    const fewer = docWith([...decoys.slice(1), jwkMethod(kp, `${DID}#real`)])
    await expect(verifyDidJwt(kidless(kp), resolverFor(fewer))).resolves.toMatchObject({ kid: `${DID}#real` })
  })

  it('still refuses alg none and HMAC before resolving anything', async () => {
    let resolved = 0
    const counting = async (did: string): Promise<DidDocument> => { resolved++; return await resolve1(kp)(did) }
    expect(await reasonOf(verifyDidJwt(rawJwt({ alg: 'none' }, { iss: DID }), counting))).toBe('alg_not_allowed')
    expect(await reasonOf(verifyDidJwt(rawJwt({ alg: 'HS256' }, { iss: DID }), counting))).toBe('alg_not_allowed')
    expect(resolved).toBe(0)
  })

  it('unresolvable_did: the iss document cannot be had', async () => {
    expect(await reasonOf(verifyDidJwt(kidless(kp, { iss: 'did:web:nowhere' }), resolve1(kp)))).toBe('unresolvable_did')
  })
})

describe('verifyDidJwt with a purpose and a kid', () => {
  const kp = Ed25519KeyPair.generate()

  it('accepts a kid the relationship references (by absolute or relative id, or embedded)', async () => {
    const byRef = { ...docWith([jwkMethod(kp)]), assertionMethod: ['#key-1'] }
    await expect(verifyDidJwt(signJwt(signer(kp), { iss: DID }), resolverFor(byRef), { purpose: 'assertionMethod' })).resolves.toMatchObject({ kid: KID })
    await expect(verifyDidJwt(signJwt(signer(kp, '#key-1'), { iss: DID }), resolverFor(byRef), { purpose: 'assertionMethod' })).resolves.toMatchObject({ kid: KID })
    const embedded = { ...docWith([]), assertionMethod: [jwkMethod(kp)] }
    await expect(verifyDidJwt(signJwt(signer(kp), { iss: DID }), resolverFor(embedded), { purpose: 'assertionMethod' })).resolves.toMatchObject({ kid: KID })
  })

  it('wrong_purpose: the kid names a key listed only for keyAgreement', async () => {
    const other = Ed25519KeyPair.generate()
    const doc = { ...docWith([jwkMethod(other, `${DID}#sig`), jwkMethod(kp)]), assertionMethod: [`${DID}#sig`], keyAgreement: [KID] }
    expect(await reasonOf(verifyDidJwt(signJwt(signer(kp), { iss: DID }), resolverFor(doc), { purpose: 'assertionMethod' }))).toBe('wrong_purpose')
    // Without a purpose (e.g. ID tokens) the listed key verifies as before.
    await expect(verifyDidJwt(signJwt(signer(kp), { iss: DID }), resolverFor(doc))).resolves.toMatchObject({ kid: KID })
  })

  it('a document without the relationship falls back to verificationMethod', async () => {
    await expect(verifyDidJwt(signJwt(signer(kp), { iss: DID }), resolve1(kp), { purpose: 'assertionMethod' })).resolves.toMatchObject({ kid: KID })
  })
})

function resolve1 (kp: Ed25519KeyPair): (did: string) => Promise<DidDocument> {
  return resolverFor(docWith([jwkMethod(kp)]))
}
