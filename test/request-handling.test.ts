/**
 * The hub side of the request protocol with what it keeps between requests
 * (request/handler.ts: did:key ids resolved once; store/batch-coalescer.ts:
 * replay records and audit entries of concurrent requests in shared
 * batches): whatever was kept from earlier requests, a forged, replayed or
 * no-longer-granted request is refused exactly as on a fresh hub.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HubError } from '../src/errors.js'
import { Hub } from '../src/hub.js'
import { b64u, utf8 } from '../src/identity/encoding.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { handleRequest } from '../src/request/handler.js'
import { signRequest } from '../src/request/token.js'
import { cleanup, playlist, tempHub } from './helpers.js'

afterEach(async () => { await cleanup() })

const CTX = 'https://schema.org'

async function outcome (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    if (err instanceof HubError) return err.code
    throw err
  }
}

/** A token claiming `iss` (and its kid) but signed by `signer`. */
function forged (signer: Ed25519KeyPair, claimed: Ed25519KeyPair, owner: string, params: Record<string, unknown>): string {
  const impostor = { did: claimed.did, kid: claimed.kid, sign: (data: Uint8Array) => signer.sign(data) }
  return signRequest(impostor, owner, 'Collections', 'read', params)
}

describe('request handling with what is kept between requests', () => {
  it('a forged signature is refused after the claimed app\'s key was used (and kept) for a valid request', async () => {
    const hub = await tempHub()
    const { objectId } = await hub.collections.create(playlist('Shared'))
    const app = Ed25519KeyPair.generate()
    await hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    expect(await outcome(handleRequest(hub, signRequest(app, hub.did, 'Collections', 'read', { objectId })))).toBe('ok')
    const mallory = Ed25519KeyPair.generate()
    expect(await outcome(handleRequest(hub, forged(mallory, app, hub.did, { objectId })))).toBe('authentication_failed')
    // A kid naming another key of the same did:key is refused, before and after the real one is kept.
    const wrongKid = { did: app.did, kid: `${app.did}#z6Mkwrong`, sign: (d: Uint8Array) => app.sign(d) }
    expect(await outcome(handleRequest(hub, signRequest(wrongKid, hub.did, 'Collections', 'read', { objectId })))).toBe('authentication_failed')
    expect(await outcome(handleRequest(hub, signRequest(app, hub.did, 'Collections', 'read', { objectId })))).toBe('ok')
  })

  it('a revoked grant refuses the very next request of an app that was just allowed, and the audit log says so in order', async () => {
    const hub = await tempHub()
    const { objectId } = await hub.collections.create(playlist('Shared'))
    const app = Ed25519KeyPair.generate()
    const { grantId } = await hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    // Concurrent allowed requests (their replay records and audit entries share batches).
    const before = await Promise.all(Array.from({ length: 10 }, async () => await outcome(handleRequest(hub, signRequest(app, hub.did, 'Collections', 'read', { objectId })))))
    expect(before).toEqual(Array.from({ length: 10 }, () => 'ok'))
    await hub.permissions.revoke(grantId)
    // The object is hidden like an unknown id once nothing allows reading it.
    expect(await outcome(handleRequest(hub, signRequest(app, hub.did, 'Collections', 'read', { objectId })))).toBe('not_found')
    const log = await hub.audit.list()
    expect(log.map(e => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1))
    expect(log.map(e => e.decision)).toEqual([...Array.from({ length: 10 }, () => 'allowed'), 'denied'])
  })

  it('a token used once is refused again, also after the hub reopens (the replay record was on disk before the answer)', async () => {
    const hub = await tempHub()
    const dir = hub.dir
    const { objectId } = await hub.collections.create(playlist('Shared'))
    const app = Ed25519KeyPair.generate()
    await hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    const tokens = Array.from({ length: 5 }, () => signRequest(app, hub.did, 'Collections', 'read', { objectId }, { lifetimeS: 300 }))
    expect(await Promise.all(tokens.map(async t => await outcome(handleRequest(hub, t))))).toEqual(['ok', 'ok', 'ok', 'ok', 'ok'])
    expect(await outcome(handleRequest(hub, tokens[2] as string))).toBe('authentication_failed')
    await hub.close()
    const reopened = await Hub.open(dir)
    try {
      for (const t of tokens) expect(await outcome(handleRequest(reopened, t))).toBe('authentication_failed')
    } finally {
      await reopened.close()
    }
  })

  it('a token whose kid is not even a did:key is refused and nothing of it is kept', async () => {
    const hub = await tempHub()
    const app = Ed25519KeyPair.generate()
    const header = b64u(utf8.encode(JSON.stringify({ alg: 'EdDSA', kid: 'did:key:znot-a-key#znot-a-key', typ: 'hub-request+jwt' })))
    const now = Math.floor(Date.now() / 1000)
    const claims = b64u(utf8.encode(JSON.stringify({ iss: 'did:key:znot-a-key', aud: hub.did, sub: hub.did, iat: now, exp: now + 60, jti: 'jti-not-a-key-0001', interface: 'Profile', method: 'read', params: {} })))
    const jws = `${header}.${claims}.${b64u(app.sign(utf8.encode(`${header}.${claims}`)))}`
    expect(await outcome(handleRequest(hub, jws))).toBe('authentication_failed')
    // Not kept: the same bad id fails the same way again (not from a cache, not as a replay).
    expect(await outcome(handleRequest(hub, jws))).toBe('authentication_failed')
    expect((await hub.audit.list()).map(e => e.code)).toEqual(['authentication_failed', 'authentication_failed'])
  })
})
