/**
 * Where the memory of a started hub goes (issue 18: RSS of `hub start`
 * ≤ 100 MiB). Run after `npm run build`:
 *
 *   node dist/bench/rss-breakdown.js [--runs N] [--idle-ms MS] [--started-only] [--json]
 *
 * Two parts, each in fresh Node processes (the parent holds nothing it
 * measures):
 *
 *  1. imports: one child imports the modules `hub start` needs one after
 *     another, in the order the CLI reaches them, and after each step runs
 *     two full GCs (--expose-gc) and reads process.memoryUsage(), V8's heap
 *     spaces and /proc/self/smaps_rollup (anonymous vs file-backed). The
 *     deltas say what each layer costs once loaded (after a GC, so garbage
 *     of the loading itself is not counted; the young generation is
 *     reported separately, because its committed size depends on how much
 *     was allocated, not on what is kept).
 *  2. started: the real CLI, `hub init` then `hub start --listen
 *     /ip4/127.0.0.1/tcp/0`, exactly as bench/workloads.ts measures
 *     rss_started_mb: VmRSS 2 s after the ready line, read from
 *     /proc/<pid>/status by this process. Then a preload (--import, written
 *     to a temporary directory) reports, on SIGUSR2, the same figures from
 *     inside the hub process, before and after a full GC.
 *
 * Diagnostics only: nothing here is a target; the target figure is
 * workloads' rss_started_mb (docs/benchmarks.md).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import v8 from 'node:v8'
import { procRss, startHubProcess } from './started-hub.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const CLI = join(HERE, '..', 'src', 'cli', 'main.js')
const MIB = 1024 * 1024
/** As bench/workloads.ts (STARTED_IDLE_MS); --idle-ms changes it (does the young generation grow back when idle?). */
const argIdle = process.argv.indexOf('--idle-ms')
const IDLE_MS = argIdle >= 0 ? Number(process.argv[argIdle + 1]) : 2000

interface Snapshot {
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
  /** smaps_rollup: anonymous (heap, malloc, wasm memory) and file-backed (the node binary, shared libraries) resident MiB. */
  anon: number
  file: number
  /** V8 heap spaces, committed / used MiB. */
  newSpace: string
  oldSpace: string
  codeSpace: string
}

const r1 = (x: number): number => Math.round(x * 10) / 10

async function snapshot (): Promise<Snapshot> {
  const m = process.memoryUsage()
  const smaps = await readFile('/proc/self/smaps_rollup', 'utf8')
  const kb = (f: string): number => Number(new RegExp(`^${f}:\\s+(\\d+)`, 'm').exec(smaps)?.[1] ?? NaN) / 1024
  const space = (name: string): string => {
    const s = v8.getHeapSpaceStatistics().find(x => x.space_name === name)
    return s === undefined ? '-' : `${r1(s.space_size / MIB)}/${r1(s.space_used_size / MIB)}`
  }
  return {
    rss: r1(m.rss / MIB),
    heapTotal: r1(m.heapTotal / MIB),
    heapUsed: r1(m.heapUsed / MIB),
    external: r1(m.external / MIB),
    arrayBuffers: r1(m.arrayBuffers / MIB),
    anon: r1(kb('Anonymous')),
    file: r1(kb('Rss') - kb('Anonymous')),
    newSpace: space('new_space'),
    oldSpace: space('old_space'),
    codeSpace: space('code_space')
  }
}

/** The steps of the imports child: what `hub start` loads, in the order it loads it. */
const STEPS: Array<[string, () => Promise<unknown>]> = [
  ['node (nothing imported)', async () => undefined],
  ['shim.js (#platform/globals: ws)', async () => await import('../src/shim.js')],
  ['commander + errors + log', async () => await Promise.all([import('commander'), import('../src/errors.js'), import('../src/log.js')])],
  ['hub.js (store, LevelDB, objects; Automerge without its wasm)', async () => await import('../src/hub.js')],
  // Not loaded by an idle `hub start` any more: the first Automerge call compiles it (platform/automerge-node.ts).
  ['Automerge wasm (first object write or read)', async () => await import('@automerge/automerge')],
  ['libp2p core + noise + yamux + tcp + identify + ping', async () => await Promise.all([import('libp2p'), import('@chainsafe/libp2p-noise'), import('@chainsafe/libp2p-yamux'), import('@libp2p/tcp'), import('@libp2p/identify'), import('@libp2p/ping')])],
  ['@libp2p/websockets', async () => await import('@libp2p/websockets')],
  ['@libp2p/kad-dht', async () => await import('@libp2p/kad-dht')],
  ['@libp2p/circuit-relay-v2 + @libp2p/dcutr', async () => await Promise.all([import('@libp2p/circuit-relay-v2'), import('@libp2p/dcutr')])],
  ['@libp2p/mdns', async () => await import('@libp2p/mdns')],
  ['net/hub-node.js (the rest of src/net)', async () => await import('../src/net/hub-node.js')],
  ['compose.js (request protocol)', async () => await import('../src/compose.js')],
  ['daemon/daemon.js (control server, org issuance)', async () => await import('../src/daemon/daemon.js')],
  ['cli/commands/index.js (the command table)', async () => await import('../src/cli/commands/index.js')],
  ['http/server.js (hub start --http)', async () => await import('../src/http/server.js')]
]

async function fullGc (): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run the imports child with --expose-gc')
  gc()
  await new Promise(resolve => setTimeout(resolve, 200))
  gc()
}

async function importsChild (): Promise<void> {
  for (const [name, load] of STEPS) {
    await load()
    await fullGc()
    process.stdout.write(JSON.stringify({ name, ...await snapshot() }) + '\n')
  }
}

interface ImportStep extends Snapshot { name: string }

async function importsPart (): Promise<ImportStep[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', 'imports'], { maxBuffer: 16 * MIB })
  return stdout.trim().split('\n').map(l => JSON.parse(l) as ImportStep)
}

/** The in-process report of a started hub, on SIGUSR2 (loaded with --import). */
const PRELOAD = `
import { readFileSync, writeFileSync } from 'node:fs'
import v8 from 'node:v8'
const MIB = 1024 * 1024
const r1 = x => Math.round(x * 10) / 10
function snap () {
  const m = process.memoryUsage()
  const s = readFileSync('/proc/self/smaps_rollup', 'utf8')
  const kb = f => Number(new RegExp('^' + f + ':\\\\s+(\\\\d+)', 'm').exec(s)?.[1] ?? NaN) / 1024
  const space = n => { const x = v8.getHeapSpaceStatistics().find(y => y.space_name === n); return x === undefined ? '-' : r1(x.space_size / MIB) + '/' + r1(x.space_used_size / MIB) }
  return { rss: r1(m.rss / MIB), heapTotal: r1(m.heapTotal / MIB), heapUsed: r1(m.heapUsed / MIB), external: r1(m.external / MIB), arrayBuffers: r1(m.arrayBuffers / MIB), anon: r1(kb('Anonymous')), file: r1(kb('Rss') - kb('Anonymous')), newSpace: space('new_space'), oldSpace: space('old_space'), codeSpace: space('code_space') }
}
process.on('SIGUSR2', () => {
  const before = snap()
  globalThis.gc()
  writeFileSync(process.env.HUB_RSS_REPORT, JSON.stringify({ before, afterGc: snap() }))
})
`

interface StartedRun { vmRss: number, vmHwm: number, readyMs: number, before: Snapshot, afterGc: Snapshot }

async function startedPart (): Promise<StartedRun> {
  const dir = await mkdtemp(join(tmpdir(), 'hub-rss-breakdown-'))
  try {
    const preload = join(dir, 'preload.mjs')
    const report = join(dir, 'report.json')
    await writeFile(preload, PRELOAD)
    await promisify(execFile)(process.execPath, [CLI, 'init', '--dir', join(dir, 'hub'), '--json'])
    const { child, readyMs, stop } = await startHubProcess(CLI, join(dir, 'hub'), { nodeArgs: ['--expose-gc', '--import', pathToFileURL(preload).href], env: { ...process.env, HUB_RSS_REPORT: report } })
    try {
      await new Promise(resolve => setTimeout(resolve, IDLE_MS))
      const m = await procRss(child.pid as number)
      const st = { rss: r1(m.rss), hwm: r1(m.hwm) }
      child.kill('SIGUSR2')
      let text: string | undefined
      for (let i = 0; i < 100 && text === undefined; i++) {
        await new Promise(resolve => setTimeout(resolve, 50))
        text = await readFile(report, 'utf8').catch(() => undefined)
      }
      if (text === undefined) throw new Error('the started hub wrote no report')
      const inside = JSON.parse(text) as { before: Snapshot, afterGc: Snapshot }
      return { vmRss: st.rss, vmHwm: st.hwm, readyMs: Math.round(readyMs), ...inside }
    } finally {
      await stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function table (rows: Array<Record<string, string | number>>): string {
  const cols = Object.keys(rows[0] ?? {})
  const line = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`
  return [line(cols), line(cols.map(() => '---')), ...rows.map(r => line(cols.map(c => r[c] ?? '')))].join('\n')
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv[0] === '--child' && argv[1] === 'imports') { await importsChild(); return }
  const runsAt = argv.indexOf('--runs')
  const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 3
  const json = argv.includes('--json')
  const imports = argv.includes('--started-only') ? [] : await importsPart()
  const started: StartedRun[] = []
  for (let i = 0; i < runs; i++) started.push(await startedPart())
  if (json) { process.stdout.write(JSON.stringify({ imports, started }, null, 2) + '\n'); return }
  let prev: ImportStep | undefined
  const importRows = imports.map(s => {
    const row = { step: s.name, rss: s.rss, 'Δrss': prev === undefined ? '' : r1(s.rss - prev.rss), anon: s.anon, file: s.file, heapUsed: s.heapUsed, 'new space': s.newSpace, 'old space': s.oldSpace, external: s.external }
    prev = s
    return row
  })
  if (importRows.length > 0) process.stdout.write('## imports (cumulative, after full GCs; MiB)\n\n' + table(importRows) + '\n\n')
  const startedRows = started.flatMap((s, i) => [
    { run: `${i + 1}`, when: `VmRSS ${IDLE_MS} ms after ready`, rss: s.vmRss, anon: '', file: '', heapUsed: '', 'new space': '', 'old space': '', external: '', ready: `${s.readyMs} ms` },
    ...(['before', 'afterGc'] as const).map(k => ({ run: `${i + 1}`, when: k === 'before' ? 'inside, then' : 'inside, after a full GC', rss: s[k].rss, anon: s[k].anon, file: s[k].file, heapUsed: s[k].heapUsed, 'new space': s[k].newSpace, 'old space': s[k].oldSpace, external: s[k].external, ready: '' }))
  ])
  process.stdout.write('## hub start, idle (MiB; heap spaces committed/used)\n\n' + table(startedRows) + '\n')
}

await main()
