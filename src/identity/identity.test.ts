import { createServer, type Server } from 'node:http'
import { mkdir, mkdtemp, stat, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { didKeyDocument, didKeyFromPublicKey, publicKeyFromDidKey, x25519FromMultibase } from './did-key.js'
import { SMALL_ORDER_KEYS } from '../platform/ed25519-rule.js'
import { Ed25519KeyPair, verifyEd25519 } from './keys.js'
import { FileKeyStore } from './keystore.js'
import { createDidResolver, didWebUrl, KeyResolver, MAX_DID_DOCUMENT_BYTES } from './resolver.js'
import { checkOutboundUrl } from './outbound.js'
import { multibaseEncode } from './encoding.js'
import { x25519 } from '@noble/curves/ed25519.js'

describe('did:key', () => {
  // Ed25519 → X25519 pairs published by two independent did:key implementations.
  const VECTORS: Array<[string, string]> = [
    ['did:key:z6MkjHnntGvtLjwfAMHWTAXXGJHhVL3DPtaT9BHmyTjWpjqs', 'z6LSryEyvxgv9paaRHFeJ3vbHvPhtETwh339P52eDT21xdb1'],
    ['did:key:z6Mkgg342Ycpuk263R9d8Aq6MUaxPn1DDeHyGo38EefXmgDL', 'z6LSbkodSr6SU2trs8VUgnrnWtSm7BAPG245ggrBmSrxbv1R'],
    ['did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th', 'z6LShpNhGwSupbB7zjuivH156vhLJBDDzmQtA4BY9S94pe1K']
  ]

  it.each(VECTORS)('derives the published X25519 key-agreement key for %s', (did, x) => {
    const doc = didKeyDocument(did)
    const ka = doc.keyAgreement?.[0]
    expect(typeof ka === 'object' && ka.publicKeyMultibase).toBe(x)
    expect(typeof ka === 'object' && ka.id).toBe(`${did}#${x}`)
    expect(doc.verificationMethod?.[0]?.id).toBe(`${did}#${did.slice(8)}`)
    expect(doc.authentication).toEqual([doc.verificationMethod?.[0]?.id])
  })

  it('round-trips public keys and rejects other multicodecs', () => {
    const kp = Ed25519KeyPair.generate()
    expect(publicKeyFromDidKey(didKeyFromPublicKey(kp.publicKey))).toEqual(kp.publicKey)
    expect(() => publicKeyFromDidKey(`did:key:${multibaseEncode(new Uint8Array([0xec, 0x01, ...kp.publicKey]))}`)).toThrow(/not an Ed25519/)
    expect(() => publicKeyFromDidKey('did:key:z111')).toThrow()
    expect(() => publicKeyFromDidKey('did:web:example.com')).toThrow()
    // Keys that verify no signature under the hub's rule: the eight of small order (the all-zero key among them) and non-canonical encodings.
    for (const hex of SMALL_ORDER_KEYS) expect(() => publicKeyFromDidKey(didKeyFromPublicKey(Buffer.from(hex, 'hex'))), hex).toThrow(/not a usable Ed25519 key/)
    expect(() => publicKeyFromDidKey(didKeyFromPublicKey(Buffer.from('ed' + 'ff'.repeat(30) + '7f', 'hex')))).toThrow(/not a usable/)
  })

  it('derives an X25519 private key whose public half is in the document', () => {
    const kp = Ed25519KeyPair.generate()
    const ka = didKeyDocument(kp.did).keyAgreement?.[0]
    const mb = typeof ka === 'object' ? ka.publicKeyMultibase as string : ''
    expect(x25519.getPublicKey(kp.x25519PrivateKey())).toEqual(x25519FromMultibase(mb))
    expect(kp.x25519PublicKey()).toEqual(x25519FromMultibase(mb))
  })
})

describe('Ed25519KeyPair', () => {
  it('signs and verifies, and rejects a modified message or signature', () => {
    const kp = Ed25519KeyPair.generate()
    const msg = new TextEncoder().encode('hello')
    const sig = kp.sign(msg)
    expect(verifyEd25519(kp.publicKey, msg, sig)).toBe(true)
    expect(verifyEd25519(kp.publicKey, new TextEncoder().encode('hellp'), sig)).toBe(false)
    const bad = Uint8Array.from(sig)
    bad[0] = (bad[0] as number) ^ 1
    expect(verifyEd25519(kp.publicKey, msg, bad)).toBe(false)
    expect(verifyEd25519(kp.publicKey, msg, sig.subarray(1))).toBe(false)
  })

  it('never shows its private key when logged or serialized', () => {
    const kp = Ed25519KeyPair.generate()
    const secret = kp.privateJwk().d
    for (const text of [JSON.stringify(kp), inspect(kp), String(kp), JSON.stringify({ nested: kp })]) {
      expect(text).not.toContain(secret)
      expect(text).toContain(kp.did)
    }
  })

  it('imports a JWK and a seed to the same DID', () => {
    const kp = Ed25519KeyPair.generate()
    expect(Ed25519KeyPair.fromJwk(kp.privateJwk()).did).toBe(kp.did)
    expect(Ed25519KeyPair.fromSeed(kp.exportSeed()).did).toBe(kp.did)
    expect(() => Ed25519KeyPair.fromJwk({ kty: 'EC', crv: 'P-256', d: 'x' })).toThrow()
  })
})

describe('FileKeyStore', () => {
  const dirs: string[] = []
  const tempDir = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 'ks-')); dirs.push(d); return d }
  afterAll(async () => { await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) })) })

  it('writes keys with mode 0600 in a 0700 folder and reads them back', async () => {
    const dir = await tempDir()
    const ks = new FileKeyStore(dir)
    const kp = Ed25519KeyPair.generate()
    await ks.put('owner', kp)
    expect((await stat(join(dir, 'keys', 'owner.json'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'keys'))).mode & 0o777).toBe(0o700)
    expect((await ks.get('owner')).did).toBe(kp.did)
    await expect(ks.put('owner', Ed25519KeyPair.generate())).rejects.toMatchObject({ code: 'already_exists' })
    expect((await ks.get('owner')).did).toBe(kp.did)
    await expect(ks.get('nope')).rejects.toMatchObject({ code: 'not_found' })
    const raw = await readFile(join(dir, 'keys', 'owner.json'), 'utf8')
    expect(raw).toContain(kp.privateJwk().d)
  })

  it('reports a key file it cannot read as unavailable, not as absent', async () => {
    const dir = await tempDir()
    const ks = new FileKeyStore(dir)
    // A directory where the key file should be: readFile fails EISDIR (as
    // EACCES would for a non-root user), which is not "no such key".
    await mkdir(join(dir, 'keys', 'owner.json'), { recursive: true })
    await mkdir(join(dir, 'keys', 'tenant.json'), { recursive: true })
    await expect(ks.has('owner')).rejects.toMatchObject({ code: 'unavailable', details: { path: join(dir, 'keys', 'owner.json') } })
    await expect(ks.get('owner')).rejects.toMatchObject({ code: 'unavailable' })
    await expect(ks.getSecret('tenant')).rejects.toMatchObject({ code: 'unavailable' })
    await expect(ks.put('owner', Ed25519KeyPair.generate())).rejects.toMatchObject({ code: 'unavailable' })
    // Absent is still absent.
    expect(await ks.has('hub')).toBe(false)
    expect(await ks.getSecret('other')).toBeUndefined()
    await expect(ks.get('hub')).rejects.toMatchObject({ code: 'not_found' })
  })
})

describe('did:web', () => {
  it('maps DIDs to URLs as the method specifies, HTTPS except on loopback', () => {
    expect(didWebUrl('did:web:example.com')).toBe('https://example.com/.well-known/did.json')
    expect(didWebUrl('did:web:example.com:org:acme')).toBe('https://example.com/org/acme/did.json')
    expect(didWebUrl('did:web:127.0.0.1%3A8080:org:acme')).toBe('http://127.0.0.1:8080/org/acme/did.json')
    expect(didWebUrl('did:web:localhost%3A9')).toBe('http://localhost:9/.well-known/did.json')
    expect(() => didWebUrl('did:web:example.com:..:x')).toThrow()
    expect(() => didWebUrl('did:web:')).toThrow()
  })

  describe('resolution against a loopback HTTP server', () => {
    let server: Server
    let port = 0
    const key = Ed25519KeyPair.generate()
    const docs = new Map<string, unknown>()

    beforeAll(async () => {
      server = createServer((req, res) => {
        const doc = docs.get(req.url ?? '')
        if (doc === undefined) { res.statusCode = 404; res.end(); return }
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(doc))
      })
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      port = (server.address() as { port: number }).port
    })
    afterAll(async () => { await new Promise(resolve => server.close(resolve)) })

    it('resolves a document and its Ed25519 verification method', async () => {
      const did = `did:web:127.0.0.1%3A${port}:org:acme`
      docs.set('/org/acme/did.json', {
        '@context': ['https://www.w3.org/ns/did/v1'],
        id: did,
        verificationMethod: [{ id: `${did}#key-1`, type: 'JsonWebKey2020', controller: did, publicKeyJwk: key.publicJwk() }]
      })
      const res = await createDidResolver().resolve(did)
      expect(res.didDocument?.id).toBe(did)
      const kr = new KeyResolver()
      expect(await kr.resolveKey(`${did}#key-1`)).toEqual(key.publicKey)
      await expect(kr.resolveKey(`${did}#key-2`)).rejects.toMatchObject({ code: 'authentication_failed' })
    })

    it('fails cleanly for a missing document or a mismatched id', async () => {
      const kr = new KeyResolver()
      await expect(kr.resolveDocument(`did:web:127.0.0.1%3A${port}:nobody`)).rejects.toMatchObject({ code: 'authentication_failed' })
      docs.set('/liar/did.json', { id: 'did:web:elsewhere.example' })
      await expect(kr.resolveDocument(`did:web:127.0.0.1%3A${port}:liar`)).rejects.toMatchObject({ code: 'authentication_failed' })
    })

    it('HUB_OUTBOUND_LOOPBACK=deny refuses loopback targets (no SSRF into local services)', async () => {
      const did = `did:web:127.0.0.1%3A${port}:org:acme`
      docs.set('/org/acme/did.json', { id: did })
      process.env.HUB_OUTBOUND_LOOPBACK = 'deny'
      try {
        await expect(new KeyResolver().resolveDocument(did)).rejects.toThrow(/loopback/)
        expect(() => checkOutboundUrl(`http://127.0.0.1:${port}/x`)).toThrow(/loopback/)
        expect(() => checkOutboundUrl('https://[::1]/x')).toThrow(/loopback/)
        expect(checkOutboundUrl('https://example.com/x').href).toBe('https://example.com/x')
      } finally {
        delete process.env.HUB_OUTBOUND_LOOPBACK
      }
      expect((await new KeyResolver().resolveDocument(did)).id).toBe(did)
    })

    it('refuses a document larger than MAX_DID_DOCUMENT_BYTES instead of buffering it', async () => {
      const did = `did:web:127.0.0.1%3A${port}:huge`
      docs.set('/huge/did.json', { id: did, padding: 'x'.repeat(MAX_DID_DOCUMENT_BYTES) })
      await expect(new KeyResolver().resolveDocument(did)).rejects.toThrow(/larger than/)
    })
  })
})
