/**
 * Assemble the hub's HTTP server: Identity API, its OpenAPI document, DCP
 * (presentation, storage, issuance) and did:web hosting, all over the hub's
 * OrgStore.
 */
import type { Hub } from '../hub.js'
import type { Logger } from '../log.js'
import { StatusListChecker } from '../org/status-checker.js'
import { dcpRoutes } from './dcp-api.js'
import { didWebRoutes } from './did-web.js'
import { healthRoutes } from './health.js'
import { metricsRoutes } from './metrics.js'
import { hostingOf } from '../net/hosting/registry.js'
import type { OwnerMetrics } from '../net/hosting/node.js'
import { IDENTITY_BASE, identityRoutes } from './identity-api.js'
import { issuanceRoutes } from './issuance-api.js'
import { offerRoutes } from './offer-api.js'
import { API_VERSION, openApiDocument } from './openapi.js'
import { Router, type Route } from './router.js'
import { HttpServer, type HttpLimits } from './server.js'
import { compose, type Middleware } from './pipeline.js'
import { resolveLimits } from './limits.js'
import { bucket } from './rate-limit.js'
import { Dashboard, registerDashboard } from './dashboard/dashboard.js'
import type { Dispatch } from './dashboard/api.js'
import { orgOf, issuanceOf } from '../org/hub-org.js'
import type { IssuanceService } from '../org/issuance.js'
import type { OrgStore } from '../org/org-store.js'
import type { DidDocument } from '../identity/did-key.js'
import type { ReplayCache } from '../store/replay-cache.js'

export { API_VERSION }

/** What the routes use of a hub: its organization half, its resolver, the DCP replay cache, its logger. */
export interface RouteComponents {
  org: OrgStore
  issuance: () => Promise<IssuanceService>
  resolveDocument: (did: string) => Promise<DidDocument>
  dcpReplay: ReplayCache
  log: Logger
  /** Why the hub cannot serve now (closed, shutting down), or undefined; read by /health/ready. */
  notReady?: () => string | undefined
  /** A hosting hub's per-owner metrics (GET /metrics, http/metrics.ts); undefined on other hubs. */
  hostingMetrics?: () => OwnerMetrics[] | undefined
}

export function hubRoutes (hub: Hub, now?: () => number, logger?: Logger): Route[] {
  return routesOf({ org: orgOf(hub, now !== undefined ? { now } : {}), issuance: async () => await issuanceOf(hub), resolveDocument: async did => await hub.resolveDocument(did), dcpReplay: hub.dcpReplay, log: hub.log, notReady: () => hub.closed ? 'the hub is closed' : undefined, hostingMetrics: () => hostingOf(hub)?.metrics() }, now, logger)
}

/** The route table over narrow components (tests build it with stand-ins). */
export function routesOf (c: RouteComponents, now?: () => number, logger?: Logger): Route[] {
  const resolveDocument = c.resolveDocument
  // One checker per route set, so its cache of issuers' status lists lives as long as the server.
  // It shares the server's clock: a test that moves `now` moves the cache TTL with it.
  const statusChecker = new StatusListChecker({ resolveDocument, logger: (logger ?? c.log).child('status-list'), ...(now !== undefined ? { now } : {}) })
  const routes: Route[] = [
    // Before the Identity API: GET …/credentials/requests must not be taken for …/credentials/{credentialId}.
    ...issuanceRoutes({ org: c.org, issuance: c.issuance, resolveDocument, replay: c.dcpReplay, ...(now !== undefined ? { now } : {}) }),
    // Also before the Identity API: …/credentials/offers is not a credential id.
    ...offerRoutes({ org: c.org, issuance: c.issuance, resolveDocument, replay: c.dcpReplay, ...(now !== undefined ? { now } : {}) }),
    ...identityRoutes(c.org),
    ...dcpRoutes({ org: c.org, resolveDocument, replay: c.dcpReplay, statusChecker, log: (logger ?? c.log).child('dcp'), ...(now !== undefined ? { now } : {}) }),
    ...didWebRoutes(c.org),
    ...healthRoutes({ notReady: c.notReady ?? (() => undefined) }),
    ...metricsRoutes({ owners: c.hostingMetrics ?? (() => undefined) })
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

/** The dashboard's part of createHttpServer's options (http/dashboard/, docs/dashboard.md). */
export interface DashboardOptions {
  /** Runs a hub command as the control channel does: the daemon's dispatch. */
  dispatch: Dispatch
  /** Where the built page is (default: dist/dashboard/). */
  assetsDir?: string
  /** Wall clock of the sessions (tests). */
  now?: () => number
  /** Event stream poll period, ms (tests). */
  pollMs?: number
}

export function createHttpServer (hub: Hub, opts: { adminKey: string, logger?: Logger, now?: () => number, limits?: Partial<HttpLimits>, staticApp?: Middleware, dashboard?: DashboardOptions }): HttpServer {
  let dashboard: Dashboard | undefined
  let unregister = (): void => {}
  if (opts.dashboard !== undefined) {
    const limits = resolveLimits(opts.limits)
    const d = opts.dashboard
    dashboard = new Dashboard({
      hub,
      dispatch: d.dispatch,
      baseUrl: () => server.url,
      loginFailures: bucket(limits.authFailures, limits.maxTrackedClients, undefined),
      ...(d.assetsDir !== undefined ? { assetsDir: d.assetsDir } : {}),
      ...(d.now !== undefined ? { now: d.now } : {}),
      ...(d.pollMs !== undefined ? { pollMs: d.pollMs } : {}),
      ...(opts.logger !== undefined ? { logger: opts.logger.child('dashboard') } : {})
    })
    unregister = registerDashboard(hub, dashboard)
  }
  // The dashboard answers /dashboard/…, the static app /app/…: both only for paths no route matched.
  const parts = [dashboard?.middleware, opts.staticApp].filter((m): m is Middleware => m !== undefined)
  const unrouted: Middleware | undefined = parts.length === 0 ? undefined : async (ctx, next) => { await compose([...parts, async () => { await next() }])(ctx) }
  const server: HttpServer = new HttpServer({
    ...(unrouted !== undefined ? { staticApp: unrouted } : {}),
    router: new Router(hubRoutes(hub, opts.now, opts.logger)),
    org: orgOf(hub, opts.now !== undefined ? { now: opts.now } : {}),
    adminKey: opts.adminKey,
    ...(dashboard !== undefined ? { onClose: () => { dashboard.close(); unregister() } } : {}),
    ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    ...(opts.limits !== undefined ? { limits: opts.limits } : {})
  })
  return server
}
