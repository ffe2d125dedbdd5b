/**
 * Fault test: revocations racing writes on partitioned hubs.
 *
 * Three hubs of one owner — A holds the owner key, B and C are devices —
 * and two apps with CRUD grants on schema.org MusicPlaylist, app1 connected
 * to B and app2 to C, writing creates, edits, whole-value updates and
 * deletes through the request protocol (the SDK), while the owner writes on
 * every hub (signed by the owner key on A, by the device keys on B and C).
 * Every round applies a random partition (partition-kit.ts, as the
 * partition suite does; some rounds re-partition mid-way), and in the middle
 * of the writes A revokes one app's grant — preferring an app whose hub is
 * cut off from A, so that hub keeps accepting that app's writes under the
 * revoked grant (round 1 always cuts A off from one app's hub) — and grants
 * the same app a new one so it keeps writing in later rounds. In round
 * DEVICE_ROUND, under A | B C, A revokes device C, then the cut heals
 * while C and app2 (through C) keep writing: B has C's post-revocation
 * commits and has built on them when it learns of the revocation. At the
 * end of that round C is lost (stopped) and a new device D takes its place
 * (app2 then writes through D).
 *
 * After the last heal every hub must converge on the same valid set, and
 * the oracle says which set that is. It is computed from the commits
 * themselves (signer, acceptance, deps) and from what the test recorded at
 * each revocation: the commits A held, valid, relying on the revoked party
 * just before and just after the revoke call. The revocation's set must
 * name all of the first and only commits of the second; a commit is then
 * valid iff it is signed by the owner, or by a device not revoked or whose
 * revocation names it, or by an app with an acceptance by such a device
 * under the grant the acceptance names (`g`), that grant being live or its
 * revocation naming the commit — and all its deps are valid. Asserted:
 *  - every hub's verdict on every commit it holds (`isQuarantined`) is the
 *    oracle's, every valid commit is on every hub, every commit written
 *    anywhere is accounted for;
 *  - per object, heads, deleted state and value are equal on every hub and
 *    equal to those recomputed from exactly the valid commits (absent if
 *    its creation is invalid); query results equal the live objects;
 *  - directly from the clock (all hubs share this process's clock): no app
 *    commit accepted under a grant after that grant's revoke returned on A,
 *    and no commit C signed or accepted after its revoke returned, is
 *    materialized anywhere;
 *  - the race was real: some revocations happened while the app's hub was
 *    cut off from A, and some commits were quarantined;
 *  - no hub logged a warning or an error. None is expected: what a
 *    revocation causes is logged at info or debug (a revoked device
 *    disconnected, its sync streams ended or refused), and a quarantined
 *    commit is not a protocol violation; a warning here is a peer dropped
 *    for a commit the hub rejected (e.g. Automerge deps outside the commit's
 *    deps, or a duplicate Automerge seq), i.e. hubs that disagree.
 *
 * Reproducible from its seed (printed; FAULTS_SEED=<n> replays the random
 * choices, not the exact interleaving with sync). Short profile: 4 rounds;
 * FAULTS_LONG=1: 20 rounds.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { randomInt } from 'node:crypto'
import { HubClient } from '../../src/client/index.js'
import { committedAtMs, lwwCompare, parseCommit } from '../../src/commits/commit.js'
import { HubError } from '../../src/errors.js'
import { asObjectId } from '../../src/ids.js'
import { Ed25519KeyPair } from '../../src/identity/keys.js'
import { applyDocChanges, docValue, loadDoc } from '../../src/objects/automerge.js'
import { verifyAcceptance, type Acceptance } from '../../src/permissions/acceptance.js'
import { decodeAccepted, revocationDigest } from '../../src/permissions/revocation.js'
import { prefixEnd } from '../../src/store/kv.js'
import type { ObjectMeta } from '../../src/store/tenant-store.js'
import { cleanup, playlist } from '../helpers.js'
import { device, eventually, founder, stopAll, stopHub, type Running } from '../net-helpers.js'
import { canonical, clientOps, collectingLogger, describePartition, faultSeed, HEALED, hubOps, isUnknownOrDeleted, newStats, objectState, PARTITIONS, Partitioner, queryIds, randomWrite, Rng, sleep, type Tracked, type WriteOps, type WriteOutcome } from './partition-kit.js'

const clients: HubClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {})
  await stopAll()
  await cleanup()
})

const LONG = process.env.FAULTS_LONG === '1'
const ROUNDS = LONG ? 20 : 4
/** Owner writes per hub per round, and app writes per app per round (interleaved with short random pauses). */
const OPS = LONG ? 40 : 30
const APP_OPS = LONG ? 25 : 18
/** The round in which A revokes device C (under A | B C) and D replaces it. */
const DEVICE_ROUND = LONG ? 10 : 2
const CONVERGE_MS = LONG ? 60_000 : 20_000
const SEED = faultSeed(() => randomInt(2 ** 31))
const CTX = 'https://schema.org'
const TAG = '[revocation-partition]'

/** What the test needs to know of a commit, read from its envelope. */
interface Facts {
  id: string
  signer: string
  objectId: string
  operation: 'create' | 'update' | 'delete'
  iface: string
  strategy: 'automerge' | 'lww'
  deps: string[]
  at: number
  payload: Uint8Array
  acc?: Acceptance
}

/** One revocation, as observed on A. */
interface Revocation {
  kind: 'grant' | 'device'
  label: string
  round: number
  /** The grantee or the device. */
  party: string
  /** The grant id, or the device authorization's object id. */
  objectId: string
  /** Commits relying on `party` that A held, valid, just before and just after the revoke call. */
  before: Set<string>
  afterValid: Set<string>
  /** Digests the revocation names (decoded from A's stored revocation). */
  named: Set<string>
  startedAt: number
  endedAt: number
  /** The party's hub (the app's, or the device itself) was cut off from A when it was revoked. */
  cutOff: boolean
}

interface App { name: string, key: Ed25519KeyPair, grantId: string, hub: Running, client: HubClient, ops: WriteOps }

function addr (r: Running): string {
  const a = r.node.multiaddrs()[0]
  if (a === undefined) throw new Error('hub is not listening')
  return a
}

/** Ids of every commit envelope a hub holds (valid or quarantined). */
async function heldIds (r: Running): Promise<string[]> {
  const prefix = `${r.hub.store.layout.p}c!`
  const out: string[] = []
  for await (const k of r.hub.kv.keys({ gte: prefix, lt: prefixEnd(prefix) })) out.push(k.slice(prefix.length))
  return out
}

function factsOf (env: string): Facts {
  const c = parseCommit(env, Infinity)
  const h = c.header
  const acc = c.envelope.header === undefined ? undefined : verifyAcceptance(c.envelope.header.acc, c.id)
  return { id: c.id, signer: c.signer, objectId: c.objectId, operation: h.operation, iface: h.interface, strategy: h.commit_strategy, deps: [...h.deps], at: committedAtMs(h), payload: c.payload, ...(acc !== undefined ? { acc } : {}) }
}

/** Every commit the test has seen on any hub, by id. */
class CommitBook {
  readonly facts = new Map<string, Facts>()

  /** Read a hub's commits: ids held, and which of them it holds valid (not quarantined). */
  async scan (r: Running): Promise<{ held: Set<string>, valid: Set<string> }> {
    const ids = await heldIds(r)
    for (const id of ids) {
      if (this.facts.has(id)) continue
      const env = await r.hub.store.getEnvelope(id)
      if (env !== undefined) this.facts.set(id, factsOf(env))
    }
    const held = new Set(ids)
    return { held, valid: new Set(ids.filter(id => !r.hub.store.isQuarantined(id))) }
  }

  /** Held valid on `r`, relying on `party`: signed by it, or accepted by it. */
  async reliantValid (r: Running, party: string): Promise<Set<string>> {
    const { valid } = await this.scan(r)
    return new Set([...valid].filter(id => { const f = this.facts.get(id); return f !== undefined && (f.signer === party || f.acc?.by === party) }))
  }
}

describe('fault: revocations racing writes on partitioned hubs', () => {
  it(`three hubs, two apps, ${ROUNDS} rounds of random partitions with grant and device revocations mid-write: every hub converges on the oracle's valid set`, { timeout: CONVERGE_MS + (LONG ? 180_000 : 40_000) }, async () => {
    console.log(`${TAG} seed=${SEED} rounds=${ROUNDS} ops/hub/round=${OPS} ops/app/round=${APP_OPS} device round=${DEVICE_ROUND} (replay: FAULTS_SEED=${SEED}${LONG ? ' FAULTS_LONG=1' : ''})`)
    const started = Date.now()
    const logs: string[] = []
    const a = await founder({ logger: collectingLogger('A', logs) })
    const b = await device(a, { logger: collectingLogger('B', logs) })
    const c = await device(a, { logger: collectingLogger('C', logs) })
    const owner = a.hub.did
    let names = ['A', 'B', 'C']
    let hubs: Running[] = [a, b, c]
    const deviceNames = new Map<string, string>([[a.hub.hubDid, 'A'], [b.hub.hubDid, 'B'], [c.hub.hubDid, 'C']])
    const tracked: Tracked[] = []
    const stats = newStats()
    const appStats = newStats()
    const log: string[] = []
    const book = new CommitBook()
    const revocations: Revocation[] = []
    /** Every commit a write returned, with its writer. */
    const written = new Map<string, string>()
    /** C's commits, read just before C is stopped (some exist nowhere else). */
    let cHeld = new Set<string>()
    const apps: App[] = []

    const grantApp = async (key: Ed25519KeyPair): Promise<string> =>
      (await a.hub.permissions.grant({ grantee: key.did, context: CTX, type: 'MusicPlaylist', allow: 'CRUD' })).grantId
    const connectApp = async (app: Omit<App, 'client' | 'ops'>): Promise<App> => {
      const client = await HubClient.connect({ hub: addr(app.hub), identity: app.key, owner })
      clients.push(client)
      return { ...app, client, ops: clientOps(client) }
    }
    const partitioner = new Partitioner(() => hubs)

    try {
      // Shared objects, created before any partition and seen by everyone.
      for (let i = 0; i < 6; i++) {
        const { objectId } = await a.hub.collections.create({ ...playlist(`shared ${i}`, ['One', 'Two', 'Three']), meta: { origin: 'A' } })
        tracked.push({ id: objectId, strategy: 'automerge', core: true })
      }
      for (let i = 0; i < 3; i++) {
        const { objectId } = await a.hub.collections.create({ ...playlist(`lww ${i}`), rating: 0 }, { strategy: 'lww' })
        tracked.push({ id: objectId, strategy: 'lww', core: true })
      }
      const keys = [Ed25519KeyPair.generate(), Ed25519KeyPair.generate()]
      const grants = [await grantApp(keys[0] as Ed25519KeyPair), await grantApp(keys[1] as Ed25519KeyPair)]
      const meshed = async (what: string): Promise<void> => {
        await eventually(async () => {
          for (const r of hubs) {
            if (r.node.syncStatus().filter(s => s.connected && s.replicating).length !== hubs.length - 1) return false
            for (const t of tracked.filter(x => x.core)) if (await r.hub.store.getMeta(t.id) === undefined) return false
            for (const app of apps.length > 0 ? apps.map(x => x.grantId) : grants) if (!r.hub.store.registry.liveGrants().some(g => g.id === app)) return false
          }
          return true
        }, 20_000, what)
      }
      await meshed('a full mesh with the shared objects and the grants everywhere')
      apps.push(await connectApp({ name: 'app1', key: keys[0] as Ed25519KeyPair, grantId: grants[0] as string, hub: b }))
      apps.push(await connectApp({ name: 'app2', key: keys[1] as Ed25519KeyPair, grantId: grants[1] as string, hub: c }))

      const partitionRng = new Rng(SEED)
      const writerRngs = [0, 1, 2].map(i => new Rng((SEED ^ (0x9E3779B9 * (i + 1))) >>> 0))
      const appRngs = [0, 1].map(i => new Rng((SEED ^ (0x85EBCA6B * (i + 1))) >>> 0))
      let ownerOps = hubs.map(hubOps)
      /** Set once A has revoked C: from then on C's own writes may be refused (if it hears of it). */
      let cRevoked = false

      const revoke = async (kind: 'grant' | 'device', label: string, round: number, party: string, objectId: string, partyHub: Running, run: () => Promise<unknown>): Promise<void> => {
        const cutOff = partitioner.isCut(a, partyHub)
        const before = await book.reliantValid(a, party)
        const startedAt = Date.now()
        await run()
        const endedAt = Date.now()
        const afterValid = await book.reliantValid(a, party)
        const meta = await a.hub.store.getMeta(objectId)
        expect(meta?.deleted, `${label} is deleted on A`).toBe(true)
        expect(meta?.revocation, `${label} names a set`).toBeTypeOf('string')
        const named = decodeAccepted(meta?.revocation as string)
        revocations.push({ kind, label, round, party, objectId, before, afterValid, named, startedAt, endedAt, cutOff })
        const line = `round ${round}: A revoked ${label}${cutOff ? ' (its hub cut off from A)' : ''}, naming ${named.size} commits`
        log.push(line)
        console.log(`${TAG} ${line}`)
      }

      const revokeGrant = async (app: App, round: number): Promise<void> => {
        await revoke('grant', `${app.name}'s grant ${app.grantId.slice(-8)}`, round, app.key.did, app.grantId, app.hub, async () => await a.hub.permissions.revoke(app.grantId))
        // The same app, granted again: it keeps writing in later rounds (wherever the new grant has arrived).
        app.grantId = await grantApp(app.key)
      }

      // An app's write skipped, not failed: unknown or deleted object (as for the owner), its grant revoked or
      // not yet known where it writes, its acceptor revoked, or the object's heads moving under concurrent writes.
      const appSkip = (err: unknown): boolean => isUnknownOrDeleted(err) ||
        (err instanceof HubError && (err.code === 'permissions_required' || (err.code === 'conflict' && /kept changing|is deleted/.test(err.message))))
      const ownerSkip = (hi: number) => (err: unknown): boolean => isUnknownOrDeleted(err) ||
        // C, once revoked, may learn it (then its own writes are refused).
        (cRevoked && hubs[hi] === c && err instanceof HubError && err.code === 'permissions_required')

      for (let round = 1; round <= ROUNDS; round++) {
        const deviceRound = round === DEVICE_ROUND
        const choices = (mustCut: boolean): ReadonlyArray<readonly number[]> => mustCut ? PARTITIONS.slice(1) : PARTITIONS
        const flips = partitionRng.next() < 0.3
        // Round 1 always cuts A off from an app's hub, so a grant revocation races that hub's acceptances;
        // the last round always ends in a real partition, so the final heal has something to merge.
        let p = partitionRng.pick(choices(round === 1 || (round === ROUNDS && !flips)))
        let flip = flips ? partitionRng.pick(choices(round === ROUNDS)) : undefined
        let flipAt = partitionRng.int(OPS)
        const revokeAt = partitionRng.int(OPS)
        const deviceAt = 3 + partitionRng.int(Math.floor(OPS / 3))
        if (deviceRound) {
          // A | B C: C keeps writing, and B keeps pulling from C, after A has revoked C; then the cut heals mid-round.
          p = [0, 1, 1]
          flip = HEALED
          flipAt = deviceAt + 1 + partitionRng.int(4)
        }
        await partitioner.apply(p)
        const line = `round ${round}: ${describePartition(p, names)}${flip !== undefined ? ` -> ${describePartition(flip, names)} after ${flipAt} ops` : ''}`
        log.push(line)
        console.log(`${TAG} ${line}`)
        // The app whose grant A revokes this round: one whose hub is cut off from A if there is one.
        const cutApps = apps.filter(x => partitioner.isCut(a, x.hub))
        const target = partitionRng.pick(cutApps.length > 0 ? cutApps : apps)

        let flipping: Promise<void> | undefined
        const owners = hubs.map(async (_, hi) => {
          const rng = writerRngs[hi] as Rng
          const me = names[hi] as string
          for (let k = 0; k < OPS; k++) {
            if (hi === 0) {
              if (k === revokeAt) await revokeGrant(target, round)
              if (deviceRound && k === deviceAt) {
                await revoke('device', 'device C', round, c.hub.hubDid, (a.hub.devices.isAuthorized(c.hub.hubDid) as { objectId: string }).objectId, c, async () => await a.hub.devices.revoke(c.hub.hubDid))
                cRevoked = true
              }
              if (k === flipAt && flip !== undefined) flipping = partitioner.apply(flip)
            }
            const out = await randomWrite(ownerOps[hi] as WriteOps, rng, tracked, me, round, k, stats, ownerSkip(hi))
            if (out === undefined) stats.skipped++
            else {
              stats.ok++
              if (out.commitId !== undefined) written.set(out.commitId, me)
            }
            if (rng.next() < 0.3) await sleep(rng.int(8))
          }
        })
        const appWriters = apps.map(async (app, ai) => {
          const rng = appRngs[ai] as Rng
          for (let k = 0; k < APP_OPS; k++) {
            let out: WriteOutcome | undefined
            try {
              out = await randomWrite(app.ops, rng, tracked, app.name, round, k, appStats, appSkip)
            } catch (err) {
              throw new Error(`${app.name}'s write ${round}.${k} through ${names[hubs.indexOf(app.hub)] ?? 'C'} failed: ${(err as Error).message}`, { cause: err })
            }
            if (out === undefined) appStats.skipped++
            else {
              appStats.ok++
              if (out.commitId !== undefined) written.set(out.commitId, app.name)
            }
            if (rng.next() < 0.3) await sleep(rng.int(8))
          }
        })
        await Promise.all([...owners, ...appWriters])
        await flipping
        partitioner.expectHeld(names, SEED)

        if (deviceRound) {
          // C is lost: what it holds is read first (some of it exists nowhere else), then it stops.
          // A new device D takes its place, and app2 writes through D from now on.
          cHeld = (await book.scan(c)).held
          const app2 = apps[1] as App
          await app2.client.close()
          await stopHub(c)
          const d = await device(a, { logger: collectingLogger('D', logs) })
          deviceNames.set(d.hub.hubDid, 'D')
          hubs = [a, b, d]
          names = ['A', 'B', 'D']
          ownerOps = hubs.map(hubOps)
          await meshed('D paired and meshed with A and B')
          apps[1] = await connectApp({ ...app2, hub: d })
          log.push('C stopped; D paired')
          console.log(`${TAG} C stopped (it held ${cHeld.size} commits); D paired`)
        }
        await sleep(partitionRng.int(150))
      }

      await partitioner.apply(HEALED)
      log.push('healed')
      const healedAt = Date.now()
      console.log(`${TAG} healed after ${healedAt - started} ms; owner ${stats.ok} writes (${stats.creates} creates, ${stats.deletes} deletes), ${stats.skipped} skipped; apps ${appStats.ok} writes (${appStats.creates} creates, ${appStats.deletes} deletes), ${appStats.skipped} skipped; ${tracked.length} objects; ${revocations.length} revocations`)

      // ---------------------------------------------------------------- convergence
      const states = async (r: Running): Promise<string[]> => (await r.hub.store.getMetas(tracked.map(t => t.id))).map(m => objectState(m, { commits: false }))
      await eventually(async () => {
        const scans = await Promise.all(hubs.map(async r => await book.scan(r)))
        const v0 = scans[0]?.valid as Set<string>
        if (scans.some(s => s.valid.size !== v0.size || [...s.valid].some(id => !v0.has(id)))) return false
        const ss = await Promise.all(hubs.map(states))
        return (ss[0] as string[]).every((s, i) => ss.every(x => x[i] === s))
      }, CONVERGE_MS, 'the same valid commits, heads, values and deleted state on every hub')
      console.log(`${TAG} converged ${Date.now() - healedAt} ms after the heal`)

      // ---------------------------------------------------------------- the oracle
      const scans = await Promise.all(hubs.map(async r => await book.scan(r)))
      // The per-object logs and the feeds name only commits the hub holds.
      for (const [i, r] of hubs.entries()) {
        const held = (scans[i] as { held: Set<string> }).held
        const logged: string[] = []
        for (const t of tracked) logged.push(...await r.hub.store.objectCommitIds(asObjectId(t.id)))
        for await (const e of r.hub.store.feed(0)) logged.push(e.commitId)
        expect(logged.filter(id => !held.has(id)), `commits in ${names[i] as string}'s logs and feed without an envelope`).toEqual([])
      }
      // Each revocation names what A held relying on the party: everything it held before, nothing it did not hold after.
      for (const rev of revocations) {
        const isNamed = (id: string): boolean => rev.named.has(revocationDigest(id))
        expect([...rev.before].filter(id => !isNamed(id)), `commits A held before ${rev.label} that it does not name`).toEqual([])
        expect([...rev.afterValid].filter(id => !isNamed(id)), `commits A holds valid after ${rev.label} that it does not name`).toEqual([])
        expect(rev.named.size, `${rev.label} names only commits A holds valid after it`).toBe(rev.afterValid.size)
      }
      const namedBy = (kind: Revocation['kind'], key: string, id: string): boolean | undefined => {
        const rev = revocations.find(r => r.kind === kind && (kind === 'device' ? r.party === key : r.objectId === key))
        return rev === undefined ? undefined : rev.named.has(revocationDigest(id))
      }
      const memo = new Map<string, boolean>()
      const why = new Map<string, string>()
      const valid = (id: string): boolean => {
        const known = memo.get(id)
        if (known !== undefined) return known
        const f = book.facts.get(id)
        if (f === undefined) throw new Error(`the oracle needs commit ${id}, which no hub held`)
        let ok = true
        let reason = ''
        if (f.signer === owner) ok = true
        else if (deviceNames.has(f.signer)) {
          ok = namedBy('device', f.signer, id) !== false
          if (!ok) reason = 'signed by a revoked device, not named'
        } else if (f.acc === undefined) {
          ok = false
          reason = 'an app commit without an acceptance'
        } else if (namedBy('device', f.acc.by, id) === false) {
          ok = false
          reason = 'accepted by a revoked device, not named'
        } else if (f.acc.grant === undefined || namedBy('grant', f.acc.grant, id) === false) {
          ok = false
          reason = `accepted under grant ${f.acc.grant?.slice(-8) ?? '?'}, revoked without naming it`
        }
        if (ok) {
          const bad = f.deps.find(dep => !valid(dep))
          if (bad !== undefined) { ok = false; reason = `built on invalid ${bad.slice(-8)}` }
        }
        memo.set(id, ok)
        if (!ok) why.set(id, reason)
        return ok
      }

      const all = new Set([...scans.flatMap(s => [...s.held]), ...cHeld])
      for (const id of written.keys()) expect(all.has(id), `commit ${id} written by ${written.get(id) as string} is held by no hub`).toBe(true)
      const oracleValid = new Set([...all].filter(valid))
      const mismatches: string[] = []
      let quarantinedHeld = 0
      for (const id of all) {
        const want = oracleValid.has(id)
        hubs.forEach((r, i) => {
          const s = scans[i] as { held: Set<string>, valid: Set<string> }
          const held = s.held.has(id)
          if (held && !s.valid.has(id)) quarantinedHeld++
          if (want && !s.valid.has(id)) mismatches.push(`${id.slice(-8)} is valid but ${held ? 'quarantined' : 'missing'} on ${names[i] as string}`)
          if (!want && s.valid.has(id)) mismatches.push(`${id.slice(-8)} (${book.facts.get(id)?.signer === owner ? 'owner' : written.get(id) ?? '?'}: ${why.get(id) ?? ''}) is materialized on ${names[i] as string}`)
        })
      }
      expect(mismatches.slice(0, 20), `hubs disagreeing with the oracle (${mismatches.length})`).toEqual([])
      const invalid = [...all].filter(id => !oracleValid.has(id))
      console.log(`${TAG} ${all.size} commits: ${oracleValid.size} valid, ${invalid.length} invalid (${invalid.filter(id => !scans.some(s => s.held.has(id))).length} only on C); ${quarantinedHeld} quarantined copies on ${names.join('/')}`)

      // The clock, directly: nothing accepted under a grant after its revoke returned, nothing C signed or accepted after its revoke returned.
      for (const rev of revocations) {
        const late = [...all].filter(id => {
          const f = book.facts.get(id) as Facts
          if (rev.kind === 'grant') return f.acc?.grant === rev.objectId && f.acc.at > rev.endedAt
          return (f.signer === rev.party && f.at > rev.endedAt) || (f.acc?.by === rev.party && f.acc.at > rev.endedAt)
        })
        expect(late.filter(id => oracleValid.has(id)), `commits after ${rev.label} the oracle keeps`).toEqual([])
        expect(late.filter(id => scans.some(s => s.valid.has(id))), `commits after ${rev.label} materialized`).toEqual([])
        if (late.length > 0) console.log(`${TAG} ${late.length} commits accepted after ${rev.label} (round ${rev.round}); none materialized`)
      }

      // Objects, recomputed from exactly the valid commits.
      const order = [...all].filter(id => oracleValid.has(id))
      const topo: string[] = []
      const seen = new Set<string>()
      const visit = (id: string): void => {
        if (seen.has(id)) return
        seen.add(id)
        for (const dep of (book.facts.get(id) as Facts).deps) visit(dep)
        topo.push(id)
      }
      order.sort().forEach(visit)
      const metas = await Promise.all(hubs.map(async r => await r.hub.store.getMetas(tracked.map(t => t.id))))
      const expectedLive: string[] = []
      tracked.forEach((t, ti) => {
        const commits = topo.map(id => book.facts.get(id) as Facts).filter(f => f.objectId === t.id && f.iface === 'Collections')
        const create = commits.find(f => f.operation === 'create')
        const ms = metas.map(x => x[ti])
        if (create === undefined) {
          ms.forEach((m, i) => expect(m, `object ${t.id} (creation invalid) on ${names[i] as string}`).toBeUndefined())
          return
        }
        const deps = new Set(commits.flatMap(f => f.deps))
        const heads = commits.map(f => f.id).filter(id => !deps.has(id)).sort()
        let deleted: boolean
        let value: unknown
        if (t.strategy === 'lww') {
          const win = commits.reduce((w, f) => lwwCompare({ id: f.id, at: f.at }, { id: w.id, at: w.at }) > 0 ? f : w)
          deleted = win.operation === 'delete'
          value = deleted ? undefined : JSON.parse(Buffer.from(win.payload).toString('utf8'))
        } else {
          deleted = commits.some(f => f.operation === 'delete')
          value = deleted ? undefined : docValue(applyDocChanges(loadDoc(undefined, 'ab'.repeat(16)), commits.filter(f => f.operation !== 'delete').map(f => f.payload)))
        }
        if (!deleted) expectedLive.push(t.id)
        ms.forEach((m: ObjectMeta | undefined, i) => {
          const where = `${t.id} on ${names[i] as string}`
          expect(m, `object ${where}`).toBeDefined()
          expect([...(m?.heads ?? [])].sort(), `heads of ${where}`).toEqual(heads)
          expect(m?.deleted, `deleted state of ${where}`).toBe(deleted)
          if (!deleted) expect(canonical(m?.value), `value of ${where}`).toBe(canonical(value))
        })
      })
      expectedLive.sort()
      for (const r of hubs) {
        expect(await queryIds(r, 'created')).toEqual(expectedLive)
        expect(await queryIds(r, 'updated')).toEqual(expectedLive)
      }

      // The race was real.
      expect(revocations.filter(r => r.kind === 'grant' && r.cutOff).length, 'grant revocations while the app\'s hub was cut off from A').toBeGreaterThan(0)
      expect(revocations.some(r => r.kind === 'device'), 'device C revoked').toBe(true)
      expect(invalid.length, 'commits a revocation made invalid').toBeGreaterThan(0)
      expect(logs, 'warnings or errors logged by the hubs').toEqual([])
      console.log(`${TAG} passed; total ${Date.now() - started} ms`)
    } catch (err) {
      const diag: string[] = [`${TAG} FAILED with seed ${SEED} (replay: FAULTS_SEED=${SEED} ${LONG ? 'FAULTS_LONG=1 ' : ''}npx vitest run test/faults/revocation-partition.test.ts)`, ...log]
      try {
        for (const [i, r] of hubs.entries()) {
          const s = await book.scan(r)
          diag.push(`${names[i] as string}: ${s.held.size} commits held, ${s.valid.size} valid; sync=${JSON.stringify(r.node.syncStatus().map(x => ({ peer: x.peerId.slice(-6), connected: x.connected, replicating: x.replicating, watermark: x.watermark, head: x.head, lastError: x.lastError })))}`)
        }
        const all = await Promise.all(hubs.map(async r => await r.hub.store.getMetas(tracked.map(t => t.id))))
        let shown = 0
        tracked.forEach((t, i) => {
          const s = all.map(ms => objectState(ms[i], { commits: false }))
          if (s.every(x => x === s[0])) return
          if (shown++ >= 5) return
          diag.push(`diverged ${t.id} (${t.strategy}):`)
          s.forEach((x, j) => diag.push(`  ${names[j] as string}: ${x}`))
        })
        diag.push(`${shown} diverged objects of ${tracked.length}`)
        // Commits valid on some hubs and not on others, with what decides their validity.
        const scans = await Promise.all(hubs.map(async r => await book.scan(r)))
        const split = [...new Set(scans.flatMap(s => [...s.held]))].filter(id => !scans.every(s => s.valid.has(id)) && scans.some(s => s.valid.has(id)))
        diag.push(`${split.length} commits valid on some hubs only:`)
        for (const id of split.slice(0, 10)) {
          const f = book.facts.get(id)
          const rev = revocations.find(r => r.kind === 'grant' && r.objectId === f?.acc?.grant)
          const where = scans.map((s, i) => `${names[i] as string}:${s.valid.has(id) ? 'valid' : s.held.has(id) ? 'quarantined' : 'absent'}`).join(' ')
          diag.push(`  ${id.slice(-8)} ${written.get(id) ?? deviceNames.get(f?.signer ?? '') ?? (f?.signer === owner ? 'owner' : '?')} ${f?.operation ?? '?'} acc=${f?.acc === undefined ? '-' : `${deviceNames.get(f.acc.by) ?? f.acc.by.slice(-8)}@${f.acc.at} grant ${f.acc.grant?.slice(-8) ?? '?'}${rev !== undefined ? ` (revoked ${rev.startedAt}..${rev.endedAt}, ${rev.named.has(revocationDigest(id)) ? 'named' : 'not named'})` : ''}`}: ${where}`)
        }
      } catch (e) {
        diag.push(`(diagnostics failed: ${(e as Error).message})`)
      }
      diag.push(...logs.slice(0, 20).map(l => `log: ${l}`))
      console.error(diag.join('\n'))
      if (err instanceof Error) err.message = `${err.message} [seed ${SEED}]`
      throw err
    }
  })
})
