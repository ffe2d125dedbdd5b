/**
 * The dashboard's JSON API (`/dashboard/api/…`): each route is one hub
 * command (src/cli/commands/), run through the daemon's own dispatch with
 * the parameters the CLI would send, so the API has no rule of its own to
 * drift from the CLI's — and every dashboard action is a CLI command by
 * construction (docs/dashboard.md has the table).
 *
 * A route here only says where its parameters come from (path, query,
 * body); the command's schema checks them on arrival (unknown or ill-typed
 * parameters are `bad_request` before anything runs).
 */
import { renderSVG } from 'uqr'
import { BadRequestError } from '../../errors.js'

export type Dispatch = (command: string, params: Record<string, unknown>) => Promise<unknown>

export interface ApiRequest {
  params: Record<string, string>
  query: URLSearchParams
  /** The JSON body of a POST (an object), else {}. */
  body: Record<string, unknown>
}

export type ApiAnswer = { json: unknown } | { bytes: Uint8Array, contentType: string, filename: string }

export interface ApiRoute {
  method: 'GET' | 'POST' | 'DELETE'
  /** Under /dashboard/api, with `{name}` segments. */
  path: string
  /** The hub command it runs. */
  command: string
  params: (r: ApiRequest) => Record<string, unknown>
  /** Shapes the command's result for the page (default: as is). */
  answer?: (result: unknown, r: ApiRequest) => ApiAnswer
}

/** One query parameter, at most once; undefined when absent. */
function q (r: ApiRequest, name: string): string | undefined {
  const all = r.query.getAll(name)
  if (all.length > 1) throw new BadRequestError(`query parameter "${name}" given more than once`, { reason: 'bad_query', parameter: name })
  return all[0] === '' ? undefined : all[0]
}

/** An integer query parameter. */
function qInt (r: ApiRequest, name: string): number | undefined {
  const v = q(r, name)
  if (v === undefined) return undefined
  if (!/^\d{1,15}$/.test(v)) throw new BadRequestError(`query parameter "${name}" must be a non-negative integer`, { reason: 'bad_query', parameter: name })
  return Number(v)
}

/** Drop undefined values (the command schemas treat a present key as given). */
function defined (o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

const qs = (r: ApiRequest, ...names: string[]): Record<string, unknown> => defined(Object.fromEntries(names.map(n => [n, q(r, n)])))
const where = (r: ApiRequest): string[] | undefined => { const w = r.query.getAll('where').filter(x => x !== ''); return w.length > 0 ? w : undefined }
const pid = (r: ApiRequest): Record<string, unknown> => ({ participantId: r.params.participantId })
const b64ToBytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))

export const API_ROUTES: readonly ApiRoute[] = [
  // Collections
  { method: 'GET', path: '/collections', command: 'collection list', params: () => ({}) },
  {
    method: 'GET', path: '/objects', command: 'query',
    params: r => defined({ ...qs(r, 'context', 'type', 'tag', 'sort', 'cursor'), where: where(r), limit: qInt(r, 'limit') })
  },
  { method: 'GET', path: '/objects/{objectId}', command: 'read', params: r => ({ objectId: r.params.objectId }) },
  { method: 'GET', path: '/objects/{objectId}/history', command: 'history', params: r => ({ objectId: r.params.objectId }) },
  { method: 'GET', path: '/objects/{objectId}/diff', command: 'diff', params: r => ({ objectId: r.params.objectId, ...qs(r, 'from', 'to') }) },
  {
    method: 'GET', path: '/objects/{objectId}/export', command: 'export', params: r => ({ objectId: r.params.objectId }),
    answer: (res, r) => ({ bytes: b64ToBytes((res as { data: string }).data), contentType: 'application/octet-stream', filename: `${r.params.objectId as string}.automerge` })
  },
  // Sharing
  { method: 'GET', path: '/grants', command: 'grants', params: r => qs(r, 'grantee') },
  { method: 'POST', path: '/grants', command: 'grant', params: r => r.body },
  { method: 'GET', path: '/grants/{grantId}/preview', command: 'revoke-preview', params: r => ({ grantId: r.params.grantId }) },
  { method: 'DELETE', path: '/grants/{grantId}', command: 'revoke', params: r => ({ grantId: r.params.grantId }) },
  { method: 'GET', path: '/follows', command: 'following', params: () => ({}) },
  {
    method: 'GET', path: '/shared', command: 'shared',
    params: r => defined({ ...qs(r, 'owner', 'context', 'type', 'sort', 'cursor'), where: where(r), limit: qInt(r, 'limit') })
  },
  // Audit
  {
    method: 'GET', path: '/audit', command: 'audit search',
    params: r => defined({ ...qs(r, 'caller', 'context', 'type', 'decision', 'since'), limit: qInt(r, 'limit'), after: qInt(r, 'cursor') })
  },
  { method: 'GET', path: '/audit/summary', command: 'audit summary', params: r => qs(r, 'since', 'caller') },
  // Devices
  { method: 'GET', path: '/devices', command: 'device list', params: () => ({}) },
  { method: 'GET', path: '/sync', command: 'sync status', params: () => ({}) },
  {
    method: 'POST', path: '/devices/invite', command: 'device invite', params: r => r.body,
    answer: res => {
      const { invite, expiresAt } = res as { invite: string, expiresAt: string }
      return { json: { invite, expiresAt, qrSvg: renderSVG(invite, { ecc: 'L', border: 2 }) } }
    }
  },
  { method: 'DELETE', path: '/devices/{device}', command: 'device revoke', params: r => ({ device: r.params.device }) },
  // Organization
  { method: 'GET', path: '/org/participants', command: 'participant list', params: () => ({}) },
  { method: 'GET', path: '/org/participants/{participantId}/keys', command: 'keys list', params: pid },
  { method: 'GET', path: '/org/participants/{participantId}/did', command: 'did show', params: pid },
  { method: 'GET', path: '/org/participants/{participantId}/credentials', command: 'credentials list', params: pid },
  { method: 'GET', path: '/org/participants/{participantId}/issuance', command: 'issuance list', params: pid },
  { method: 'GET', path: '/org/participants/{participantId}/issuance-requests', command: 'issuance requests', params: pid }
]

interface Compiled { route: ApiRoute, re: RegExp, names: string[] }

export type ApiMatch = { route: ApiRoute, params: Record<string, string> } | { allowed: string[] } | undefined

export class ApiRouter {
  readonly #compiled: Compiled[]

  constructor (routes: readonly ApiRoute[] = API_ROUTES) {
    this.#compiled = routes.map(route => {
      const names: string[] = []
      const pattern = route.path.replace(/\{([A-Za-z]+)\}/g, (_m, n: string) => { names.push(n); return '([^/]+)' })
      return { route, re: new RegExp(`^${pattern}$`), names }
    })
  }

  /** The route of `method path` (path relative to /dashboard/api), the methods allowed there, or undefined. */
  match (method: string, path: string): ApiMatch {
    const allowed: string[] = []
    for (const c of this.#compiled) {
      const m = c.re.exec(path)
      if (m === null) continue
      if (c.route.method !== method) { allowed.push(c.route.method); continue }
      const params: Record<string, string> = {}
      c.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1] as string)
        } catch {
          throw new BadRequestError('malformed percent-encoding in the path', { reason: 'bad_encoding' })
        }
      })
      return { route: c.route, params }
    }
    return allowed.length > 0 ? { allowed } : undefined
  }
}
