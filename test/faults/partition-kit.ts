/**
 * Shared machinery of the partition fault tests (partition.test.ts,
 * revocation-partition.test.ts): a seeded RNG, the partitions of three hubs
 * and a partitioner that applies them with node.block/unblock, the random
 * write mix (for a hub's own Collections or an app's HubClient), and the
 * per-object state and query results that must be equal on every hub.
 */
import { expect } from 'vitest'
import type { HubClient } from '../../src/client/index.js'
import { ConflictError, HubError, NotFoundError } from '../../src/errors.js'
import { createLogger, type Logger } from '../../src/log.js'
import type { ObjectMeta } from '../../src/store/tenant-store.js'
import { playlist } from '../helpers.js'
import type { Running } from '../net-helpers.js'
import { mulberry32 } from './prng.js'

export class Rng {
  readonly next: () => number
  constructor (seed: number) { this.next = mulberry32(seed) }
  int (n: number): number { return Math.floor(this.next() * n) }
  pick<T> (xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list')
    return xs[this.int(xs.length)] as T
  }
}

/** The seed of a fault run: FAULTS_SEED when given (a replay), else a random one. */
export function faultSeed (random: () => number): number {
  return process.env.FAULTS_SEED !== undefined ? Number(process.env.FAULTS_SEED) >>> 0 : random()
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** JSON with object keys sorted: equal for deep-equal values whatever the key order. */
export function canonical (v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o).sort().map(k => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`
  }
  return JSON.stringify(v) ?? 'undefined'
}

/** Warnings and errors of a hub, collected (they fail the tests unless expected). */
export function collectingLogger (name: string, lines: string[]): Logger {
  return createLogger(`hub${name}`, 'warn', line => { lines.push(line) })
}

export type Strategy = 'automerge' | 'lww'
/** An object the writers know of; `core` ones are never deleted. */
export interface Tracked { id: string, strategy: Strategy, core: boolean }

/** The partitions of three hubs, as component labels per hub index. */
export const PARTITIONS: ReadonlyArray<readonly number[]> = [
  [0, 0, 0], // healed
  [0, 1, 1], // A | B C
  [0, 1, 0], // B | A C
  [0, 0, 1], // C | A B
  [0, 1, 2] // A | B | C
]
export const HEALED: readonly number[] = [0, 0, 0]

export function describePartition (p: readonly number[], names: readonly string[]): string {
  const groups = new Map<number, string[]>()
  p.forEach((g, i) => { groups.set(g, [...(groups.get(g) ?? []), names[i] as string]) })
  return [...groups.values()].map(g => g.join('')).join(' | ')
}

/**
 * Applies partitions to a set of hubs with node.block/unblock on both ends
 * of every cut pair. The set may change between partitions (a hub replaced
 * by a new one): cuts are kept per pair of peer ids.
 */
export class Partitioner {
  readonly #cut = new Set<string>()
  constructor (readonly hubs: () => readonly Running[]) {}

  static #pair (x: Running, y: Running): string { return [x.hub.peerId, y.hub.peerId].sort().join('|') }

  isCut (x: Running, y: Running): boolean { return this.#cut.has(Partitioner.#pair(x, y)) }

  async apply (p: readonly number[]): Promise<void> {
    const hs = this.hubs()
    for (let i = 0; i < hs.length; i++) {
      for (let j = i + 1; j < hs.length; j++) {
        const x = hs[i] as Running
        const y = hs[j] as Running
        const apart = p[i] !== p[j]
        const key = Partitioner.#pair(x, y)
        if (apart && !this.#cut.has(key)) {
          await Promise.all([x.node.block(y.hub.peerId), y.node.block(x.hub.peerId)])
          this.#cut.add(key)
        } else if (!apart && this.#cut.has(key)) {
          x.node.unblock(y.hub.peerId)
          y.node.unblock(x.hub.peerId)
          this.#cut.delete(key)
        }
      }
    }
  }

  /** The cut held: no hub is connected to one it blocks. */
  expectHeld (names: readonly string[], seed: number): void {
    const hs = this.hubs()
    hs.forEach((x, i) => hs.forEach((y, j) => {
      if (i === j || !this.isCut(x, y)) return
      expect(x.node.peers().map(q => q.peerId), `${names[i] as string} connected to ${names[j] as string} across a cut [seed ${seed}]`).not.toContain(y.hub.peerId)
    }))
  }
}

/** What must be equal everywhere, per object (`commits`: also the length of its log). */
export function objectState (m: ObjectMeta | undefined, opts: { commits?: boolean } = {}): string {
  if (m === undefined) return 'absent'
  return canonical({ heads: [...m.heads].sort(), deleted: m.deleted, value: m.value ?? null, strategy: m.strategy, ...(opts.commits !== false ? { commits: m.commits } : {}) })
}

/** Every live Collections object id a hub's indexes return, paging with cursors, in one sort order. */
export async function queryIds (r: Running, sort: 'created' | 'updated'): Promise<string[]> {
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

/** The writes of the random mix, on a hub's own Collections or through an app's HubClient. */
export interface WriteOps {
  create: (value: Record<string, unknown>, strategy: Strategy) => Promise<{ objectId: string, commitId: string }>
  change: (id: string, fn: (draft: Record<string, unknown>) => void) => Promise<{ commitId: string, changed: boolean }>
  update: (id: string, value: Record<string, unknown>) => Promise<{ commitId: string, changed: boolean }>
  delete: (id: string) => Promise<{ commitId: string }>
  read: (id: string) => Promise<{ value: Record<string, unknown> | null }>
}

export function hubOps (r: Running): WriteOps {
  const col = r.hub.collections
  return {
    create: async (value, strategy) => strategy === 'lww' ? await col.create(value, { strategy }) : await col.create(value),
    change: async (id, fn) => await col.change(id, fn),
    update: async (id, value) => await col.update(id, value),
    delete: async id => await col.delete(id),
    read: async id => await col.read(id)
  }
}

export function clientOps (c: HubClient): WriteOps {
  const col = c.collections
  return {
    create: async (value, strategy) => await col.write(value, { strategy }),
    change: async (id, fn) => await col.change(id, fn),
    update: async (id, value) => await col.update(id, value),
    delete: async id => await col.delete(id),
    read: async id => await col.read(id)
  }
}

/** Expected while partitioned: the object was created elsewhere and has not arrived, or it was deleted. */
export function isUnknownOrDeleted (err: unknown): boolean {
  if (err instanceof NotFoundError || (err instanceof ConflictError && /is deleted/.test(err.message))) return true
  // Through the SDK the same refusals arrive as codes.
  return err instanceof HubError && !(err instanceof ConflictError) && err.code === 'not_found'
}

export interface WriteStats { ok: number, skipped: number, creates: number, deletes: number }
export const newStats = (): WriteStats => ({ ok: 0, skipped: 0, creates: 0, deletes: 0 })

/** What one random write did: the new commit, if it made one. */
export interface WriteOutcome { commitId?: string, objectId?: string }

/**
 * One write of the random mix by writer `me` (round `round`, op `k`):
 * creates, edits of the shared objects (different fields, list pushes and
 * removals, same-field conflicts, concurrent creation of the same map key,
 * whole-value replacements), LWW writes and occasional deletes. Returns
 * undefined if it was skipped (`skip(err)`: e.g. the object is unknown or
 * deleted here); any other error is thrown.
 */
export async function randomWrite (ops: WriteOps, rng: Rng, tracked: Tracked[], me: string, round: number, k: number, stats: WriteStats, skip: (err: unknown) => boolean = isUnknownOrDeleted): Promise<WriteOutcome | undefined> {
  const tag = `${me}${round}.${k}`
  const pickAm = (): string => rng.pick(tracked.filter(t => t.strategy === 'automerge')).id
  const pickLww = (): string => rng.pick(tracked.filter(t => t.strategy === 'lww')).id
  const changed = (r: { commitId: string, changed: boolean }): WriteOutcome => r.changed ? { commitId: r.commitId } : {}
  const x = rng.next()
  try {
    if (x < 0.10) {
      const r = await ops.create({ ...playlist(`new ${tag}`, [`first ${tag}`]), meta: { origin: me } }, 'automerge')
      tracked.push({ id: r.objectId, strategy: 'automerge', core: false })
      stats.creates++
      return r
    } else if (x < 0.14) {
      const r = await ops.create({ ...playlist(`new lww ${tag}`), rating: 0 }, 'lww')
      tracked.push({ id: r.objectId, strategy: 'lww', core: false })
      stats.creates++
      return r
    } else if (x < 0.28) {
      // A field only this writer writes.
      return changed(await ops.change(pickAm(), d => { d[`by${me}`] = tag }))
    } else if (x < 0.40) {
      // The same field everywhere: a conflict Automerge must resolve alike on every hub.
      return changed(await ops.change(pickAm(), d => { d.name = `name ${tag}`; d.numTracks = k }))
    } else if (x < 0.52) {
      return changed(await ops.change(pickAm(), d => {
        const track = d.track as unknown[]
        if (rng.next() < 0.5) track.push({ '@type': 'MusicRecording', name: `push ${tag}` })
        else track.unshift({ '@type': 'MusicRecording', name: `unshift ${tag}` })
      }))
    } else if (x < 0.57) {
      // Concurrent removals and insertions in the middle of the list.
      return changed(await ops.change(pickAm(), d => {
        const track = d.track as unknown[]
        if (track.length > 1) track.splice(rng.int(track.length), 1)
        else track.push({ '@type': 'MusicRecording', name: `refill ${tag}` })
      }))
    } else if (x < 0.63) {
      // A nested map: some writers replace it while others edit inside it.
      return changed(await ops.change(pickAm(), d => {
        if (rng.next() < 0.2 || typeof d.meta !== 'object' || d.meta === null) d.meta = { reset: tag }
        else (d.meta as Record<string, unknown>)[me] = k
      }))
    } else if (x < 0.68) {
      // A whole-value replacement: the hub records the minimal change.
      const id = pickAm()
      const cur = await ops.read(id)
      if (cur.value === null) return undefined
      return changed(await ops.update(id, { ...cur.value, description: `replaced ${tag}`, name: `whole ${tag}` }))
    } else if (x < 0.80) {
      return changed(await ops.change(pickLww(), d => { d.name = `lww ${tag}`; d.rating = k }))
    } else if (x < 0.88) {
      const id = pickLww()
      const cur = await ops.read(id)
      if (cur.value === null) return undefined
      return changed(await ops.update(id, { ...cur.value, [`by${me}`]: tag }))
    } else if (x < 0.91) {
      // Occasional deletes: of objects created during the rounds (the shared ones stay to be edited).
      const victims = tracked.filter(t => !t.core)
      if (victims.length === 0) return undefined
      const r = await ops.delete(rng.pick(victims).id)
      stats.deletes++
      return r
    } else {
      // Edits of any object, including ones created elsewhere during the rounds (often unknown here yet, or deleted).
      const t = rng.pick(tracked)
      if (t.strategy === 'automerge') return changed(await ops.change(t.id, d => { d[`late${me}`] = tag }))
      return changed(await ops.change(t.id, d => { d.rating = k }))
    }
  } catch (err) {
    if (skip(err)) return undefined
    throw err
  }
}
