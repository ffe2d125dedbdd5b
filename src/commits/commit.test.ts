import { flattenedVerify, importJWK } from 'jose'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { Ed25519KeyPair } from '../identity/keys.js'
import { b64u, utf8 } from '../identity/encoding.js'
import { asCommitId, asObjectId } from '../ids.js'
import { parseCommit, serializeCommit, signCommit, verifyCommit, lwwCompare, type UnsignedHeader } from './commit.js'
import { validateHeader } from './schema.js'

const owner = Ed25519KeyPair.generate()
const lookup = (kid: string): Uint8Array => {
  if (kid !== owner.kid) throw new Error('unknown key')
  return owner.publicKey
}

function header (over: Partial<UnsignedHeader> = {}): UnsignedHeader {
  return {
    interface: 'Collections',
    context: 'https://schema.org',
    type: 'MusicPlaylist',
    operation: 'create',
    committed_at: '2026-01-02T03:04:05.678Z',
    commit_strategy: 'lww',
    sub: owner.did,
    deps: [],
    ...over
  }
}

describe('commit envelope', () => {
  it('signs a standard JWS that an independent JOSE library verifies', async () => {
    const c = signCommit(header(), utf8.encode('{"a":1}'), owner)
    const key = await importJWK({ ...owner.publicJwk(), alg: 'EdDSA' }, 'EdDSA')
    const out = await flattenedVerify(c.envelope, key)
    expect(new TextDecoder().decode(out.payload)).toBe('{"a":1}')
    expect(out.protectedHeader?.kid).toBe(owner.kid)
  })

  it('computes the commit id as CIDv1 raw sha2-256 over protected.payload', async () => {
    const c = signCommit(header(), utf8.encode('x'), owner)
    const digest = await sha256.digest(utf8.encode(`${c.envelope.protected}.${c.envelope.payload}`))
    expect(c.id).toBe(CID.createV1(0x55, digest).toString())
    expect(c.objectId).toBe(c.id)
  })

  it('parses what it serializes, and verifies', async () => {
    const c = signCommit(header(), utf8.encode('{"a":1}'), owner)
    const p = parseCommit(serializeCommit(c))
    expect(p.id).toBe(c.id)
    expect(p.header).toEqual(c.header)
    expect(p.signer).toBe(owner.did)
    await verifyCommit(p, lookup)
  })

  it('rejects a forged signature, a changed payload and a changed header', async () => {
    const c = signCommit(header(), utf8.encode('{"a":1}'), owner)
    const other = Ed25519KeyPair.generate()
    const forged = { ...c.envelope, signature: b64u(other.sign(utf8.encode(`${c.envelope.protected}.${c.envelope.payload}`))) }
    await expect(verifyCommit(parseCommit(forged), lookup)).rejects.toMatchObject({ code: 'authentication_failed' })
    const payload = { ...c.envelope, payload: b64u('{"a":2}') }
    await expect(verifyCommit(parseCommit(payload), lookup)).rejects.toMatchObject({ code: 'authentication_failed' })
    const hdr = { ...c.envelope, protected: b64u(JSON.stringify({ ...c.header, type: 'Other' })) }
    await expect(verifyCommit(parseCommit(hdr), lookup)).rejects.toMatchObject({ code: 'authentication_failed' })
  })

  it('rejects malformed input with bad_request and oversize input with too_large', () => {
    const c = signCommit(header(), utf8.encode('{}'), owner)
    const bad: unknown[] = [
      'not json', '[]', '{}', JSON.stringify({ ...c.envelope, extra: 1 }),
      JSON.stringify({ ...c.envelope, protected: 'e30' }), // {} header
      JSON.stringify({ ...c.envelope, protected: '!!!' }),
      JSON.stringify({ ...c.envelope, signature: 'short' }),
      JSON.stringify({ ...c.envelope, protected: b64u('not json') })
    ]
    for (const input of bad) expect(() => parseCommit(input), String(input)).toThrow(expect.objectContaining({ code: 'bad_request' }))
    expect(() => parseCommit(serializeCommit(c), 100)).toThrow(expect.objectContaining({ code: 'too_large' }))
  })

  it('enforces the create/update shape rules of the header schema', () => {
    const id = asObjectId(signCommit(header(), utf8.encode('{}'), owner).id)
    expect(validateHeader({ ...header(), alg: 'EdDSA', kid: owner.kid })).toBe(true)
    expect(validateHeader({ ...header({ object_id: id }), alg: 'EdDSA', kid: owner.kid })).toBe(false)
    expect(validateHeader({ ...header({ operation: 'update', object_id: id }), alg: 'EdDSA', kid: owner.kid })).toBe(false) // no deps
    expect(validateHeader({ ...header({ operation: 'update', object_id: id, deps: [asCommitId(id)] }), alg: 'EdDSA', kid: owner.kid })).toBe(true)
    expect(validateHeader({ ...header({ operation: 'update', deps: [asCommitId(id)] }), alg: 'EdDSA', kid: owner.kid })).toBe(false) // no object_id
    expect(validateHeader({ ...header({ committed_at: 'yesterday' }), alg: 'EdDSA', kid: owner.kid })).toBe(false)
    expect(validateHeader({ ...header(), alg: 'ES256', kid: owner.kid })).toBe(false)
    const { context: _c, type: _t, ...noCollection } = header()
    expect(validateHeader({ ...noCollection, alg: 'EdDSA', kid: owner.kid })).toBe(false)
  })

  it('orders LWW writes by time, then by commit id', () => {
    expect(lwwCompare({ at: 2, id: 'a' }, { at: 1, id: 'z' })).toBeGreaterThan(0)
    expect(lwwCompare({ at: 1, id: 'b' }, { at: 1, id: 'a' })).toBeGreaterThan(0)
    expect(lwwCompare({ at: 1, id: 'a' }, { at: 1, id: 'a' })).toBe(0)
  })
})
