import { describe, expect, it } from 'vitest'
import type { UnsignedHeader } from '../commits/commit.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { utf8, utf8d } from '../identity/encoding.js'
import { collectionFields, signSealed } from './commit-seal.js'
import { newContentKey } from './content-keys.js'
import { commitHeaderAad, decryptPayload } from './jwe.js'

const TAG = 'ZClHguKo-hQGQn23gYHXK-f9gCJ4A-7PWiZSkdOo2vo'
const signer = Ed25519KeyPair.generate()
const base = (operation: 'create' | 'delete'): UnsignedHeader => ({
  interface: 'Collections', operation, committed_at: '2026-12-03T00:00:00.000Z', commit_strategy: 'lww', sub: signer.did, deps: []
}) as UnsignedHeader

describe('commit sealing (shared by the hub and the SDK)', () => {
  it('names a plaintext collection by context and type, an encrypted one only by the tag and key id of its content key', () => {
    const key = newContentKey(TAG, 3)
    expect(collectionFields('https://schema.org', 'Diary', undefined)).toEqual({ context: 'https://schema.org', type: 'Diary' })
    expect(collectionFields('https://schema.org', 'Diary', key)).toEqual({ tag: TAG, enc: `${TAG}.3` })
  })

  it('seals the payload to the exact signed header; another header does not open it', () => {
    const key = newContentKey(TAG, 1)
    const c = signSealed({ ...base('create'), ...collectionFields(undefined, undefined, key) }, utf8.encode('{"text":"dear diary"}'), signer, key)
    expect(utf8d.decode(c.payload)).not.toContain('dear diary')
    expect(utf8d.decode(decryptPayload(key, utf8d.decode(c.payload), commitHeaderAad(c.header)))).toBe('{"text":"dear diary"}')
    expect(() => decryptPayload(key, utf8d.decode(c.payload), commitHeaderAad({ ...c.header, committed_at: '2027-01-01T00:00:00.000Z' }))).toThrow()
  })

  it('leaves a delete and a plaintext commit unsealed', () => {
    const key = newContentKey(TAG, 1)
    expect(utf8d.decode(signSealed({ ...base('delete'), object_id: 'bafkreigjmjq2yybi7nauecwm6reiqniprzrwtsaiy6stpstvkntcti63qi', deps: ['bafkreigjmjq2yybi7nauecwm6reiqniprzrwtsaiy6stpstvkntcti63qi'], ...collectionFields(undefined, undefined, key) } as UnsignedHeader, new Uint8Array(), signer, key).payload)).toBe('')
    expect(utf8d.decode(signSealed({ ...base('create'), context: 'c', type: 't' }, utf8.encode('{"a":1}'), signer, undefined).payload)).toBe('{"a":1}')
  })
})
