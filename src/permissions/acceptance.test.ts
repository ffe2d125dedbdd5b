/**
 * Acceptances (commit.md, Envelope): sign/verify round trip, interop with an
 * independent JOSE library, and every refusal with its stable error code.
 */
import { compactVerify, importJWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { HubError } from '../errors.js'
import { b64u } from '../identity/encoding.js'
import { Ed25519KeyPair, type Signer } from '../identity/keys.js'
import { ACCEPTANCE_TYP, MAX_ACCEPTANCE_BYTES, signAcceptance, verifyAcceptance, type Acceptance } from './acceptance.js'

const acceptor = Ed25519KeyPair.generate()
const other = Ed25519KeyPair.generate()
const COMMIT = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
const AT = Date.UTC(2030, 0, 1)
const good = (over: Partial<Acceptance> = {}): Acceptance => ({ commit: COMMIT, by: acceptor.did, at: AT, grant: 'bafkreigrant', ...over })

/** A compact JWS over arbitrary header and claims, signed by `signer`. */
function raw (signer: Signer, header: Record<string, unknown>, claims: unknown): string {
  const h = b64u(JSON.stringify(header))
  const p = b64u(JSON.stringify(claims))
  return `${h}.${p}.${b64u(signer.sign(new TextEncoder().encode(`${h}.${p}`)))}`
}
const hdr = (signer: Signer = acceptor, over: Record<string, unknown> = {}): Record<string, unknown> => ({ alg: 'EdDSA', typ: ACCEPTANCE_TYP, kid: signer.kid, ...over })
const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ c: COMMIT, by: acceptor.did, at: AT, g: 'bafkreigrant', ...over })

function refusal (jws: unknown, commitId = COMMIT): HubError {
  try {
    verifyAcceptance(jws as string, commitId)
  } catch (err) {
    expect(err).toBeInstanceOf(HubError)
    return err as HubError
  }
  throw new Error('the acceptance was accepted')
}

describe('acceptances', () => {
  it('round-trips, with and without a grant', () => {
    expect(verifyAcceptance(signAcceptance(good(), acceptor), COMMIT)).toEqual(good())
    const { grant: _g, ...noGrant } = good()
    expect(verifyAcceptance(signAcceptance(noGrant, acceptor), COMMIT)).toEqual(noGrant)
    expect(verifyAcceptance(signAcceptance(good({ at: 0 }), acceptor), COMMIT).at).toBe(0)
  })

  it('is a standard compact JWS: jose verifies it with the acceptor\'s key', async () => {
    const jws = signAcceptance(good(), acceptor)
    const key = await importJWK(acceptor.publicJwk(), 'EdDSA')
    const { payload, protectedHeader } = await compactVerify(jws, key)
    expect(protectedHeader).toEqual({ alg: 'EdDSA', typ: ACCEPTANCE_TYP, kid: acceptor.kid })
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({ c: COMMIT, by: acceptor.did, at: AT, g: 'bafkreigrant' })
  })

  it('is signed only by its acceptor', () => {
    expect(() => signAcceptance(good({ by: other.did }), acceptor)).toThrow(expect.objectContaining({ code: 'bad_request' }))
  })

  it('refuses a forged signature: authentication_failed', () => {
    // Claims and kid of the acceptor, signature by someone else.
    expect(refusal(raw(other, hdr(acceptor), claims())).code).toBe('authentication_failed')
    // A genuine acceptance whose claims were edited afterwards (a later `at`, another grant).
    const [h, , s] = signAcceptance(good(), acceptor).split('.') as [string, string, string]
    expect(refusal(`${h}.${b64u(JSON.stringify(claims({ at: AT + 1 })))}.${s}`).code).toBe('authentication_failed')
    expect(refusal(`${h}.${b64u(JSON.stringify(claims({ g: 'bafkreiother' })))}.${s}`).code).toBe('authentication_failed')
    // A signature of the right length that is all zeros.
    expect(refusal(`${h}.${b64u(JSON.stringify(claims()))}.${b64u(new Uint8Array(64))}`).code).toBe('authentication_failed')
  })

  it('refuses an acceptance of another commit: bad_request, before any signature work', () => {
    const jws = signAcceptance(good(), acceptor)
    const e = refusal(jws, 'bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')
    expect(e.code).toBe('bad_request')
    expect(e.message).toMatch(/another commit/)
  })

  it('refuses a kid that is not the acceptor\'s own did:key: bad_request', () => {
    // Signed by `other`, claiming `by` = acceptor, with other's kid: the kid does not match by.
    expect(refusal(raw(other, hdr(other), claims())).code).toBe('bad_request')
    // The acceptor's DID with a foreign fragment.
    expect(refusal(raw(acceptor, hdr(acceptor, { kid: `${acceptor.did}#key-1` }), claims())).code).toBe('bad_request')
    expect(refusal(raw(acceptor, hdr(acceptor, { kid: undefined }), claims())).code).toBe('bad_request')
    // by must be a did:key (its key is the public key: no resolution).
    expect(refusal(raw(acceptor, hdr(acceptor, { kid: 'did:web:example.com#k' }), claims({ by: 'did:web:example.com' }))).code).toBe('bad_request')
    // A did:key that is not an Ed25519 key, or not base58btc at all.
    expect(refusal(raw(acceptor, hdr(acceptor, { kid: 'did:key:zzzz#zzzz' }), claims({ by: 'did:key:zzzz' }))).code).toBe('bad_request')
    expect(refusal(raw(acceptor, hdr(acceptor, { kid: 'did:key:0OIl#0OIl' }), claims({ by: 'did:key:0OIl' }))).code).toBe('bad_request')
  })

  it('refuses malformed acceptances with bad_request', () => {
    const sig = b64u(new Uint8Array(64))
    const cases: unknown[] = [
      '',
      'a.b',
      'a.b.c.d',
      '..',
      `${b64u('{')}.${b64u('{}')}.${sig}`,
      `${b64u('[]')}.${b64u(JSON.stringify(claims()))}.${sig}`,
      `${b64u('null')}.${b64u(JSON.stringify(claims()))}.${sig}`,
      `${b64u(JSON.stringify(hdr()))}.${b64u('"x"')}.${sig}`,
      `${b64u(JSON.stringify(hdr()))}.${b64u(JSON.stringify(claims()))}.!!!`,
      `${b64u(JSON.stringify(hdr()))}.${b64u(JSON.stringify(claims()))}+/.${sig}`,
      // Not UTF-8.
      `${b64u(new Uint8Array([0xff, 0xfe]))}.${b64u(JSON.stringify(claims()))}.${sig}`,
      raw(acceptor, hdr(acceptor, { alg: 'ES256' }), claims()),
      raw(acceptor, hdr(acceptor, { alg: 'none' }), claims()),
      raw(acceptor, hdr(acceptor, { typ: 'JWT' }), claims()),
      raw(acceptor, hdr(acceptor, { typ: undefined }), claims()),
      raw(acceptor, hdr(), claims({ by: undefined })),
      raw(acceptor, hdr(), claims({ by: 42 })),
      raw(acceptor, hdr(), claims({ at: undefined })),
      raw(acceptor, hdr(), claims({ at: '2030-01-01T00:00:00Z' })),
      raw(acceptor, hdr(), claims({ at: -1 })),
      raw(acceptor, hdr(), claims({ at: 1.5 })),
      raw(acceptor, hdr(), claims({ at: Number.MAX_SAFE_INTEGER + 2 })),
      raw(acceptor, hdr(), claims({ g: 7 })),
      raw(acceptor, hdr(), claims({ g: null })),
      raw(acceptor, hdr(), claims({ c: undefined })),
      raw(acceptor, hdr(), claims({ c: [COMMIT] }))
    ]
    for (const jws of cases) {
      const e = refusal(jws)
      expect({ jws, code: e.code }).toEqual({ jws, code: 'bad_request' })
    }
  })

  it('refuses what is not a string, and anything over 2 KiB, with a stable code', () => {
    for (const v of [undefined, null, 42, {}, ['a.b.c']]) expect(refusal(v).code).toBe('bad_request')
    const big = raw(acceptor, hdr(), claims({ pad: 'x'.repeat(MAX_ACCEPTANCE_BYTES) }))
    expect(big.length).toBeGreaterThan(MAX_ACCEPTANCE_BYTES)
    expect(refusal(big).code).toBe('bad_request')
    expect(refusal(`${'a'.repeat(MAX_ACCEPTANCE_BYTES)}.b.c`).code).toBe('bad_request')
    // Unknown extra claims within the limit are tolerated (the signature covers them).
    const extra = raw(acceptor, hdr(), claims({ note: 'hi' }))
    expect(extra.length).toBeLessThanOrEqual(MAX_ACCEPTANCE_BYTES)
    expect(verifyAcceptance(extra, COMMIT)).toEqual(good())
  })
})
