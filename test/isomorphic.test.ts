/**
 * The isomorphic core (issue 12): the app SDK's import closure is free of
 * Node (scripts/check-isomorphic.mjs, also run by `npm run lint`), and the
 * two platform crypto implementations (node:crypto for the hub, @noble for
 * browsers) agree byte for byte and refuse the same bad inputs.
 */
import { relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { platformCrypto as nodeCrypto } from '../src/platform/crypto-node.js'
import { platformCrypto as webCrypto } from '../src/platform/crypto-web.js'
import type { PlatformCrypto } from '../src/platform/crypto.js'
// @ts-expect-error plain JavaScript module without types
import { closureOf } from '../scripts/check-isomorphic.mjs'

interface Closure { files: string[], problems: string[] }
const closure = closureOf as (entry: string, opts?: { read?: (p: string) => string, exists?: (p: string) => boolean, imports?: Record<string, unknown> }) => Closure

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('the app SDK import closure', () => {
  it('uses no node: module and no Node global, resolving platform seams to their browser variants', () => {
    const { files, problems } = closure('src/client/index.ts')
    expect(problems).toEqual([])
    for (const f of ['src/commits/commit.ts', 'src/encryption/jwe.ts', 'src/identity/keys.ts', 'src/request/token.ts', 'src/platform/crypto-web.ts', 'src/client/key-file-web.ts']) {
      expect(files).toContain(f)
    }
    expect(files).not.toContain('src/platform/crypto-node.ts')
    expect(files).not.toContain('src/client/key-file.ts')
  })

  it('catches a node: import, a bare built-in, Node globals and a seam without a browser target', () => {
    const texts: Record<string, string> = {
      '/r/src/a.ts': "import './b.js'\nimport { x } from '#seam'\nconst y = Buffer.from('x') // process is only in a comment\n",
      '/r/src/b.ts': "import { readFile } from 'node:fs/promises'\nimport path from 'path'\nexport const z = process.env.X\nconst s = 'require in a string'\nconst o = { a: 1 }.process\n"
    }
    const { problems } = closure('/r/src/a.ts', { read: p => texts[p] ?? '', exists: p => p in texts, imports: { '#seam': { default: './x.js' } } })
    // Problems name files relative to the checkout, wherever it is.
    const a = relative(process.cwd(), '/r/src/a.ts')
    const b = relative(process.cwd(), '/r/src/b.ts')
    expect(problems.sort()).toEqual([
      `${a}: imports #seam, which has no browser target in package.json "imports"`,
      `${a}: uses Node's Buffer`,
      `${b}: imports node:fs/promises`,
      `${b}: imports path`,
      `${b}: uses Node's process`
    ].sort())
  })
})

const impls: Array<[string, PlatformCrypto]> = [['node', nodeCrypto], ['web', webCrypto]]
const pairs: Array<[PlatformCrypto, PlatformCrypto]> = [[nodeCrypto, webCrypto], [webCrypto, nodeCrypto]]

describe('platform crypto: node and web agree', () => {
  it('hashes: SHA-256, HMAC-SHA256 and HKDF (RFC 5869 case 1)', () => {
    for (const [, c] of impls) {
      expect(toHex(c.sha256('ab', hex('63')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
      expect(toHex(c.hmacSha256(new TextEncoder().encode('key'), new TextEncoder().encode('The quick brown fox jumps over the lazy dog'))))
        .toBe('f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8')
      expect(toHex(c.hkdfSha256(hex('0b'.repeat(22)), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42)))
        .toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865')
    }
  })

  it('Ed25519: the same seed gives the same key and signature; each verifies the other', () => {
    const seed = nodeCrypto.randomBytes(32)
    const data = webCrypto.randomBytes(300)
    const a = nodeCrypto.ed25519PrivateKey(seed)
    const b = webCrypto.ed25519PrivateKey(seed)
    expect(toHex(a.publicKey)).toBe(toHex(b.publicKey))
    const sig = a.sign(data)
    expect(toHex(b.sign(data))).toBe(toHex(sig))
    for (const [, c] of impls) {
      expect(c.ed25519Verify(a.publicKey, data, sig)).toBe(true)
      const flipped = Uint8Array.from(data); flipped[0] = (flipped[0] as number) ^ 1
      expect(c.ed25519Verify(a.publicKey, flipped, sig)).toBe(false)
      expect(c.ed25519Verify(a.publicKey.subarray(1), data, sig)).toBe(false)
      expect(c.ed25519Verify(a.publicKey, data, sig.subarray(1))).toBe(false)
    }
  })

  it('Ed25519: both refuse a malleated signature (S + L, not canonical)', () => {
    const key = nodeCrypto.ed25519PrivateKey(nodeCrypto.randomBytes(32))
    const data = new TextEncoder().encode('pay 10')
    const sig = key.sign(data)
    // S is little-endian in the last 32 bytes; add the group order L.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n
    let s = 0n
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i] as number)
    let t = s + L
    const forged = Uint8Array.from(sig)
    for (let i = 32; i < 64; i++) { forged[i] = Number(t & 0xffn); t >>= 8n }
    for (const [, c] of impls) expect(c.ed25519Verify(key.publicKey, data, forged)).toBe(false)
  })

  it('X25519: shared secrets agree across implementations; a low-order point is refused by both', () => {
    const alice = nodeCrypto.x25519Generate()
    const bob = webCrypto.x25519Generate()
    expect(toHex(nodeCrypto.x25519SharedSecret(alice.privateKey, bob.publicKey))).toBe(toHex(webCrypto.x25519SharedSecret(bob.privateKey, alice.publicKey)))
    for (const [, c] of impls) {
      expect(() => c.x25519SharedSecret(alice.privateKey, new Uint8Array(32))).toThrow()
    }
  })

  it('AES-256-GCM: one seals, the other opens; a changed tag, ciphertext or AAD opens nothing', () => {
    const key = nodeCrypto.randomBytes(32)
    const iv = nodeCrypto.randomBytes(12)
    const aad = new TextEncoder().encode('header')
    const plaintext = webCrypto.randomBytes(1000)
    for (const [seal, open] of pairs) {
      const { ciphertext, tag } = seal.aesGcmEncrypt(key, iv, plaintext, aad)
      expect(toHex(open.aesGcmDecrypt(key, iv, ciphertext, tag, aad) ?? new Uint8Array())).toBe(toHex(plaintext))
      const badTag = Uint8Array.from(tag); badTag[0] = (badTag[0] as number) ^ 1
      expect(open.aesGcmDecrypt(key, iv, ciphertext, badTag, aad)).toBeUndefined()
      const badCt = Uint8Array.from(ciphertext); badCt[5] = (badCt[5] as number) ^ 1
      expect(open.aesGcmDecrypt(key, iv, badCt, tag, aad)).toBeUndefined()
      expect(open.aesGcmDecrypt(key, iv, ciphertext, tag, new TextEncoder().encode('other'))).toBeUndefined()
      expect(open.aesGcmDecrypt(key, iv, ciphertext, tag.subarray(0, 12), aad)).toBeUndefined()
    }
  })

  it('AES key wrap: RFC 3394 4.6 (256-bit key, 256-bit KEK); a changed byte unwraps to nothing', () => {
    const kek = hex('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F')
    const key = hex('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F')
    const wrapped = '28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21'
    for (const [, c] of impls) {
      expect(toHex(c.aesKwWrap(kek, key))).toBe(wrapped)
      expect(toHex(c.aesKwUnwrap(kek, hex(wrapped)) ?? new Uint8Array())).toBe(toHex(key))
      const bad = hex(wrapped); bad[3] = (bad[3] as number) ^ 1
      expect(c.aesKwUnwrap(kek, bad)).toBeUndefined()
    }
  })

  it('encodings: base64url, base64 and UTF-8 byte length agree for every length and odd strings', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = nodeCrypto.randomBytes(n)
      const u = nodeCrypto.base64urlEncode(bytes)
      expect(webCrypto.base64urlEncode(bytes)).toBe(u)
      expect(webCrypto.base64Encode(bytes)).toBe(nodeCrypto.base64Encode(bytes))
      expect(toHex(webCrypto.base64urlDecode(u))).toBe(toHex(bytes))
      expect(toHex(webCrypto.base64Decode(nodeCrypto.base64Encode(bytes)))).toBe(toHex(bytes))
    }
    for (const s of ['', 'abc', 'é', '€', '😀', '\ud800', 'a\udc00b', '\ud83d\ude00\ud83d']) {
      expect(webCrypto.utf8ByteLength(s)).toBe(nodeCrypto.utf8ByteLength(s))
      expect(nodeCrypto.utf8ByteLength(s)).toBe(Buffer.byteLength(s, 'utf8'))
    }
  })

  it('timing-safe equality: equal, different and different-length inputs', () => {
    for (const [, c] of impls) {
      expect(c.timingSafeEqual(hex('0102'), hex('0102'))).toBe(true)
      expect(c.timingSafeEqual(hex('0102'), hex('0103'))).toBe(false)
      expect(c.timingSafeEqual(hex('0102'), hex('010203'))).toBe(false)
    }
  })
})

describe('the hub-in-a-tab import closure (issue 15)', () => {
  it('the Hub, its IndexedDB home and store and its libp2p node use no Node, through the browser variants of every seam', () => {
    const { files, problems } = closure('src/browser/index.ts')
    expect(problems).toEqual([])
    for (const f of ['src/hub.ts', 'src/store/tenant-store.ts', 'src/store/browser-kv.ts', 'src/hub-home-web.ts', 'src/platform/env-web.ts', 'src/identity/outbound-fetch-web.ts', 'src/net/hub-net-web.ts', 'src/net/hub-node.ts', 'src/net/pair.ts']) {
      expect(files).toContain(f)
    }
    for (const f of ['src/hub-home-node.ts', 'src/store/level-kv.ts', 'src/identity/keystore.ts', 'src/hub-config.ts', 'src/identity/outbound-fetch.ts', 'src/net/hub-net-node.ts']) {
      expect(files).not.toContain(f)
    }
  })
})

describe('pure replacements of Node helpers agree with Node', () => {
  it('isIPv6Text accepts exactly what node:net isIPv6 accepts', async () => {
    const { isIPv6 } = await import('node:net')
    const { isIPv6Text } = await import('../src/identity/outbound-address.js')
    const fc = (await import('fast-check')).default
    const fixed = ['::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::ffff:127.0.0.1', '::ffff:127.0.0.01', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '1::2::3', ':1', '1:', '12345::', 'fe80::1', '::1.2.3', '1.2.3.4::', '::256.1.1.1', 'g::', '', ':::', '1:2:3:4:5:6:7:8:9', '64:ff9b::1.2.3.4', '::0.0.0.0']
    for (const a of fixed) expect(isIPv6Text(a), a).toBe(isIPv6(a))
    const group = fc.oneof(fc.constantFrom('', '0', '1', 'ffff', 'FfFf', '12345', 'g', '1.2.3.4', '01.2.3.4', '255.255.255.255', '256.0.0.1'), fc.stringMatching(/^[0-9a-f]{1,4}$/))
    fc.assert(fc.property(fc.array(group, { maxLength: 10 }), fc.array(fc.constantFrom(':', '::'), { maxLength: 10 }), (groups, seps) => {
      let a = ''
      groups.forEach((g, i) => { a += g + (i < groups.length - 1 ? seps[i] ?? ':' : '') })
      return isIPv6Text(a) === isIPv6(a)
    }), { numRuns: 3000 })
  })

  it('compareUtf8 orders strings as Buffer.compare of their UTF-8 bytes, surrogates and lone surrogates included', async () => {
    const { compareUtf8 } = await import('../src/store/utf8-order.js')
    const fc = (await import('fast-check')).default
    const sign = (n: number): number => Math.sign(n)
    const fixed = ['', 'a', 'b', 'ab', '\u00e9', '\uffff', '\ue000', '\ud83d\ude00', '\ud83d', '\ude00', '\ufffd', '\ud7ff', 'a\ud83d\ude00', 'a\uffff']
    for (const x of fixed) for (const y of fixed) expect(sign(compareUtf8(x, y)), `${JSON.stringify(x)} vs ${JSON.stringify(y)}`).toBe(Buffer.compare(Buffer.from(x), Buffer.from(y)))
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (x, y) => sign(compareUtf8(x, y)) === Buffer.compare(Buffer.from(x), Buffer.from(y))), { numRuns: 5000 })
  })

  it('the environment seam: Node reads process.env; a page has none', async () => {
    const node = await import('../src/platform/env-node.js')
    const web = await import('../src/platform/env-web.js')
    process.env.HUB_ISO_TEST = 'x'
    try {
      expect(node.environment().HUB_ISO_TEST).toBe('x')
      expect(web.environment().HUB_ISO_TEST).toBeUndefined()
      expect(Object.keys(web.environment())).toEqual([])
    } finally {
      delete process.env.HUB_ISO_TEST
    }
  })

  it('the browser outbound fetch applies the URL rules before anything is sent, and refuses to take a lookup', async () => {
    const web = await import('../src/identity/outbound-fetch-web.js')
    const seen: string[] = []
    const real = globalThis.fetch
    globalThis.fetch = (async (input: string | URL | Request) => { seen.push(String(input)); return new Response('{}') }) as typeof fetch
    try {
      const f = web.createOutboundFetch({ what: 'DID document URL' })
      await expect(f('http://example.com/did.json')).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'insecure_url' } })
      await expect(f('https://user:pw@example.com/')).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'bad_url' } })
      await expect(f('https://169.254.169.254/latest')).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'forbidden_address' } })
      await expect(f('https://[::ffff:169.254.169.254]/')).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'forbidden_address' } })
      expect(seen).toEqual([])
      await f('https://example.com/.well-known/did.json')
      await f('http://127.0.0.1:1/did.json')
      expect(seen).toEqual(['https://example.com/.well-known/did.json', 'http://127.0.0.1:1/did.json'])
      expect(() => { web.setOutboundLookup(async () => []) }).toThrow(expect.objectContaining({ code: 'unsupported' }) as Error)
    } finally {
      globalThis.fetch = real
    }
  })
})
