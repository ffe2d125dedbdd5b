import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalDidWeb, didWebDocumentUrl, didWebForRequest, didWebOf, DidWebSyntaxError, parseDidWeb } from './did-web.js'

const never = (): boolean => false

describe('did:web in one place', () => {
  it('canonical form: parts decoded and re-encoded, host lower-cased', () => {
    expect(canonicalDidWeb('did:web:Example.COM%3a8443:org:a%2Db')).toBe('did:web:example.com%3A8443:org:a-b')
  })

  it('refuses what would change the URL it maps to', () => {
    for (const bad of ['did:key:z6Mk', 'did:web:', 'did:web:a::b', 'did:web:a:%2F', 'did:web:a%40b', 'did:web:a:..', 'did:web:a:%zz', 'did:web:a:b%3Fq']) {
      expect(() => parseDidWeb(bad), bad).toThrow(DidWebSyntaxError)
    }
  })

  it('DID → URL → DID is the canonical DID, for any host and path', () => {
    const part = fc.string({ minLength: 1, maxLength: 12 }).filter(s => !/[/?#@\s]/.test(s) && s !== '.' && s !== '..')
    fc.assert(fc.property(fc.domain(), fc.array(part, { maxLength: 3 }), (host, path) => {
      const did = didWebOf(host, path)
      const url = new URL(didWebDocumentUrl(did, { insecureHttp: false, isLoopbackHost: never }))
      expect(url.protocol).toBe('https:')
      expect(didWebForRequest(url.host, url.pathname)).toBe(canonicalDidWeb(did))
    }))
  })

  it('a request path names a DID only for document paths', () => {
    expect(didWebForRequest('h.example', '/.well-known/did.json')).toBe('did:web:h.example')
    expect(didWebForRequest('h.example', '/org/acme/did.json')).toBe('did:web:h.example:org:acme')
    expect(didWebForRequest('h.example', '/org/acme')).toBeUndefined()
    expect(didWebForRequest('h.example', '/org/%2E%2E/did.json')).toBeUndefined()
    expect(didWebForRequest('a@b', '/.well-known/did.json')).toBeUndefined()
  })

  it('http only when asked or for a loopback host', () => {
    expect(didWebDocumentUrl('did:web:127.0.0.1%3A8080', { insecureHttp: false, isLoopbackHost: h => h.startsWith('127.') })).toBe('http://127.0.0.1:8080/.well-known/did.json')
    expect(didWebDocumentUrl('did:web:h.example:x', { insecureHttp: true, isLoopbackHost: never })).toBe('http://h.example/x/did.json')
  })
})
