/**
 * Load test (issue 7): many concurrent app clients on one hub, each a
 * distinct app identity with its own grant and its own HubClient (its own
 * libp2p node and connection), in a closed loop of reads, queries and — for
 * a few writers — creates and updates, for a fixed time. Asserts zero
 * errors and that every acknowledged write is on the hub; reports p50/p99
 * latency and requests per second (no timing assertions).
 *
 * Short profile: 10 clients for 3 s; FAULTS_LONG=1: 50 clients for 30 s.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HubClient, type ClientQuery } from '../../src/client/index.js'
import { HubError } from '../../src/errors.js'
import { Ed25519KeyPair } from '../../src/identity/keys.js'
import { createLogger } from '../../src/log.js'
import { cleanup, playlist } from '../helpers.js'
import { founder, stopAll, type Running } from '../net-helpers.js'

const LONG = process.env.FAULTS_LONG === '1'
const CLIENTS = LONG ? 50 : 10
const DURATION_MS = LONG ? 30_000 : 3_000
/** One client in five writes (CRU-); the others only read (-R--). */
const WRITER_EVERY = 5
/** Spacing between client connects: well under libp2p's 100 new connections/s/host the hub accepts. */
const CONNECT_STAGGER_MS = 25
const PLAYLISTS = 40
const CTX = 'https://schema.org'
const TYPE = 'MusicPlaylist'

const clients: HubClient[] = []

afterEach(async () => {
  await Promise.all(clients.splice(0).map(async c => { await c.close().catch(() => {}) }))
  await stopAll()
  await cleanup()
})

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))
  return sorted[i] as number
}

function fmt (ms: number): string { return `${ms.toFixed(1)} ms` }

type Op = 'read' | 'query' | 'query-page' | 'write' | 'update'

interface Failure { client: number, op: Op | 'connect', code: string, message: string }

function describeError (err: unknown): { code: string, message: string } {
  if (err instanceof HubError) return { code: err.code, message: err.message }
  if (err instanceof Error) return { code: err.name, message: err.message }
  return { code: 'unknown', message: String(err) }
}

function addr (r: Running): string {
  const a = r.node.multiaddrs()[0]
  if (a === undefined) throw new Error('hub is not listening')
  return a
}

describe('fault: load', () => {
  it(`${CLIENTS} concurrent app clients for ${DURATION_MS / 1000} s: no errors`, { timeout: DURATION_MS + (LONG ? 120_000 : 25_000) }, async () => {
    // The hub's own warnings and errors (e.g. a request that failed inside the hub) count as errors too.
    const hubLogs: string[] = []
    const a = await founder({ logger: createLogger('hub', 'warn', line => { hubLogs.push(line) }) })
    const seeded: string[] = []
    for (let i = 0; i < PLAYLISTS; i++) {
      seeded.push((await a.hub.collections.create(playlist(`load ${String(i).padStart(3, '0')}`, ['One', 'Two', 'Three']))).objectId)
    }
    const identities = Array.from({ length: CLIENTS }, () => Ed25519KeyPair.generate())
    const isWriter = (i: number): boolean => i % WRITER_EVERY === 0
    for (const [i, id] of identities.entries()) {
      await a.hub.permissions.grant({ grantee: id.did, context: CTX, type: TYPE, allow: isWriter(i) ? 'CRU-' : '-R--' })
    }

    const failures: Failure[] = []
    const latencies = new Map<Op, number[]>()
    const record = (op: Op, ms: number): void => {
      const l = latencies.get(op) ?? []
      l.push(ms)
      latencies.set(op, l)
    }
    const requestLatencies = new Map<string, number[]>()
    const recordRequest = (kind: string, ms: number): void => {
      const l = requestLatencies.get(kind) ?? []
      l.push(ms)
      requestLatencies.set(kind, l)
    }
    let measuring = false

    // Connect with a little stagger; a failed connect is an error like any other.
    const t0 = performance.now()
    const connected = await Promise.all(identities.map(async (identity, i) => {
      await sleep(i * CONNECT_STAGGER_MS)
      try {
        const c = await HubClient.connect({ hub: addr(a), identity, owner: a.hub.did })
        clients.push(c)
        // Time every request on the wire too (an update is read + export + read + update).
        const send = c.request.bind(c)
        c.request = async (iface, method, params, opts) => {
          const t = performance.now()
          const r = await send(iface, method, params, opts)
          if (measuring) recordRequest(`${iface}.${method}`, performance.now() - t)
          return r
        }
        return c
      } catch (err) {
        failures.push({ client: i, op: 'connect', ...describeError(err) })
        return undefined
      }
    }))
    const connectMs = performance.now() - t0

    /** Per writer: its objects and the revision it last wrote to each (to check nothing acknowledged is lost). */
    const written = new Map<string, number>()
    let seq = 0
    const start = performance.now()
    const until = start + DURATION_MS
    measuring = true
    await Promise.all(connected.map(async (c, i) => {
      if (c === undefined) return
      const mine: string[] = []
      let n = 0
      while (performance.now() < until) {
        n++
        const x = Math.random()
        let op: Op
        if (isWriter(i) && x < 0.15) op = 'write'
        else if (isWriter(i) && x < 0.30 && mine.length > 0) op = 'update'
        else if (x < 0.70) op = 'read'
        else if (x < 0.90) op = 'query'
        else op = 'query-page'
        const t = performance.now()
        try {
          switch (op) {
            case 'read': {
              const id = seeded[Math.floor(Math.random() * seeded.length)] as string
              const o = await c.collections.read(id)
              if (o.objectId !== id || o.value === null) throw new Error(`read ${id} returned ${o.objectId} / ${o.value === null ? 'no value' : 'a value'}`)
              break
            }
            case 'query': {
              const q: ClientQuery = { context: CTX, type: TYPE, where: [{ field: 'name', op: 'gte', value: `load ${String(Math.floor(Math.random() * PLAYLISTS)).padStart(3, '0')}` }], limit: 10 }
              const page = await c.collections.query(q)
              if (page.objects.length === 0) throw new Error('a query that must match returned nothing')
              break
            }
            case 'query-page': {
              // Two pages of everything, newest first.
              const first = await c.collections.query({ context: CTX, type: TYPE, sort: '-updated', limit: 25 })
              if (first.cursor !== null) await c.collections.query({ context: CTX, type: TYPE, sort: '-updated', limit: 25, cursor: first.cursor })
              break
            }
            case 'write': {
              const rev = ++seq
              const { objectId } = await c.collections.write({ ...playlist(`client ${i} #${n}`), rev })
              mine.push(objectId)
              written.set(objectId, rev)
              break
            }
            case 'update': {
              const id = mine[Math.floor(Math.random() * mine.length)] as string
              const rev = ++seq
              await c.collections.change(id, d => { d.rev = rev; d.description = `updated by client ${i}` })
              written.set(id, rev)
              break
            }
          }
          record(op, performance.now() - t)
        } catch (err) {
          failures.push({ client: i, op, ...describeError(err) })
          // Keep going: every error is collected and reported.
        }
      }
    }))
    measuring = false
    const elapsed = performance.now() - start

    const summary = (name: string, l: number[]): string => {
      l.sort((x, y) => x - y)
      return `${name.padEnd(20)} n=${String(l.length).padStart(6)}  p50 ${fmt(percentile(l, 50)).padStart(9)}  p99 ${fmt(percentile(l, 99)).padStart(9)}  max ${fmt(l[l.length - 1] ?? NaN).padStart(9)}`
    }
    const requests = [...requestLatencies.values()].flat()
    const ops = [...latencies.values()].flat()
    const total = requests.length
    const secs = elapsed / 1000
    console.log(`[load] ${CLIENTS} clients (${identities.filter((_, i) => isWriter(i)).length} writers) connected in ${fmt(connectMs)}; ran ${secs.toFixed(1)} s: ${total} requests = ${(total / secs).toFixed(0)} req/s, ${ops.length} operations = ${(ops.length / secs).toFixed(0)} ops/s`)
    console.log(`[load] ${summary('all requests', requests)}`)
    for (const [kind, l] of [...requestLatencies.entries()].sort()) console.log(`[load]   ${summary(kind, l)}`)
    console.log(`[load] ${summary('all operations', ops)}`)
    for (const [op, l] of [...latencies.entries()].sort()) console.log(`[load]   ${summary(op, l)}`)
    if (failures.length > 0) {
      const byCode = new Map<string, number>()
      for (const f of failures) byCode.set(`${f.op}:${f.code}`, (byCode.get(`${f.op}:${f.code}`) ?? 0) + 1)
      console.error(`[load] ${failures.length} errors: ${JSON.stringify(Object.fromEntries(byCode))}\n${failures.slice(0, 10).map(f => `  client ${f.client} ${f.op}: ${f.code}: ${f.message}`).join('\n')}`)
    }
    if (hubLogs.length > 0) console.error(`[load] the hub logged ${hubLogs.length} warnings/errors:\n${hubLogs.slice(0, 10).join('\n')}`)
    expect(failures, 'errors under load').toEqual([])
    expect(hubLogs, 'warnings or errors logged by the hub').toEqual([])
    expect(total).toBeGreaterThan(0)

    // Every acknowledged write is on the hub, at the revision last acknowledged.
    const ids = [...written.keys()]
    const metas = await a.hub.store.getMetas(ids)
    ids.forEach((id, k) => {
      expect(metas[k]?.value?.rev, `object ${id}`).toBe(written.get(id))
    })
    // The hub is still healthy: no connection of a client was lost.
    for (const c of clients) {
      const state = await Promise.race([c.closed.then(e => e?.code ?? 'closed'), sleep(0).then(() => 'open')])
      expect(state).toBe('open')
    }
  })
})
