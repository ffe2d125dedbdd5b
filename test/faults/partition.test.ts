/**
 * Fault test (issue 7): three hubs of one owner under random network
 * partitions and heals, with concurrent writes on every side of every cut.
 *
 * Each round picks a random partition of {A, B, C} (none, one hub isolated,
 * or all three apart), applies it with node.block/unblock on both ends of
 * every cut pair, then lets all three hubs write at once for a short while:
 * creates, edits of a shared set of objects (different fields, list pushes
 * and removals, same-field conflicts, concurrent creation of the same map
 * key, whole-value replacements), LWW writes and occasional deletes. Sync
 * keeps running inside each component; some rounds re-partition in the
 * middle of the writes. The last round always ends partitioned. After it everything is
 * healed, and every object written anywhere must end up with identical
 * heads, deep-equal values and the same deleted state on all three hubs —
 * and the same commit count and the same query results everywhere; no hub
 * may log a warning or an error (e.g. a peer dropped for a rejected commit).
 *
 * Reproducible from its seed (printed; FAULTS_SEED=<n> replays it — the
 * random choices, not the exact interleaving with sync, which depends on
 * timing). Short profile: 4 rounds; FAULTS_LONG=1: 20 rounds.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { randomInt } from 'node:crypto'
import { cleanup, playlist } from '../helpers.js'
import { device, eventually, founder, stopAll, type Running } from '../net-helpers.js'
import { collectingLogger, describePartition, faultSeed, hubOps, newStats, objectState, PARTITIONS, Partitioner, queryIds, randomWrite, Rng, sleep, type Tracked } from './partition-kit.js'

afterEach(async () => { await stopAll(); await cleanup() })

const LONG = process.env.FAULTS_LONG === '1'
const ROUNDS = LONG ? 20 : 4
/** Write operations per hub per round (interleaved with short random pauses). */
const OPS_PER_ROUND = LONG ? 60 : 40
const CONVERGE_MS = LONG ? 90_000 : 30_000
const SEED = faultSeed(() => randomInt(2 ** 31))

interface Hubs { names: string[], hubs: Running[] }

describe('fault: random partitions and heals', () => {
  it(`three hubs, ${ROUNDS} rounds of random partitions with concurrent writes on all sides, converge after the last heal`, { timeout: CONVERGE_MS + (LONG ? 120_000 : 30_000) }, async () => {
    console.log(`[partition] seed=${SEED} rounds=${ROUNDS} ops/hub/round=${OPS_PER_ROUND} (replay: FAULTS_SEED=${SEED})`)
    const started = Date.now()
    // Warnings and errors of the nodes (e.g. a peer disconnected for sending a commit we reject) fail the test too.
    const logs: string[] = []
    const a = await founder({ logger: collectingLogger('A', logs) })
    const b = await device(a, { logger: collectingLogger('B', logs) })
    const c = await device(a, { logger: collectingLogger('C', logs) })
    const h: Hubs = { names: ['A', 'B', 'C'], hubs: [a, b, c] }
    const tracked: Tracked[] = []
    const stats = newStats()
    const log: string[] = []

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
      await eventually(async () => {
        for (const r of h.hubs) {
          if (r.node.syncStatus().filter(s => s.connected && s.replicating).length !== 2) return false
          for (const t of tracked) if (await r.hub.store.getMeta(t.id) === undefined) return false
        }
        return true
      }, 20_000, 'a full mesh with the shared objects everywhere')

      const partitionRng = new Rng(SEED)
      const writerRngs = h.hubs.map((_, i) => new Rng((SEED ^ (0x9E3779B9 * (i + 1))) >>> 0))
      const partitioner = new Partitioner(() => h.hubs)
      const ops = h.hubs.map(hubOps)

      for (let round = 1; round <= ROUNDS; round++) {
        // The last round always ends in a real partition, so the final heal has something to merge.
        const choices = (last: boolean): ReadonlyArray<readonly number[]> => last ? PARTITIONS.slice(1) : PARTITIONS
        const flips = partitionRng.next() < 0.3
        const p = partitionRng.pick(choices(round === ROUNDS && !flips))
        // Some rounds re-partition in the middle of the writes (and of the sync they cause).
        const flip = flips ? partitionRng.pick(choices(round === ROUNDS)) : undefined
        const flipAt = partitionRng.int(OPS_PER_ROUND)
        await partitioner.apply(p)
        const line = `round ${round}: ${describePartition(p, h.names)}${flip !== undefined ? ` -> ${describePartition(flip, h.names)} after ${flipAt} ops` : ''}`
        log.push(line)
        console.log(`[partition] ${line}`)
        let flipping: Promise<void> | undefined
        await Promise.all(h.hubs.map(async (_, hi) => {
          const rng = writerRngs[hi] as Rng
          for (let k = 0; k < OPS_PER_ROUND; k++) {
            if (hi === 0 && k === flipAt && flip !== undefined) flipping = partitioner.apply(flip)
            if (await randomWrite(ops[hi] as (typeof ops)[number], rng, tracked, h.names[hi] as string, round, k, stats) !== undefined) stats.ok++
            else stats.skipped++
            // Short pauses so that sync inside each component interleaves with the writes.
            if (rng.next() < 0.3) await sleep(rng.int(8))
          }
        }))
        await flipping
        // The cut held: no hub is connected to one it blocks.
        partitioner.expectHeld(h.names, SEED)
        // Sometimes let a component settle before the partition changes, sometimes not at all.
        await sleep(partitionRng.int(150))
      }

      await partitioner.apply([0, 0, 0])
      log.push('healed')
      const written = Date.now()
      console.log(`[partition] healed after ${written - started} ms; ${stats.ok} writes (${stats.creates} creates, ${stats.deletes} deletes), ${stats.skipped} skipped; ${tracked.length} objects`)

      const states = async (r: Running): Promise<string[]> => (await r.hub.store.getMetas(tracked.map(t => t.id))).map(m => objectState(m))
      const atHeal = await Promise.all(h.hubs.map(states))
      const differing = tracked.filter((_, i) => atHeal[0]?.[i] !== atHeal[1]?.[i] || atHeal[0]?.[i] !== atHeal[2]?.[i]).length
      console.log(`[partition] at the heal ${differing} of ${tracked.length} objects differ between hubs; commits per hub: ${h.hubs.map(r => r.hub.store.durableSeq).join('/')}`)
      await eventually(async () => {
        const seqs = h.hubs.map(r => r.hub.store.durableSeq)
        if (seqs.some(s => s !== seqs[0])) return false
        const [sa, sb, sc] = await Promise.all(h.hubs.map(states))
        return (sa as string[]).every((s, i) => s === sb?.[i] && s === sc?.[i] && s !== 'absent')
      }, CONVERGE_MS, 'identical heads, values and deleted state on all three hubs')
      console.log(`[partition] converged ${Date.now() - written} ms after the heal; total ${Date.now() - started} ms`)

      // Precise assertions (for a readable diff if anything differs).
      const metas = await Promise.all(h.hubs.map(async r => await r.hub.store.getMetas(tracked.map(t => t.id))))
      tracked.forEach((t, i) => {
        const [ma, mb, mc] = metas.map(ms => ms[i])
        expect(ma, `object ${t.id} on A`).toBeDefined()
        for (const [name, m] of [['B', mb], ['C', mc]] as const) {
          expect([...(m?.heads ?? [])].sort(), `heads of ${t.id} on ${name}`).toEqual([...(ma?.heads ?? [])].sort())
          expect(m?.deleted, `deleted state of ${t.id} on ${name}`).toBe(ma?.deleted)
          expect(m?.value, `value of ${t.id} on ${name}`).toEqual(ma?.value)
        }
      })
      expect(logs, 'warnings or errors logged by the hubs').toEqual([])
      // No object anywhere that nobody wrote, and the indexes agree with the metas on every hub.
      const live = tracked.filter((_, i) => metas[0]?.[i]?.deleted === false).map(t => t.id).sort()
      for (const r of h.hubs) {
        expect(await queryIds(r, 'created')).toEqual(live)
        expect(await queryIds(r, 'updated')).toEqual(live)
      }
    } catch (err) {
      const diag: string[] = [`[partition] FAILED with seed ${SEED} (replay: FAULTS_SEED=${SEED} ${LONG ? 'FAULTS_LONG=1 ' : ''}npx vitest run test/faults/partition.test.ts)`, ...log]
      try {
        for (const [i, r] of h.hubs.entries()) {
          diag.push(`${h.names[i] as string}: durableSeq=${r.hub.store.durableSeq} sync=${JSON.stringify(r.node.syncStatus().map(s => ({ peer: s.peerId.slice(-6), connected: s.connected, replicating: s.replicating, watermark: s.watermark, head: s.head, lastError: s.lastError })))}`)
        }
        const all = await Promise.all(h.hubs.map(async r => await r.hub.store.getMetas(tracked.map(t => t.id))))
        let shown = 0
        tracked.forEach((t, i) => {
          const s = all.map(ms => objectState(ms[i]))
          if (s[0] === s[1] && s[0] === s[2]) return
          if (shown++ >= 5) return
          diag.push(`diverged ${t.id} (${t.strategy}):`)
          s.forEach((x, j) => diag.push(`  ${h.names[j] as string}: ${x}`))
        })
        diag.push(`${shown} diverged objects of ${tracked.length}`)
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
