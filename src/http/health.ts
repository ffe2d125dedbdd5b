/**
 * Health endpoints for whatever supervises the hub (systemd, a container
 * orchestrator, a load balancer): `live` says the process answers, `ready`
 * says it can serve (the hub is open). Neither needs a key or reveals
 * anything beyond that one bit.
 */
import { HubError } from '../errors.js'
import type { Route } from './router.js'

export interface HealthComponents {
  /** Why the hub cannot serve now, or undefined when it can. */
  notReady: () => string | undefined
}

const STATUS_BODY = { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } }

export function healthRoutes (c: HealthComponents): Route[] {
  return [
    {
      method: 'GET', path: '/health/live', operationId: 'getLive', tag: 'Meta', auth: 'none',
      summary: 'The process is up and answering',
      responses: { 200: 'Alive' },
      responseBody: STATUS_BODY,
      handler: async () => ({ status: 200, body: { status: 'ok' } })
    },
    {
      method: 'GET', path: '/health/ready', operationId: 'getReady', tag: 'Meta', auth: 'none',
      summary: 'The hub is open and can serve requests',
      responses: { 200: 'Ready', 503: 'Not ready (`unavailable`)' },
      responseBody: STATUS_BODY,
      handler: async () => {
        const reason = c.notReady()
        if (reason !== undefined) throw new HubError('unavailable', reason)
        return { status: 200, body: { status: 'ok' } }
      }
    }
  ]
}
