/**
 * A hosting hub of two real processes on one real PostgreSQL (issue 17):
 * `hub hosting init --store postgres://…`, the directory copied (same key,
 * same hub.json: one peer id, one identity), `hub start` on each copy.
 * OWNERS owners, each with two devices (real libp2p hubs in this process)
 * that never talk to each other directly — the first knows the host's
 * first process before its second, the other device the reverse — paired
 * to the host through `hub hosting add-owner`. Random encrypted writes on
 * random devices; mid-run the process holding the write leases is killed
 * with SIGKILL; more writes. Then: every device holds every object written
 * for its owner (converged through the surviving process), the host's
 * store holds every commit a blind device of the owner may hold, each
 * exactly once in a feed without duplicates, and `hub hosting doctor` on
 * the PostgreSQL store is clean.
 *
 * Opt-in, with the number of owners: HOSTING_PROCS=20 (or =1: 20) or
 * HOSTING_PROCS=200, the issue's profile; not in plain `npm test` nor in
 * `npm run test:faults` (the lead decides). It passes since becd70e: the
 * owners that never converged after the kill were two devices that had
 * each keyed the encrypted collection while apart (the kill delays what
 * crosses the host by the take-over), one key id naming two keys, and the
 * keyring kept only the last envelope applied — every pull of the other
 * device's later commits failed `payload could not be decrypted`, the
 * puller hung up as on a protocol violation, reconnected, failed again
 * ("Cannot write to a stream that is closed" on the host were those
 * hang-ups); test/encryption-apart.test.ts. 20 owners: 50–107 s at load 2–12,
 * ~4 min at load 15–20, where pairing and the hosts' start can time out.
 * HOSTING_PROCS_DEVICE_LOG=<file> logs every device (debug); the hosts
 * log at HOSTING_PROCS_LOG (default info) and their logs are written to
 * $TMPDIR/hosting-procs-{survivor,victim}.log on failure. See docs/hosting.md.
 */
import { cp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it, onTestFailed } from 'vitest'
import { parseCommit } from '../../src/commits/commit.js'
import { Ed25519KeyPair } from '../../src/identity/keys.js'
import { peerIdOf } from '../../src/identity/peer.js'
import { HostedOwners, partitionOf } from '../../src/net/hosting/owners.js'
import type { CommitId, Did } from '../../src/ids.js'
import { Layout } from '../../src/store/layout.js'
import { blindMayHold } from '../../src/net/sync-access.js'
import { PgKv } from '../../src/store/pg-kv.js'
import type { TenantStore } from '../../src/store/tenant-store.js'
import { Hub } from '../../src/hub.js'
import { joinHub } from '../../src/net/pair.js'
import { hub as runHub, killAll, ok, running, startDaemon, type Daemon } from '../cli-helpers.js'
import { cleanup, playlist, tempDir } from '../helpers.js'
import { eventually, founder, startHub, stopAll, stopHub, type Running } from '../net-helpers.js'
import { startPostgres } from '../pg-harness.js'
import { mulberry32 } from './prng.js'
import { createLogger, silentLogger, type Logger } from '../../src/log.js'
import { appendFileSync } from 'node:fs'

const asked = Number(process.env.HOSTING_PROCS ?? 0)
const RUN = Number.isInteger(asked) && asked > 0
const OWNERS = asked > 1 ? asked : 20
const WRITES_PER_PHASE = OWNERS * 2
/** Pairings at once: each is mostly waiting (a CLI process, dials), but at load 15–20 five at once time out their handshakes. */
const PAIR_AT_ONCE = 3

const pg = RUN ? await startPostgres() : { cluster: undefined, reason: 'opt-in: HOSTING_PROCS=<owners> (20, or 200 for the issue-17 profile); see docs/hosting.md' }
if (pg.cluster === undefined) process.stderr.write(`test/faults/hosting-procs.test.ts: skipped: ${pg.reason}\n`)
afterAll(async () => { await pg.cluster?.stop() })
// 40 device hubs to stop: past vitest's 30 s hook default on the loaded machine.
afterEach(async () => { await killAll(); running.clear(); await stopAll(); await cleanup() }, 180_000)

/** HOSTING_PROCS_DEVICE_LOG=<file>: every device logs (debug, JSON lines) there, each line naming its owner and device. */
const deviceLogFile = process.env.HOSTING_PROCS_DEVICE_LOG
const deviceLog = (name: string): { logger?: Logger } => deviceLogFile === undefined
  ? {}
  : { logger: createLogger(name, 'debug', line => { appendFileSync(deviceLogFile, line + '\n') }) }

const t0 = Date.now()
/** Progress on stderr: where a slow run spends its time. */
const step = (what: string): void => { process.stderr.write(`hosting-procs +${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`) }

interface Owner { did: string, devices: [Running, Running], written: string[] }

async function feedIds (store: TenantStore): Promise<Array<{ seq: number, id: string }>> {
  await store.idle()
  const out: Array<{ seq: number, id: string }> = []
  for await (const e of store.feed(0)) out.push({ seq: e.seq, id: e.commitId })
  return out
}

/** The commits of `store` a blind device of its owner may hold. */
async function blindCommits (store: TenantStore): Promise<string[]> {
  const ids = (await feedIds(store)).map(e => e.id).filter(id => !store.isQuarantined(id))
  const envs = await store.getEnvelopes(ids)
  return ids.filter((_, i) => blindMayHold(parseCommit(envs[i] as string, Infinity).header))
}

describe.skipIf(pg.cluster === undefined)(`${pg.cluster === undefined ? `(skipped: ${pg.reason}) ` : ''}a hosting hub of two processes on one PostgreSQL, ${OWNERS} owners × 2 devices, kill -9 of the lease holder`, () => {
  it('every device converges, nothing acknowledged is lost, feeds without duplicates, hub hosting doctor clean', async () => {
    const rand = mulberry32(Number(process.env.SEED ?? 17))
    const base = await tempDir('hosting-procs-')
    const d1 = join(base, 'p1')
    const d2 = join(base, 'p2')
    const url = pg.cluster?.url ?? ''
    await ok(['hosting', 'init', '--dir', d1, '--store', url])
    await cp(d1, d2, { recursive: true })
    // The processes log (JSON lines on stderr, kept for a failure's report); this process does not.
    process.env.HUB_LOG = process.env.HOSTING_PROCS_LOG ?? 'info'
    const p1 = await startDaemon(d1, ['--listen', '/ip4/127.0.0.1/tcp/0'])
    const p2 = await startDaemon(d2, ['--listen', '/ip4/127.0.0.1/tcp/0'])
    delete process.env.HUB_LOG
    expect(p2.info.peerId).toBe(p1.info.peerId)
    step('two processes started')
    const addrOf = (d: Daemon): string => (d.info.multiaddrs.find(a => a.includes('/tcp/')) as string)

    // Owners: the first device knows p1 then p2, the second p2 then p1; they never meet.
    const owners: Owner[] = []
    let pairing = 0
    const pairOne = async (): Promise<Owner> => {
      const n = pairing++ // its index in owners (pushed in call order)
      // Paired with p1 before it knows p2: to an unpaired device the host is a stranger, and a
      // connection of the same peer id to p2, closed as a stranger's, would cut the pairing.
      const paired = await founder({ discoveryIntervalMs: 0 })
      // On a loaded machine the host's dial back to the device can time out: a fresh invite, again.
      for (let attempt = 1; ; attempt++) {
        const { invite } = await paired.node.createInvite({ role: 'blind' })
        const r = await runHub(['hosting', 'add-owner', '--dir', d1, '--invite', invite, '--json'])
        if (r.code === 0 || r.stderr.includes('already_exists')) break
        if (attempt >= 5) throw new Error(`add-owner failed ${attempt} times: ${r.stderr}`)
      }
      // The same on the second device's join (a Noise handshake timing out at load 15): a fresh directory and invite, again.
      let dir = ''
      for (let attempt = 1; ; attempt++) {
        dir = join(await tempDir('dev2-'), 'hub')
        try {
          await joinHub(dir, (await paired.node.createInvite()).invite, { timeoutMs: 60_000 })
          break
        } catch (err) {
          if (attempt >= 5) throw new Error(`the second device's join failed ${attempt} times: ${(err as Error).message}`)
        }
      }
      // From now on it knows every process of the host (as an owner's devices would, from its DID document or bootstrap list).
      const peerOfSecond = await Hub.open(dir).then(async h => { const p = h.peerId; await h.close(); return p })
      await stopHub(paired)
      const first = await startHub(paired.dir, { discoveryIntervalMs: 0, bootstrap: [addrOf(p1), addrOf(p2)], blockedPeers: [peerOfSecond], ...deviceLog(`owner${n}.dev1`) })
      const second = await startHub(dir, { bootstrap: [addrOf(p2), addrOf(p1)], blockedPeers: [first.hub.peerId], discoveryIntervalMs: 0, ...deviceLog(`owner${n}.dev2`) })
      return { did: first.hub.did, devices: [first, second], written: [] }
    }
    // A few at a time: each pairing is mostly waiting (a CLI process, dials).
    while (owners.length < OWNERS) {
      owners.push(...await Promise.all(Array.from({ length: Math.min(PAIR_AT_ONCE, OWNERS - owners.length) }, pairOne)))
      step(`${owners.length} owners paired`)
    }

    const writeSome = async (n: number, phase: string): Promise<void> => {
      for (let k = 0; k < n; k++) {
        const o = owners[Math.floor(rand() * owners.length)] as Owner
        const dev = o.devices[rand() < 0.5 ? 0 : 1]
        o.written.push((await dev.hub.collections.create(playlist(`${phase} ${k}`), { encrypt: true })).objectId)
      }
    }
    await writeSome(WRITES_PER_PHASE, 'before')
    step('first writes made')

    // Kill -9 the process that holds the write leases (its pid is in the holder id), mid-run.
    const ns = p1.info.store?.namespace ?? p1.info.peerId
    const leases = await PgKv.open({ url, namespace: ns, maxConnections: 2 })
    const { rows } = await leases.pool.query<{ holder: string }>('SELECT holder FROM hub_leases WHERE ns = $1 AND expires_at > now()', [ns])
    await leases.close()
    const holders = new Set(rows.map(r => Number(r.holder.split('-')[0])))
    const victim = [p1, p2].find(p => holders.has(p.child.pid as number)) ?? p1
    const survivor = victim === p1 ? p2 : p1
    const survivorDir = victim === p1 ? d2 : d1
    const killedAt = Date.now()
    victim.child.kill('SIGKILL')
    await victim.exit
    step(`killed ${victim === p1 ? 'p1' : 'p2'} (held ${rows.length} shard leases)`)
    // The take-over, measured (reported, not asserted: the bound is TTL + renew + a query and the catch-up, docs/hosting.md).
    const watch = await PgKv.open({ url, namespace: ns, maxConnections: 1 })
    const takeover = eventually(async () => {
      const live = await watch.pool.query<{ holder: string }>('SELECT holder FROM hub_leases WHERE ns = $1 AND expires_at > now()', [ns])
      return live.rows.length === rows.length && live.rows.every(r => Number(r.holder.split('-')[0]) === survivor.child.pid)
    }, 60_000, 'the survivor holding every shard').then(() => { step(`the survivor holds all ${rows.length} shards ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL`) }).finally(async () => { await watch.close() })
    await writeSome(WRITES_PER_PHASE, 'after')
    await takeover

    // Every device reads every object written for its owner (through the survivor).
    const dump = async (): Promise<void> => {
      await writeFile(join(tmpdir(), 'hosting-procs-survivor.log'), survivor.stderr())
      await writeFile(join(tmpdir(), 'hosting-procs-victim.log'), victim.stderr())
    }
    onTestFailed(dump)
    const behind = async (): Promise<string[]> => {
      const out: string[] = []
      for (const o of owners) {
        for (const [i, dev] of o.devices.entries()) {
          let missing = 0
          for (const id of o.written) if ((await dev.hub.collections.read(id).catch(() => undefined))?.value === undefined) missing++
          if (missing > 0) out.push(`owner ${owners.indexOf(o)} device ${i + 1}: ${missing} of ${o.written.length} missing`)
        }
      }
      return out
    }
    let late: string[] = []
    await eventually(async () => (late = await behind()).length === 0, 120_000, 'every device converging').catch(async (err: Error) => {
      // Which side is behind: does the host's store hold what the devices lack?
      const kv = await PgKv.open({ url, namespace: ns, maxConnections: 2 })
      const lacking: string[] = []
      try {
        for (const [i, o] of owners.entries()) {
          if (!late.some(l => l.startsWith(`owner ${i} `))) continue
          const want = new Set([...await blindCommits(o.devices[0].hub.store), ...await blindCommits(o.devices[1].hub.store)])
          const layout = new Layout(o.did as Did)
          const have = await kv.getMany([...want].map(id => partitionOf(o.did) + layout.commit(id as CommitId)))
          lacking.push(`owner ${i}: the host lacks ${have.filter(v => v === undefined).length} of ${want.size} commits`)
        }
      } finally {
        await kv.close()
      }
      throw new Error(`${err.message}: ${late.join('; ')} — ${lacking.join('; ')}`)
    })

    step('every device converged')
    // The host's store: every commit a blind device may hold, for every owner, once each in its feed.
    const expected = new Map<string, Set<string>>()
    for (const o of owners) expected.set(o.did, new Set([...await blindCommits(o.devices[0].hub.store), ...await blindCommits(o.devices[1].hub.store)]))
    const kv = await PgKv.open({ url, namespace: ns, maxConnections: 4 })
    const hostKey = Ed25519KeyPair.generate() // reading only: the owners' hubs are opened, nothing is written
    const silent = silentLogger
    const hosted = await HostedOwners.open({ kv, hostKey, hubDid: hostKey.did, peerId: peerIdOf(hostKey.publicKey), dir: base, engine: 'postgres', logger: silent })
    try {
      expect(hosted.size).toBe(OWNERS)
      for (const o of owners) {
        const store = hosted.get(o.did)?.hub.store as TenantStore
        await eventually(async () => {
          await store.follow()
          const feed = await feedIds(store)
          const ids = feed.map(e => e.id)
          expect(new Set(ids).size).toBe(ids.length)
          expect(new Set(feed.map(e => e.seq)).size).toBe(feed.length)
          const have = new Set(ids)
          return [...(expected.get(o.did) ?? [])].every(id => have.has(id))
        }, 60_000, `the host holding every commit of ${o.did}`)
      }
    } finally {
      await hosted.close()
      await kv.close()
    }

    step('the host holds every commit')
    // Doctor on the PostgreSQL store, the survivor stopped.
    survivor.child.kill('SIGTERM')
    await survivor.exit
    const doc = await runHub(['hosting', 'doctor', '--dir', survivorDir, '--json'])
    expect(JSON.parse(doc.stdout)).toMatchObject({ clean: true })
    expect((JSON.parse(doc.stdout) as { owners: unknown[] }).owners).toHaveLength(OWNERS)
    step('hub hosting doctor clean')
    await rm(base, { recursive: true, force: true })
  }, OWNERS > 20 ? 1_800_000 : 600_000)
})
