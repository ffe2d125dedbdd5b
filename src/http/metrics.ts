/**
 * `GET /metrics`: per-owner metrics of a hosting hub in the Prometheus text
 * exposition format (0.0.4). Admin key only (`x-api-key`, as the Identity
 * API): owner DIDs are labels, and which owners a host serves is exactly
 * what the wire does not reveal, so the endpoint is no less private than
 * the admin API. A scraper sends the key as a header (Prometheus:
 * `http_headers`), or runs beside the hub on loopback. A hub that hosts no
 * one reports `hub_hosted_owners 0`.
 */
import type { OwnerMetrics } from '../net/hosting/node.js'
import type { Route } from './router.js'

export interface MetricsComponents {
  /** The hosting node's per-owner metrics, or undefined on a hub that is not hosting. */
  owners: () => OwnerMetrics[] | undefined
}

const SERIES: Array<{ name: string, help: string, type: 'gauge' | 'counter', of: (m: OwnerMetrics) => number }> = [
  { name: 'hub_owner_objects', help: 'Objects the owner holds here', type: 'gauge', of: m => m.objects },
  { name: 'hub_owner_bytes', help: 'Bytes of signed commits the owner holds here', type: 'gauge', of: m => m.bytes },
  { name: 'hub_owner_requests_total', help: 'Requests answered for the owner since start', type: 'counter', of: m => m.requests },
  { name: 'hub_owner_requests_refused_total', help: 'Requests for the owner refused by routing or its request quota since start', type: 'counter', of: m => m.refusedRequests },
  { name: 'hub_owner_served_commits_total', help: 'Commits served to the owner\'s devices since start', type: 'counter', of: m => m.servedCommits },
  { name: 'hub_owner_sync_lag', help: 'Feed entries the owner\'s connected devices have that this hub has not pulled yet', type: 'gauge', of: m => m.syncLag },
  { name: 'hub_owner_devices_connected', help: 'The owner\'s devices connected now', type: 'gauge', of: m => m.devicesConnected }
]

/** A label value escaped as the format says (backslash, double quote, newline). */
function label (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

export function metricsText (owners: OwnerMetrics[]): string {
  let out = '# HELP hub_hosted_owners Owners this hub hosts\n# TYPE hub_hosted_owners gauge\n' + `hub_hosted_owners ${owners.length}\n`
  for (const s of SERIES) {
    out += `# HELP ${s.name} ${s.help}\n# TYPE ${s.name} ${s.type}\n`
    for (const m of owners) out += `${s.name}{owner="${label(m.owner)}"} ${s.of(m)}\n`
  }
  return out
}

export function metricsRoutes (c: MetricsComponents): Route[] {
  return [{
    method: 'GET', path: '/metrics', operationId: 'getMetrics', tag: 'Meta', auth: 'admin',
    summary: 'Per-owner metrics of a hosting hub (Prometheus text format)',
    responses: { 200: 'Prometheus text exposition format 0.0.4' },
    responseBody: { type: 'string' },
    responseType: 'text/plain',
    handler: async () => ({ status: 200, text: metricsText(c.owners() ?? []), headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } })
  }]
}
