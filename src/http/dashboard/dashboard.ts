/**
 * The owner's dashboard on the hub's HTTP server (issue 16,
 * docs/dashboard.md): a middleware answering every path under /dashboard
 * that no API route matched.
 *
 *   GET  /dashboard/login?token=…  one-time link → session cookie, 303 to /dashboard/
 *   GET  /dashboard/ (+ app.js, app.css)  the bundled page, public (it holds no data)
 *   *    /dashboard/api/…          JSON (api.ts); every call needs the session,
 *                                  every POST/DELETE also the session's CSRF
 *                                  token and a same-origin Origin/Sec-Fetch-Site
 *   GET  /dashboard/api/events     server-sent events: sync, audit, change
 *
 * The session cookie is HttpOnly, SameSite=Strict, Path=/dashboard, and
 * Secure when the request came over HTTPS (only a loopback reverse proxy's
 * X-Forwarded-Proto is believed: anyone else could send the header).
 * Failed logins draw on a per-client token bucket (the server's
 * authFailures limit); while it is empty every login is refused with 429
 * before the token is looked at.
 *
 * Errors are the server's usual `{"error":{code,message,details}}` with a
 * stable `details.reason`; the login answers a small HTML page instead,
 * since a person opened it.
 */
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadRequestError, HubError, NotFoundError, toHubError } from '../../errors.js'
import type { Hub } from '../../hub.js'
import type { Logger } from '../../log.js'
import type { PeerRateLimiter } from '../../request/rate-limit.js'
import { readBody } from '../read-body.js'
import type { Middleware } from '../pipeline.js'
import { sendJson } from '../responses.js'
import type { CommitEvent } from '../../store/object-meta.js'
import { ApiRouter, type ApiRequest, type Dispatch } from './api.js'
import { refused, Sessions, type Session, type SessionsInit } from './sessions.js'

export const DASHBOARD_PREFIX = '/dashboard'
export const COOKIE_NAME = 'hub_dashboard'
/** Largest API body (a grant, an invite request: a few hundred bytes). */
export const MAX_DASHBOARD_BODY_BYTES = 16 * 1024
/** How often the event stream looks for new sync state and audit entries. */
export const EVENT_POLL_MS = 1000
const KEEPALIVE_MS = 15_000

/** No inline script or style, nothing from elsewhere; `connect-src 'self'` covers fetch and EventSource. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'"
].join('; ')

const SECURITY_HEADERS = Object.freeze({
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store'
})

/** The files of the page (built by scripts/build-dashboard.mjs); nothing else under /dashboard/ is served. */
const ASSETS: Readonly<Record<string, { file: string, type: string }>> = Object.freeze({
  '/dashboard/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' }
})

/** dist/dashboard/, from the built module (dist/src/http/dashboard/) or from the sources (src/http/dashboard/). */
export function defaultAssetsDir (): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [resolve(here, '../../../dashboard'), resolve(here, '../../../dist/dashboard')]
  return candidates.find(d => existsSync(join(d, 'index.html'))) ?? (candidates[1] as string)
}

export interface DashboardInit extends SessionsInit {
  hub: Hub
  /** Runs a hub command as the control channel does (the daemon's dispatch). */
  dispatch: Dispatch
  /** The server's base URL once it listens (for the login link). */
  baseUrl: () => string
  /** Failed logins per client (the server's authFailures bucket); undefined: no limit. */
  loginFailures: PeerRateLimiter | undefined
  /** Where index.html, app.js and app.css are. Default defaultAssetsDir(). */
  assetsDir?: string
  logger?: Logger
  /** Event stream poll period (tests). Default EVENT_POLL_MS. */
  pollMs?: number
}

function cookieOf (req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}

const isLoopback = (addr: string | undefined): boolean => addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1' || (addr?.startsWith('127.') ?? false)

/** Whether the browser reached us over HTTPS: directly never (this server is plain HTTP), through a loopback proxy that says so. */
export function viaHttps (req: IncomingMessage): boolean {
  return isLoopback(req.socket.remoteAddress) && String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim().toLowerCase() === 'https'
}

/**
 * A state-changing call must come from this very origin: an `Origin` equal
 * to ours (scheme, Host), or — when a browser sent none — `Sec-Fetch-Site:
 * same-origin`. Neither: refused (`cross_site`).
 */
export function checkSameOrigin (req: IncomingMessage): void {
  const origin = req.headers.origin
  const host = req.headers.host
  if (origin !== undefined) {
    const ours = host !== undefined ? [`http://${host}`, `https://${host}`].filter(o => o.startsWith(viaHttps(req) ? 'https:' : 'http:')) : []
    if (!ours.includes(origin.toLowerCase())) throw refused('cross_site', `a state-changing call from origin ${origin} is refused: only the dashboard's own pages may make it`)
    return
  }
  if (req.headers['sec-fetch-site'] !== 'same-origin') throw refused('cross_site', 'a state-changing call needs an Origin header (or Sec-Fetch-Site: same-origin)')
}

function sendHtml (res: ServerResponse, status: number, title: string, text: string, headers: Record<string, string> = {}): void {
  const esc = (s: string): string => s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
  const body = `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title>` +
    `<link rel="stylesheet" href="/dashboard/app.css"><main class="notice"><h1>${esc(title)}</h1><p>${esc(text)}</p></main></html>\n`
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

export class Dashboard {
  readonly sessions: Sessions
  readonly #init: DashboardInit
  readonly #api = new ApiRouter()
  readonly #assets: string
  readonly #streams = new Set<() => void>()
  #closed = false

  constructor (init: DashboardInit) {
    this.#init = init
    this.sessions = new Sessions(init)
    this.#assets = init.assetsDir ?? defaultAssetsDir()
  }

  /** A fresh one-time login link (loopback unless the server listens on a named address). */
  loginLink (): { url: string, expiresAt: string } {
    if (this.#closed) throw new HubError('unavailable', 'the dashboard is closed')
    const base = this.#init.baseUrl()
    if (base === '') throw new HubError('unavailable', 'the HTTP server is not listening yet', { reason: 'no_http' })
    const u = new URL(base)
    // A wildcard address is not somewhere a browser can go: the link is for this machine.
    if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = '127.0.0.1'
    const { token, expiresAt } = this.sessions.issueLogin()
    return { url: `${u.origin}${DASHBOARD_PREFIX}/login?token=${token}`, expiresAt: new Date(expiresAt).toISOString() }
  }

  /** End every session and event stream (the server stops). */
  close (): void {
    this.#closed = true
    this.sessions.close()
    for (const end of [...this.#streams]) end()
  }

  readonly middleware: Middleware = async (ctx, next) => {
    const path = ctx.url?.pathname
    if (path === undefined || ctx.match?.kind !== 'none' || !(path === DASHBOARD_PREFIX || path.startsWith(DASHBOARD_PREFIX + '/'))) {
      await next()
      return
    }
    const { req, res } = ctx
    const method = req.method ?? 'GET'
    this.#checkHost(req)
    if (path === DASHBOARD_PREFIX) {
      ctx.status = 301
      res.writeHead(301, { location: `${DASHBOARD_PREFIX}/`, 'cache-control': 'no-store' }).end()
      return
    }
    if (path === `${DASHBOARD_PREFIX}/login`) { ctx.status = await this.#login(req, res, ctx.url as URL, ctx.client); return }
    if (path.startsWith(`${DASHBOARD_PREFIX}/api/`)) { ctx.status = await this.#apiCall(req, res, path.slice(`${DASHBOARD_PREFIX}/api`.length), ctx.url as URL); return }
    const asset = ASSETS[path]
    if (asset === undefined) throw new NotFoundError(`no such page: ${path}`, { reason: 'no_page' })
    if (method !== 'GET' && method !== 'HEAD') throw new BadRequestError(`${method} is not allowed here (allowed: GET, HEAD)`, { reason: 'method_not_allowed' })
    const body = await readFile(join(this.#assets, asset.file)).catch(() => {
      throw new HubError('unavailable', 'the dashboard page is not built: run "npm run build"', { reason: 'not_built' })
    })
    ctx.status = 200
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'content-length': body.length })
    res.end(method === 'HEAD' ? undefined : body)
  }

  /**
   * Only requests addressed to this server by a name it answers to: the
   * address it listens on (and, on loopback or a wildcard, `localhost`,
   * 127.0.0.1 and [::1] at that port), or a name the operator lists in
   * HUB_DASHBOARD_HOSTS (a proxy's). A DNS-rebinding page reaches us under
   * its own name; without this the origin check below, which compares with
   * the request's Host, would accept it (test/attacks-dashboard.test.ts).
   */
  #checkHost (req: IncomingMessage): void {
    const host = (req.headers.host ?? '').toLowerCase()
    if (!this.#allowedHosts().has(host)) throw refused('bad_host', `the dashboard does not answer to the host name "${host}"`)
  }

  #allowedHosts (): Set<string> {
    const out = new Set<string>()
    const base = this.#init.baseUrl()
    if (base !== '') {
      const u = new URL(base)
      out.add(u.host.toLowerCase())
      const local = ['127.0.0.1', 'localhost', '[::1]']
      if (local.includes(u.hostname) || u.hostname === '0.0.0.0' || u.hostname === '[::]') for (const h of local) out.add(`${h}:${u.port}`)
    }
    for (const h of (process.env.HUB_DASHBOARD_HOSTS ?? '').split(',')) if (h.trim() !== '') out.add(h.trim().toLowerCase())
    return out
  }

  async #login (req: IncomingMessage, res: ServerResponse, url: URL, client: string): Promise<number> {
    req.resume()
    // GET only: a HEAD (a link previewer, a prefetch) must not use the link up.
    if (req.method !== 'GET') throw new BadRequestError('the login link takes GET', { reason: 'method_not_allowed' })
    const failures = this.#init.loginFailures
    const wait = failures?.retryAfterMs(client) ?? 0
    if (wait > 0) {
      sendHtml(res, 429, 'Too many attempts', `Too many failed logins from your address. Wait ${Math.ceil(wait / 1000)} s, then run "hub dashboard" for a new link.`, { 'retry-after': String(Math.ceil(wait / 1000)) })
      return 429
    }
    const token = url.searchParams.get('token') ?? ''
    let opened: { cookie: string }
    try {
      if (url.searchParams.getAll('token').length !== 1 || !/^[A-Za-z0-9_-]{43}$/.test(token)) throw refused('bad_login_token', 'malformed login link')
      opened = this.sessions.redeem(token)
    } catch (err) {
      failures?.debit(client)
      this.#init.logger?.info('dashboard login refused', { reason: 'bad_login_token' })
      sendHtml(res, 401, 'Login refused', 'This login link is wrong, expired or already used. Run "hub dashboard" on the hub\'s machine for a new one.')
      if (!(err instanceof HubError)) throw err
      return 401
    }
    const secure = viaHttps(req) ? '; Secure' : ''
    const maxAge = Math.floor(this.sessions.maxAgeMs / 1000)
    res.writeHead(303, {
      ...SECURITY_HEADERS,
      location: `${DASHBOARD_PREFIX}/`,
      'set-cookie': `${COOKIE_NAME}=${opened.cookie}; HttpOnly; SameSite=Strict; Path=${DASHBOARD_PREFIX}; Max-Age=${maxAge}${secure}`
    })
    res.end()
    this.#init.logger?.info('dashboard login')
    return 303
  }

  async #apiCall (req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<number> {
    const method = req.method === 'HEAD' ? 'GET' : req.method ?? 'GET'
    // Authenticate before anything else: without a session, nothing (not even which routes exist) is answered.
    const session = this.sessions.authenticate(cookieOf(req, COOKIE_NAME))
    const changes = method !== 'GET'
    if (changes) {
      checkSameOrigin(req)
      const csrf = req.headers['x-csrf-token']
      this.sessions.checkCsrf(session, Array.isArray(csrf) ? undefined : csrf)
    }
    if (path === '/session' && method === 'GET') {
      req.resume()
      const hub = this.#init.hub
      sendJson(res, 200, { did: hub.did, hubDid: hub.hubDid, role: hub.config.role, csrf: session.csrf, expiresAt: new Date(session.createdAt + this.sessions.maxAgeMs).toISOString() }, SECURITY_HEADERS)
      return 200
    }
    if (path === '/logout' && method === 'POST') {
      req.resume()
      this.sessions.logout(session.id)
      sendJson(res, 200, { loggedOut: true }, { ...SECURITY_HEADERS, 'set-cookie': `${COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=${DASHBOARD_PREFIX}; Max-Age=0` })
      return 200
    }
    if (path === '/events' && method === 'GET') {
      req.resume()
      this.#events(res, session)
      return 200
    }
    const m = this.#api.match(method, path)
    if (m === undefined) { req.resume(); throw new NotFoundError(`no dashboard API ${method} ${path}`, { reason: 'no_route' }) }
    if ('allowed' in m) { req.resume(); throw new BadRequestError(`${method} is not allowed on ${path} (allowed: ${m.allowed.join(', ')})`, { reason: 'method_not_allowed' }) }
    let body: Record<string, unknown> = {}
    if (method === 'POST') {
      const raw = await readBody(req, MAX_DASHBOARD_BODY_BYTES)
      if (raw.length > 0) {
        let parsed: unknown
        try { parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw)) } catch { throw new BadRequestError('the body is not valid UTF-8 JSON', { reason: 'bad_json' }) }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BadRequestError('the body must be a JSON object', { reason: 'bad_json' })
        body = parsed as Record<string, unknown>
      }
    } else {
      req.resume()
    }
    const request: ApiRequest = { params: m.params, query: url.searchParams, body }
    const result = await this.#init.dispatch(m.route.command, m.route.params(request))
    const answer = m.route.answer?.(result, request) ?? { json: result }
    if ('bytes' in answer) {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': answer.contentType, 'content-length': answer.bytes.length, 'content-disposition': `attachment; filename="${answer.filename}"` })
      res.end(req.method === 'HEAD' ? undefined : answer.bytes)
    } else {
      sendJson(res, 200, answer.json ?? null, SECURITY_HEADERS)
    }
    return 200
  }

  /**
   * Server-sent events for one session: `sync` (the sync status, when it
   * changes), `audit` (new entries), `change` (each durable commit). Ends
   * with the session, the dashboard, or the client.
   */
  #events (res: ServerResponse, session: Session): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' })
    const send = (event: string, data: unknown): void => { res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) }
    const hub = this.#init.hub
    const dispatch = this.#init.dispatch
    let lastSync = ''
    let lastAudit = -1
    let polling = false
    const poll = async (): Promise<void> => {
      if (polling) return
      polling = true
      try {
        const sync = JSON.stringify(await dispatch('sync status', {}))
        if (sync !== lastSync) { lastSync = sync; res.write(`event: sync\ndata: ${sync}\n\n`) }
        if (lastAudit < 0) {
          // Start after the newest entry: the page loads older ones itself.
          for (;;) {
            const p = await dispatch('audit', { limit: 1000, ...(lastAudit >= 0 ? { after: lastAudit } : {}) }) as { items: Array<{ seq: number }> }
            lastAudit = Math.max(lastAudit, 0, ...p.items.map(e => e.seq))
            if (p.items.length < 1000) break
          }
        } else {
          const p = await dispatch('audit', { after: lastAudit, limit: 100 }) as { items: Array<{ seq: number }> }
          for (const e of p.items) { lastAudit = e.seq; send('audit', e) }
        }
      } catch (err) {
        this.#init.logger?.debug('dashboard event poll failed', { reason: toHubError(err).message })
      } finally {
        polling = false
      }
    }
    const onCommit = (e: CommitEvent): void => {
      send('change', { commitId: e.commit.id, objectId: e.meta.objectId, operation: e.commit.header.operation, interface: e.meta.interface, context: e.meta.context ?? null, type: e.meta.type ?? null })
    }
    hub.events.on('commit', onCommit)
    const timer = setInterval(() => { void poll() }, this.#init.pollMs ?? EVENT_POLL_MS)
    const keepalive = setInterval(() => { res.write(': keepalive\n\n') }, KEEPALIVE_MS)
    const offEnd = this.sessions.onEnd(id => { if (id === session.id) end() })
    const end = (): void => {
      clearInterval(timer)
      clearInterval(keepalive)
      hub.events.off('commit', onCommit)
      offEnd()
      this.#streams.delete(end)
      res.end()
    }
    this.#streams.add(end)
    res.on('close', end)
    send('hello', { hubDid: hub.hubDid })
    void poll()
  }
}

/** The dashboard serving each open hub's HTTP server, for `hub dashboard` (a control call inside the daemon). */
const active = new WeakMap<Hub, Dashboard>()

export function registerDashboard (hub: Hub, d: Dashboard): () => void {
  active.set(hub, d)
  return () => { if (active.get(hub) === d) active.delete(hub) }
}

export function dashboardOf (hub: Hub): Dashboard | undefined {
  return active.get(hub)
}
