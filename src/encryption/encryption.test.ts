import {
  createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes
} from 'node:crypto'
import { CompactEncrypt, GeneralEncrypt, compactDecrypt, generalDecrypt, importJWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { parseCommit, serializeCommit, signCommit, type UnsignedHeader } from '../commits/commit.js'
import { validateHeader } from '../commits/schema.js'
import { HubError } from '../errors.js'
import { asCommitId, asObjectId } from '../ids.js'
import { didKeyDocument, x25519FromMultibase } from '../identity/did-key.js'
import { b64u, bytesEqual, fromB64u, utf8, utf8d } from '../identity/encoding.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import {
  contentKeyCollectionTag, contentKeyId, contentKeyVersion, importContentKey, isContentKeyId, newContentKey,
  parseContentKeyId, rotateContentKey, type ContentKey
} from './content-keys.js'
import {
  addRecipients, commitHeaderAad, decryptPayload, encryptPayload, openKeyEnvelope, parseKeyEnvelope,
  parsePayloadJwe, payloadContentKeyId, sealKeyEnvelope, type EnvelopeOpener, type EnvelopeRecipient, type KeyEnvelope
} from './jwe.js'
import { collectionTag, collectionTagInput, isCollectionTag } from './tags.js'

// ---------------------------------------------------------------------------
// Fixtures: real did:key identities and their keyAgreement keys

interface Reader { keys: Ed25519KeyPair, recipient: EnvelopeRecipient, opener: EnvelopeOpener }

function reader (keys = Ed25519KeyPair.generate()): Reader {
  const vm = didKeyDocument(keys.did).keyAgreement?.[0]
  if (vm === undefined || typeof vm === 'string' || vm.publicKeyMultibase === undefined) throw new Error('no keyAgreement key')
  return {
    keys,
    recipient: { kid: vm.id, x25519PublicKey: x25519FromMultibase(vm.publicKeyMultibase) },
    opener: { kid: vm.id, x25519PrivateKey: keys.x25519PrivateKey() }
  }
}

const SOME_CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const secret = new Uint8Array(randomBytes(32))
const tag = collectionTag(secret, 'https://schema.org', 'MusicPlaylist')
const laptop = reader()
const phone = reader()
const grantee = reader()
const stranger = reader()

function decodeJson (b64: string): Record<string, unknown> {
  return JSON.parse(utf8d.decode(fromB64u(b64))) as Record<string, unknown>
}

/** Flip one bit of a base64url field, keeping it canonical base64url of the same length. */
function flip (b64: string, byte = 0): string {
  const bytes = fromB64u(b64)
  bytes[byte] = (bytes[byte] ?? 0) ^ 0x01
  return b64u(bytes)
}

/** View a typed JOSE object as a plain record, to corrupt it in tests. */
function loose (o: object): Record<string, unknown> { return o as Record<string, unknown> }

function clone<T> (v: T): T { return JSON.parse(JSON.stringify(v)) as T }

/** Run `fn`, expecting a HubError with `code`; also checks no secret appears in it and nothing was returned. */
function expectFailure (fn: () => unknown, code: string, secrets: Uint8Array[] = []): HubError {
  let returned: unknown
  let caught: unknown
  try {
    returned = fn()
  } catch (err) {
    caught = err
  }
  expect(returned).toBeUndefined()
  expect(caught).toBeInstanceOf(HubError)
  const err = caught as HubError
  expect(err.code).toBe(code)
  const text = `${err.message} ${JSON.stringify(err.toJSON())}`
  for (const s of secrets) {
    expect(text).not.toContain(b64u(s))
    expect(text).not.toContain(Buffer.from(s).toString('hex'))
    expect(text).not.toContain(Buffer.from(s).toString('base64'))
  }
  return err
}

// ---------------------------------------------------------------------------
// An independent implementation (RFC 7516 / 7518 on raw node:crypto)

function rawConcatKdf (z: Uint8Array, algorithmId: string): Buffer {
  const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
  const id = Buffer.from(algorithmId, 'ascii')
  // round 1 || Z || AlgorithmID || PartyUInfo (empty) || PartyVInfo (empty) || SuppPubInfo (keydatalen = 256)
  return createHash('sha256').update(Buffer.concat([u32(1), z, u32(id.length), id, u32(0), u32(0), u32(256)])).digest()
}

function rawAesGcmOpen (key: Uint8Array, iv: Uint8Array, ct: Uint8Array, tagBytes: Uint8Array, aad: string): Uint8Array {
  const d = createDecipheriv('aes-256-gcm', key, iv)
  d.setAAD(Buffer.from(aad, 'ascii'))
  d.setAuthTag(tagBytes)
  return Buffer.concat([d.update(ct), d.final()])
}

/** Open a General JSON JWE key envelope for one recipient, written only from the RFCs. */
function rawOpenEnvelope (env: KeyEnvelope, kid: string, x25519Private: Uint8Array, x25519Public: Uint8Array): Uint8Array {
  const r = env.recipients.find(x => x.header.kid === kid)
  if (r === undefined) throw new Error('no such recipient')
  expect(r.header.alg).toBe('ECDH-ES+A256KW')
  const priv = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(x25519Public), d: b64u(x25519Private) }, format: 'jwk' })
  const epk = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: r.header.epk.x }, format: 'jwk' })
  const z = diffieHellman({ privateKey: priv, publicKey: epk })
  // RFC 7518 §4.6.2: with key wrapping, AlgorithmID is the "alg" value ("ECDH-ES+A256KW"), keydatalen 256.
  const kek = rawConcatKdf(z, r.header.alg)
  const unwrap = createDecipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'))
  const cek = Buffer.concat([unwrap.update(fromB64u(r.encrypted_key)), unwrap.final()])
  // RFC 7516 §5.2 step 14: AAD = ASCII(BASE64URL(UTF8(protected))) (no "aad" member).
  return rawAesGcmOpen(cek, fromB64u(env.iv), fromB64u(env.ciphertext), fromB64u(env.tag), env.protected)
}

/** Decrypt a compact `dir`/A256GCM JWE, written only from the RFCs. */
function rawDecryptCompact (jwe: string, key: Uint8Array): { header: Record<string, unknown>, plaintext: Uint8Array } {
  const [p, ek, iv, ct, t] = jwe.split('.')
  if (p === undefined || ek !== '' || iv === undefined || ct === undefined || t === undefined) throw new Error('not compact dir')
  return { header: decodeJson(p), plaintext: rawAesGcmOpen(key, fromB64u(iv), fromB64u(ct), fromB64u(t), p) }
}

async function josePrivateKey (r: Reader): Promise<Parameters<typeof generalDecrypt>[1]> {
  return await importJWK({
    kty: 'OKP', crv: 'X25519', x: b64u(r.keys.x25519PublicKey()), d: b64u(r.keys.x25519PrivateKey())
  }, 'ECDH-ES+A256KW') as Parameters<typeof generalDecrypt>[1]
}

async function josePublicKey (r: Reader): Promise<Parameters<GeneralEncrypt['addRecipient']>[0]> {
  return await importJWK({ kty: 'OKP', crv: 'X25519', x: b64u(r.keys.x25519PublicKey()) }, 'ECDH-ES+A256KW') as Parameters<GeneralEncrypt['addRecipient']>[0]
}

// A commit header as signCommit will produce it, for an encrypted collection.
function encryptedHeader (ck: ContentKey, over: Partial<UnsignedHeader> = {}): UnsignedHeader {
  return {
    interface: 'Collections',
    tag: contentKeyCollectionTag(ck),
    enc: ck.kid,
    operation: 'create',
    committed_at: '2026-01-02T03:04:05.678Z',
    commit_strategy: 'lww',
    sub: laptop.keys.did,
    deps: [],
    ...over
  }
}

function aadFor (ck: ContentKey, over: Partial<UnsignedHeader> = {}, signer = laptop.keys): Uint8Array {
  return commitHeaderAad({ alg: 'EdDSA', kid: signer.kid, ...encryptedHeader(ck, over) })
}

// ---------------------------------------------------------------------------

describe('collection tags', () => {
  it('are deterministic 43-character base64url strings the commit header schema accepts', () => {
    expect(collectionTag(secret, 'https://schema.org', 'MusicPlaylist')).toBe(tag)
    expect(tag).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(isCollectionTag(tag)).toBe(true)
    const ck = newContentKey(tag, 1)
    const header = { alg: 'EdDSA', kid: laptop.keys.kid, ...encryptedHeader(ck) }
    expect(validateHeader(header)).toBe(true)
  })

  it('match the documented construction (HKDF → HMAC over length-prefixed fields)', () => {
    const k = hkdfSync('sha256', secret, new Uint8Array(0), 'identity-hub collection tag v1', 32)
    const c = Buffer.from('https://schema.org')
    const t = Buffer.from('MusicPlaylist')
    const len = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
    const expected = createHmac('sha256', Buffer.from(k)).update(Buffer.concat([len(c.length), c, len(t.length), t])).digest('base64url')
    expect(tag).toBe(expected)
  })

  it('has a fixed test vector', () => {
    const fixed = Uint8Array.from({ length: 32 }, (_, i) => i)
    expect(collectionTag(fixed, 'https://schema.org', 'MusicPlaylist')).toBe(KNOWN_TAG)
  })

  it('differ by secret, context and type', () => {
    const other = new Uint8Array(randomBytes(32))
    expect(collectionTag(other, 'https://schema.org', 'MusicPlaylist')).not.toBe(tag)
    expect(collectionTag(secret, 'https://schema.org/', 'MusicPlaylist')).not.toBe(tag)
    expect(collectionTag(secret, 'https://schema.org', 'MusicRecording')).not.toBe(tag)
  })

  it('cannot confuse (a, bc) with (ab, c)', () => {
    expect(collectionTag(secret, 'a', 'bc')).not.toBe(collectionTag(secret, 'ab', 'c'))
    expect(collectionTag(secret, 'a\u0000', 'b')).not.toBe(collectionTag(secret, 'a', '\u0000b'))
    expect(collectionTagInput('a', 'bc')).not.toEqual(collectionTagInput('ab', 'c'))
    expect(Buffer.from(collectionTagInput('a', 'bc')).toString('hex')).toBe('00000001' + '61' + '00000002' + '6263')
  })

  it('reject short secrets, empty fields and lone surrogates', () => {
    expectFailure(() => collectionTag(new Uint8Array(8), 'a', 'b'), 'bad_request')
    expectFailure(() => collectionTag(secret, '', 'b'), 'bad_request')
    expectFailure(() => collectionTag(secret, 'a', ''), 'bad_request')
    expectFailure(() => collectionTag(secret, 'a\uD800', 'b'), 'bad_request')
    expect(collectionTag(secret, 'a\uD83D\uDE00', 'b')).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })
})

describe('content keys', () => {
  it('are 32 random bytes with kid "<tag>.<version>"', () => {
    const a = newContentKey(tag, 1)
    const b = newContentKey(tag, 1)
    expect(a.kid).toBe(`${tag}.1`)
    expect(a.key).toHaveLength(32)
    expect(bytesEqual(a.key, b.key)).toBe(false)
    expect(parseContentKeyId(a.kid)).toEqual({ collectionTag: tag, version: 1 })
    expect(contentKeyCollectionTag(a)).toBe(tag)
    expect(contentKeyVersion(`${tag}.42`)).toBe(42)
    expect(contentKeyId(tag, 7)).toBe(`${tag}.7`)
    expect(`${tag}.${Number.MAX_SAFE_INTEGER}`.length).toBeLessThanOrEqual(128) // the header's `enc` limit
  })

  it('rotate to the next version of the same collection', () => {
    const v1 = newContentKey(tag, 1)
    const v2 = rotateContentKey(v1)
    expect(v2.kid).toBe(`${tag}.2`)
    expect(bytesEqual(v1.key, v2.key)).toBe(false)
    expect(rotateContentKey(v2.kid).kid).toBe(`${tag}.3`)
  })

  it('reject bad ids, versions and key lengths', () => {
    for (const v of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) expectFailure(() => newContentKey(tag, v), 'bad_request')
    expectFailure(() => newContentKey('short', 1), 'bad_request')
    for (const kid of [`${tag}.0`, `${tag}.01`, `${tag}.`, `${tag}`, `${tag}.1.2`, `x${tag}.1`, `${tag}.99999999999999999`]) {
      expect(isContentKeyId(kid)).toBe(false)
      expectFailure(() => parseContentKeyId(kid), 'bad_request')
    }
    expectFailure(() => importContentKey(`${tag}.1`, new Uint8Array(16)), 'bad_request')
    const imported = importContentKey(`${tag}.1`, new Uint8Array(32).fill(7))
    expect(imported.key).toEqual(new Uint8Array(32).fill(7))
  })
})

describe('key envelopes', () => {
  const ck = newContentKey(tag, 1)

  it('uses the did:key keyAgreement keys derived from the Ed25519 identity', () => {
    expect(laptop.recipient.kid).toMatch(/^did:key:z6Mk[^#]+#z6LS/)
    expect(laptop.recipient.x25519PublicKey).toEqual(laptop.keys.x25519PublicKey())
  })

  it('round-trip for every owner device', () => {
    const env = sealKeyEnvelope(ck, [laptop.recipient, phone.recipient])
    for (const r of [laptop, phone]) {
      const opened = openKeyEnvelope(env, r.opener)
      expect(opened.kid).toBe(ck.kid)
      expect(bytesEqual(opened.key, ck.key)).toBe(true)
    }
    // JSON text works too
    expect(openKeyEnvelope(JSON.stringify(env), phone.opener).key).toEqual(ck.key)
  })

  it('is a General JSON JWE with exactly the documented members', () => {
    const env = sealKeyEnvelope(ck, [laptop.recipient, phone.recipient])
    expect(Object.keys(env).sort()).toEqual(['ciphertext', 'iv', 'protected', 'recipients', 'tag'])
    expect(decodeJson(env.protected)).toEqual({ enc: 'A256GCM', cty: 'identity-hub-content-key', 'hub.ckid': ck.kid })
    expect(fromB64u(env.iv)).toHaveLength(12)
    expect(fromB64u(env.tag)).toHaveLength(16)
    expect(fromB64u(env.ciphertext)).toHaveLength(32)
    expect(env.recipients).toHaveLength(2)
    for (const [i, r] of env.recipients.entries()) {
      expect(Object.keys(r).sort()).toEqual(['encrypted_key', 'header'])
      expect(r.header.alg).toBe('ECDH-ES+A256KW')
      expect(r.header.kid).toBe([laptop, phone][i]?.recipient.kid)
      expect(r.header.epk.kty).toBe('OKP')
      expect(r.header.epk.crv).toBe('X25519')
      expect(fromB64u(r.header.epk.x)).toHaveLength(32)
      expect(fromB64u(r.encrypted_key)).toHaveLength(40)
    }
    // fresh ephemeral keys per recipient
    expect(env.recipients[0]?.header.epk.x).not.toBe(env.recipients[1]?.header.epk.x)
    expect(parseKeyEnvelope(env).recipients).toEqual([laptop.recipient.kid, phone.recipient.kid])
    expect(parseKeyEnvelope(env).contentKeyId).toBe(ck.kid)
  })

  it('adds a read grantee, by resealing or by extending the envelope', () => {
    const env = sealKeyEnvelope(ck, [laptop.recipient, phone.recipient])
    expectFailure(() => openKeyEnvelope(env, grantee.opener), 'not_found')

    const resealed = sealKeyEnvelope(ck, [laptop.recipient, phone.recipient, grantee.recipient])
    expect(openKeyEnvelope(resealed, grantee.opener).key).toEqual(ck.key)

    const extended = addRecipients(env, phone.opener, [grantee.recipient])
    expect(extended.recipients).toHaveLength(3)
    expect(extended.recipients.slice(0, 2)).toEqual(env.recipients)
    expect([extended.protected, extended.iv, extended.ciphertext, extended.tag]).toEqual([env.protected, env.iv, env.ciphertext, env.tag])
    for (const r of [laptop, phone, grantee]) expect(openKeyEnvelope(extended, r.opener).key).toEqual(ck.key)
    expectFailure(() => addRecipients(env, phone.opener, [laptop.recipient]), 'bad_request')
    expectFailure(() => addRecipients(env, stranger.opener, [grantee.recipient]), 'not_found')
  })

  it('fails with not_found for a reader that is not a recipient', () => {
    const env = sealKeyEnvelope(ck, [laptop.recipient])
    const err = expectFailure(() => openKeyEnvelope(env, stranger.opener), 'not_found', [ck.key, stranger.keys.x25519PrivateKey()])
    expect(err.details).toMatchObject({ kid: stranger.opener.kid })
  })

  it('fails with authentication_failed for a listed kid with the wrong private key', () => {
    const env = sealKeyEnvelope(ck, [laptop.recipient])
    expectFailure(() => openKeyEnvelope(env, { kid: laptop.opener.kid, x25519PrivateKey: stranger.keys.x25519PrivateKey() }),
      'authentication_failed', [ck.key, stranger.keys.x25519PrivateKey()])
  })

  describe('tampering → authentication_failed, nothing returned', () => {
    const env = sealKeyEnvelope(ck, [laptop.recipient, phone.recipient])
    const secrets = [ck.key, laptop.keys.x25519PrivateKey()]
    const cases: Array<[string, (e: KeyEnvelope) => void]> = [
      ['ciphertext', e => { e.ciphertext = flip(e.ciphertext, 5) }],
      ['iv', e => { e.iv = flip(e.iv) }],
      ['tag', e => { e.tag = flip(e.tag, 15) }],
      ['protected header (other content key id)', e => {
        e.protected = b64u(JSON.stringify({ enc: 'A256GCM', cty: 'identity-hub-content-key', 'hub.ckid': `${tag}.2` }))
      }],
      ['protected header (same members, other order)', e => {
        e.protected = b64u(JSON.stringify({ cty: 'identity-hub-content-key', 'hub.ckid': ck.kid, enc: 'A256GCM' }))
      }],
      ['recipient encrypted_key', e => { const r = e.recipients[0]; if (r !== undefined) r.encrypted_key = flip(r.encrypted_key, 20) }],
      ['recipient epk', e => { const r = e.recipients[0]; if (r !== undefined) r.header.epk.x = flip(r.header.epk.x, 3) }],
      ['recipient entries swapped', e => {
        const [a, b] = e.recipients
        if (a !== undefined && b !== undefined) e.recipients = [{ ...a, encrypted_key: b.encrypted_key }, b]
      }]
    ]
    for (const [name, mutate] of cases) {
      it(name, () => {
        const t = clone(env)
        mutate(t)
        expectFailure(() => openKeyEnvelope(t, laptop.opener), 'authentication_failed', secrets)
      })
    }
    it('the untampered copy still opens', () => {
      expect(openKeyEnvelope(clone(env), laptop.opener).key).toEqual(ck.key)
    })
  })

  describe('malformed → bad_request', () => {
    const env = sealKeyEnvelope(ck, [laptop.recipient])
    const header = decodeJson(env.protected)
    const cases: Array<[string, (e: Record<string, unknown> & KeyEnvelope) => void]> = [
      ['enc A128GCM', e => { e.protected = b64u(JSON.stringify({ ...header, enc: 'A128GCM' })) }],
      ['zip', e => { e.protected = b64u(JSON.stringify({ ...header, zip: 'DEF' })) }],
      ['crit', e => { e.protected = b64u(JSON.stringify({ ...header, crit: ['hub.ckid'] })) }],
      ['kid in the protected header', e => { e.protected = b64u(JSON.stringify({ ...header, kid: ck.kid })) }],
      ['wrong cty', e => { e.protected = b64u(JSON.stringify({ ...header, cty: 'json' })) }],
      ['bad content key id', e => { e.protected = b64u(JSON.stringify({ ...header, 'hub.ckid': 'nope' })) }],
      ['protected not JSON', e => { e.protected = b64u('{') }],
      ['protected padded', e => { e.protected = `${e.protected}=` }],
      ['unknown alg', e => { const r = e.recipients[0]; if (r !== undefined) loose(r.header).alg = 'ECDH-ES+A128KW' }],
      ['RSA alg', e => { const r = e.recipients[0]; if (r !== undefined) loose(r.header).alg = 'RSA-OAEP' }],
      ['epk on P-256', e => { const r = e.recipients[0]; if (r !== undefined) loose(r.header.epk).crv = 'P-256' }],
      ['epk with d', e => { const r = e.recipients[0]; if (r !== undefined) loose(r.header.epk).d = r.header.epk.x }],
      ['short epk', e => { const r = e.recipients[0]; if (r !== undefined) r.header.epk.x = b64u(new Uint8Array(31)) }],
      ['short encrypted_key', e => { const r = e.recipients[0]; if (r !== undefined) r.encrypted_key = b64u(new Uint8Array(32)) }],
      ['recipient kid not a DID URL', e => { const r = e.recipients[0]; if (r !== undefined) r.header.kid = 'k1' }],
      ['extra recipient member', e => { const r = e.recipients[0]; if (r !== undefined) loose(r).extra = 1 }],
      ['extra recipient header parameter', e => { const r = e.recipients[0]; if (r !== undefined) loose(r.header).apu = 'AA' }],
      ['duplicate recipients', e => { const r = e.recipients[0]; if (r !== undefined) e.recipients = [r, clone(r)] }],
      ['no recipients', e => { e.recipients = [] }],
      ['aad member', e => { e.aad = 'AA' }],
      ['shared unprotected header', e => { e.unprotected = { kid: 'x' } }],
      ['flattened header', e => { e.header = { alg: 'ECDH-ES+A256KW' } }],
      ['short iv', e => { e.iv = b64u(new Uint8Array(8)) }],
      ['short tag', e => { e.tag = b64u(new Uint8Array(12)) }],
      ['long ciphertext', e => { e.ciphertext = b64u(new Uint8Array(33)) }],
      // 16 bytes are 22 characters with 4 spare bits; setting one gives a second spelling of the same bytes.
      ['non-canonical base64url', e => { e.tag = `${e.tag.slice(0, -1)}${String.fromCharCode(e.tag.charCodeAt(21) ^ 1)}` }]
    ]
    for (const [name, mutate] of cases) {
      it(name, () => {
        const t = clone(env) as Record<string, unknown> & KeyEnvelope
        mutate(t)
        expectFailure(() => openKeyEnvelope(t, laptop.opener), 'bad_request', [ck.key])
      })
    }
    it('rejects non-objects and bad JSON', () => {
      for (const v of [null, 1, [], '{', '"x"']) expectFailure(() => openKeyEnvelope(v, laptop.opener), 'bad_request')
    })
  })

  it('refuses to seal to no one, to duplicates, to bad kids, bad key lengths and low-order points', () => {
    expectFailure(() => sealKeyEnvelope(ck, []), 'bad_request', [ck.key])
    expectFailure(() => sealKeyEnvelope(ck, [laptop.recipient, laptop.recipient]), 'bad_request', [ck.key])
    expectFailure(() => sealKeyEnvelope(ck, [{ kid: 'laptop', x25519PublicKey: laptop.recipient.x25519PublicKey }]), 'bad_request', [ck.key])
    expectFailure(() => sealKeyEnvelope(ck, [{ kid: laptop.recipient.kid, x25519PublicKey: new Uint8Array(31) }]), 'bad_request', [ck.key])
    expectFailure(() => sealKeyEnvelope(ck, [{ kid: laptop.recipient.kid, x25519PublicKey: new Uint8Array(32) }]), 'bad_request', [ck.key])
    expectFailure(() => sealKeyEnvelope({ kid: ck.kid, key: new Uint8Array(16) }, [laptop.recipient]), 'bad_request')
    expectFailure(() => sealKeyEnvelope({ kid: 'x', key: ck.key }, [laptop.recipient]), 'bad_request', [ck.key])
  })
})

describe('payload JWEs', () => {
  const ck = newContentKey(tag, 3)
  const plaintext = utf8.encode('{"name":"Road trip","tracks":[1,2,3]}')

  it('round-trip with the commit header bound', () => {
    const aad = aadFor(ck)
    const jwe = encryptPayload(ck, plaintext, aad)
    expect(decryptPayload(ck, jwe, aad)).toEqual(plaintext)
    expect(payloadContentKeyId(jwe)).toBe(ck.kid)
    for (const size of [0, 1, 100_000]) {
      const p = new Uint8Array(randomBytes(size))
      expect(decryptPayload(ck, encryptPayload(ck, p, aad), aad)).toEqual(p)
    }
  })

  it('is a compact JWE with exactly the documented protected header', () => {
    const aad = aadFor(ck)
    const jwe = encryptPayload(ck, plaintext, aad)
    const parts = jwe.split('.')
    expect(parts).toHaveLength(5)
    expect(parts[1]).toBe('')
    expect(decodeJson(parts[0] ?? '')).toEqual({
      alg: 'dir', enc: 'A256GCM', kid: ck.kid, 'hub.aad': createHash('sha256').update(aad).digest('base64url')
    })
    expect(fromB64u(parts[2] ?? '')).toHaveLength(12)
    expect(fromB64u(parts[3] ?? '')).toHaveLength(plaintext.length)
    expect(fromB64u(parts[4] ?? '')).toHaveLength(16)
    expect(encryptPayload(ck, plaintext, aad)).not.toBe(jwe) // fresh IV each time
  })

  describe('tampering → authentication_failed, nothing returned', () => {
    const aad = aadFor(ck)
    const jwe = encryptPayload(ck, plaintext, aad)
    const [p, , iv, ct, t] = jwe.split('.') as [string, string, string, string, string]
    const header = decodeJson(p)
    const otherAad = aadFor(ck, { committed_at: '2026-01-02T03:04:06.000Z' })
    const cases: Array<[string, string]> = [
      ['ciphertext', `${p}..${iv}.${flip(ct, 3)}.${t}`],
      ['iv', `${p}..${flip(iv, 11)}.${ct}.${t}`],
      ['tag', `${p}..${iv}.${ct}.${flip(t)}`],
      ['protected header re-encoded (other member order)', `${b64u(JSON.stringify({ enc: 'A256GCM', alg: 'dir', kid: ck.kid, 'hub.aad': header['hub.aad'] }))}..${iv}.${ct}.${t}`],
      ['protected header rebound to another commit header', `${b64u(JSON.stringify({ ...header, 'hub.aad': createHash('sha256').update(otherAad).digest('base64url') }))}..${iv}.${ct}.${t}`],
      ['protected header naming another key version', `${b64u(JSON.stringify({ ...header, kid: `${tag}.4` }))}..${iv}.${ct}.${t}`]
    ]
    for (const [name, tampered] of cases) {
      it(name, () => { expectFailure(() => decryptPayload(ck, tampered, aad), 'authentication_failed', [ck.key]) })
    }
    it('the untampered JWE still decrypts', () => { expect(decryptPayload(ck, jwe, aad)).toEqual(plaintext) })

    it('a changed commit header (any bound field)', () => {
      const changes: Array<Partial<UnsignedHeader>> = [
        { committed_at: '2026-01-02T03:04:05.679Z' },
        { operation: 'update', object_id: asObjectId(SOME_CID), deps: [asCommitId(SOME_CID)] },
        { sub: stranger.keys.did },
        { commit_strategy: 'automerge' },
        { tag: collectionTag(secret, 'https://schema.org', 'Person') },
        { interface: 'Profile' }
      ]
      for (const over of changes) {
        expectFailure(() => decryptPayload(ck, jwe, aadFor(ck, over)), 'authentication_failed', [ck.key])
      }
      expectFailure(() => decryptPayload(ck, jwe, aadFor(ck, {}, grantee.keys)), 'authentication_failed', [ck.key])
      expectFailure(() => decryptPayload(ck, jwe, new Uint8Array(0)), 'authentication_failed', [ck.key])
    })

    it('the wrong key (same id, other bytes; or another version)', () => {
      expectFailure(() => decryptPayload({ kid: ck.kid, key: new Uint8Array(randomBytes(32)) }, jwe, aad), 'authentication_failed', [ck.key])
      expectFailure(() => decryptPayload(rotateContentKey(ck), jwe, aad), 'authentication_failed', [ck.key])
    })
  })

  describe('malformed → bad_request', () => {
    const aad = aadFor(ck)
    const jwe = encryptPayload(ck, plaintext, aad)
    const [p, , iv, ct, t] = jwe.split('.') as [string, string, string, string, string]
    const header = decodeJson(p)
    const withHeader = (h: Record<string, unknown>): string => `${b64u(JSON.stringify(h))}..${iv}.${ct}.${t}`
    const cases: Array<[string, string]> = [
      ['three parts (a JWS)', `${p}.${ct}.${t}`],
      ['six parts', `${jwe}.x`],
      ['alg A256KW', withHeader({ ...header, alg: 'A256KW' })],
      ['alg none', withHeader({ ...header, alg: 'none' })],
      ['enc A256CBC-HS512', withHeader({ ...header, enc: 'A256CBC-HS512' })],
      ['zip', withHeader({ ...header, zip: 'DEF' })],
      ['crit', withHeader({ ...header, crit: ['hub.aad'] })],
      ['extra parameter', withHeader({ ...header, cty: 'json' })],
      ['missing hub.aad', withHeader({ alg: 'dir', enc: 'A256GCM', kid: ck.kid })],
      ['short hub.aad', withHeader({ ...header, 'hub.aad': b64u(new Uint8Array(16)) })],
      ['kid not a content key id', withHeader({ ...header, kid: laptop.keys.kid })],
      ['non-empty encrypted key', `${p}.${b64u(new Uint8Array(40))}.${iv}.${ct}.${t}`],
      ['short iv', `${p}..${b64u(new Uint8Array(8))}.${ct}.${t}`],
      ['short tag', `${p}..${iv}.${ct}.${b64u(new Uint8Array(8))}`],
      ['non-base64url ciphertext', `${p}..${iv}.${ct}+/.${t}`],
      ['header not JSON', `${b64u('nope')}..${iv}.${ct}.${t}`]
    ]
    for (const [name, bad] of cases) {
      it(name, () => { expectFailure(() => decryptPayload(ck, bad, aad), 'bad_request', [ck.key]) })
    }
    it('rejects a bad content key', () => {
      expectFailure(() => decryptPayload({ kid: ck.kid, key: new Uint8Array(31) }, jwe, aad), 'bad_request')
      expectFailure(() => encryptPayload({ kid: 'x', key: ck.key }, plaintext, aad), 'bad_request', [ck.key])
      expectFailure(() => parsePayloadJwe(42), 'bad_request')
    })
  })

  describe('the commit header AAD', () => {
    it('is the canonical JSON of the header, independent of member order', () => {
      const a = commitHeaderAad({ b: ['x', 'y'], a: 'z', c: undefined })
      expect(utf8d.decode(a)).toBe('{"a":"z","b":["x","y"]}')
      const h = { alg: 'EdDSA', kid: laptop.keys.kid, ...encryptedHeader(ck) }
      const reversed = Object.fromEntries(Object.entries(h).reverse())
      expect(commitHeaderAad(reversed)).toEqual(commitHeaderAad(h))
      expect(() => commitHeaderAad({ n: Number.NaN })).toThrow(HubError)
      expect(() => commitHeaderAad({ n: 1n })).toThrow(HubError)
    })

    it('binds a payload to its signed commit end to end', () => {
      const fields = encryptedHeader(ck)
      const aad = commitHeaderAad({ alg: 'EdDSA', kid: laptop.keys.kid, ...fields })
      const commit = signCommit(fields, utf8.encode(encryptPayload(ck, plaintext, aad)), laptop.keys)
      // The reader: parse the envelope off the wire, look the key up by `enc`, recompute the AAD from the header.
      const received = parseCommit(serializeCommit(commit))
      expect(received.header.enc).toBe(ck.kid)
      expect(received.header.context).toBeUndefined()
      const jwe = utf8d.decode(received.payload)
      expect(payloadContentKeyId(jwe)).toBe(received.header.enc)
      expect(decryptPayload(ck, jwe, commitHeaderAad(received.header))).toEqual(plaintext)

      // Lifting the ciphertext into another (validly signed) commit fails.
      const lifted = parseCommit(serializeCommit(signCommit({ ...fields, committed_at: '2027-01-01T00:00:00Z' }, received.payload, laptop.keys)))
      expectFailure(() => decryptPayload(ck, utf8d.decode(lifted.payload), commitHeaderAad(lifted.header)), 'authentication_failed', [ck.key])
      const resigned = parseCommit(serializeCommit(signCommit(fields, received.payload, grantee.keys)))
      expectFailure(() => decryptPayload(ck, utf8d.decode(resigned.payload), commitHeaderAad(resigned.header)), 'authentication_failed', [ck.key])
    })
  })
})

describe('interoperability (standard JOSE)', () => {
  const ck = newContentKey(tag, 1)

  it('an independent RFC 7516/7518 implementation on raw node:crypto opens our key envelope', () => {
    const env = sealKeyEnvelope(ck, [laptop.recipient, grantee.recipient])
    for (const r of [laptop, grantee]) {
      const key = rawOpenEnvelope(clone(env), r.recipient.kid, r.keys.x25519PrivateKey(), r.keys.x25519PublicKey())
      expect(Buffer.from(key).equals(Buffer.from(ck.key))).toBe(true)
    }
  })

  it('an independent implementation decrypts our payload JWE', () => {
    const aad = aadFor(ck)
    const jwe = encryptPayload(ck, utf8.encode('hello'), aad)
    const out = rawDecryptCompact(jwe, ck.key)
    expect(utf8d.decode(out.plaintext)).toBe('hello')
    expect(out.header).toMatchObject({ alg: 'dir', enc: 'A256GCM', kid: ck.kid })
    expect(out.header['hub.aad']).toBe(createHash('sha256').update(aad).digest('base64url'))
  })

  it('the end-to-end chain works through the independent implementation alone', () => {
    const env = sealKeyEnvelope(ck, [phone.recipient])
    const jwe = encryptPayload(ck, utf8.encode('chain'), aadFor(ck))
    const key = rawOpenEnvelope(env, phone.recipient.kid, phone.keys.x25519PrivateKey(), phone.keys.x25519PublicKey())
    expect(utf8d.decode(rawDecryptCompact(jwe, key).plaintext)).toBe('chain')
  })

  it('jose decrypts our key envelope and our payload JWE', async () => {
    const env = sealKeyEnvelope(ck, [laptop.recipient, phone.recipient, grantee.recipient])
    for (const r of [laptop, phone, grantee]) {
      const out = await generalDecrypt(clone(env), await josePrivateKey(r))
      expect(out.plaintext).toEqual(ck.key)
      expect(out.protectedHeader).toEqual({ enc: 'A256GCM', cty: 'identity-hub-content-key', 'hub.ckid': ck.kid })
    }
    await expect(generalDecrypt(clone(env), await josePrivateKey(stranger))).rejects.toThrow()

    const jwe = encryptPayload(ck, utf8.encode('hello jose'), aadFor(ck))
    const out = await compactDecrypt(jwe, ck.key)
    expect(utf8d.decode(out.plaintext)).toBe('hello jose')
    expect(out.protectedHeader.kid).toBe(ck.kid)
  })

  it('we open a key envelope and decrypt a payload JWE that jose produced', async () => {
    const aad = aadFor(ck)
    const enc = new GeneralEncrypt(ck.key).setProtectedHeader({ enc: 'A256GCM', cty: 'identity-hub-content-key', 'hub.ckid': ck.kid })
    for (const r of [laptop, grantee]) {
      enc.addRecipient(await josePublicKey(r)).setUnprotectedHeader({ alg: 'ECDH-ES+A256KW', kid: r.recipient.kid })
    }
    const env = await enc.encrypt()
    for (const r of [laptop, grantee]) {
      const opened = openKeyEnvelope(env, r.opener)
      expect(opened.kid).toBe(ck.kid)
      expect(opened.key).toEqual(ck.key)
    }

    const jwe = await new CompactEncrypt(utf8.encode('from jose'))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: ck.kid, 'hub.aad': createHash('sha256').update(aad).digest('base64url') })
      .encrypt(ck.key)
    expect(utf8d.decode(decryptPayload(ck, jwe, aad))).toBe('from jose')
    expectFailure(() => decryptPayload(ck, jwe, aadFor(ck, { committed_at: '2030-01-01T00:00:00Z' })), 'authentication_failed', [ck.key])
  })
})

// collectionTag(bytes 0..31, 'https://schema.org', 'MusicPlaylist'); also in protocols/encryption.md.
const KNOWN_TAG = 'buhFxBh-ASw3Km1JZaBjYSD51EzlPEizA-tU9nNOCdY'
