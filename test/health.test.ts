/**
 * /health/live and /health/ready over real HTTP: no key needed, nothing
 * revealed but the status, and `ready` turns to 503 `unavailable` when the
 * hub can no longer serve.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup } from './helpers.js'
import { orgServer } from './org-helpers.js'

afterEach(cleanup)

describe('health endpoints', () => {
  it('answer without a key while the hub is open, and ready fails once it is closed', async () => {
    const s = await orgServer()
    expect(await s.api('GET', '/health/live')).toMatchObject({ status: 200, body: { status: 'ok' } })
    expect(await s.api('GET', '/health/ready')).toMatchObject({ status: 200, body: { status: 'ok' } })
    await s.hub.close()
    expect(await s.api('GET', '/health/live')).toMatchObject({ status: 200, body: { status: 'ok' } })
    const r = await s.api('GET', '/health/ready')
    expect(r.status).toBe(503)
    expect(r.body).toMatchObject({ error: { code: 'unavailable' } })
  })

  it('take only GET, and are listed in the OpenAPI document', async () => {
    const s = await orgServer()
    const post = await s.api('POST', '/health/ready', { body: {} })
    expect(post.status).toBeGreaterThanOrEqual(400)
    expect(post.status).toBeLessThan(500)
    const doc = await s.api('GET', '/api/identity/v1/openapi.json')
    expect(Object.keys((doc.body as { paths: Record<string, unknown> }).paths)).toEqual(expect.arrayContaining(['/health/live', '/health/ready']))
  })
})
