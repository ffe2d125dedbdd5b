/**
 * Issue 7, crash: kill -9 a hub process at random points during a stream of
 * writes; every acknowledged write is present after restart and the doctor
 * reports a clean store.
 *
 * Each round spawns a writer process (crash-writer.ts) on the same hub
 * directory, lets it write for a random 20–400 ms after its first
 * acknowledgement (16 writes in flight: Automerge and LWW creates, updates of
 * a few hot objects, deletes), then SIGKILLs it. The test then opens the hub
 * itself and checks every write acknowledged in this or any earlier round:
 * its commit is stored, parses, belongs to its object, is in the object's log;
 * the object exists, and is deleted if a delete was acknowledged. Then the
 * doctor must find nothing at all: no missing or orphan commit (a
 * half-written group), no derived key out of line with the commits. Every
 * fifth round kills the writer early instead (within 150 ms of starting to open the hub, i.e.
 * during LevelDB recovery or the first groups). State accumulates across
 * rounds, so later rounds crash a store recovered from earlier crashes.
 *
 * Profiles: 5 rounds by default (npm test), 50 with FAULTS_LONG=1
 * (npm run test:faults). FAULTS_SEED=<n> replays a run's random choices
 * (kill times are wall-clock, so a replay is similar, not identical).
 */
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { Hub } from '../../src/hub.js'
import { parseCommit } from '../../src/commits/commit.js'
import { asObjectId } from '../../src/ids.js'
import { doctor } from '../../src/store/doctor.js'
import { cleanup } from '../helpers.js'
import { BIN, hub as runHub } from '../cli-helpers.js'
import { builtModules, writerSource } from './crash-writer.js'
import { expectKilled, killChildren, killedWhen, killRound, LONG, openHub, prepareRun, SEED, type KillRound } from './kill-harness.js'
import { mulberry32 as prng } from './prng.js'

const ROUNDS = LONG ? 50 : 5

type Kind = 'create-am' | 'create-lww' | 'update-am' | 'update-lww' | 'delete'
const KINDS = new Set<string>(['create-am', 'create-lww', 'update-am', 'update-lww', 'delete'])

interface Ack { objectId: string, commitId: string, kind: Kind, round: number }

interface Round extends KillRound { acks: Ack[], noops: number }

afterEach(async () => {
  await killChildren()
  await cleanup()
})

/** One round of kill-harness.ts: the writer's ACK and NOOP lines. */
async function crashRound (script: string, dir: string, warmDir: string, round: number, seed: number, hot: Array<{ id: string, strategy: string }>, rnd: () => number): Promise<Round> {
  const acks: Ack[] = []
  let noops = 0
  const r = await killRound(script, [dir, String(seed), JSON.stringify(hot), warmDir], round, rnd, text => {
    const [tag, a, b, c] = text.split(' ')
    if (tag === 'ACK' && a !== undefined && b !== undefined && c !== undefined && KINDS.has(c)) {
      acks.push({ objectId: a, commitId: b, kind: c as Kind, round })
      return 'ack'
    }
    if (tag === 'NOOP') {
      noops++
      return 'ok'
    }
    return 'unknown'
  })
  return { ...r, acks, noops }
}

const OPS: Record<Kind, { operation: string, strategy: string }> = {
  'create-am': { operation: 'create', strategy: 'automerge' },
  'create-lww': { operation: 'create', strategy: 'lww' },
  'update-am': { operation: 'update', strategy: 'automerge' },
  'update-lww': { operation: 'update', strategy: 'lww' },
  delete: { operation: 'delete', strategy: '' }
}

/** Every problem with the acknowledged writes, as readable lines (empty = all present). */
async function checkAcks (hub: Hub, acks: Map<string, Ack>): Promise<string[]> {
  const lost: string[] = []
  const byObject = new Map<string, Ack[]>()
  for (const a of acks.values()) {
    const list = byObject.get(a.objectId) ?? []
    list.push(a)
    byObject.set(a.objectId, list)
  }
  for (const [objectId, list] of byObject) {
    const meta = await hub.store.getMeta(objectId)
    const log = new Set<string>(await hub.store.objectCommitIds(asObjectId(objectId)))
    for (const a of list) {
      const where = `round ${a.round} ${a.kind} ${a.commitId} of ${objectId}`
      const env = await hub.store.getEnvelope(a.commitId)
      if (env === undefined) { lost.push(`${where}: commit not stored`); continue }
      const c = parseCommit(env, Infinity)
      const want = OPS[a.kind]
      if (c.objectId !== objectId) lost.push(`${where}: stored commit belongs to ${c.objectId}`)
      if (c.header.operation !== want.operation) lost.push(`${where}: stored commit is a ${c.header.operation}`)
      if (want.strategy !== '' && c.header.commit_strategy !== want.strategy) lost.push(`${where}: stored commit has strategy ${c.header.commit_strategy}`)
      if (!log.has(a.commitId)) lost.push(`${where}: not in the object's log`)
      if (meta === undefined) lost.push(`${where}: object meta missing`)
      else if (a.kind === 'delete' && !meta.deleted) lost.push(`${where}: object not deleted`)
    }
  }
  return lost
}

/** Up to 12 live objects acknowledged in the last rounds: the next writer keeps updating them. */
async function hotObjects (hub: Hub, acks: Ack[]): Promise<Array<{ id: string, strategy: string }>> {
  const out: Array<{ id: string, strategy: string }> = []
  const seen = new Set<string>()
  for (const a of [...acks].reverse()) {
    if (out.length >= 12) break
    if (seen.has(a.objectId)) continue
    seen.add(a.objectId)
    const meta = await hub.store.getMeta(a.objectId)
    if (meta !== undefined && !meta.deleted) out.push({ id: a.objectId, strategy: meta.strategy })
  }
  return out
}

describe('faults: kill -9 during writes', () => {
  it(`every acknowledged write survives ${ROUNDS} crashes; the doctor finds a clean store (seed ${SEED})`, async () => {
    const modules = builtModules()
    const { dir, script, warmDir } = await prepareRun('hub-crash-', 'writer.mjs', Object.values(modules), writerSource(modules))

    const rnd = prng(SEED)
    const acks = new Map<string, Ack>()
    let recent: Ack[] = []
    let hot: Array<{ id: string, strategy: string }> = []
    const started = Date.now()
    let doctorMs = 0
    let commits = 0
    let noops = 0
    const perRound: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const ctx = `seed ${SEED}, round ${round}`
      const r = await crashRound(script, dir, warmDir, round, Math.floor(rnd() * 2 ** 31), hot, rnd)
      expectKilled(r, ctx, 'writer', r.acks.length)
      for (const a of r.acks) {
        expect(acks.has(a.commitId), `${ctx}: commit ${a.commitId} acknowledged twice`).toBe(false)
        acks.set(a.commitId, a)
      }
      perRound.push(r.acks.length)
      noops += r.noops
      if (r.acks.length > 0) recent = [...recent, ...r.acks].slice(-200)

      const hub = await openHub(dir)
      try {
        const lost = await checkAcks(hub, acks)
        expect(lost, `${ctx} (${killedWhen(r)}): acknowledged writes lost`).toEqual([])
        const t = Date.now()
        const report = await doctor(hub)
        doctorMs += Date.now() - t
        const problems = report.tenants.flatMap(x => x.problems)
        expect(problems, `${ctx}: doctor problems`).toEqual([])
        expect(report.clean, `${ctx}: doctor notes ${JSON.stringify(report.tenants.map(x => x.notes))}`).toBe(true)
        commits = report.tenants.reduce((sum, x) => sum + x.commits, 0)
        hot = await hotObjects(hub, recent)
      } finally {
        await hub.close()
      }
    }

    // The command the issue names, once, on the final store.
    if (existsSync(BIN)) {
      const res = await runHub(['doctor', '--dir', dir, '--json'])
      expect(res.code, `hub doctor: ${res.stderr}`).toBe(0)
      expect(JSON.parse(res.stdout)).toMatchObject({ clean: true })
    }

    console.log(`crash: seed ${SEED}, ${ROUNDS} rounds, ${acks.size} acknowledged writes checked (per round: ${perRound.join(' ')}), ${commits} commits in the store, ${noops} no-op updates, ${Date.now() - started} ms (doctor ${doctorMs} ms)`)
  }, LONG ? 400_000 : 120_000)
})
