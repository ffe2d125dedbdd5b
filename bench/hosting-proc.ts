import '../src/shim.js'
/**
 * One hosting process of the hosting bench (bench/hosting.ts): the real
 * hosting hub a `hub start` runs (compose.startHosting: HostedOwners, the
 * HostingNode on loopback TCP, on PostgreSQL the shard leases, inbox and
 * follow loops of net/hosting/cluster.ts), driven by the bench over
 * stdin/stdout, one JSON command a line, one JSON answer a line:
 *
 *   {"cmd":"add","file":F,"from":i,"to":j}      host owners i..j-1 of F (bench/hosting-data.ts)
 *   {"cmd":"ingest","file":F,"from":i,"to":j}   ingest their commits, as the replication path does
 *   {"cmd":"stats"}                              RSS, live heap after a full GC, shards held
 *   {"cmd":"stop"}                               stop the node, close the hub, exit
 *
 * Ingest is what Replication does with a page pulled from a device: the
 * page's commits verified, then `store.ingestMany` when this process
 * holds the owner's writes, or the page forwarded through the database to
 * the holder otherwise (node.ts forwardingStore). INGEST_CONCURRENCY
 * owners at a time, pages of PAGE commits (sync/ pages are of that order).
 *
 *   node --expose-gc dist/bench/hosting-proc.js '{"dir":…,"expectShards":64}'
 */
import { createInterface } from 'node:readline'
import { performance } from 'node:perf_hooks'
import { parseCommit, verifyCommit, type VerifiedCommit } from '../src/commits/commit.js'
import { startHosting } from '../src/compose.js'
import { toHubError } from '../src/errors.js'
import { Hub } from '../src/hub.js'
import type { Did } from '../src/ids.js'
import { silentLogger } from '../src/log.js'
import { resultError, type InboxResult } from '../src/net/hosting/inbox.js'
import { readSources, type OwnerSource } from './hosting-data.js'

const INGEST_CONCURRENCY = 64
const PAGE = 100

interface Args { dir: string, expectShards?: number }

const args = JSON.parse(process.argv[2] ?? '{}') as Args

function live (): { rssMiB: number, heapMiB: number } {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const m = process.memoryUsage()
  return { rssMiB: m.rss / 1048576, heapMiB: (m.heapUsed + m.external) / 1048576 }
}

const before = live()
const t0 = performance.now()
const hub = await Hub.open(args.dir, { logger: silentLogger })
const tHub = performance.now()
const hosting = await startHosting(hub, { listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger })
const startMs = performance.now() - tHub
const node = hosting.node
const owners = node.owners
const cluster = owners.cluster
// On PostgreSQL: wait until this process holds what the bench expects (all shards for the first process, none for a second).
if (cluster !== undefined) {
  const want = args.expectShards ?? cluster.shards
  const deadline = Date.now() + 30_000
  while (cluster.held().length < want && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
}
const opened = live()

function send (msg: unknown): void {
  process.stdout.write(JSON.stringify(msg) + '\n')
}

send({
  ready: true,
  addr: node.multiaddrs()[0],
  owners: owners.size,
  hubOpenMs: tHub - t0,
  startMs,
  held: cluster?.held().length ?? null,
  rssBeforeMiB: before.rssMiB,
  rssMiB: opened.rssMiB,
  heapMiB: opened.heapMiB
})

async function add (file: string, from: number, to: number): Promise<unknown> {
  const t = performance.now()
  let n = 0
  for await (const { source } of readSources(file, from, to)) {
    await owners.add({ ownerDid: source.did as Did, role: 'blind', commits: source.welcome, peers: [] })
    n++
  }
  return { added: n, ms: performance.now() - t }
}

interface Counts { direct: number, forwarded: number, retried: number, refused: Record<string, number>, retriedWhy: Record<string, number> }

/** Why a commit was refused: its code, and the reason when there is one. */
function why (err: unknown): string {
  const e = toHubError(err)
  const reason = e.details?.reason
  return typeof reason === 'string' ? `${e.code}/${reason}` : e.code
}

/**
 * Refusals a replicator gets over again later (the page is pulled again;
 * ingest is idempotent): the write lease moved meanwhile, or a forwarded
 * page found no holder to answer it within the forward timeout (30 s).
 */
const AGAIN = new Set(['unavailable/lease_lost', 'unavailable/not_write_holder', 'unavailable/no_write_holder'])
const MAX_TRIES = 20

async function ingestPage (did: string, page: string[], counts: Counts): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let refused: Array<{ env: string, why: string }>
    if (cluster !== undefined && !cluster.holds(did)) {
      const r = await cluster.forward(did, { kind: 'ingest', envelopes: page })
      const results = r.ok ? r.value as InboxResult[] : page.map(() => r)
      refused = results.flatMap((x, i) => x.ok ? [] : [{ env: page[i] as string, why: why(resultError(x.error)) }])
      counts.forwarded += page.length - refused.length
    } else {
      const o = await owners.ensure(did)
      if (o === undefined) throw new Error(`owner ${did} is not hosted`)
      const hub = o.hub
      const lookup = async (kid: string): Promise<Uint8Array> => await hub.keys.resolveKey(kid)
      const verified = await Promise.all(page.map(async env => await verifyCommit(parseCommit(env, hub.config.limits.maxCommitBytes), lookup)))
      const settled = await hub.store.ingestMany(verified as VerifiedCommit[])
      refused = settled.flatMap((x, i) => x.status === 'fulfilled' ? [] : [{ env: page[i] as string, why: why(x.reason) }])
      counts.direct += page.length - refused.length
    }
    const again = refused.filter(x => AGAIN.has(x.why))
    for (const x of refused) if (!AGAIN.has(x.why) || attempt >= MAX_TRIES) counts.refused[x.why] = (counts.refused[x.why] ?? 0) + 1
    if (again.length === 0 || attempt >= MAX_TRIES) return
    counts.retried += again.length
    for (const x of again) counts.retriedWhy[x.why] = (counts.retriedWhy[x.why] ?? 0) + 1
    page = again.map(x => x.env)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function ingestOwner (s: OwnerSource, counts: Counts): Promise<void> {
  for (let i = 0; i < s.commits.length; i += PAGE) await ingestPage(s.did, s.commits.slice(i, i + PAGE), counts)
}

async function ingest (file: string, from: number, to: number): Promise<unknown> {
  const counts: Counts = { direct: 0, forwarded: 0, retried: 0, refused: {}, retriedWhy: {} }
  const cpu0 = process.cpuUsage()
  const t = performance.now()
  const running = new Set<Promise<void>>()
  for await (const { source } of readSources(file, from, to)) {
    const p: Promise<void> = ingestOwner(source, counts).finally(() => { running.delete(p) })
    running.add(p)
    if (running.size >= INGEST_CONCURRENCY) await Promise.race(running)
  }
  await Promise.all(running)
  for (const o of owners.all()) await o.hub.store.idle()
  const cpu = process.cpuUsage(cpu0)
  return { ...counts, ms: performance.now() - t, cpuMs: (cpu.user + cpu.system) / 1000 }
}

async function handle (line: string): Promise<unknown> {
  const c = JSON.parse(line) as { cmd: string, file?: string, from?: number, to?: number }
  switch (c.cmd) {
    case 'add': return await add(c.file as string, c.from ?? 0, c.to ?? Infinity)
    case 'ingest': return await ingest(c.file as string, c.from ?? 0, c.to ?? Infinity)
    case 'stats': return { ...live(), owners: owners.size, held: cluster?.held().length ?? null }
    case 'stop':
      await hosting.stop()
      await hub.close()
      return { stopped: true }
    default: throw new Error(`unknown command ${c.cmd}`)
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue
  try {
    const r = await handle(line)
    send({ ok: true, ...(r as object) })
    if ((r as { stopped?: boolean }).stopped === true) break
  } catch (err) {
    const e = toHubError(err)
    send({ ok: false, code: e.code, message: e.message })
  }
}
process.exit(0)
