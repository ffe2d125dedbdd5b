/**
 * The request protocol against real hubs over libp2p: grants, denials,
 * replay, forgery, expiry, revocation across hubs, subscriptions, and the
 * audit log recording every attempt.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { signCommit, serializeCommit } from '../src/commits/commit.js'
import { createChange } from '../src/objects/automerge.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { b64u, utf8 } from '../src/identity/encoding.js'
import { signRequest } from '../src/request/token.js'
import { cleanup, playlist } from './helpers.js'
import { device, eventually, founder, stopAll, type Running } from './net-helpers.js'
import { RawClient } from './raw-request-client.js'

const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {})
  await stopAll(); await cleanup()
})

const CTX = 'https://schema.org'
async function connect (r: Running, identity?: Ed25519KeyPair): Promise<RawClient> {
  const c = await RawClient.connect(r.node.multiaddrs()[0] as string, r.hub.did, identity)
  clients.push(c)
  return c
}

function createCommit (signer: Ed25519KeyPair, owner: string, value: Record<string, unknown>): unknown {
  const c = signCommit({ interface: 'Collections', context: CTX, type: String(value['@type']), operation: 'create', committed_at: new Date().toISOString(), commit_strategy: 'automerge', sub: owner as never, deps: [] }, createChange(value as never, 'ee'.repeat(16)), signer)
  return JSON.parse(serializeCommit(c))
}

describe('requests from apps', () => {
  it('a granted read works; an ungranted type and a write without C are denied; all audited', async () => {
    const a = await founder()
    const { objectId } = await a.hub.collections.create(playlist('Shared'))
    await a.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'private' })
    const app = Ed25519KeyPair.generate()
    const { grantId } = await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    const c = await connect(a, app)

    const read = await c.call('Collections', 'read', { objectId })
    expect(read).toMatchObject({ t: 'response', result: { objectId, value: playlist('Shared') } })
    const q = await c.call('Collections', 'query', { context: CTX, type: 'MusicPlaylist' })
    expect(q.t === 'response' && (q.result as { objects: unknown[] }).objects).toHaveLength(1)
    expect(await c.call('Collections', 'query', { context: CTX, type: 'Diary' })).toMatchObject({ t: 'error', code: 'permissions_required' })
    expect(await c.call('Collections', 'write', { commit: createCommit(app, a.hub.did, playlist('by app')) })).toMatchObject({ t: 'error', code: 'permissions_required' })
    expect(await c.call('Permissions', 'list')).toMatchObject({ t: 'error', code: 'permissions_required' })
    expect(await c.call('Profile', 'read')).toMatchObject({ t: 'response', result: null })

    const log = await a.hub.audit.list()
    expect(log.map(e => [e.method, e.decision])).toEqual([['read', 'allowed'], ['query', 'allowed'], ['query', 'denied'], ['write', 'denied'], ['list', 'denied'], ['read', 'allowed']])
    expect(log[0]).toMatchObject({ caller: app.did, grantId, via: 'grant', target: objectId })
  })

  it('a reply over the frame limit is answered too_large, not left unanswered, and the stream goes on', async () => {
    const a = await founder()
    // Four values of ~900 KB: each fits a commit, a page of all four does not fit a reply frame (3 MiB).
    for (let i = 0; i < 4; i++) await a.hub.collections.create({ ...playlist(`big ${i}`), description: 'x'.repeat(900_000) })
    const app = Ed25519KeyPair.generate()
    await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    const c = await connect(a, app)
    const started = Date.now()
    expect(await c.call('Collections', 'query', { context: CTX, type: 'MusicPlaylist', limit: 4 })).toMatchObject({ t: 'error', code: 'too_large' })
    expect(Date.now() - started).toBeLessThan(5000)
    const q = await c.call('Collections', 'query', { context: CTX, type: 'MusicPlaylist', limit: 2 })
    expect(q.t === 'response' && (q.result as { objects: unknown[] }).objects).toHaveLength(2)
  })

  it('the per-peer request rate limit is the node\'s own when it passes one (REQUEST_BURST otherwise)', async () => {
    const a = await founder({ requestRateLimit: { ratePerSecond: 0.5, burst: 3 } })
    const c = await connect(a)
    const replies = []
    for (let i = 0; i < 4; i++) replies.push(await c.call('Profile', 'read'))
    expect(replies.slice(0, 3)).toMatchObject([{ t: 'response' }, { t: 'response' }, { t: 'response' }])
    expect(replies[3]).toMatchObject({ t: 'error', code: 'unavailable' })
    expect((replies[3] as { message: string }).message).toContain('burst 3')
    // Another peer has its own bucket.
    expect(await (await connect(a)).call('Profile', 'read')).toMatchObject({ t: 'response' })
    // The default bucket holds REQUEST_BURST: a fresh hub serves more than 3 at once.
    const b = await founder()
    const d = await connect(b)
    for (let i = 0; i < 10; i++) expect(await d.call('Profile', 'read')).toMatchObject({ t: 'response' })
  })

  it('with C the app writes commits it signed; the hub stores them and they verify', async () => {
    const a = await founder()
    const app = Ed25519KeyPair.generate()
    await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: 'CR--' })
    const c = await connect(a, app)
    const r = await c.call('Collections', 'write', { commit: createCommit(app, a.hub.did, playlist('by app')) })
    expect(r.t).toBe('response')
    const objectId = (r as { result: { objectId: string } }).result.objectId
    expect((await a.hub.collections.read(objectId)).createdBy).toBe(app.did)
    expect((await a.hub.collections.history(objectId)).commits[0]?.signer).toBe(app.did)
    // A commit signed by someone else cannot be relayed by this app.
    const other = Ed25519KeyPair.generate()
    expect(await c.call('Collections', 'write', { commit: createCommit(other, a.hub.did, playlist('relayed')) })).toMatchObject({ t: 'error', code: 'authentication_failed' })
  })

  it('rejects a replayed request, a forged signature, an expired grant, and a wrong audience', async () => {
    const a = await founder()
    const { objectId } = await a.hub.collections.create(playlist('x'))
    const app = Ed25519KeyPair.generate()
    await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--', expiresAt: new Date(Date.now() + 1500).toISOString() })
    const c = await connect(a, app)
    const jws = signRequest(app, a.hub.did, 'Collections', 'read', { objectId })
    expect(await c.next(await c.sendJws(jws))).toMatchObject({ t: 'response' })
    expect(await c.next(await c.sendJws(jws))).toMatchObject({ t: 'error', code: 'authentication_failed', message: expect.stringContaining('replayed') })
    const [h, p] = signRequest(app, a.hub.did, 'Collections', 'read', { objectId }).split('.')
    const forged = `${h}.${p}.${b64u(Ed25519KeyPair.generate().sign(utf8.encode(`${h}.${p}`)))}`
    expect(await c.next(await c.sendJws(forged))).toMatchObject({ t: 'error', code: 'authentication_failed' })
    const stranger = Ed25519KeyPair.generate()
    expect(await c.next(await c.sendJws(signRequest(app, stranger.did, 'Collections', 'read', { objectId })))).toMatchObject({ t: 'error', code: 'not_found' })
    await eventually(async () => (await c.call('Collections', 'read', { objectId })).t === 'error', 5000, 'the grant to expire')
    expect(await c.call('Collections', 'read', { objectId })).toMatchObject({ t: 'error', code: 'not_found' })
    const log = await a.hub.audit.list()
    expect(log.filter(e => e.code === 'authentication_failed')).toHaveLength(2) // the replay and the forgery
    expect(log.some(e => e.caller.endsWith('(unauthenticated)'))).toBe(true)
  })

  it('a grant revoked on hub A denies a request to hub B once B has synced the revocation', async () => {
    const a = await founder()
    const b = await device(a)
    const { objectId } = await a.hub.collections.create(playlist('on both'))
    const app = Ed25519KeyPair.generate()
    const { grantId } = await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    await eventually(() => b.hub.permissions.list().some(g => g.grantId === grantId), 10_000, 'B to receive the grant')
    await eventually(async () => (await b.hub.store.getMeta(objectId)) !== undefined, 10_000, 'B to receive the playlist')
    const c = await connect(b, app)
    expect(await c.call('Collections', 'read', { objectId })).toMatchObject({ t: 'response' })
    await a.hub.permissions.revoke(grantId)
    await eventually(() => b.hub.permissions.list().find(g => g.grantId === grantId)?.active === false, 10_000, 'B to receive the revocation')
    expect(await c.call('Collections', 'read', { objectId })).toMatchObject({ t: 'error', code: 'not_found' })
    expect((await b.hub.audit.list()).map(e => e.decision)).toEqual(['allowed', 'denied'])
  })

  it('a subscription delivers live changes and ends when its grant is revoked', async () => {
    const a = await founder()
    await a.hub.collections.create(playlist('first'))
    const app = Ed25519KeyPair.generate()
    const { grantId } = await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: '-R--' })
    const c = await connect(a, app)
    const id = await c.sendJws(signRequest(app, a.hub.did, 'Collections', 'subscribe', { context: CTX, type: 'MusicPlaylist' }))
    const initial = await c.next(id, m => m.t === 'response')
    expect((initial as { result: { objects: unknown[] } }).result.objects).toHaveLength(1)
    const { objectId } = await a.hub.collections.create(playlist('second'))
    await a.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'not for the app' })
    const ev = await c.next(id, m => m.t === 'event')
    expect(ev).toMatchObject({ event: { kind: 'changed', object: { objectId, value: { name: 'second' } } } })
    await a.hub.collections.delete(objectId)
    expect(await c.next(id, m => m.t === 'event')).toMatchObject({ event: { kind: 'deleted', object: { objectId } } })
    await a.hub.permissions.revoke(grantId)
    expect(await c.next(id, m => m.t === 'end')).toMatchObject({ code: 'permissions_required' })
    await a.hub.collections.create(playlist('after revoke'))
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(c.messages.filter(m => m.id === id && m.t === 'event')).toHaveLength(2)
  })

  it('accepts many apps connecting at once from one host', async () => {
    const a = await founder()
    const many = await Promise.all(Array.from({ length: 15 }, async () => await connect(a)))
    const replies = await Promise.all(many.map(async c => await c.call('Profile', 'read')))
    expect(replies.every(r => r.t === 'response')).toBe(true)
  })

  it('closes a stream that sends garbage, and stores nothing', async () => {
    const a = await founder()
    const c = await connect(a)
    await c.ch.send({ raw: '{"t":"request","id":1,"jws":"%%%"}' })
    await eventually(() => c.ch.stream.status !== 'open', 5000, 'the hub to close the stream')
    expect(a.hub.store.seq).toBe(1)
  })
})
