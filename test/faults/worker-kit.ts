/**
 * What the children of the kill -9 fault tests (crash-writer.ts,
 * org-crash-worker.ts) share.
 *
 * tsx is not installed, so a child cannot run TypeScript: each child is ESM
 * source text, which its test writes into a temp directory and runs with
 * `node` against the BUILT library (dist/, which `npm test` builds before
 * vitest runs). Shared child code travels the same way: WORKER_KIT is source
 * text that each child's generated module includes right after its imports.
 */
import { fileURLToPath, pathToFileURL } from 'node:url'

/** Absolute path of the built module dist/src/<path>. */
export function builtModule (path: string): string {
  return fileURLToPath(new URL(`../../dist/src/${path}`, import.meta.url))
}

/** A module's file URL as a string literal, for an import in generated source. */
export function importUrl (path: string): string {
  return JSON.stringify(pathToFileURL(path).href)
}

/**
 * Source text of what both children use (no names of theirs needed):
 *   mulberry32(seed)  a seeded PRNG, reproducible from the seed the parent logs
 *   line(text)        write one line to stdout (see below)
 *   errText(err)      an error's code and message on one line, for ERR lines
 *   loops(concurrency, rnd, pause, more, step)
 *                     run step() on `concurrency` loops while more() holds
 *
 * line() writes synchronously: stdout to a pipe is synchronous on Linux, so
 * a line written is a line the parent receives even if the process dies
 * right after.
 */
export const WORKER_KIT = `// ── from test/faults/worker-kit.ts ──
import { setTimeout as sleep } from 'node:timers/promises'

// mulberry32: reproducible from the seed the parent logs. The same as
// prng.ts, copied as text because the children run plain JS.
const mulberry32 = (seed) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const line = (text) => { process.stdout.write(text + '\\n') }
const errText = (err) => (err?.code ?? '-') + ' ' + String(err?.message ?? err).replace(/\\s+/g, ' ')

// After a quarter of the steps, a loop pauses for 0 to pause - 1 ms: this
// varies the group sizes (sometimes the queue is saturated, sometimes not).
const loops = async (concurrency, rnd, pause, more, step) => {
  const loop = async () => {
    while (more()) {
      await step()
      if (rnd() < 0.25) await sleep(Math.floor(rnd() * pause))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
}
// ── end of worker-kit.ts ──
`
