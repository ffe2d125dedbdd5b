/**
 * Two owner devices that key one collection while apart (offline, or their
 * only common hub is a hosting hub taking over a killed process's writes):
 * each mints its own random version 1 of the collection's content key, so
 * one key id names two keys. Every reader must open commits sealed under
 * either, and once both envelopes are everywhere every device seals new
 * commits under the same one (encryption/keyring.ts). Before, the envelope
 * applied last replaced the other, and the other device's later commits
 * failed `authentication_failed` on every pull: the puller hung up as on a
 * protocol violation, reconnected and failed again, for good — the issue-17
 * scenario's "owners that never converge after kill -9"
 * (test/faults/hosting-procs.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { parseCommit, serializeCommit, signCommit } from '../src/commits/commit.js'
import { decryptCommit } from '../src/client/index.js'
import { Hub } from '../src/hub.js'
import type { Ed25519KeyPair } from '../src/identity/keys.js'
import { cleanup, dumpData, playlist } from './helpers.js'
import { device, eventually, founder, startHub, stopAll, stopHub } from './net-helpers.js'

afterEach(async () => { await stopAll(); await cleanup() })

/** Two paired owner devices, both closed: their hubs opened again, without a network. */
async function twoApart (): Promise<{ a: Hub, b: Hub }> {
  const a0 = await founder()
  const b0 = await device(a0)
  await stopHub(b0)
  await stopHub(a0)
  return { a: await Hub.open(a0.dir), b: await Hub.open(b0.dir) }
}

/** Everything `from` holds, ingested by `to` in feed order (as a pull would): the failures' messages. */
async function move (from: Hub, to: Hub): Promise<string[]> {
  const failed: string[] = []
  for await (const e of from.store.feed(0)) {
    try { await to.ingest(await from.store.getEnvelope(e.commitId)) } catch (err) { failed.push((err as Error).message) }
  }
  return failed
}

const encOf = async (hub: Hub, objectId: string): Promise<string | undefined> => {
  const meta = await hub.store.getMeta(objectId)
  const head = meta?.heads[0]
  return head === undefined ? undefined : parseCommit(await hub.store.getEnvelope(head) as string).header.enc
}

const nameOn = async (hub: Hub, objectId: string): Promise<unknown> => (await hub.collections.read(objectId)).value?.name

describe('a collection keyed by two devices apart', () => {
  it('each reads the other\'s writes made before and after the envelopes met, and both seal new commits under one key', { timeout: 60_000 }, async () => {
    const { a, b } = await twoApart()
    try {
      const x = await a.collections.create(playlist('from A, apart'), { encrypt: true })
      const y = await b.collections.create(playlist('from B, apart'), { encrypt: true })
      const kid = await encOf(a, x.objectId) as string
      expect(await encOf(b, y.objectId)).toBe(kid) // one id ...
      expect(await move(b, a)).toEqual([])
      expect(await move(a, b)).toEqual([])
      // ... two keys, both held by both
      expect(a.store.keyring.candidates(kid)).toHaveLength(2)
      expect(b.store.keyring.candidates(kid).map(k => k.objectId)).toEqual(a.store.keyring.candidates(kid).map(k => k.objectId))
      // New writes: one key for both devices (the same Keys object), whichever each applied last.
      const tag = kid.split('.')[0] as string
      expect(b.store.keyring.current(tag)?.objectId).toBe(a.store.keyring.current(tag)?.objectId)
      const z = await b.collections.create(playlist('from B, after'))
      const w = await a.collections.create(playlist('from A, after'))
      expect(await move(b, a)).toEqual([])
      expect(await move(a, b)).toEqual([])
      for (const h of [a, b]) {
        expect(await nameOn(h, x.objectId)).toBe('from A, apart')
        expect(await nameOn(h, y.objectId)).toBe('from B, apart')
        expect(await nameOn(h, z.objectId)).toBe('from B, after')
        expect(await nameOn(h, w.objectId)).toBe('from A, after')
      }
      // An app holding both keys (as Keys.list gives it every envelope) opens commits under either.
      const keys = a.store.keyring.candidates(kid).map(k => k.key)
      for (const id of [x.objectId, y.objectId]) {
        const env = await a.store.getEnvelope(id) as string
        expect(decryptCommit(env, keys)).toEqual(decryptCommit(env, [...keys].reverse()))
      }
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('live sync between them converges instead of failing every pull', { timeout: 90_000 }, async () => {
    const a = await founder()
    const b0 = await device(a)
    const bDir = b0.dir
    await stopHub(b0)
    const x = await a.hub.collections.create(playlist('A while B is away'), { encrypt: true })
    const bOff = await Hub.open(bDir)
    const y = await bOff.collections.create(playlist('B while away'), { encrypt: true })
    await bOff.close()
    const b = await startHub(bDir)
    await eventually(async () => (await b.hub.store.getMeta(x.objectId))?.value !== undefined && (await a.hub.store.getMeta(y.objectId))?.value !== undefined, 30_000, 'the envelopes and first writes to cross')
    // Written once each holds both envelopes: before the fix, each sealed under the envelope it applied last — the other's.
    const z = await b.hub.collections.create(playlist('B, together'))
    const w = await a.hub.collections.create(playlist('A, together'))
    await eventually(async () => (await b.hub.store.getMeta(w.objectId))?.value?.name === 'A, together' && (await a.hub.store.getMeta(z.objectId))?.value?.name === 'B, together', 30_000, 'the later writes to cross')
    expect(await nameOn(a.hub, y.objectId)).toBe('B while away')
    expect(await nameOn(b.hub, x.objectId)).toBe('A while B is away')
  })

  it('a payload no key of its id opens is still refused, storing nothing (two candidates tried, neither verifies)', { timeout: 60_000 }, async () => {
    const { a, b } = await twoApart()
    try {
      const x = await a.collections.create(playlist('sealed by A'), { encrypt: true })
      await b.collections.create(playlist('sealed by B'), { encrypt: true })
      await move(b, a)
      await move(a, b)
      const kid = await encOf(a, x.objectId) as string
      expect(b.store.keyring.candidates(kid)).toHaveLength(2)
      const c = parseCommit(await a.store.getEnvelope(x.objectId) as string)
      const jwe = Buffer.from(c.payload).toString('utf8').split('.')
      const ct = Buffer.from(jwe[3] as string, 'base64url'); ct[0] = (ct[0] as number) ^ 1
      jwe[3] = ct.toString('base64url')
      const { alg: _alg, kid: _kid, ...fields } = c.header
      // Re-signed by the owner: only the ciphertext is wrong.
      const tampered = signCommit({ ...fields, committed_at: new Date().toISOString() }, Buffer.from(jwe.join('.')), a.ownerKey as Ed25519KeyPair)
      const before = await dumpData(b)
      await expect(b.ingest(serializeCommit(tampered))).rejects.toMatchObject({ code: 'authentication_failed' })
      expect(await dumpData(b)).toEqual(before)
    } finally {
      await a.close()
      await b.close()
    }
  })
})
