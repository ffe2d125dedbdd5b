/**
 * Opening a hosting hub's owners at start (HostedOwners.open, issue 17):
 * every recorded owner is opened, several side by side (OPEN_CONCURRENCY),
 * each with its own data; one owner whose partition cannot be read fails
 * the start with that typed error and writes nothing. The owners-on-demand
 * LRU (docs/hosting.md "Owners in memory") will build on this open path.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { UnavailableError } from '../src/errors.js'
import { Hub } from '../src/hub.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { peerIdOf } from '../src/identity/peer.js'
import { silentLogger } from '../src/log.js'
import { HostedOwners, partitionOf } from '../src/net/hosting/owners.js'
import type { KvRange, KvStore } from '../src/store/kv.js'
import { LevelKv } from '../src/store/level-kv.js'
import { tempDir } from './helpers.js'

const OWNERS = 40 // more than the owners opened side by side
const hostKey = Ed25519KeyPair.generate()
const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of closers.splice(0).reverse()) await c() })

async function openOwners (kv: KvStore, dir: string): Promise<HostedOwners> {
  return await HostedOwners.open({ kv, hostKey, hubDid: hostKey.did, peerId: peerIdOf(hostKey.publicKey), dir, engine: 'leveldb', logger: silentLogger })
}

/** A KvStore whose reads under `prefix` fail, as a partition the disk cannot give back. */
function failingUnder (kv: KvStore, prefix: string): KvStore {
  const hit = (r: KvRange): boolean => (r.gte ?? r.gt ?? '') >= prefix && (r.gte ?? r.gt ?? '') < prefix + '\uffff'
  const fail = (): never => { throw new UnavailableError('read error', { reason: 'disk' }) }
  return new Proxy(kv, {
    get (target, prop) {
      if (prop === 'keys' || prop === 'entries') {
        return (r: KvRange): AsyncIterable<unknown> => hit(r) ? { [Symbol.asyncIterator]: () => ({ next: async () => fail() }) } : (target[prop] as (r: KvRange) => AsyncIterable<unknown>).call(target, r)
      }
      const v: unknown = Reflect.get(target, prop, target)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    }
  })
}

async function allKeys (kv: KvStore): Promise<string[]> {
  const out: string[] = []
  for await (const k of kv.keys({})) out.push(k)
  return out
}

describe('HostedOwners.open', () => {
  it('opens every recorded owner, each with its own data, and one unreadable partition fails the start with its error and writes nothing', async () => {
    const dir = await tempDir('host-open-')
    const kv = await LevelKv.open(join(dir, 'store'))
    closers.push(async () => { await kv.close() })
    const owners = await openOwners(kv, dir)
    const made: Array<{ did: string }> = []
    for (let i = 0; i < OWNERS; i++) {
      const odir = join(await tempDir('owner-'), 'hub')
      await Hub.init(odir)
      const hub = await Hub.open(odir, { logger: silentLogger })
      try {
        await hub.devices.authorize(hostKey.did, 'blind', 'host')
        const envs = await Promise.all(hub.store.registry.devices().map(async d => await hub.store.getEnvelope(d.objectId) as string))
        const hosted = await owners.add({ ownerDid: hub.did, role: 'blind', commits: envs, peers: [] })
        // Owner i has i + 1 encrypted objects: a mix-up between owners shows in the counts.
        for (let k = 0; k <= i; k++) {
          const { objectId } = await hub.collections.create({ '@context': 'https://schema.org', '@type': 'MusicPlaylist', name: `o${i} p${k}` }, { encrypt: true })
          await hosted.hub.ingest(await hub.store.getEnvelope(objectId) as string)
        }
        await hosted.hub.store.idle()
        made.push({ did: hub.did })
      } finally {
        await hub.close()
      }
    }
    const usage = new Map(owners.list().map(o => [o.owner as string, o.usage]))
    await owners.close()

    const again = await openOwners(kv, dir)
    expect(again.size).toBe(OWNERS)
    const base = (usage.get((made[0] as { did: string }).did)?.objects ?? 0)
    for (const [i, m] of made.entries()) {
      const o = again.get(m.did)
      expect(o?.hub.did).toBe(m.did)
      expect(o?.quota.usage).toEqual(usage.get(m.did))
      expect(o?.quota.usage.objects).toBe(base + i)
      expect(o?.hub.store.registry.device(hostKey.did)).toBeDefined()
    }
    await again.close()

    const before = await allKeys(kv)
    const victim = made[OWNERS - 7] as { did: string }
    const err = await openOwners(failingUnder(kv, partitionOf(victim.did)), dir).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as UnavailableError).details).toMatchObject({ reason: 'disk' })
    expect(await allKeys(kv)).toEqual(before)

    // Nothing was left half-open: the same store opens cleanly afterwards.
    const third = await openOwners(kv, dir)
    expect(third.size).toBe(OWNERS)
    await third.close()
  }, 120_000)
})
