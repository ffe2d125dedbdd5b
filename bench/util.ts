/**
 * Shared helpers for the benchmark suites: statistics, a concurrency pool,
 * throwaway hubs on disk, an RSS sampler and stderr progress output.
 * Nothing here writes to stdout: stdout carries only the final JSON.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Hub } from '../src/hub.js'

/**
 * The CPU-profile directory named by an environment variable, created if set.
 * Profiling is opt-in per suite because the profiler's overhead makes the
 * figures of that run incomparable with unprofiled ones.
 */
export async function cpuProfileDir (envName: string): Promise<string | undefined> {
  const value = process.env[envName]
  if (value === undefined || value === '') return undefined
  const dir = resolve(value)
  await mkdir(dir, { recursive: true })
  return dir
}

/** A flat record of figures, the shape every suite returns. */
export type Figures = Record<string, number | string>

export interface SuiteOptions {
  /** Smaller N for a smoke run; figures are then not comparable to targets. */
  quick: boolean
}

/** One benchmark suite. Add a module exporting one of these and list it in run.ts. */
export interface Suite {
  name: string
  /** Comparable targets for this suite's headline figures. */
  targets?: Record<string, Target>
  run: (opts: SuiteOptions) => Promise<Figures>
}

/** A figure must be at least `min` or at most `max`. */
export interface Target { min?: number, max?: number, unit: string }

/** Progress output: stderr only. */
export function progress (msg: string): void {
  console.error(`[bench] ${msg}`)
}

export function round (x: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median (xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of an empty list')
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/**
 * Nearest-rank percentile (p in 0..100) of a non-empty list. With 50 samples
 * p99 is the largest sample.
 */
export function percentile (xs: readonly number[], p: number): number {
  if (xs.length === 0) throw new Error('percentile of an empty list')
  const s = [...xs].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * s.length))
  return s[Math.min(rank, s.length) - 1] as number
}

/** `name` = median, `name_min`, `name_max` over the runs. */
export function summarize (name: string, runs: readonly number[], digits = 2): Figures {
  return {
    [name]: round(median(runs), digits),
    [`${name}_min`]: round(Math.min(...runs), digits),
    [`${name}_max`]: round(Math.max(...runs), digits)
  }
}

/**
 * Run `task(0..n-1)` keeping at most `inFlight` calls pending at once (a
 * sliding window: a new call starts as soon as one finishes). Rejects on the
 * first failure, after the calls already started have settled.
 */
export async function pool (n: number, inFlight: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  let failure: { err: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (failure === undefined) {
      const i = next++
      if (i >= n) return
      try {
        await task(i)
      } catch (err) {
        failure ??= { err }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker))
  if (failure !== undefined) throw failure.err
}

/** Run `task(0..n-1)` one at a time. */
export async function sequential (n: number, task: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i++) await task(i)
}

/** Wall time of `fn` in milliseconds. */
export async function timeMs (fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

/**
 * A fresh hub in its own directory under os.tmpdir() (real LevelDB on
 * disk), handed to `fn`, then closed and removed whatever happens.
 */
export async function withTempHub<T> (fn: (hub: Hub) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'hub-bench-'))
  let hub: Hub | undefined
  try {
    await Hub.init(dir)
    hub = await Hub.open(dir)
    return await fn(hub)
  } finally {
    try {
      if (hub !== undefined) await hub.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Let pending timers and I/O callbacks run (e.g. between timed phases). */
export async function settle (): Promise<void> {
  await new Promise<void>(resolve => setImmediate(resolve))
}

const MIB = 1024 * 1024

/**
 * Samples process RSS every `everyMs`. Samples can be missed while the event
 * loop is busy, so `stop()` also takes the kernel's peak (maxRSS, which is
 * process-wide since start) and reports the larger.
 */
export class RssSampler {
  #peak = 0
  #samples = 0
  readonly #timer: NodeJS.Timeout

  constructor (everyMs = 50) {
    this.#sample()
    this.#timer = setInterval(() => this.#sample(), everyMs)
    this.#timer.unref()
  }

  #sample (): void {
    const rss = process.memoryUsage().rss
    if (rss > this.#peak) this.#peak = rss
    this.#samples++
  }

  /** Stop sampling (idempotent) and report the peak so far. */
  stop (): { peakMiB: number, sampledPeakMiB: number, maxRssMiB: number, samples: number } {
    clearInterval(this.#timer)
    this.#sample()
    const maxRss = process.resourceUsage().maxRSS * 1024 // reported in KiB
    return {
      peakMiB: Math.max(this.#peak, maxRss) / MIB,
      sampledPeakMiB: this.#peak / MIB,
      maxRssMiB: maxRss / MIB,
      samples: this.#samples
    }
  }
}
