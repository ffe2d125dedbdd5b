/**
 * The client SDK against real hubs over libp2p: an app, granted by the
 * owner, writes, reads, queries, updates, deletes and subscribes through
 * HubClient; denials and hub errors keep their codes; the transport's
 * timeouts, protocol violations and close() behave.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import * as A from '@automerge/automerge'
import { HubClient, REQUEST_PROTOCOL, type SubscriptionEvent } from '../src/client/index.js'
import { REQUEST_PROTOCOL as NET_REQUEST_PROTOCOL } from '../src/net/constants.js'
import { createHubLibp2p, type HubLibp2p } from '../src/net/node.js'
import { FrameChannel } from '../src/net/channel.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { HubError } from '../src/errors.js'
import { parseCommit } from '../src/commits/commit.js'
import { cleanup, playlist } from './helpers.js'
import { eventually, founder, stopAll, type Running } from './net-helpers.js'

const CTX = 'https://schema.org'
const clients: HubClient[] = []
const nodes: HubLibp2p[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {})
  for (const n of nodes.splice(0)) await n.stop()
  await stopAll()
  await cleanup()
})

function addr (r: Running): string {
  const a = r.node.multiaddrs()[0]
  if (a === undefined) throw new Error('hub is not listening')
  return a
}

async function connect (r: Running, identity: Ed25519KeyPair, opts: { owner?: string, timeoutMs?: number } = {}): Promise<HubClient> {
  const c = await HubClient.connect({ hub: addr(r), identity, owner: opts.owner ?? r.hub.did, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) })
  clients.push(c)
  return c
}

/** A hub with an app granted `allow` on schema.org MusicPlaylist. */
async function granted (allow = 'CRUD'): Promise<{ a: Running, app: Ed25519KeyPair, client: HubClient, grantId: string }> {
  const a = await founder()
  const app = Ed25519KeyPair.generate()
  const { grantId } = await a.hub.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow })
  return { a, app, client: await connect(a, app), grantId }
}

async function rejects (p: Promise<unknown>, code: string): Promise<HubError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err, `expected ${code}`).toBeInstanceOf(HubError)
  expect((err as HubError).code).toBe(code)
  return err as HubError
}

function trackNames (v: unknown): string[] {
  return ((v as { track?: Array<{ name: string }> }).track ?? []).map(t => t.name)
}

/**
 * The modules of src/ that `entry` loads at run time (type-only imports are
 * erased), following dynamic `import()` too unless `staticOnly`; and the
 * packages those modules import.
 */
function runtimeImports (entry: string, staticOnly = false): { files: string[], packages: string[] } {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'|import\('([^']+)'\)/gm)) {
      const spec = m[1] ?? m[2] ?? (staticOnly ? undefined : m[3])
      if (spec === undefined || spec.endsWith('.json') || spec.startsWith('node:')) continue
      if (!spec.startsWith('.')) { packages.add(spec); continue }
      const target = normalize(join(dirname(file), spec.replace(/\.js$/, '.ts')))
      if (existsSync(target)) visit(target)
    }
  }
  visit(resolve(entry))
  return { files: [...seen].map(f => relative(resolve('src'), f)).sort(), packages: [...packages].sort() }
}

describe('HubClient with a granted app', () => {
  it('keeps the protocol id equal to the hub\'s', () => {
    expect(REQUEST_PROTOCOL).toBe(NET_REQUEST_PROTOCOL)
  })

  it('loads no store code: only the commit, object, identity, token and frame layers', () => {
    const loaded = runtimeImports('src/client/index.ts').files
    expect(loaded).toContain('request/token.ts')
    expect(loaded).toContain('net/channel.ts')
    const forbidden = loaded.filter(f => /^(store|interfaces|daemon|cli|permissions)\//.test(f) || f === 'hub.ts' || (f.startsWith('net/') && f !== 'net/channel.ts'))
    expect(forbidden).toEqual([])
    // libp2p loads on the first connect, so re-exporting the SDK from the package root costs the store nothing.
    const eager = runtimeImports('src/client/index.ts', true)
    expect(eager.files).not.toContain('net/channel.ts')
    expect(eager.packages.filter(p => /libp2p|@chainsafe|multiaddr/.test(p))).toEqual([])
  })

  it('writes, reads, queries, updates, changes, deletes an automerge object; every commit is signed by the app', async () => {
    const { a, app, client } = await granted()
    const { objectId, commitId } = await client.collections.write(playlist('Road trip', ['Free Bird']))
    expect(objectId).toBe(commitId)

    // The owner's hub holds exactly what the app wrote.
    const onHub = await a.hub.collections.read(objectId)
    expect(onHub.value).toEqual(playlist('Road trip', ['Free Bird']))
    expect(onHub.createdBy).toBe(app.did)

    const view = await client.collections.read(objectId)
    expect(view).toMatchObject({ objectId, context: CTX, type: 'MusicPlaylist', strategy: 'automerge', heads: [commitId], deleted: false })

    const page = await client.collections.query({ context: CTX, type: 'MusicPlaylist', where: [{ field: 'numTracks', op: 'gte', value: 1 }], limit: 10 })
    expect(page.objects.map(o => o.objectId)).toEqual([objectId])

    // A full-value update becomes a minimal Automerge change that depends on the current head.
    const next = { ...playlist('Road trip', ['Free Bird', 'Tuesday\'s Gone']), description: 'long drives' }
    const up = await client.collections.update(objectId, next)
    expect(up).toMatchObject({ objectId, changed: true })
    expect((await a.hub.collections.read(objectId)).value).toEqual(next)
    expect((await client.collections.update(objectId, next)).changed).toBe(false)

    // A draft edit.
    const ch = await client.collections.change(objectId, d => {
      (d.track as unknown[]).push({ '@type': 'MusicRecording', name: 'Simple Man', byArtist: 'Lynyrd Skynyrd' })
      d.numTracks = 3
    })
    expect(ch.changed).toBe(true)
    const afterChange = await client.collections.read(objectId)
    expect(trackNames(afterChange.value)).toEqual(['Free Bird', 'Tuesday\'s Gone', 'Simple Man'])
    expect(afterChange.heads).toEqual([ch.commitId])

    // History: three commits, all by the app, each verified by the client, deps chained.
    const { commits } = await client.collections.history(objectId)
    expect(commits.map(c => [c.operation, c.signer, c.verified])).toEqual([['create', app.did, true], ['update', app.did, true], ['update', app.did, true]])
    expect(parseCommit(commits[1]?.envelope).header.deps).toEqual([commitId])
    expect(parseCommit(commits[2]?.envelope).header.deps).toEqual([up.commitId])

    // export gives a standard Automerge document with the same value.
    const doc = A.load<Record<string, unknown>>(await client.collections.export(objectId))
    expect(String((doc as { name: unknown }).name)).toBe('Road trip')
    A.free(doc)

    const del = await client.collections.delete(objectId)
    expect(parseCommit((await client.collections.history(objectId)).commits.at(-1)?.envelope).header).toMatchObject({ operation: 'delete', deps: [ch.commitId] })
    expect(del.objectId).toBe(objectId)
    await rejects(client.collections.read(objectId), 'not_found')
    await rejects(client.collections.update(objectId, next), 'not_found')
    expect((await a.hub.collections.query({ type: 'MusicPlaylist' })).objects).toHaveLength(0)
  })

  it('handles lww objects: whole-value updates that win, and deletes', async () => {
    const { a, client } = await granted()
    const { objectId } = await client.collections.write(playlist('LWW list'), { strategy: 'lww' })
    expect((await client.collections.read(objectId)).strategy).toBe('lww')
    await client.collections.update(objectId, playlist('LWW list', ['One', 'Two']))
    await client.collections.change(objectId, d => { d.name = 'Renamed' })
    expect(await a.hub.collections.read(objectId)).toMatchObject({ value: { ...playlist('LWW list', ['One', 'Two']), name: 'Renamed' }, commits: 3 })
    await client.collections.delete(objectId)
    await rejects(a.hub.collections.read(objectId), 'not_found')
  })

  it('merges concurrent edits by two clients of the same app (distinct Automerge actors)', async () => {
    const { a, app, client } = await granted()
    const other = await connect(a, app)
    const { objectId } = await client.collections.write(playlist('Shared', []))
    // Both read the same heads, so their commits are concurrent; both must survive.
    const add = (c: HubClient, name: string): Promise<unknown> => c.collections.change(objectId, d => { (d.track as unknown[]).push({ name }) })
    await Promise.all([add(client, 'from one'), add(other, 'from two'), add(client, 'one again')])
    const v = (await a.hub.collections.read(objectId)).value
    expect(trackNames(v).sort()).toEqual(['from one', 'from two', 'one again'])
  })

  it('updates in one client are serialized per object', async () => {
    const { a, client } = await granted()
    const { objectId } = await client.collections.write({ ...playlist('Counter', []), count: 0 })
    await Promise.all(Array.from({ length: 5 }, async () => await client.collections.change(objectId, d => { d.count = (d.count as number) + 1 })))
    expect((await a.hub.collections.read(objectId)).value?.count).toBe(5)
    expect((await a.hub.collections.read(objectId)).heads).toHaveLength(1)
  })

  it('subscribes: initial objects, then changed and deleted events, and an end when the grant is revoked', async () => {
    const { a, client, grantId } = await granted()
    const first = await a.hub.collections.create(playlist('Existing'))
    await a.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'not for the app' })
    const events: SubscriptionEvent[] = []
    const sub = await client.collections.subscribe({ context: CTX, type: 'MusicPlaylist' }, e => { events.push(e) })
    expect(sub.initial.map(o => o.objectId)).toEqual([first.objectId])

    const mine = await client.collections.write(playlist('From the app'))
    await a.hub.collections.update(first.objectId, playlist('Existing', ['Added by owner']))
    await a.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'still not for the app' })
    await client.collections.delete(mine.objectId)
    await eventually(() => events.length >= 3, 5000, 'three events')
    expect(events.map(e => [e.kind, e.object.objectId])).toEqual([['changed', mine.objectId], ['changed', first.objectId], ['deleted', mine.objectId]])
    expect(trackNames(events[1]?.object.value)).toEqual(['Added by owner'])

    await a.hub.permissions.revoke(grantId)
    expect(await sub.ended).toMatchObject({ code: 'permissions_required' })
    await rejects(client.collections.query({ context: CTX, type: 'MusicPlaylist' }), 'permissions_required')
  })

  it('close() on a subscription sends cancel: no more events, ended resolves with {}', async () => {
    const { a, client } = await granted('-R--')
    const events: SubscriptionEvent[] = []
    const sub = await client.collections.subscribe({ context: CTX, type: 'MusicPlaylist', where: [{ field: 'numTracks', op: 'gte', value: 2 }] }, e => { events.push(e) })
    expect(sub.initial).toEqual([])
    await a.hub.collections.create(playlist('one track'))
    const two = await a.hub.collections.create(playlist('two tracks', ['a', 'b']))
    await eventually(() => events.length === 1, 5000, 'the matching event')
    expect(events[0]?.object.objectId).toBe(two.objectId)
    await sub.close()
    expect(await sub.ended).toEqual({})
    await a.hub.collections.create(playlist('after close', ['a', 'b']))
    // The connection still works, and the cancelled subscription delivers nothing more.
    expect((await client.collections.query({ context: CTX, type: 'MusicPlaylist' })).objects).toHaveLength(3)
    expect(events).toHaveLength(1)
  })

  it('reads the public profile', async () => {
    const { a, client } = await granted('-R--')
    expect(await client.profile.read()).toBeNull()
    await a.hub.profile.set({ name: 'Alice' })
    expect(await client.profile.read()).toMatchObject({ value: { name: 'Alice', '@type': 'Person' } })
  })
})

describe('HubClient denials and errors keep their codes', () => {
  it('an ungranted type is permissions_required for the collection, and its objects are not_found (no oracle)', async () => {
    const { a, client } = await granted()
    const diary = await a.hub.collections.create({ '@context': CTX, '@type': 'Diary', text: 'private' })
    await rejects(client.collections.query({ context: CTX, type: 'Diary' }), 'permissions_required')
    await rejects(client.collections.read(diary.objectId), 'not_found')
    await rejects(client.collections.write({ '@context': CTX, '@type': 'Diary', text: 'by app' }), 'permissions_required')
    await rejects(client.collections.update(diary.objectId, { '@context': CTX, '@type': 'Diary', text: 'x' }), 'not_found')
    await rejects(client.collections.delete(diary.objectId), 'not_found')
    expect((await a.hub.collections.read(diary.objectId)).value).toEqual({ '@context': CTX, '@type': 'Diary', text: 'private' })
  })

  it('without C a write is permissions_required; without U an update; without D a delete', async () => {
    const { a, client } = await granted('-R--')
    await rejects(client.collections.write(playlist('nope')), 'permissions_required')
    const { objectId } = await a.hub.collections.create(playlist('owner\'s'))
    await rejects(client.collections.update(objectId, playlist('owner\'s', ['x', 'y'])), 'permissions_required')
    await rejects(client.collections.delete(objectId), 'permissions_required')
    expect((await a.hub.collections.read(objectId)).commits).toBe(1)
    expect((await a.hub.collections.query({ type: 'MusicPlaylist' })).objects).toHaveLength(1)
  })

  it('not_found, bad_request, conflict, wrong owner and Permissions for non-owners', async () => {
    const { a, client } = await granted()
    await rejects(client.collections.read('b' + 'a'.repeat(58)), 'not_found')
    await rejects(client.collections.read('not-an-id'), 'bad_request')
    await rejects(client.collections.write({ name: 'no context' }), 'bad_request')
    await rejects(client.collections.query({ context: CTX, type: 'MusicPlaylist', limit: 5000 }), 'bad_request')
    const { objectId } = await client.collections.write(playlist('typed'))
    await rejects(client.collections.update(objectId, { '@context': CTX, '@type': 'Other' }), 'conflict')
    await rejects(client.permissions.list(), 'permissions_required')
    await rejects(client.permissions.grant({ grantee: Ed25519KeyPair.generate().did, context: CTX, type: 'MusicPlaylist', allow: 'CRUD' }), 'permissions_required')
    // A client addressing an owner this hub does not serve.
    const stranger = await connect(a, Ed25519KeyPair.generate(), { owner: Ed25519KeyPair.generate().did })
    await rejects(stranger.collections.query({ context: CTX, type: 'MusicPlaylist' }), 'not_found')
  })

  it('the owner, as a client, grants, lists and revokes', async () => {
    const a = await founder()
    if (a.hub.ownerKey === undefined) throw new Error('founder holds the owner key')
    const owner = await connect(a, a.hub.ownerKey)
    const app = Ed25519KeyPair.generate()
    const { grantId } = await owner.permissions.grant({ grantee: app.did, context: CTX, type: 'MusicPlaylist', allow: 'CR--', expiresAt: Date.now() + 3_600_000 })
    expect((await owner.permissions.list()).grants).toEqual([expect.objectContaining({ grantId, grantee: app.did, allow: 'CR--', active: true })])
    const client = await connect(a, app)
    await client.collections.write(playlist('granted by a remote owner'))
    await owner.permissions.revoke(grantId)
    await rejects(client.collections.write(playlist('revoked')), 'permissions_required')
    // The owner needs no grant and may query everything.
    expect((await owner.collections.query({})).objects).toHaveLength(1)
  })
})

describe('HubClient transport', () => {
  it('needs a /p2p/ multiaddr and reports an unreachable hub as unavailable', async () => {
    const id = Ed25519KeyPair.generate()
    await rejects(HubClient.connect({ hub: '/ip4/127.0.0.1/tcp/1', identity: id, owner: id.did }), 'bad_request')
    await rejects(HubClient.connect({ hub: 'nonsense', identity: id, owner: id.did }), 'bad_request')
    const peer = await createHubLibp2p(Ed25519KeyPair.generate(), null)
    nodes.push(peer)
    await rejects(HubClient.connect({ hub: `/ip4/127.0.0.1/tcp/1/p2p/${peer.peerId.toString()}`, identity: id, owner: id.did, timeoutMs: 2000 }), 'unavailable')
    await rejects(HubClient.connect({ hub: '/ip4/127.0.0.1/tcp/1/p2p/x', identity: id, owner: 'not a did' }), 'bad_request')
  })

  /** A libp2p node that serves the request protocol with `behave`. */
  async function fakeHub (behave: (ch: FrameChannel) => Promise<void>): Promise<string> {
    const node = await createHubLibp2p(Ed25519KeyPair.generate(), ['/ip4/127.0.0.1/tcp/0'])
    nodes.push(node)
    await node.handle(REQUEST_PROTOCOL, async stream => {
      await behave(new FrameChannel(stream, 3 << 20)).catch(() => {})
    })
    return multiaddr(node.getMultiaddrs()[0]?.toString()).toString()
  }

  it('a request without a reply times out with unavailable; the connection stays usable', async () => {
    const { validateClientMessage } = await import('../src/request/token.js')
    const hub = await fakeHub(async ch => {
      for (;;) {
        const m = await ch.receive(validateClientMessage).catch(() => null)
        if (m === null) return
      }
    })
    const id = Ed25519KeyPair.generate()
    const c = await HubClient.connect({ hub, identity: id, owner: id.did, timeoutMs: 300 })
    clients.push(c)
    const err = await rejects(c.profile.read(), 'unavailable')
    expect(err.message).toMatch(/no reply/)
    await rejects(c.profile.read({ timeoutMs: 100 }), 'unavailable')
  })

  it('a malformed server message closes the client with an error; pending requests fail with it', async () => {
    const { validateClientMessage } = await import('../src/request/token.js')
    const hub = await fakeHub(async ch => {
      const m = await ch.receive(validateClientMessage)
      if (m === null) return
      await ch.send({ t: 'response', id: m.id, result: null, extra: 'not allowed' })
      await new Promise(resolve => setTimeout(resolve, 1000))
    })
    const id = Ed25519KeyPair.generate()
    const c = await HubClient.connect({ hub, identity: id, owner: id.did })
    clients.push(c)
    await rejects(c.profile.read(), 'bad_request')
    expect(await c.closed).toMatchObject({ code: 'bad_request' })
    await rejects(c.profile.read(), 'bad_request')
  })

  it('hub errors come back with their code; close() fails what is pending and ends subscriptions', async () => {
    const { validateClientMessage } = await import('../src/request/token.js')
    const hub = await fakeHub(async ch => {
      for (;;) {
        const m = await ch.receive(validateClientMessage)
        if (m === null || m.t !== 'request') return
        const claims = JSON.parse(Buffer.from(m.jws.split('.')[1] ?? '', 'base64url').toString()) as { method: string }
        if (claims.method === 'read') await ch.send({ t: 'error', id: m.id, code: 'missing_deps', message: 'parents unknown' })
        if (claims.method === 'list') await ch.send({ t: 'error', id: m.id, code: 'brand_new_code', message: '?' })
        if (claims.method === 'subscribe') await ch.send({ t: 'response', id: m.id, result: { objects: [] } })
        // query: never answered
      }
    })
    const id = Ed25519KeyPair.generate()
    const c = await HubClient.connect({ hub, identity: id, owner: id.did })
    await rejects(c.profile.read(), 'missing_deps')
    await rejects(c.permissions.list(), 'internal')
    const sub = await c.collections.subscribe({ context: CTX, type: 'MusicPlaylist' }, () => {})
    const pending = rejects(c.collections.query({ context: CTX, type: 'MusicPlaylist' }), 'unavailable')
    await new Promise(resolve => setTimeout(resolve, 50))
    await c.close()
    await pending
    expect(await sub.ended).toMatchObject({ code: 'unavailable' })
    expect(await c.closed).toBeUndefined()
    await rejects(c.profile.read(), 'unavailable')
  })
})
