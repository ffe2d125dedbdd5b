import '../src/shim.js'
/**
 * W2 alone (issue 18): one hub on disk, no network node; one playlist
 * updated with the whole-value `update()` and a second with field-level
 * `change()`, one at a time, each awaited (signed, durable), as the
 * workloads suite's W2 does (bench/workloads-proc.ts). For profiling
 * (`node --cpu-prof dist/bench/w2-profile.js`) and A/B comparisons of two
 * builds, where the full suite is too slow to interleave:
 *
 *   node dist/bench/w2-profile.js [updates=1000] [history=0] [update|change|both]
 *
 * `history` > 0 first takes the update() object to that many commits
 * (untimed), so the timed updates run on a long history (flatness).
 * Prints one JSON line: per operation, the wall time, the CPU time of the
 * whole process (all threads: LevelDB's, GC) and of the main thread alone.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { workloadObject } from './workload-data.js'
import { round, sequential, withTempHub } from './util.js'

const updates = Number(process.argv[2] ?? 1000)
const history = Number(process.argv[3] ?? 0)
/** Which path to run (one alone makes a CPU profile of that path only). */
const mode = process.argv[4] ?? 'both'
const WARMUP = 200

/** This process's CPU time so far, µs (user + system, all threads). */
const cpuUs = (): number => { const c = process.cpuUsage(); return c.user + c.system }
/** The main thread's CPU time so far, µs (utime + stime of its /proc task, clock ticks of 10 ms, so only meaningful over many operations). */
const mainCpuUs = (): number => {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** CPU µs of every thread of this process, by name/tid (libuv's pool, LevelDB's compaction, V8's workers are all 'node' in Node 20). */
const threadCpuUs = (): Map<string, number> => {
  const out = new Map<string, number>()
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const f = readFileSync(`/proc/self/task/${t}/stat`, 'utf8')
      const name = t === String(process.pid) ? 'main' : `${f.slice(f.indexOf('(') + 1, f.lastIndexOf(')'))}/${t}`
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10_000)
    } catch { /* the thread ended */ }
  }
  return out
}

interface Timed { ms: number, cpu: number, main: number, threads: Record<string, number> }
async function timed (n: number, task: (i: number) => Promise<unknown>): Promise<Timed> {
  const c0 = cpuUs()
  const m0 = mainCpuUs()
  const th0 = threadCpuUs()
  const t0 = performance.now()
  await sequential(n, task)
  const ms = (performance.now() - t0) / n
  const threads: Record<string, number> = {}
  for (const [name, us] of threadCpuUs()) {
    const d = (us - (th0.get(name) ?? 0)) / n
    if (d >= 1) threads[name] = round(d, 0)
  }
  return { ms, cpu: (cpuUs() - c0) / n, main: (mainCpuUs() - m0) / n, threads }
}

const revision = (base: Record<string, unknown>, rev: number): Record<string, unknown> =>
  ({ ...base, name: `${String(base['name'])} (rev ${rev})`, numTracks: 2 + (rev % 50) })

await withTempHub(async hub => {
  const base = workloadObject(0)
  const { objectId: u } = await hub.collections.create(base)
  let rev = 1
  const update = async (): Promise<void> => {
    const r = await hub.collections.update(u, revision(base, rev++))
    if (!r.changed) throw new Error('update stored no commit')
  }
  if (mode !== 'change') await sequential(Math.max(WARMUP, history), update)
  const up = mode === 'change' ? { ms: NaN, cpu: NaN, main: NaN, threads: {} } : await timed(updates, update)

  const { objectId: c } = await hub.collections.create(base)
  let n = 0
  const change = async (): Promise<void> => {
    n++
    const r = await hub.collections.change(c, d => { d['name'] = `change ${n}`; d['numTracks'] = 2 + (n % 50) })
    if (!r.changed) throw new Error('change stored no commit')
  }
  if (mode !== 'update') await sequential(WARMUP, change)
  const ch = mode === 'update' ? { ms: NaN, cpu: NaN, main: NaN, threads: {} } : await timed(updates, change)
  const out = {
    updates,
    history: Math.max(WARMUP, history),
    update_per_s: round(1000 / up.ms, 1),
    update_cpu_us: round(up.cpu, 0),
    update_main_us: round(up.main, 0),
    change_per_s: round(1000 / ch.ms, 1),
    change_cpu_us: round(ch.cpu, 0),
    change_main_us: round(ch.main, 0),
    update_threads_us: up.threads,
    change_threads_us: ch.threads
  }
  process.stdout.write(JSON.stringify(out) + '\n')
})
