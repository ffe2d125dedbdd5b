/**
 * Per-owner write leases (src/store/pg-lease.ts) and the fence in PgKv's
 * batches, on a real PostgreSQL (a throwaway cluster, pg-harness.ts): the
 * lease rules in one process, then two real writer processes
 * (fixtures/pg-lease-writer.ts) — one killed with SIGKILL, one paused with
 * SIGSTOP past its lease and woken after the take-over.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PgKv } from '../src/store/pg-kv.js'
import { LeaseKeeper, PgLeases, type Lease } from '../src/store/pg-lease.js'
import { freshNamespace, startPostgres } from './pg-harness.js'

const started = await startPostgres()
const cluster = started.cluster
if (cluster === undefined) process.stderr.write(`test/pg-lease.test.ts: PostgreSQL tests skipped: ${started.reason}\n`)
const closers: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const c of closers.splice(0).reverse()) await c().catch(() => {})
  await cluster?.stop()
})

const b = (s: string): Uint8Array => new TextEncoder().encode(s)

async function leasesFor (namespace: string, holder: string, ttlMs = 60_000): Promise<PgLeases> {
  const l = await PgLeases.open({ url: cluster!.url, namespace, holder, ttlMs })
  closers.push(async () => { await l.close() })
  return l
}

async function kvFor (namespace: string): Promise<PgKv> {
  const kv = await PgKv.open({ url: cluster!.url, namespace, maxConnections: 3 })
  closers.push(async () => { await kv.close() })
  return kv
}

/** Poll `f` until it returns something defined (each try is a database round trip, not a sleep). */
async function until<T> (f: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await f()
    if (v !== undefined) return v
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

const lost = { code: 'unavailable', details: { reason: 'lease_lost' } }
const name = cluster === undefined ? `write leases (skipped: ${started.reason})` : 'write leases on PostgreSQL'

describe.skipIf(cluster === undefined)(name, () => {
  it('go to one holder at a time, with a greater token at every take-over', async () => {
    const ns = freshNamespace()
    const [a, b2] = await Promise.all([leasesFor(ns, 'proc-a'), leasesFor(ns, 'proc-b')])
    const la = await a.acquire('did:example:alice')
    expect(la).toMatchObject({ owner: 'did:example:alice', holder: 'proc-a', token: 1n })
    expect(await b2.acquire('did:example:alice')).toBeUndefined()
    expect(await b2.holderOf('did:example:alice')).toMatchObject({ holder: 'proc-a', token: 1n })
    // Another owner is independent.
    expect(await b2.acquire('did:example:bob')).toMatchObject({ holder: 'proc-b', token: 1n })
    const renewed = await a.renew(la!)
    expect(renewed.token).toBe(1n)
    expect(renewed.expiresAt.getTime()).toBeGreaterThanOrEqual(la!.expiresAt.getTime())
    await a.release(renewed)
    expect(await a.holderOf('did:example:alice')).toBeUndefined()
    const lb = await b2.acquire('did:example:alice')
    expect(lb).toMatchObject({ holder: 'proc-b', token: 2n })
    await expect(a.renew(renewed)).rejects.toMatchObject(lost)
    // Re-taking one's own lease is a take-over too: the older token is fenced off.
    const lb2 = await b2.acquire('did:example:alice')
    expect(lb2?.token).toBe(3n)
  })

  it('gives a free owner to exactly one of many processes asking at once', async () => {
    const ns = freshNamespace()
    const all = await Promise.all(Array.from({ length: 10 }, async (_, i) => await leasesFor(ns, `p${i}`)))
    const got = await Promise.all(all.map(async l => await l.acquire('did:example:carol')))
    expect(got.filter(g => g !== undefined)).toHaveLength(1)
  })

  it('expires by the database clock, and an expired holder can neither write nor block the next one', async () => {
    const ns = freshNamespace()
    const [a, b2] = await Promise.all([leasesFor(ns, 'proc-a', 200), leasesFor(ns, 'proc-b', 60_000)])
    const kv = await kvFor(ns)
    const la = await a.acquire('o')
    await kv.batchFenced([{ type: 'put', key: 'by-a', value: b('1') }], la!)
    // Wait (by polling the database) until it has expired there; not taken yet.
    await until(async () => await a.holderOf('o') === undefined ? true : undefined)
    await expect(kv.batchFenced([{ type: 'put', key: 'late-a', value: b('1') }], la!)).rejects.toMatchObject({ ...lost, details: { ...lost.details, expired: true } })
    // Still the newest token: renewing revives it, and the write goes through.
    const again = await a.renew(la!)
    await kv.batchFenced([{ type: 'put', key: 'late-a', value: b('2') }], again)
    // Once it lapses again, the other process takes over.
    const lb = await until(async () => await b2.acquire('o'))
    expect(lb.token).toBe(2n)
    await expect(kv.batchFenced([{ type: 'put', key: 'stale', value: b('1') }, { type: 'del', key: 'by-a' }], again)).rejects.toMatchObject({ ...lost, details: { ...lost.details, currentToken: '2' } })
    await expect(a.renew(again)).rejects.toMatchObject(lost)
    expect(await kv.get('stale')).toBeUndefined()
    expect(await kv.get('by-a')).toBeDefined()
    await kv.batchFenced([{ type: 'put', key: 'by-b', value: b('1') }], lb)
  })

  it('refuses forged and mismatched fences, writing nothing', async () => {
    const ns = freshNamespace()
    const [a, b2] = await Promise.all([leasesFor(ns, 'proc-a'), leasesFor(ns, 'proc-b')])
    const kv = await kvFor(ns)
    const la = (await a.acquire('alice'))!
    const lb = (await b2.acquire('bob'))!
    const ops = [{ type: 'put' as const, key: 'x', value: b('1') }]
    const forged: Lease[] = [
      { ...la, token: la.token + 1n }, // a token from the future
      { ...la, token: 0n },
      { ...la, owner: 'bob' }, // proc-a's token 1, presented for bob (whose token is also 1)
      { ...lb, holder: 'proc-a' }, // bob's lease claimed by the other process
      { ...la, owner: 'nobody' } // an owner never leased
    ]
    for (const f of forged) await expect(kv.batchFenced(ops, f)).rejects.toMatchObject(lost)
    for (const bad of [undefined, {}, { owner: 'alice', holder: 'proc-a', token: 1 }, { owner: 'alice', token: 1n }]) {
      await expect(kv.batchFenced(ops, bad as unknown as Lease)).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'bad_fence' } })
    }
    expect(await kv.get('x')).toBeUndefined()
    await kv.batchFenced(ops, la)
    await kv.batchFenced(ops, lb)
    // A lease in another namespace does not fence this one's batches.
    const other = await leasesFor(freshNamespace(), 'proc-a')
    const lo = (await other.acquire('carol'))!
    await expect(kv.batchFenced(ops, lo)).rejects.toMatchObject(lost)
  })

  it('refuses bad options with typed errors', async () => {
    const ns = freshNamespace()
    for (const ttlMs of [0, 49, 3_600_001, Number.NaN, 1.5]) {
      await expect(PgLeases.open({ url: cluster!.url, namespace: ns, holder: 'h', ttlMs })).rejects.toMatchObject({ code: 'bad_request', details: { reason: 'bad_ttl' } })
    }
    for (const holder of ['', 'x'.repeat(201), 'a\nb']) {
      await expect(PgLeases.open({ url: cluster!.url, namespace: ns, holder, ttlMs: 1000 })).rejects.toMatchObject({ details: { reason: 'bad_holder' } })
    }
    await expect(PgLeases.open({ url: cluster!.url, namespace: 'has space', holder: 'h', ttlMs: 1000 })).rejects.toMatchObject({ details: { reason: 'bad_namespace' } })
    const l = await leasesFor(ns, 'h', 1000)
    for (const owner of ['', 'x'.repeat(1025), 'a\u0000b']) {
      await expect(l.acquire(owner)).rejects.toMatchObject({ details: { reason: 'bad_owner' } })
    }
    expect(() => new LeaseKeeper({ leases: l, owner: 'o', renewMs: 400 })).toThrow(expect.objectContaining({ details: { reason: 'bad_renew_interval' } }))
    await l.close()
    await expect(l.acquire('o')).rejects.toMatchObject({ code: 'unavailable', details: { reason: 'closed' } })
  })

  it('are kept by a LeaseKeeper, which hands over on stop', async () => {
    const ns = freshNamespace()
    const [a, b2] = await Promise.all([leasesFor(ns, 'proc-a', 300), leasesFor(ns, 'proc-b', 300)])
    const seenA: Array<Lease | undefined> = []
    const ka = new LeaseKeeper({ leases: a, owner: 'o', renewMs: 50, onChange: l => seenA.push(l) })
    ka.start()
    await until(async () => ka.current())
    const kb = new LeaseKeeper({ leases: b2, owner: 'o', renewMs: 50 })
    kb.start()
    // Several of a's renewals go by; b never gets it meanwhile.
    const first = ka.current()!
    await until(async () => (ka.current()?.expiresAt.getTime() ?? 0) > first.expiresAt.getTime() + 200 ? true : undefined)
    expect(kb.current()).toBeUndefined()
    expect(ka.current()?.token).toBe(first.token)
    await ka.stop()
    const lb = await until(async () => kb.current())
    expect(lb.token).toBe(first.token + 1n)
    expect(seenA.map(l => l?.token)).toEqual([first.token, undefined])
    await kb.stop()
  })

  describe('two writer processes', () => {
    let script: string
    let dir: string
    const children = new Set<ChildProcess>()

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pg-lease-'))
      script = join(dir, 'writer.cjs')
      await build({
        entryPoints: [fileURLToPath(new URL('./fixtures/pg-lease-writer.ts', import.meta.url))],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        outfile: script,
        conditions: ['identity-hub-source'],
        external: ['pg-native'],
        logLevel: 'silent'
      })
    })
    afterEach(async () => {
      await Promise.all([...children].map(async c => {
        if (c.exitCode === null && c.signalCode === null) {
          const closed = new Promise(resolve => c.once('close', resolve))
          c.kill('SIGKILL')
          await closed
        }
      }))
      children.clear()
    })
    afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

    interface Writer { child: ChildProcess, lines: string[], waitFor: (p: (line: string) => boolean) => Promise<string> }

    function writer (ns: string, holder: string, ttlMs: number, renewMs: number, stubborn = false): Writer {
      const child = spawn(process.execPath, [script, cluster!.url, ns, 'did:example:owner', holder, String(ttlMs), String(renewMs), ...(stubborn ? ['stubborn'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.add(child)
      const lines: string[] = []
      const waiters: Array<{ p: (l: string) => boolean, resolve: (l: string) => void }> = []
      let buf = ''
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString()
        let i
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i)
          buf = buf.slice(i + 1)
          lines.push(line)
          for (const w of [...waiters]) if (w.p(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line) }
        }
      })
      const waitFor = async (p: (l: string) => boolean): Promise<string> => {
        const done = lines.find(p)
        if (done !== undefined) return done
        return await new Promise((resolve, reject) => {
          waiters.push({ p, resolve })
          child.once('exit', () => { reject(new Error(`${holder} exited; its last lines: ${lines.slice(-5).join(' | ')}`)) })
        })
      }
      return { child, lines, waitFor }
    }

    const acked = (w: Writer): string[] => w.lines.filter(l => l.startsWith('ACK ')).map(l => l.split(' ')[1]!)
    const ackCount = (w: Writer, n: number) => (l: string): boolean => l.startsWith('ACK ') && acked(w).length >= n

    it('kill -9 of the holder: the other takes over within TTL + renew interval, and every acknowledged write is there', async () => {
      const ns = freshNamespace()
      const ttlMs = 1000
      const renewMs = 200
      const a = writer(ns, 'proc-a', ttlMs, renewMs)
      await a.waitFor(l => l.startsWith('LEASE '))
      const b2 = writer(ns, 'proc-b', ttlMs, renewMs)
      await b2.waitFor(l => l === 'READY')
      await a.waitFor(ackCount(a, 50))
      expect(b2.lines.some(l => l.startsWith('ACK ') || l.startsWith('LEASE '))).toBe(false)
      const killedAt = performance.now()
      const exited = new Promise(resolve => a.child.once('exit', resolve))
      a.child.kill('SIGKILL')
      await exited
      await b2.waitFor(l => l.startsWith('LEASE '))
      const takeoverMs = performance.now() - killedAt
      await b2.waitFor(ackCount(b2, 20))
      b2.child.kill('SIGKILL')
      const aToken = BigInt(a.lines.find(l => l.startsWith('LEASE '))!.split(' ')[1]!)
      const bToken = BigInt(b2.lines.find(l => l.startsWith('LEASE '))!.split(' ')[1]!)
      expect(bToken).toBeGreaterThan(aToken)
      const kv = await kvFor(ns)
      const mustHave = [...acked(a), ...acked(b2)]
      const got = await kv.getMany(mustHave)
      expect(mustHave.filter((_, i) => got[i] === undefined)).toEqual([])
      // Nothing but the two writers' keys, and each under the token it was written with.
      for (const [k, v] of await collectEntries(kv)) expect(new TextDecoder().decode(v)).toBe(k.startsWith('w!proc-a!') ? String(aToken) : String(bToken))
      process.stderr.write(`pg-lease: take-over after kill -9 in ${takeoverMs.toFixed(0)} ms (bound: TTL ${ttlMs} + renew ${renewMs} = ${ttlMs + renewMs} ms, plus a round trip); ${acked(a).length} + ${acked(b2).length} acknowledged writes all read back\n`)
    }, 60_000)

    it('a paused holder that wakes after the take-over has its next batch refused by the fence', async () => {
      const ns = freshNamespace()
      const ttlMs = 1000
      const renewMs = 200
      const a = writer(ns, 'proc-a', ttlMs, renewMs, true)
      await a.waitFor(l => l.startsWith('LEASE '))
      const b2 = writer(ns, 'proc-b', ttlMs, renewMs)
      await b2.waitFor(l => l === 'READY')
      await a.waitFor(ackCount(a, 50))
      a.child.kill('SIGSTOP')
      const ackedBeforePause = acked(a)
      // Its lease lapses by the database's clock (a batch it was in the
      // middle of is ended by the server's idle-in-transaction timeout), and
      // b takes over and writes.
      await b2.waitFor(l => l.startsWith('LEASE '))
      await b2.waitFor(ackCount(b2, 20))
      const linesAtWake = a.lines.length
      a.child.kill('SIGCONT')
      // a still believes it holds the lease (stubborn): the fence refuses it.
      await a.waitFor(l => l.startsWith('LOST ') && a.lines.indexOf(l) >= linesAtWake)
      await b2.waitFor(ackCount(b2, acked(b2).length + 20))
      a.child.kill('SIGKILL')
      b2.child.kill('SIGKILL')
      const afterWake = a.lines.slice(linesAtWake)
      // At most the one batch that was in flight at the pause may have been
      // acknowledged after it (it committed before the take-over could: it
      // held the lease row); nothing a wrote after the take-over was.
      const ackAfterWake = afterWake.filter(l => l.startsWith('ACK '))
      expect(ackAfterWake.length).toBeLessThanOrEqual(1)
      const firstLost = afterWake.findIndex(l => l.startsWith('LOST '))
      expect(afterWake.slice(firstLost).filter(l => l.startsWith('ACK '))).toEqual([])
      const kv = await kvFor(ns)
      const mustHave = [...acked(a), ...acked(b2)]
      expect(mustHave.length).toBeGreaterThan(ackedBeforePause.length)
      const got = await kv.getMany(mustHave)
      expect(mustHave.filter((_, i) => got[i] === undefined)).toEqual([])
      const refused = afterWake.filter(l => l.startsWith('LOST ')).map(l => l.split(' ')[1]!)
      expect(refused.length).toBeGreaterThan(0)
      expect((await kv.getMany(refused)).filter(v => v !== undefined)).toEqual([])
      process.stderr.write(`pg-lease: paused holder woke to ${afterWake.map(l => l.split(' ')[0]).join(',')}\n`)
    }, 60_000)
  })
})

async function collectEntries (kv: PgKv): Promise<Array<[string, Uint8Array]>> {
  const out: Array<[string, Uint8Array]> = []
  for await (const e of kv.entries({})) out.push(e)
  return out
}
