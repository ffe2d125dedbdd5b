/**
 * Over HTTP: a body that does not match the schema the OpenAPI document
 * publishes for its operation is a typed 400 (details.schema, details.errors),
 * a matching one goes through, and the checks that come first still come
 * first (an unknown participant is a 404 whatever the body).
 */
import { describe, expect, it } from 'vitest'
import { orgServer } from './org-helpers.js'

const I = '/api/identity/v1'

describe('HTTP request bodies are validated against the published schemas', () => {
  it('Identity API: typed 400 for an invalid body, 201 for a valid one', async () => {
    const s = await orgServer()
    const bad = await s.api('POST', `${I}/participants`, { key: s.adminKey, body: { participantId: 42, did: s.did('acme') } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('bad_request')
    expect(bad.body.error.details.schema).toBe('createParticipant')
    expect(bad.body.error.details.errors).toContainEqual(expect.objectContaining({ instancePath: '/participantId', keyword: 'type' }))
    const good = await s.api('POST', `${I}/participants`, { key: s.adminKey, body: { participantId: 'acme', did: s.did('acme') } })
    expect(good.status).toBe(201)

    const key = good.body.apiKey as string
    const badKey = await s.api('POST', `${I}/participants/acme/keypairs`, { key, body: { keyId: 'no spaces allowed' } })
    expect(badKey.status).toBe(400)
    expect(badKey.body.error.details.errors).toContainEqual(expect.objectContaining({ instancePath: '/keyId', keyword: 'pattern' }))
    expect((await s.api('POST', `${I}/participants/acme/keypairs`, { key, body: { keyId: 'key-2' } })).status).toBe(201)
  })

  it('issuance definitions: typed 400, then 201', async () => {
    const s = await orgServer()
    expect((await s.api('POST', `${I}/participants`, { key: s.adminKey, body: { participantId: 'acme', did: s.did('acme') } })).status).toBe(201)
    const path = `${I}/participants/acme/issuance/definitions`
    const bad = await s.api('POST', path, { key: s.adminKey, body: { id: 'member', credentialType: 'MembershipCredential', validitySeconds: -1 } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.schema).toBe('createCredentialDefinition')
    expect(bad.body.error.details.errors).toContainEqual(expect.objectContaining({ instancePath: '/validitySeconds', keyword: 'minimum' }))
    expect((await s.api('POST', path, { key: s.adminKey, body: { id: 'member', credentialType: 'MembershipCredential' } })).status).toBe(201)
  })

  it('the token service: typed 400 for an out-of-range ttl', async () => {
    const s = await orgServer()
    const created = await s.api('POST', `${I}/participants`, { key: s.adminKey, body: { participantId: 'acme', did: s.did('acme'), active: true } })
    expect(created.status).toBe(201)
    const bad = await s.api('POST', '/api/sts/token', { key: created.body.apiKey, body: { audience: s.did('beta'), scope: 'a', ttl: 0 } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.schema).toBe('issueToken')
  })

  it('an unknown participant is a 404 before its body is looked at, with the admin key too', async () => {
    const s = await orgServer()
    const r = await s.api('POST', `${I}/participants/ghost/credentials/request`, { key: s.adminKey, body: { issuerDid: 7 } })
    expect(r.status).toBe(404)
    expect(r.body.error.code).toBe('not_found')
  })
})
