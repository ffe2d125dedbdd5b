/**
 * The route table's matching rules, pinned so that a change of router (or of
 * framework) can be checked against them: first match wins in table order,
 * `{name}` is one segment and `{name+}` one or more, parameters arrive
 * percent-decoded, a path that matches only under other methods is a 405 with
 * every allowed method, and anything else is no match.
 */
import { describe, expect, it } from 'vitest'
import { Router, type Route } from './router.js'
import { routesOf, type RouteComponents } from './app.js'

function route (method: Route['method'], path: string, operationId = `${method} ${path}`): Route {
  return {
    method, path, operationId, summary: '', tag: 't', auth: 'none', responses: { 200: 'ok' },
    handler: async () => ({ status: 200 })
  }
}

function matched (r: Router, method: string, path: string): { op: string, params: Record<string, string> } | string {
  const m = r.match(method, path)
  if (m.kind === 'route') return { op: m.route.operationId, params: m.params }
  if (m.kind === 'method-not-allowed') return `405 ${m.allowed.join(',')}`
  return 'none'
}

describe('Router', () => {
  it('matches a literal path exactly, nothing more or less', () => {
    const r = new Router([route('GET', '/a/b')])
    expect(matched(r, 'GET', '/a/b')).toEqual({ op: 'GET /a/b', params: {} })
    expect(matched(r, 'GET', '/a/b/')).toBe('none')
    expect(matched(r, 'GET', '/a')).toBe('none')
    expect(matched(r, 'GET', '/a/b/c')).toBe('none')
    expect(matched(r, 'GET', '/x/a/b')).toBe('none')
    expect(matched(r, 'GET', '/A/B')).toBe('none')
  })

  it('treats regex metacharacters in a template literally', () => {
    // (A literal `+` is not escaped — templates use it only in `{name+}` — so no route has one.)
    const r = new Router([route('GET', '/.well-known/did.json'), route('GET', '/a$b/(c)')])
    expect(matched(r, 'GET', '/.well-known/did.json')).toMatchObject({ op: 'GET /.well-known/did.json' })
    expect(matched(r, 'GET', '/Xwell-known/didXjson')).toBe('none')
    expect(matched(r, 'GET', '/a$b/(c)')).toMatchObject({ op: 'GET /a$b/(c)' })
    expect(matched(r, 'GET', '/ab/c')).toBe('none')
  })

  it('{name} is exactly one non-empty segment', () => {
    const r = new Router([route('GET', '/p/{id}/keys')])
    expect(matched(r, 'GET', '/p/acme/keys')).toEqual({ op: 'GET /p/{id}/keys', params: { id: 'acme' } })
    expect(matched(r, 'GET', '/p//keys')).toBe('none')
    expect(matched(r, 'GET', '/p/a/b/keys')).toBe('none')
  })

  it('{name+} is one or more segments, slashes kept', () => {
    const r = new Router([route('GET', '/{didPath+}/did.json')])
    expect(matched(r, 'GET', '/org/acme/did.json')).toEqual({ op: 'GET /{didPath+}/did.json', params: { didPath: 'org/acme' } })
    expect(matched(r, 'GET', '/x/did.json')).toEqual({ op: 'GET /{didPath+}/did.json', params: { didPath: 'x' } })
    expect(matched(r, 'GET', '/did.json')).toBe('none')
  })

  it('several parameters, each percent-decoded', () => {
    const r = new Router([route('POST', '/p/{participantId}/keys/{keyId}/rotate')])
    expect(matched(r, 'POST', '/p/ac%20me/keys/key%2F1/rotate')).toEqual({
      op: 'POST /p/{participantId}/keys/{keyId}/rotate',
      params: { participantId: 'ac me', keyId: 'key/1' }
    })
    // A malformed escape throws URIError (the server answers it with 400).
    expect(() => r.match('POST', '/p/%E0%A4%A/keys/k/rotate')).toThrow(URIError)
  })

  it('first match in table order wins', () => {
    const r = new Router([
      route('GET', '/c/requests', 'requests'),
      route('GET', '/c/{credentialId}', 'byId'),
      route('GET', '/c/latest', 'shadowed')
    ])
    expect(matched(r, 'GET', '/c/requests')).toMatchObject({ op: 'requests' })
    expect(matched(r, 'GET', '/c/latest')).toMatchObject({ op: 'byId', params: { credentialId: 'latest' } })
    // The other order: the parameter route takes the literal one's path.
    const reversed = new Router([route('GET', '/c/{credentialId}', 'byId'), route('GET', '/c/requests', 'requests')])
    expect(matched(reversed, 'GET', '/c/requests')).toMatchObject({ op: 'byId', params: { credentialId: 'requests' } })
  })

  it('a route of another method does not stop the search for the right method', () => {
    const r = new Router([route('POST', '/x/{id}', 'post'), route('GET', '/x/{id}', 'get')])
    expect(matched(r, 'GET', '/x/1')).toMatchObject({ op: 'get' })
    expect(matched(r, 'POST', '/x/1')).toMatchObject({ op: 'post' })
  })

  it('405 lists every method the path allows, once each, in table order', () => {
    const r = new Router([
      route('GET', '/.well-known/did.json'),
      route('POST', '/x'),
      route('DELETE', '/x'),
      route('POST', '/{p+}'),
      route('GET', '/{didPath+}/did.json')
    ])
    expect(matched(r, 'PUT', '/x')).toBe('405 POST,DELETE')
    expect(matched(r, 'DELETE', '/.well-known/did.json')).toBe('405 GET,POST')
    expect(matched(r, 'get', '/x')).toBe('405 POST,DELETE') // methods are case-sensitive, as HTTP says
    expect(matched(r, 'GET', '/nothing/here.txt')).toBe('405 POST')
  })

  it('no route at all is none', () => {
    const r = new Router([route('GET', '/a')])
    expect(matched(r, 'GET', '/b')).toBe('none')
    expect(matched(r, 'GET', '')).toBe('none')
    expect(new Router([]).match('GET', '/').kind).toBe('none')
  })

  it('exposes its table unchanged', () => {
    const routes = [route('GET', '/a'), route('POST', '/b')]
    expect(new Router(routes).routes).toBe(routes)
  })
})

describe('the hub route table', () => {
  // The handlers are never called: a stand-in hub is enough to build the table.
  const parts = { org: {}, dcpReplay: {}, log: { child: () => ({}) }, resolveDocument: async () => ({}), issuance: async () => ({}) } as unknown as RouteComponents
  const r = new Router(routesOf(parts))
  const op = (method: string, path: string): ReturnType<typeof matched> => {
    const m = matched(r, method, path)
    return typeof m === 'string' ? m : m.op
  }
  const I = '/api/identity/v1'

  it('has unique operation ids and unique method + path pairs', () => {
    const ids = r.routes.map(x => x.operationId)
    expect(new Set(ids).size).toBe(ids.length)
    const keys = r.routes.map(x => `${x.method} ${x.path}`)
    expect(new Set(keys).size).toBe(keys.length)
  })

  it('issuance routes come before the identity routes that would take their paths', () => {
    expect(op('GET', `${I}/participants/acme/credentials/requests`)).toBe('listCredentialRequests')
    expect(op('POST', `${I}/participants/acme/credentials/request`)).toBe('requestCredentials')
    expect(op('GET', `${I}/participants/acme/credentials/urn:uuid:1`)).toBe('getCredential')
  })

  it('did:web: the well-known document, path documents, and 405 for other methods', () => {
    expect(op('GET', '/.well-known/did.json')).toBe('getRootDidDocument')
    expect(matched(r, 'GET', '/org/acme/did.json')).toMatchObject({ params: { didPath: 'org/acme' } })
    expect(op('POST', '/org/acme/did.json')).toBe('405 GET')
    expect(op('DELETE', '/.well-known/did.json')).toBe('405 GET')
  })

  it('the OpenAPI document is the last route and is public', () => {
    const last = r.routes.at(-1)
    expect(last?.operationId).toBe('getOpenApi')
    expect(last?.auth).toBe('none')
    expect(op('GET', `${I}/openapi.json`)).toBe('getOpenApi')
  })

  it('participant routes: methods and 405s', () => {
    expect(op('GET', `${I}/participants`)).toBe('listParticipants')
    expect(op('POST', `${I}/participants`)).toBe('createParticipant')
    expect(op('PUT', `${I}/participants`)).toBe('405 GET,POST')
    expect(op('GET', `${I}/nope`)).toBe('none')
  })
})
