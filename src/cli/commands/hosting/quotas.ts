/** The quota options of `hub hosting init` (defaults) and `hub hosting add-owner` (this owner), and how a list prints them. */
import { integer, optional } from '../../params.js'
import { intOption } from '../../input.js'
import type { Quotas } from '../../../store/quota-kv.js'

export const QUOTA_OPTIONS = [
  { flags: '--max-objects <n>', description: 'most objects the owner may hold' },
  { flags: '--max-bytes <n>', description: 'most bytes of signed commits the owner may hold' },
  { flags: '--max-rps <n>', description: 'most requests per second for the owner' }
]

export const QUOTA_PARAMS = {
  maxObjects: optional(integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
  maxBytes: optional(integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
  maxRps: optional(integer({ min: 1, max: 1_000_000 }))
}

export function quotaInput (o: Record<string, unknown>): { maxObjects?: number, maxBytes?: number, maxRps?: number } {
  const out: { maxObjects?: number, maxBytes?: number, maxRps?: number } = {}
  const objects = intOption(o.maxObjects, '--max-objects')
  const bytes = intOption(o.maxBytes, '--max-bytes')
  const rps = intOption(o.maxRps, '--max-rps')
  if (objects !== undefined) out.maxObjects = objects
  if (bytes !== undefined) out.maxBytes = bytes
  if (rps !== undefined) out.maxRps = rps
  return out
}

export function quotasOf (p: { maxObjects?: number | undefined, maxBytes?: number | undefined, maxRps?: number | undefined }): Quotas | undefined {
  const q: Quotas = {}
  if (p.maxObjects !== undefined) q.objects = p.maxObjects
  if (p.maxBytes !== undefined) q.bytes = p.maxBytes
  if (p.maxRps !== undefined) q.requestsPerSecond = p.maxRps
  return Object.keys(q).length === 0 ? undefined : q
}

export function quotaText (q: Quotas): string {
  const parts = [q.objects !== undefined ? `${q.objects} objects` : undefined, q.bytes !== undefined ? `${q.bytes} bytes` : undefined, q.requestsPerSecond !== undefined ? `${q.requestsPerSecond} req/s` : undefined].filter(x => x !== undefined)
  return parts.length === 0 ? 'no quotas' : parts.join(', ')
}
