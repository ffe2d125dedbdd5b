/**
 * The HTTP route table. Each route carries its own documentation (summary,
 * auth, responses), and the OpenAPI document is generated from this same
 * table, so the published API and the served one cannot disagree.
 */
import type { IncomingHttpHeaders } from 'node:http'

export type AuthKind =
  /** Nothing: public documents (did:web, the OpenAPI document). */
  | 'none'
  /** `x-api-key`: the admin key only. */
  | 'admin'
  /**
   * `x-api-key`: the admin key, or the API key of the participant named in
   * the path (any participant's key on a route without `{participantId}`;
   * the handler then acts for that participant).
   */
  | 'participant'
  /** `Authorization: Bearer <self-issued ID token>` (DCP). */
  | 'bearer'

export interface HttpRequest {
  method: string
  path: string
  params: Record<string, string>
  query: URLSearchParams
  headers: IncomingHttpHeaders
  /** Parsed JSON body, or undefined for an empty body. */
  body: unknown
  /** Who the x-api-key authenticated (absent on 'none' and 'bearer' routes). */
  caller?: { admin: true } | { admin: false, participantId: string }
}

export interface HttpResponse {
  status: number
  body?: unknown
  /**
   * A body that is not JSON (e.g. a JWT), sent exactly as given; its
   * content-type goes in `headers`. `body` is ignored when this is set.
   */
  text?: string
  headers?: Record<string, string>
}

export interface JsonSchema { [k: string]: unknown }

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** OpenAPI-style template: `/api/identity/v1/participants/{participantId}`. */
  path: string
  operationId: string
  summary: string
  tag: string
  auth: AuthKind
  requestBody?: JsonSchema
  /** The body may be omitted (e.g. a generated key pair needs no spec). */
  requestBodyOptional?: boolean
  /** Status → description; errors use the problem body. */
  responses: Record<number, string>
  /** Schema of the 2xx body, for the OpenAPI document. */
  responseBody?: JsonSchema
  /** Media type of the 2xx body in the OpenAPI document. Default `application/json`. */
  responseType?: string
  query?: Array<{ name: string, description: string }>
  handler: (req: HttpRequest) => Promise<HttpResponse>
}

interface Compiled { route: Route, re: RegExp, names: string[] }

/**
 * Path parameters match one segment (`{name}`) or, written `{name+}`, one or
 * more segments (did:web paths); they arrive percent-decoded.
 */
function compile (route: Route): Compiled {
  const names: string[] = []
  const pattern = route.path.replace(/[.*?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([A-Za-z]+)(\+?)\\?\}/g, (_m, name: string, greedy: string) => {
    names.push(name)
    return greedy === '+' ? '(.+)' : '([^/]+)'
  })
  return { route, re: new RegExp(`^${pattern}$`), names }
}

export type Match =
  | { kind: 'route', route: Route, params: Record<string, string> }
  | { kind: 'method-not-allowed', allowed: string[] }
  | { kind: 'none' }

export class Router {
  readonly routes: readonly Route[]
  readonly #compiled: Compiled[]

  constructor (routes: Route[]) {
    this.routes = routes
    this.#compiled = routes.map(compile)
  }

  match (method: string, path: string): Match {
    const allowed: string[] = []
    for (const c of this.#compiled) {
      const m = c.re.exec(path)
      if (m === null) continue
      if (c.route.method !== method) {
        // Several routes can match one path (/.well-known/did.json is also a {didPath+}/did.json).
        if (!allowed.includes(c.route.method)) allowed.push(c.route.method)
        continue
      }
      const params: Record<string, string> = {}
      c.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1] as string)
      })
      return { kind: 'route', route: c.route, params }
    }
    return allowed.length > 0 ? { kind: 'method-not-allowed', allowed } : { kind: 'none' }
  }
}
