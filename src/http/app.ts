/**
 * Assemble the hub's HTTP server: Identity API, its OpenAPI document, DCP
 * and did:web hosting, all over the hub's OrgStore.
 */
import type { Hub } from '../hub.js'
import type { Logger } from '../log.js'
import { dcpRoutes } from './dcp-api.js'
import { didWebRoutes } from './did-web.js'
import { IDENTITY_BASE, identityRoutes } from './identity-api.js'
import { openApiDocument } from './openapi.js'
import { Router, type Route } from './router.js'
import { HttpServer } from './server.js'

export const API_VERSION = '1.0.0'

export function hubRoutes (hub: Hub, now?: () => number): Route[] {
  const routes: Route[] = [
    ...identityRoutes(hub.org),
    ...dcpRoutes({ org: hub.org, resolveDocument: async did => await hub.resolveDocument(did), replay: hub.dcpReplay, ...(now !== undefined ? { now } : {}) }),
    ...didWebRoutes(hub.org)
  ]
  routes.push({
    method: 'GET', path: `${IDENTITY_BASE}/openapi.json`, operationId: 'getOpenApi', tag: 'Meta', auth: 'none',
    summary: 'This OpenAPI document',
    responses: { 200: 'OpenAPI 3.1' },
    responseBody: { type: 'object' },
    handler: async () => ({ status: 200, body: openApiDocument(routes, API_VERSION) })
  })
  return routes
}

export function createHttpServer (hub: Hub, opts: { adminKey: string, logger?: Logger, now?: () => number }): HttpServer {
  return new HttpServer({
    router: new Router(hubRoutes(hub, opts.now)),
    org: hub.org,
    adminKey: opts.adminKey,
    ...(opts.logger !== undefined ? { logger: opts.logger } : {})
  })
}
