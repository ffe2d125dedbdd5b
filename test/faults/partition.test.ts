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
import { ConflictError, NotFoundError } from '../../src/errors.js'
import { createLogger, type Logger } from '../../src/log.js'
import type { ObjectMeta } from '../../src/store/tenant-store.js'
import { cleanup, playlist } from '../helpers.js'
import { device, eventually, founder, stopAll, type Running } from '../net-helpers.js'
import { mulberry32 } from './prng.js'

afterEach(async () => { await stopAll(); await cleanup() })

const LONG = process.env.FAULTS_LONG === '1'
const ROUNDS = LONG ? 20 : 4
/** Write operations per hub per round (interleaved with short random pauses). */
const OPS_PER_ROUND = LONG ? 60 : 40
const CONVERGE_MS = LONG ? 90_000 : 30_000
const SEED = process.env.FAULTS_SEED !== undefined ? Number(process.env.FAULTS_SEED) >>> 0 : randomInt(2 ** 31)


class Rng {
  readonly next: () => number
  constructor (seed: number) { this.next = mulberry32(seed) }
  int (n: number): number { return Math.floor(this.next() * n) }
  pick<T> (xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list')
    return xs[this.int(xs.length)] as T
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** JSON with object keys sorted: equal for deep-equal values whatever the key order. */
function canonical (v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o).sort().map(k => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`
  }
  return JSON.stringify(v) ?? 'undefined'
}

interface Hubs { names: string[], hubs: Running[] }
type Strategy = 'automerge' | 'lww'
interface Tracked { id: string, strategy: Strategy, core: boolean }

/** The partitions of three hubs, as component labels per hub index. */
const PARTITIONS: ReadonlyArray<readonly number[]> = [
  [0, 0, 0], // healed
  [0, 1, 1], // A | B C
  [0, 1, 0], // B | A C
  [0, 0, 1], // C | A B
  [0, 1, 2] // A | B | C
]

function describePartition (p: readonly number[], names: string[]): string {
  const groups = new Map<number, string[]>()
  p.forEach((g, i) => { groups.set(g, [...(groups.get(g) ?? []), names[i] as string]) })
  return [...groups.values()].map(g => g.join('')).join(' | ')
}

/** What must be equal everywhere, per object. */
function objectState (m: ObjectMeta | undefined): string {
  if (m === undefined) return 'absent'
  return canonical({ heads: [...m.heads].sort(), deleted: m.deleted, value: m.value ?? null, commits: m.commits, strategy: m.strategy })
}

/** Every live Collections object id a hub's indexes return, paging with cursors, in one sort order. */
async function queryIds (r: Running, sort: 'created' | 'updated'): Promise<string[]> {
  const out: string[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await r.hub.collections.query({ limit: 200, sort, ...(cursor !== undefined ? { cursor } : {}) })
    for (const o of page.objects) out.push(o.objectId)
    if (page.cursor === null) break
    cursor = page.cursor
  }
  return out.sort()
}

describe('fault: random partitions and heals', () => {
  it(`three hubs, ${ROUNDS} rounds of random partitions with concurrent writes on all sides, converge after the last heal`, { timeout: CONVERGE_MS + (LONG ? 120_000 : 30_000) }, async () => {
    console.log(`[partition] seed=${SEED} rounds=${ROUNDS} ops/hub/round=${OPS_PER_ROUND} (replay: FAULTS_SEED=${SEED})`)
    const started = Date.now()
    // Warnings and errors of the nodes (e.g. a peer disconnected for sending a commit we reject) fail the test too.
    const logs: string[] = []
    const logger = (name: string): Logger => createLogger(`hub${name}`, 'warn', line => { logs.push(line) })
    const a = await founder({ logger: logger('A') })
    const b = await device(a, { logger: logger('B') })
    const c = await device(a, { logger: logger('C') })
    const h: Hubs = { names: ['A', 'B', 'C'], hubs: [a, b, c] }
    const tracked: Tracked[] = []
    const stats = { ok: 0, skipped: 0, creates: 0, deletes: 0 }
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
      /** cut[i][j]: i and j currently block each other. */
      const cut = h.hubs.map(() => h.hubs.map(() => false))

      const applyPartition = async (p: readonly number[]): Promise<void> => {
        for (let i = 0; i < 3; i++) {
          for (let j = i + 1; j < 3; j++) {
            const x = h.hubs[i] as Running
            const y = h.hubs[j] as Running
            const apart = p[i] !== p[j]
            if (apart && cut[i]?.[j] !== true) {
              await Promise.all([x.node.block(y.hub.peerId), y.node.block(x.hub.peerId)])
            } else if (!apart && cut[i]?.[j] === true) {
              x.node.unblock(y.hub.peerId)
              y.node.unblock(x.hub.peerId)
            }
            ;(cut[i] as boolean[])[j] = apart
            ;(cut[j] as boolean[])[i] = apart
          }
        }
      }

      /** One write by hub `hi` (round `round`, op `k`). Returns false if it was skipped (object unknown or deleted here). */
      const writeOne = async (hi: number, rng: Rng, round: number, k: number): Promise<boolean> => {
        const r = h.hubs[hi] as Running
        const me = h.names[hi] as string
        const tag = `${me}${round}.${k}`
        const col = r.hub.collections
        const pickAm = (): string => rng.pick(tracked.filter(t => t.strategy === 'automerge')).id
        const pickLww = (): string => rng.pick(tracked.filter(t => t.strategy === 'lww')).id
        const x = rng.next()
        try {
          if (x < 0.10) {
            const { objectId } = await col.create({ ...playlist(`new ${tag}`, [`first ${tag}`]), meta: { origin: me } })
            tracked.push({ id: objectId, strategy: 'automerge', core: false })
            stats.creates++
          } else if (x < 0.14) {
            const { objectId } = await col.create({ ...playlist(`new lww ${tag}`), rating: 0 }, { strategy: 'lww' })
            tracked.push({ id: objectId, strategy: 'lww', core: false })
            stats.creates++
          } else if (x < 0.28) {
            // A field only this hub writes.
            await col.change(pickAm(), d => { d[`by${me}`] = tag })
          } else if (x < 0.40) {
            // The same field everywhere: a conflict Automerge must resolve alike on every hub.
            await col.change(pickAm(), d => { d.name = `name ${tag}`; d.numTracks = k })
          } else if (x < 0.52) {
            await col.change(pickAm(), d => {
              const track = d.track as unknown[]
              if (rng.next() < 0.5) track.push({ '@type': 'MusicRecording', name: `push ${tag}` })
              else track.unshift({ '@type': 'MusicRecording', name: `unshift ${tag}` })
            })
          } else if (x < 0.57) {
            // Concurrent removals and insertions in the middle of the list.
            await col.change(pickAm(), d => {
              const track = d.track as unknown[]
              if (track.length > 1) track.splice(rng.int(track.length), 1)
              else track.push({ '@type': 'MusicRecording', name: `refill ${tag}` })
            })
          } else if (x < 0.63) {
            // A nested map: some hubs replace it while others edit inside it.
            await col.change(pickAm(), d => {
              if (rng.next() < 0.2 || typeof d.meta !== 'object' || d.meta === null) d.meta = { reset: tag }
              else (d.meta as Record<string, unknown>)[me] = k
            })
          } else if (x < 0.68) {
            // A whole-value replacement: the hub records the minimal change.
            const id = pickAm()
            const cur = await col.read(id)
            if (cur.value === null) return false
            await col.update(id, { ...cur.value, description: `replaced ${tag}`, name: `whole ${tag}` })
          } else if (x < 0.80) {
            await col.change(pickLww(), d => { d.name = `lww ${tag}`; d.rating = k })
          } else if (x < 0.88) {
            const id = pickLww()
            const cur = await col.read(id)
            if (cur.value === null) return false
            await col.update(id, { ...cur.value, [`by${me}`]: tag })
          } else if (x < 0.91) {
            // Occasional deletes: of objects created during the rounds (the shared ones stay to be edited).
            const victims = tracked.filter(t => !t.core)
            if (victims.length === 0) return false
            await col.delete(rng.pick(victims).id)
            stats.deletes++
          } else {
            // Edits of any object, including ones created elsewhere during the rounds (often unknown here yet, or deleted).
            const t = rng.pick(tracked)
            if (t.strategy === 'automerge') await col.change(t.id, d => { d[`late${me}`] = tag })
            else await col.change(t.id, d => { d.rating = k })
          }
          return true
        } catch (err) {
          // Expected while partitioned: the object was created elsewhere and has not arrived, or it was deleted.
          if (err instanceof NotFoundError || (err instanceof ConflictError && /is deleted/.test(err.message))) return false
          throw err
        }
      }

      for (let round = 1; round <= ROUNDS; round++) {
        // The last round always ends in a real partition, so the final heal has something to merge.
        const choices = (last: boolean): ReadonlyArray<readonly number[]> => last ? PARTITIONS.slice(1) : PARTITIONS
        const flips = partitionRng.next() < 0.3
        const p = partitionRng.pick(choices(round === ROUNDS && !flips))
        // Some rounds re-partition in the middle of the writes (and of the sync they cause).
        const flip = flips ? partitionRng.pick(choices(round === ROUNDS)) : undefined
        const flipAt = partitionRng.int(OPS_PER_ROUND)
        await applyPartition(p)
        const line = `round ${round}: ${describePartition(p, h.names)}${flip !== undefined ? ` -> ${describePartition(flip, h.names)} after ${flipAt} ops` : ''}`
        log.push(line)
        console.log(`[partition] ${line}`)
        let flipping: Promise<void> | undefined
        await Promise.all(h.hubs.map(async (_, hi) => {
          const rng = writerRngs[hi] as Rng
          for (let k = 0; k < OPS_PER_ROUND; k++) {
            if (hi === 0 && k === flipAt && flip !== undefined) flipping = applyPartition(flip)
            if (await writeOne(hi, rng, round, k)) stats.ok++
            else stats.skipped++
            // Short pauses so that sync inside each component interleaves with the writes.
            if (rng.next() < 0.3) await sleep(rng.int(8))
          }
        }))
        await flipping
        // The cut held: no hub is connected to one it blocks.
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) {
            if (cut[i]?.[j] !== true) continue
            const other = (h.hubs[j] as Running).hub.peerId
            expect((h.hubs[i] as Running).node.peers().map(x => x.peerId), `${h.names[i] as string} connected to ${h.names[j] as string} across a cut [seed ${SEED}]`).not.toContain(other)
          }
        }
        // Sometimes let a component settle before the partition changes, sometimes not at all.
        await sleep(partitionRng.int(150))
      }

      await applyPartition([0, 0, 0])
      log.push('healed')
      const written = Date.now()
      console.log(`[partition] healed after ${written - started} ms; ${stats.ok} writes (${stats.creates} creates, ${stats.deletes} deletes), ${stats.skipped} skipped; ${tracked.length} objects`)

      const states = async (r: Running): Promise<string[]> => (await r.hub.store.getMetas(tracked.map(t => t.id))).map(objectState)
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
