import '../src/shim.js'
/**
 * W2's other side (issue 18): a second device of the same owner ingesting
 * one object's stream of updates, as sync does — in pages of `page`
 * commits (verifyCommits + ingestMany, one write per page) — and what each
 * commit costs as the object's history grows. Every Automerge update is
 * applied to the object's document on its own (commit-apply.ts
 * ingestOne), so this shows whether that stays flat:
 *
 *   node dist/bench/w2-ingest.js [updates=3000] [page=256] [window=500]
 *
 * Prints one JSON line: CPU µs per ingested commit (whole process) in
 * consecutive windows of whole pages, each at least `window` commits (the
 * last one what is left), in feed order.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hub } from '../src/hub.js'
import { parseCommit, verifyCommits } from '../src/commits/commit.js'
import { workloadObject } from './workload-data.js'
import { round, sequential } from './util.js'

const updates = Number(process.argv[2] ?? 3000)
const page = Number(process.argv[3] ?? 256)
const window = Number(process.argv[4] ?? 500)

const cpuUs = (): number => { const c = process.cpuUsage(); return c.user + c.system }

const root = await mkdtemp(join(tmpdir(), 'hub-bench-w2-ingest-'))
try {
  await Hub.init(join(root, 'a'))
  const a = await Hub.open(join(root, 'a'))
  const owner = a.ownerKey
  if (owner === undefined) throw new Error('hub A holds no owner key')
  await Hub.init(join(root, 'b'), { ownerKey: owner })
  const b = await Hub.open(join(root, 'b'))
  const base = workloadObject(0)
  const { objectId } = await a.collections.create(base)
  await sequential(updates, async i => await a.collections.update(objectId, { ...base, name: `${String(base['name'])} (rev ${i + 1})`, numTracks: 2 + ((i + 1) % 50) }))
  const ids: string[] = []
  for await (const e of a.store.feed(0)) ids.push(e.commitId)
  const envs = (await a.store.getEnvelopes(ids)).map(e => {
    if (e === undefined) throw new Error('a feed commit is missing')
    return e
  })
  await a.close()
  const lookup = async (kid: string): Promise<Uint8Array> => await b.keys.resolveKey(kid)
  const perWindow: number[] = []
  let windowCpu = 0
  let inWindow = 0
  for (let i = 0; i < envs.length; i += page) {
    const c0 = cpuUs()
    const commits = await verifyCommits(envs.slice(i, i + page).map(e => parseCommit(e)), lookup)
    const out = await b.store.ingestMany(commits)
    if (out.some(r => r.status === 'rejected')) throw new Error('a commit was refused')
    windowCpu += cpuUs() - c0
    inWindow += commits.length
    if (inWindow >= window || i + page >= envs.length) { perWindow.push(round(windowCpu / inWindow, 0)); windowCpu = 0; inWindow = 0 }
  }
  const read = await b.collections.read(objectId)
  if (read.commits !== updates + 1) throw new Error(`B holds ${read.commits} commits of the object, expected ${updates + 1}`)
  process.stdout.write(JSON.stringify({ updates, page, window, cpu_us_per_commit_by_window: perWindow }) + '\n')
  await b.close()
} finally {
  await rm(root, { recursive: true, force: true })
}
