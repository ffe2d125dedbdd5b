/** A hub's HTTP server with the dashboard, over a running hub (hub + node), and raw HTTP helpers for it (issue 16). */
import { createHttpServer, type DashboardOptions } from '../src/http/app.js'
import type { HttpServer, HttpLimits } from '../src/http/server.js'
import { dashboardOf, type Dashboard } from '../src/http/dashboard/dashboard.js'
import { COMMANDS, hubHandlers } from '../src/cli/commands/index.js'
import type { Running } from './net-helpers.js'
import type { Hub } from '../src/hub.js'
import type { HubNode } from '../src/net/hub-node.js'

export interface DashboardServer {
  url: string
  server: HttpServer
  dashboard: Dashboard
  /** Commands run as the daemon runs them (what the dashboard's API calls). */
  dispatch: (command: string, params: Record<string, unknown>) => Promise<unknown>
  /** A one-time login link (as `hub dashboard` prints it). */
  link: () => string
  /** Log in with a fresh link: the session cookie ("name=value") and its CSRF token. */
  login: () => Promise<{ cookie: string, csrf: string }>
  close: () => Promise<void>
}

const servers: DashboardServer[] = []

export function dispatcher (hub: Hub, net: HubNode | undefined): (command: string, params: Record<string, unknown>) => Promise<unknown> {
  const table = hubHandlers(COMMANDS)
  return async (command, params) => {
    const h = table[command]
    if (h === undefined) throw new Error(`no command ${command}`)
    return await h(net !== undefined ? { hub, net } : { hub }, params)
  }
}

export async function dashboardServer (r: Pick<Running, 'hub'> & { node?: HubNode }, o: Partial<DashboardOptions> & { limits?: Partial<HttpLimits> } = {}): Promise<DashboardServer> {
  const dispatch = dispatcher(r.hub, r.node)
  const { limits, ...dash } = o
  const server = createHttpServer(r.hub, { adminKey: 'test-admin-key-0123456789', dashboard: { dispatch, pollMs: 100, ...dash }, ...(limits !== undefined ? { limits } : {}) })
  const url = await server.listen('127.0.0.1', 0)
  const dashboard = dashboardOf(r.hub) as Dashboard
  const link = (): string => dashboard.loginLink().url
  const login = async (): Promise<{ cookie: string, csrf: string }> => {
    const res = await fetch(link(), { redirect: 'manual' })
    if (res.status !== 303) throw new Error(`login answered ${res.status}`)
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string
    const s = await fetch(`${url}/dashboard/api/session`, { headers: { cookie } })
    const { csrf } = await s.json() as { csrf: string }
    return { cookie, csrf }
  }
  const ds: DashboardServer = { url, server, dashboard, dispatch, link, login, close: async () => { await server.close(100) } }
  servers.push(ds)
  return ds
}

export async function closeDashboards (): Promise<void> {
  for (const s of servers.splice(0)) await s.close().catch(() => {})
}

/** A JSON answer: an error body, or whatever the route answers. */
export interface ApiJson { error?: { code: string, message: string, details?: { reason?: string } }, [k: string]: unknown }

/** An API call with exactly the headers given (nothing added behind the test's back). */
export async function api (base: string, method: string, path: string, o: { cookie?: string, csrf?: string, origin?: string | null, body?: unknown, raw?: string, headers?: Record<string, string> } = {}): Promise<{ status: number, body: ApiJson, headers: Headers }> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) }
  if (o.cookie !== undefined) headers.cookie = o.cookie
  if (o.csrf !== undefined) headers['x-csrf-token'] = o.csrf
  if (o.origin !== null && method !== 'GET') headers.origin = o.origin ?? base
  const body = o.raw ?? (o.body !== undefined ? JSON.stringify(o.body) : undefined)
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${base}/dashboard/api${path}`, { method, headers, ...(body !== undefined ? { body } : {}), redirect: 'manual' })
  const text = await res.text()
  let json: unknown = text
  try { json = JSON.parse(text) } catch { /* not JSON */ }
  return { status: res.status, body: json as ApiJson, headers: res.headers }
}
