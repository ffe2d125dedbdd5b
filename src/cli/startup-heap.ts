/**
 * The young generation of the CLI's V8 heap while the process starts up
 * (issue 18: RSS of a started hub). Imported first by main.ts, so it runs
 * before the ~1,070 modules `hub start` loads.
 *
 * Why: loading those modules and opening the hub allocate mostly objects
 * that live on (module records, compiled functions, the store's state), so
 * V8's scavenges see a high survival rate and double the young generation
 * each time, up to its maximum (two 16 MiB semi-spaces). After start-up it
 * holds almost nothing (0–7 MiB used of 32 committed, measured with
 * bench/rss-breakdown.ts), but the pages stay resident: ~25 MiB of an idle
 * `hub start`'s ~134 MiB. With a growth factor of 1 during start-up the
 * young generation stays at its initial 1 MiB semi-spaces and the long-lived
 * objects go to the old generation a little earlier, which is where they
 * end up anyway.
 *
 * The growth factor (not the maximum size) is the only young-generation
 * setting that can change in a running process: V8 reads the maximum when
 * the heap is created, the factor each time it grows. Setting it on the
 * command line does not work either (V8 raises a factor below 2 to 2 when
 * it creates the heap), and the CLI does not re-exec itself with flags.
 * endStartup() puts V8's default back, so a command that then works hard
 * (a daemon under load, an import) sizes its young generation as usual.
 * A factor given by the user (node --semi-space-growth-factor=…,
 * NODE_OPTIONS) is left alone.
 */
import { setFlagsFromString } from 'node:v8'

/** V8's default --semi-space-growth-factor (Node 20 and 22). */
const V8_DEFAULT_GROWTH_FACTOR = 2
const FLAG = '--semi-space-growth-factor'

const userSet = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some(a => a.startsWith(FLAG))
let holding = false
if (!userSet) {
  setFlagsFromString(`${FLAG}=1`)
  holding = true
}

/** Start-up is over (the command runs, or the daemon is ready): V8's default growth again. Idempotent. */
export function endStartup (): void {
  if (!holding) return
  holding = false
  setFlagsFromString(`${FLAG}=${V8_DEFAULT_GROWTH_FACTOR}`)
}
