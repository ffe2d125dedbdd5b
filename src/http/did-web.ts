/**
 * did:web hosting: `did:web:<host>` is served at `/.well-known/did.json`,
 * `did:web:<host>:a:b` at `/a/b/did.json` — only while its document is
 * published and its participant ACTIVATED. The DID is rebuilt from the Host
 * header and the path, exactly as a resolver derived the URL from the DID,
 * so one server can host DIDs of several host names without ambiguity.
 */
import { NotFoundError } from '../errors.js'
import { didWebForRequest } from '../identity/did-web.js'
import type { OrgStore } from '../org/org-store.js'
import type { HttpRequest, HttpResponse, Route } from './router.js'

/** The did:web DID a request for `path` on `host` resolves, or undefined if the path is not a did:web document path (identity/did-web.ts). */
export function didForRequest (host: string, path: string): string | undefined {
  return didWebForRequest(host, path)
}

async function serve (org: OrgStore, req: HttpRequest): Promise<HttpResponse> {
  const host = typeof req.headers.host === 'string' ? req.headers.host : ''
  const did = didForRequest(host, req.path)
  const doc = did === undefined ? undefined : await org.servedDocument(did)
  // One answer for "unknown", "unpublished" and "deactivated": nothing to learn by probing.
  if (doc === undefined) throw new NotFoundError('no published DID document here')
  return { status: 200, body: doc, headers: { 'content-type': 'application/did+json' } }
}

export function didWebRoutes (org: OrgStore): Route[] {
  const responses = { 200: 'The DID document', 404: 'Nothing published at this path' }
  return [
    {
      method: 'GET', path: '/.well-known/did.json', operationId: 'getRootDidDocument', tag: 'did:web', auth: 'none',
      summary: 'The DID document of did:web:<host> (published and ACTIVATED participants only)',
      responses, responseBody: { type: 'object' },
      handler: async (req) => await serve(org, req)
    },
    {
      method: 'GET', path: '/{didPath+}/did.json', operationId: 'getDidDocumentByPath', tag: 'did:web', auth: 'none',
      summary: 'The DID document of did:web:<host>:<path segments> (published and ACTIVATED participants only)',
      responses, responseBody: { type: 'object' },
      handler: async (req) => await serve(org, req)
    }
  ]
}
