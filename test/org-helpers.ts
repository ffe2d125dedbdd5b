/**
 * An in-process hub with its HTTP server on 127.0.0.1 (OS-assigned port),
 * for Identity API, did:web and DCP tests over real HTTP. Everything started
 * here is stopped by cleanup() from ./helpers.js.
 */
import { randomBytes } from 'node:crypto'
import { afterEach } from 'vitest'
import { createHttpServer } from '../src/http/app.js'
import { DCP_CONTEXT } from '../src/org/dcp/schemas.js'
import { decodeJwt } from '../src/org/jwt.js'
import { OrgStore } from '../src/org/org-store.js'
import { Vault } from '../src/org/vault.js'
import { parseVcJwt } from '../src/org/vc.js'
import type { HttpServer } from '../src/http/server.js'
import type { Hub, OpenOptions } from '../src/hub.js'
import { tempHub } from './helpers.js'

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test replies are inspected field by field
export interface ApiReply { status: number, body: any, headers: Headers }

export interface OrgServer {
  hub: Hub
  server: HttpServer
  /** `http://127.0.0.1:PORT` */
  url: string
  adminKey: string
  /** `did:web:127.0.0.1%3APORT:org:<name>`: a DID this server hosts. */
  did: (name: string) => string
  /** One HTTP request; `key` goes in x-api-key, `bearer` in Authorization. Non-JSON bodies are returned as text. */
  api: (method: string, path: string, opts?: { key?: string, bearer?: string, body?: unknown, rawBody?: string, headers?: Record<string, string> }) => Promise<ApiReply>
}

const servers: HttpServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

/** `now`: the server's clock (tokens, presentations, the status list cache); `open`: options of the hub (e.g. a small statusListSize). */
export async function orgServer (opts: { now?: () => number, open?: OpenOptions } = {}): Promise<OrgServer> {
  const hub = await tempHub(opts.open !== undefined ? { open: opts.open } : {})
  const adminKey = randomBytes(24).toString('base64url')
  const server = createHttpServer(hub, { adminKey, ...(opts.now !== undefined ? { now: opts.now } : {}) })
  const url = await server.listen('127.0.0.1', 0)
  servers.push(server)
  const port = new URL(url).port
  return {
    hub,
    server,
    url,
    adminKey,
    did: (name) => `did:web:127.0.0.1%3A${port}:org:${name}`,
    api: async (method, path, o = {}) => {
      const headers: Record<string, string> = { ...o.headers }
      if (o.key !== undefined) headers['x-api-key'] = o.key
      if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`
      let body: string | undefined = o.rawBody
      if (o.body !== undefined) {
        body = JSON.stringify(o.body)
        headers['content-type'] = 'application/json'
      }
      const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) })
      const text = await res.text()
      let parsed: unknown = text
      try { parsed = text === '' ? undefined : JSON.parse(text) } catch { /* not JSON */ }
      return { status: res.status, body: parsed, headers: res.headers }
    }
  }
}

/**
 * The DCP presentation flow in one call: the holder's STS grants the
 * verifier `scopes`, the verifier's STS wraps that grant in its ID token,
 * and the verifier queries the holder. Returns the ids of the credentials in
 * the one VP, in VP order; throws on any non-2xx step.
 */
export async function presentedCredentialIds (
  srv: OrgServer,
  holder: { id: string, did: string, apiKey: string },
  verifier: { did: string, apiKey: string },
  scopes: string[]
): Promise<string[]> {
  const step = (what: string, r: ApiReply): ApiReply => {
    if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`)
    return r
  }
  const grant = step('holder STS', await srv.api('POST', '/api/sts/token', { key: holder.apiKey, body: { audience: verifier.did, scope: scopes } }))
  const bearer = step('verifier STS', await srv.api('POST', '/api/sts/token', { key: verifier.apiKey, body: { audience: holder.did, token: grant.body.accessToken } }))
  const q = step('presentation query', await srv.api('POST', `/api/credentials/v1/participants/${holder.id}/presentations/query`, {
    bearer: bearer.body.idToken, body: { '@context': [DCP_CONTEXT], type: 'PresentationQueryMessage', scope: scopes }
  }))
  const vp = decodeJwt(q.body.presentation[0] as string).payload as { vp: { verifiableCredential: string[] } }
  return vp.vp.verifiableCredential.map(jwt => parseVcJwt(jwt).id)
}

/**
 * Store credentials for participant `pid` through an OrgStore on the
 * server hub's records whose clock reads `atMs`: how a test holds a
 * credential that has expired since (storing refuses one already expired).
 */
export async function storeCredentialsAt (srv: Pick<OrgServer, 'hub'>, pid: string, jwts: string[], atMs: number): Promise<string[]> {
  const store = new OrgStore({ kv: srv.hub.kv, vault: new Vault(srv.hub.hubKey.exportSeed()), now: () => atMs })
  return (await store.storeCredentials(pid, jwts)).map(c => c.credentialId)
}
