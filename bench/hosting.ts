import '../src/shim.js'
/**
 * Hosting ingest (issue 17): OWNERS owners × OBJECTS encrypted objects,
 * made on each owner's own hub, then ingested by one hosting hub — every
 * owner's commits in feed order (the order sync delivers them), all owners
 * at once — through each tenant hub's `ingest` (signature verification,
 * validation, quota accounting, the store batch). The libp2p transfer is
 * left out (test/hosting.test.ts covers it): this is the host's cost per
 * commit. On LevelDB, and on PostgreSQL when HUB_BENCH_PG_URL is set.
 *
 *   node dist/bench/hosting.js [owners=100] [objects=100]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseCommit } from '../src/commits/commit.js'
import { Hub } from '../src/hub.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { peerIdOf } from '../src/identity/peer.js'
import { silentLogger } from '../src/log.js'
import { HostedOwners } from '../src/net/hosting/owners.js'
import { blindMayHold } from '../src/net/sync-access.js'
import type { KvStore } from '../src/store/kv.js'
import { LevelKv } from '../src/store/level-kv.js'
import { PgKv } from '../src/store/pg-kv.js'

const OWNERS = Number(process.argv[2] ?? 100)
const OBJECTS = Number(process.argv[3] ?? 100)

interface Source { did: string, welcome: string[], commits: string[] }

async function makeOwners (base: string, host: Ed25519KeyPair): Promise<Source[]> {
  const out: Source[] = []
  for (let i = 0; i < OWNERS; i++) {
    const dir = join(base, `o${i}`)
    await Hub.init(dir)
    const hub = await Hub.open(dir)
    await hub.devices.authorize(host.did, 'blind', 'bench host')
    for (let k = 0; k < OBJECTS; k++) await hub.collections.create({ '@context': 'https://schema.org', '@type': 'MusicPlaylist', name: `o${i} p${k}`, numTracks: k }, { encrypt: true })
    await hub.store.idle()
    const entries: string[] = []
    for await (const e of hub.store.feed(0, 1_000_000)) entries.push(e.commitId)
    const envs = (await hub.store.getEnvelopes(entries)) as string[]
    const blind = envs.filter(env => blindMayHold(parseCommit(env, Infinity).header))
    const welcome = blind.filter(env => parseCommit(env, Infinity).header.interface === 'Permissions')
    out.push({ did: hub.did, welcome, commits: blind.filter(env => !welcome.includes(env)) })
    await hub.close()
    if ((i + 1) % 10 === 0) process.stderr.write(`  made ${i + 1}/${OWNERS} owners\n`)
  }
  return out
}

async function run (engine: string, kv: KvStore, dir: string, host: Ed25519KeyPair, sources: Source[]): Promise<Record<string, number | string>> {
  const owners = await HostedOwners.open({ kv, hostKey: host, hubDid: host.did, peerId: peerIdOf(host.publicKey), dir, engine, logger: silentLogger })
  const rss0 = process.memoryUsage().rss
  const tAdd = performance.now()
  for (const s of sources) await owners.add({ ownerDid: s.did as never, role: 'blind', commits: s.welcome, peers: [] })
  const addMs = performance.now() - tAdd
  const rssOwners = process.memoryUsage().rss
  const total = sources.reduce((n, s) => n + s.commits.length, 0)
  const t0 = performance.now()
  await Promise.all(sources.map(async s => {
    const hub = owners.get(s.did)?.hub as Hub
    for (const env of s.commits) await hub.ingest(env)
    await hub.store.idle()
  }))
  const ms = performance.now() - t0
  const result = {
    engine,
    owners: OWNERS,
    commits: total,
    commitsPerSecond: Math.round(total / (ms / 1000)),
    seconds: Math.round(ms) / 1000,
    addOwnerMsEach: Math.round(addMs / OWNERS * 10) / 10,
    rssPerOwnerKiB: Math.round((rssOwners - rss0) / OWNERS / 1024),
    rssMiB: Math.round(process.memoryUsage().rss / 1024 / 1024)
  }
  await owners.close()
  await kv.close()
  return result
}

const base = await mkdtemp(join(tmpdir(), 'bench-hosting-'))
try {
  const host = Ed25519KeyPair.generate()
  process.stderr.write(`making ${OWNERS} owners × ${OBJECTS} encrypted objects…\n`)
  const sources = await makeOwners(join(base, 'owners'), host)
  const results = [await run('leveldb', await LevelKv.open(join(base, 'host-store')), base, host, sources)]
  const url = process.env.HUB_BENCH_PG_URL
  if (url !== undefined) results.push(await run('postgres', await PgKv.open({ url, namespace: `bench-${Date.now()}`, maxConnections: 10 }), base, host, sources))
  process.stdout.write(JSON.stringify(results, null, 2) + '\n')
} finally {
  await rm(base, { recursive: true, force: true })
}
