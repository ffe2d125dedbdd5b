/**
 * Connection fairness over real HTTP on loopback: one client address must
 * not be able to take every connection slot of the hub's HTTP server.
 *
 * The attacker connects from 127.0.0.2 (its own client address; the whole
 * of 127/8 is local on Linux) and tries to hold more connections than the
 * server's global cap, sending nothing on them and re-opening every one the
 * server closes — refused at once (503 too_many_connections) or timed out
 * (408 after headersTimeoutMs) — until the victim is done. The victim, on
 * 127.0.0.1, opens a fresh connection for every request and must get a
 * normal answer every time. Every loop is bounded and driven by events
 * (connections closing, answers arriving); nothing waits for a fixed time.
 *
 * The server runs with the default connection limits (256 in all, 32 per
 * address); only the header timeout is shortened, so that held
 * connections time out and get re-opened within the test, and the public
 * rate limit is lifted so that the victim's request loop measures
 * connections, not the token bucket.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpServer } from '../../src/http/app.js'
import { DEFAULT_HTTP_LIMITS, type HttpLimits, type HttpServer } from '../../src/http/server.js'
import { cleanup, tempHub } from '../helpers.js'

const ATTACKER = '127.0.0.2'
/** More than the global cap: without a per-address cap the attacker alone fills the server. */
const ATTACKER_CONNECTIONS = DEFAULT_HTTP_LIMITS.maxConnections + 44
/** Upper bounds that end every loop even if the condition it waits for never comes. */
const MAX_VICTIM_REQUESTS = 3000
const MAX_ATTACKER_OPENS = 100_000

const servers: HttpServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close(500)
  await cleanup()
})

interface World { server: HttpServer, port: number, host: string }

async function world (limits: Partial<HttpLimits>): Promise<World> {
  const hub = await tempHub()
  const adminKey = randomBytes(24).toString('base64url')
  const server = createHttpServer(hub, { adminKey, limits })
  const url = await server.listen('127.0.0.1', 0)
  servers.push(server)
  const port = Number(new URL(url).port)
  const host = `127.0.0.1:${port}`
  // A participant whose did.json the victim fetches (a public route that reads the store).
  const res = await fetch(`${url}/api/identity/v1/participants`, {
    method: 'POST',
    headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ participantId: 'acme', did: `did:web:127.0.0.1%3A${port}:org:acme`, active: true })
  })
  expect(res.status).toBe(201)
  return { server, port, host }
}

/** Whether this machine lets a socket bind 127.0.0.2 as its local address (the reason if not). */
async function attackerAddressUsable (port: number): Promise<string | undefined> {
  return await new Promise(resolve => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: ATTACKER })
    s.once('connect', () => { s.destroy(); resolve(undefined) })
    s.once('error', err => { resolve(err.message) })
  })
}

/** Everything the server sends on one connection until it closes it. */
interface Closed { data: string, error?: string }

/** One request on a fresh connection (`connection: close`); resolves with everything received once the server closes. */
async function oneShot (port: number, raw: string, localAddress?: string): Promise<Closed> {
  return await new Promise(resolve => {
    const s = net.connect({ host: '127.0.0.1', port, ...(localAddress !== undefined ? { localAddress } : {}) })
    let data = ''
    let error: string | undefined
    s.setEncoding('latin1')
    s.on('connect', () => { if (raw !== '') s.write(raw) })
    s.on('data', (d: string) => { data += d })
    s.on('error', err => { error = (err as NodeJS.ErrnoException).code ?? err.message })
    s.on('close', () => { resolve({ data, ...(error !== undefined ? { error } : {}) }) })
  })
}

const statusOf = (c: Closed): number | undefined => {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(c.data)
  return m === null ? undefined : Number(m[1])
}
const bodyOf = (c: Closed): unknown => JSON.parse(c.data.slice(c.data.indexOf('\r\n\r\n') + 4))

/**
 * The attacker: keeps `target` idle connections open from 127.0.0.2,
 * re-opening each one as soon as the server closes it, until stop() —
 * or MAX_ATTACKER_OPENS opens, whichever comes first.
 */
class Attacker {
  readonly stats = { opened: 0, refused503: 0, timedOut408: 0, closedOther: 0, maxHeld: 0 }
  /** Connections the server accepted and has not closed (no 503 on them). */
  held = 0
  readonly #sockets = new Set<net.Socket>()
  #stopped = false
  #allClosed: () => void = () => {}
  readonly #waiters: Array<() => void> = []
  readonly done: Promise<void>

  constructor (readonly port: number, readonly target: number) {
    this.done = new Promise(resolve => { this.#allClosed = resolve })
    for (let i = 0; i < target; i++) this.#open()
  }

  /** Resolves the next time the server closes one of our connections (or at once if stopped). */
  async nextClose (): Promise<void> {
    if (this.#stopped) return
    await new Promise<void>(resolve => this.#waiters.push(resolve))
  }

  stop (): void {
    this.#stopped = true
    for (const w of this.#waiters.splice(0)) w()
    for (const s of this.#sockets) s.destroy()
    if (this.#sockets.size === 0) this.#allClosed()
  }

  #open (): void {
    if (this.#stopped || this.stats.opened >= MAX_ATTACKER_OPENS) return
    this.stats.opened++
    const s = net.connect({ host: '127.0.0.1', port: this.port, localAddress: ATTACKER })
    this.#sockets.add(s)
    let data = ''
    let accepted = false
    s.setEncoding('latin1')
    s.on('connect', () => {
      // Counted as held until proven refused: the 503 arrives right after connect if it comes.
      accepted = true
      this.held++
      this.stats.maxHeld = Math.max(this.stats.maxHeld, this.held)
    })
    s.on('data', (d: string) => { data += d })
    s.on('error', () => {})
    s.on('close', () => {
      this.#sockets.delete(s)
      if (accepted) this.held--
      if (!this.#stopped) {
        const status = /^HTTP\/1\.1 (\d{3}) /.exec(data)?.[1]
        if (status === '503' && data.includes('"too_many_connections"')) this.stats.refused503++
        else if (status === '408') this.stats.timedOut408++
        else this.stats.closedOther++
        for (const w of this.#waiters.splice(0)) w()
        this.#open()
      } else if (this.#sockets.size === 0) {
        this.#allClosed()
      }
    })
  }
}

describe('connection fairness (per-address cap)', () => {
  it(`one address holding ${ATTACKER_CONNECTIONS} idle connections (re-opening every closed one) cannot starve another: the victim gets every answer, the attacker's extra connections get 503`, async (ctx) => {
    const w = await world({ headersTimeoutMs: 400, requestTimeoutMs: 800, public: false })
    const why = await attackerAddressUsable(w.port)
    if (why !== undefined) ctx.skip(`cannot use ${ATTACKER} as a local address on this machine (${why}): the fairness test needs a second loopback address`)
    const perClient = DEFAULT_HTTP_LIMITS.maxConnectionsPerClient as number

    const attacker = new Attacker(w.port, ATTACKER_CONNECTIONS)
    try {
      // Let the attacker's first wave land: every one of its connections is either held or refused.
      while (attacker.stats.refused503 < ATTACKER_CONNECTIONS - perClient && attacker.stats.opened < MAX_ATTACKER_OPENS) await attacker.nextClose()
      expect(w.server.connectionsOf(ATTACKER)).toBe(perClient)

      // The victim keeps asking, each time on a new connection, until the attacker has
      // also seen its held connections time out (408) and re-opened them.
      const victim: number[] = []
      let heldAtServerMax = 0
      while (victim.length < MAX_VICTIM_REQUESTS && (attacker.stats.timedOut408 < perClient || victim.length < 20)) {
        const r = await oneShot(w.port, `GET /org/acme/did.json HTTP/1.1\r\nHost: ${w.host}\r\nConnection: close\r\n\r\n`)
        victim.push(statusOf(r) ?? -1)
        heldAtServerMax = Math.max(heldAtServerMax, w.server.connectionsOf(ATTACKER))
      }

      expect(victim.length).toBeGreaterThanOrEqual(20)
      expect(victim.filter(s => s !== 200), `victim answers other than 200 out of ${victim.length}`).toEqual([])
      // Slow-header defence: idle connections (nothing sent) were answered 408 and closed.
      expect(attacker.stats.timedOut408).toBeGreaterThanOrEqual(perClient)
      // The attacker never held more than its share, and was refused for the rest.
      expect(heldAtServerMax).toBeLessThanOrEqual(perClient)
      expect(attacker.stats.refused503).toBeGreaterThanOrEqual(ATTACKER_CONNECTIONS - perClient)
      // (The server may have refused a few more whose close has not reached the attacker yet.)
      expect(w.server.refusedConnections).toBeGreaterThanOrEqual(attacker.stats.refused503)
      expect(attacker.stats.closedOther).toBe(0)
      // The attack went on for the whole victim phase (its bound was not what ended it).
      expect(attacker.stats.opened).toBeLessThan(MAX_ATTACKER_OPENS)
    } finally {
      attacker.stop()
      await attacker.done
    }
    // Everything the attacker had is gone; its address is forgotten.
    while (w.server.connectionsOf(ATTACKER) > 0) {
      await new Promise<void>(resolve => setImmediate(resolve))
    }
    expect(w.server.connectionsOf(ATTACKER)).toBe(0)
  })

  it('a refused connection gets a typed 503 (too_many_connections) and is closed without its request being handled', async (ctx) => {
    const w = await world({ maxConnectionsPerClient: 2, keepAliveTimeoutMs: 60_000, public: false })
    const why = await attackerAddressUsable(w.port)
    if (why !== undefined) ctx.skip(`cannot use ${ATTACKER} as a local address (${why})`)
    const attacker = new Attacker(w.port, 2)
    try {
      while (w.server.connectionsOf(ATTACKER) < 2) await new Promise<void>(resolve => setImmediate(resolve))
      const extra = await oneShot(w.port, `GET /org/acme/did.json HTTP/1.1\r\nHost: ${w.host}\r\n\r\n`, ATTACKER)
      expect(statusOf(extra)).toBe(503)
      expect(bodyOf(extra)).toEqual({ error: { code: 'unavailable', message: 'too many connections from this address: at most 2 at once', details: { reason: 'too_many_connections', maxConnectionsPerClient: 2 } } })
      expect(extra.data).toMatch(/\r\nretry-after: 1\r\n/)
      expect(extra.data).toMatch(/\r\nconnection: close\r\n/)
      expect(w.server.inFlight).toBe(0)
      // Another address is not affected.
      expect(statusOf(await oneShot(w.port, `GET /org/acme/did.json HTTP/1.1\r\nHost: ${w.host}\r\nConnection: close\r\n\r\n`))).toBe(200)
    } finally {
      attacker.stop()
      await attacker.done
    }
    // Once the attacker's connections are closed its address may connect again.
    while (w.server.connectionsOf(ATTACKER) > 0) await new Promise<void>(resolve => setImmediate(resolve))
    expect(statusOf(await oneShot(w.port, `GET /org/acme/did.json HTTP/1.1\r\nHost: ${w.host}\r\nConnection: close\r\n\r\n`, ATTACKER))).toBe(200)
  })

  it('a connection that sends nothing at all is answered 408 and closed after headersTimeoutMs (Node\'s headersTimeout covers silent sockets)', async () => {
    const w = await world({ headersTimeoutMs: 300, requestTimeoutMs: 600 })
    const silent = await oneShot(w.port, '')
    expect(statusOf(silent)).toBe(408)
    expect(bodyOf(silent)).toEqual({ error: { code: 'bad_request', message: 'the request did not arrive in time' } })
  })

  it('maxConnectionsPerClient: false lifts the cap; nonsense values are refused at construction', async () => {
    const w = await world({ maxConnectionsPerClient: false })
    expect(w.server.limits.maxConnectionsPerClient).toBe(false)
    expect(DEFAULT_HTTP_LIMITS.maxConnectionsPerClient).toBe(32)
    const hub = await tempHub()
    for (const bad of [{ maxConnectionsPerClient: 0 }, { maxConnectionsPerClient: 1.5 }, { maxConnectionsPerClient: -3 }, { maxConnections: 0 }, { maxConnections: Number.NaN }, { headersTimeoutMs: 0 }]) {
      expect(() => createHttpServer(hub, { adminKey: 'k'.repeat(16), limits: bad as Partial<HttpLimits> }), JSON.stringify(bad)).toThrow(RangeError)
    }
  })
})
