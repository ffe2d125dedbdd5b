/**
 * Crash safety of the organization records: kill -9 a hub process at random
 * points during a stream of org operations (participants created, activated,
 * deactivated and deleted; key pairs created, activated, rotated with and
 * without successors and revoked; DID publication and services; credentials
 * stored, revoked and deleted; API keys regenerated). After every crash the
 * records are consistent (checkInvariants, sealed keys opening with the
 * hub's vault) and every acknowledged operation's effect is there.
 *
 * Each round spawns a worker process (org-crash-worker.ts) on the same hub
 * directory, lets it run for a random 20–400 ms after its first
 * acknowledgement (4 operations in flight), then SIGKILLs it. Every fifth
 * round kills it early instead (within 150 ms of starting to open the hub).
 * State accumulates across rounds.
 *
 * The check: the worker announces each operation (BEGIN n) before calling
 * the store and acknowledges it (ACK n) once it resolved. The store runs
 * operations one at a time in call order and commits each as one batch, so
 * after the kill the store must hold exactly the effects of operations
 * 0..k-1 for some k between (last ACK + 1) and the number announced: the
 * test replays the announced operations on a model and requires the store
 * to equal the model after some such prefix. That is every acknowledged
 * operation present (unless a later one undid it: an acknowledged rotation
 * leaves the old key ROTATED without its private key and the successor
 * ACTIVATED with one, unless a later revoke or delete followed…), no
 * operation half-applied (it would match no prefix), and nothing that was
 * never announced. API keys returned by acknowledged creates and
 * regenerations must still authenticate unless a later regeneration may
 * have replaced them. The acknowledgements themselves must be a prefix of
 * the announced operations (commits in call order).
 *
 * Profiles: 8 rounds by default (npm test), 50 with FAULTS_LONG=1
 * (npm run test:faults). FAULTS_SEED=<n> replays a run's random choices
 * (kill times are wall-clock, so a replay is similar, not identical).
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Hub } from '../../src/hub.js'
import { checkInvariants } from '../../src/org/invariants.js'
import { Vault } from '../../src/org/vault.js'
import { cleanup } from '../helpers.js'
import { expectKilled, killChildren, killedWhen, killRound, LONG, openHub, prepareRun, SEED, type KillRound } from './kill-harness.js'
import { builtModules, workerSource, type WorkerAck, type WorkerOp } from './org-crash-worker.js'
import { mulberry32 as prng } from './prng.js'
import { orgOf } from '../../src/org/hub-org.js'

const ROUNDS = LONG ? 50 : 8

interface Round extends KillRound { begun: WorkerOp[], acks: Map<number, WorkerAck>, ackOrder: number[] }

afterEach(async () => {
  await killChildren()
  await cleanup()
})

/** One round of kill-harness.ts: the worker's BEGIN and ACK lines. */
async function crashRound (script: string, dir: string, warmDir: string, round: number, seed: number, rnd: () => number): Promise<Round> {
  const begun: WorkerOp[] = []
  const acks = new Map<number, WorkerAck>()
  const ackOrder: number[] = []
  const r = await killRound(script, [dir, String(seed), String(round), warmDir], round, rnd, (text, errors) => {
    const m = /^(BEGIN|ACK) (\d+) (\{.*\})$/.exec(text)
    if (m === null) return 'unknown'
    const n = Number(m[2])
    const body = JSON.parse(m[3] ?? '') as unknown
    if (m[1] === 'BEGIN') {
      if (n !== begun.length) errors.push(`BEGIN ${n} out of order (expected ${begun.length})`)
      begun.push(body as WorkerOp)
      return 'ok'
    }
    acks.set(n, body as WorkerAck)
    ackOrder.push(n)
    return 'ack'
  })
  return { ...r, begun, acks, ackOrder }
}

// ── the model ───────────────────────────────────────────────────────────

/** What the test can observe of a participant, plus the API key it last learnt (not observable). */
interface PState {
  did: string
  state: string
  didState: string
  /** Service fragments (`#…`). */
  services: Set<string>
  /** keyId → [state, has a private key] */
  keys: Map<string, [string, boolean]>
  /** credentialId → state */
  creds: Map<string, string>
  /** Known to authenticate, if defined. */
  apiKey: string | undefined
}

type Model = Map<string, PState>

function cloneModel (m: Model): Model {
  return new Map([...m].map(([pid, p]) => [pid, { ...p, services: new Set(p.services), keys: new Map(p.keys), creds: new Map(p.creds) }]))
}

/** The observable state as a canonical string (sorted, no API keys). */
function canonical (m: Model): string {
  const sorted = <T>(entries: Iterable<[string, T]>): Array<[string, T]> => [...entries].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
  return JSON.stringify(sorted(m).map(([pid, p]) => [pid, p.did, p.state, p.didState, [...p.services].sort(), sorted(p.keys), sorted(p.creds)]))
}

/** Apply operation `o` (acknowledged as `ack`, if it was) to the model, as OrgStore would. */
function apply (m: Model, o: WorkerOp, ack: WorkerAck | undefined): void {
  if (o.op === 'create') {
    m.set(o.pid, {
      did: o.did,
      state: o.active ? 'ACTIVATED' : 'CREATED',
      didState: o.active ? 'PUBLISHED' : 'UNPUBLISHED',
      services: new Set(o.services),
      keys: new Map([[o.keyId, ['ACTIVATED', !o.imported]]]),
      creds: new Map(),
      apiKey: ack?.apiKey
    })
    return
  }
  const p = m.get(o.pid)
  if (p === undefined) throw new Error(`model: operation ${JSON.stringify(o)} on a participant that does not exist`)
  const key = (keyId: string): [string, boolean] => {
    const k = p.keys.get(keyId)
    if (k === undefined) throw new Error(`model: ${JSON.stringify(o)} on a key that does not exist`)
    return k
  }
  switch (o.op) {
    case 'delete': m.delete(o.pid); break
    case 'activate': p.state = 'ACTIVATED'; p.didState = 'PUBLISHED'; break
    case 'deactivate': p.state = 'DEACTIVATED'; p.didState = 'UNPUBLISHED'; break
    // Unacknowledged: the new key is unknown, and the old one may be dead.
    case 'apikey': p.apiKey = ack?.apiKey; break
    case 'key': p.keys.set(o.keyId, [o.activate ? 'ACTIVATED' : 'CREATED', !o.imported]); break
    case 'activate-key': p.keys.set(o.keyId, ['ACTIVATED', key(o.keyId)[1]]); break
    case 'rotate':
      key(o.keyId)
      p.keys.set(o.keyId, ['ROTATED', false])
      if (o.successor !== undefined) p.keys.set(o.successor.keyId, ['ACTIVATED', !o.successor.imported])
      break
    case 'revoke': key(o.keyId); p.keys.set(o.keyId, ['REVOKED', false]); break
    case 'publish': p.didState = 'PUBLISHED'; break
    case 'unpublish': p.didState = 'UNPUBLISHED'; break
    case 'add-service': p.services.add(o.fragment); break
    case 'remove-service': p.services.delete(o.fragment); break
    case 'cred': for (const id of o.ids) p.creds.set(id, 'ISSUED'); break
    case 'revoke-cred': p.creds.set(o.id, 'REVOKED'); break
    case 'delete-cred': p.creds.delete(o.id); break
  }
}

/** The store's organization state, in model form (API keys unknown). */
async function observe (hub: Hub): Promise<Model> {
  const m: Model = new Map()
  for (const p of await orgOf(hub).listParticipants()) {
    const d = await orgOf(hub).getDid(p.participantId)
    m.set(p.participantId, {
      did: p.did,
      state: p.state,
      didState: d.state,
      services: new Set(d.services.map(s => s.id.slice(s.id.indexOf('#')))),
      keys: new Map((await orgOf(hub).listKeyPairs(p.participantId)).map(k => [k.keyId, [k.state, k.hasPrivateKey]])),
      creds: new Map((await orgOf(hub).listCredentials(p.participantId)).map(c => [c.credentialId, c.state])),
      apiKey: undefined
    })
  }
  return m
}

/** What an acknowledgement must report, given its operation. */
function expectedAck (o: WorkerOp): Partial<WorkerAck> {
  switch (o.op) {
    case 'create': return { keyIds: [o.keyId] }
    case 'key': case 'activate-key': case 'revoke': return { keyIds: [o.keyId] }
    case 'rotate': return { keyIds: [o.keyId, ...(o.successor !== undefined ? [o.successor.keyId] : [])] }
    case 'cred': return { ids: o.ids }
    case 'revoke-cred': case 'delete-cred': return { ids: [o.id] }
    default: return {}
  }
}

describe('faults: kill -9 during organization operations', () => {
  it(`every acknowledged org operation survives ${ROUNDS} crashes, all-or-nothing; the records stay consistent (seed ${SEED})`, async () => {
    const modules = builtModules()
    const { dir, script, warmDir } = await prepareRun('hub-org-crash-', 'org-worker.mjs', Object.values(modules), workerSource(modules))

    const rnd = prng(SEED)
    let model: Model = new Map()
    const started = Date.now()
    const perRound: string[] = []
    let acked = 0
    let inDoubt = 0
    for (let round = 0; round < ROUNDS; round++) {
      const ctx = `seed ${SEED}, round ${round}`
      const r = await crashRound(script, dir, warmDir, round, Math.floor(rnd() * 2 ** 31), rnd)
      expectKilled(r, ctx, 'worker', r.acks.size)
      // Operations complete in call order: the acknowledgements are 0, 1, 2, … in that order.
      expect(r.ackOrder, `${ctx}: acknowledgements are not a prefix of the operations`).toEqual(r.ackOrder.map((_, i) => i))
      const lastAck = r.ackOrder.length - 1
      for (const [n, ack] of r.acks) {
        const o = r.begun[n]
        expect(o, `${ctx}: ACK ${n} without BEGIN`).toBeDefined()
        expect(ack, `${ctx}: ACK ${n} of ${JSON.stringify(o)}`).toMatchObject({ op: o?.op, pid: o?.pid, ...(o !== undefined ? expectedAck(o) : {}) })
      }

      const hub = await openHub(dir)
      try {
        const vault = new Vault(hub.hubKey.exportSeed())
        expect(await checkInvariants(hub.kv, vault), `${ctx}: invariants`).toEqual([])

        // The store must be the model after operations 0..k-1, for some k ≥ lastAck + 1.
        const actual = canonical(await observe(hub))
        const m = cloneModel(model)
        for (let n = 0; n <= lastAck; n++) apply(m, r.begun[n]!, r.acks.get(n))
        const atLastAck = cloneModel(m)
        let match: { k: number, model: Model } | undefined = canonical(m) === actual ? { k: lastAck + 1, model: cloneModel(m) } : undefined
        for (let n = lastAck + 1; n < r.begun.length; n++) {
          apply(m, r.begun[n]!, undefined)
          if (canonical(m) === actual) match = { k: n + 1, model: cloneModel(m) }
        }
        if (match === undefined) {
          expect(JSON.parse(actual), `${ctx} (${killedWhen(r)}): the store is not the result of any prefix of the ${r.begun.length} operations that includes the ${lastAck + 1} acknowledged ones; compared with the state at the last acknowledgement`).toEqual(JSON.parse(canonical(atLastAck)))
          expect.unreachable(`${ctx}: no prefix matches (and the state at the last acknowledgement does)`)
          return
        }
        model = match.model
        inDoubt += r.begun.length - r.acks.size

        // API keys learnt from acknowledged creates and regenerations still work.
        for (const [pid, p] of model) {
          if (p.apiKey === undefined) continue
          const who = await orgOf(hub).authenticateApiKey(p.apiKey).catch((err: unknown) => err)
          expect(who, `${ctx}: the acknowledged API key of "${pid}" no longer authenticates`).toMatchObject({ participantId: pid })
        }

        // Every participant's signing key, if it has one, opens and signs.
        for (const [pid, p] of model) {
          if (![...p.keys.values()].some(([state, priv]) => state === 'ACTIVATED' && priv)) continue
          const key = await orgOf(hub).signingKey(pid)
          expect(key.sign(new Uint8Array([1, 2, 3])).length, `${ctx}: ${pid}`).toBe(64)
        }
        acked += r.acks.size
        perRound.push(`${r.acks.size}/${r.begun.length}→${match.k}`)
      } finally {
        await hub.close()
      }
    }
    const stats = [...model.values()].reduce((s, p) => ({ keys: s.keys + p.keys.size, creds: s.creds + p.creds.size }), { keys: 0, creds: 0 })
    console.log(`org crash: seed ${SEED}, ${ROUNDS} rounds, ${acked} acknowledged operations checked, ${inDoubt} in flight at a kill (per round acked/issued→applied: ${perRound.join(' ')}), final store: ${model.size} participants, ${stats.keys} key pairs, ${stats.creds} credentials, ${Date.now() - started} ms`)
  }, LONG ? 400_000 : 120_000)
})
