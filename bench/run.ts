import '../src/shim.js'
/**
 * Benchmark entry point (`npm run bench`, after the build: dist/bench/run.js).
 *
 *   node dist/bench/run.js [--quick] [--only core[,other]] [--json]
 *
 * Runs the suites in order and writes ONE JSON document (machine facts,
 * options, targets, results) to bench/results.json. Stdout gets a Markdown
 * report (per suite: figure | median | min | max | target | pass), or with
 * --json the JSON document itself (for scripts). Progress goes to stderr,
 * so stdout holds only the report. Figures and how they are measured:
 * docs/benchmarks.md.
 *
 * Adding a suite: write bench/<name>.ts exporting a `Suite` (see util.ts)
 * and append it to SUITES below.
 */
import { existsSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { cpus, totalmem, platform, arch, release, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { core } from './core.js'
import { sync } from './sync.js'
import { requests } from './requests.js'
import { scale } from './scale.js'
import { org } from './org.js'
import { browser } from './browser.js'
import { dashboard } from './dashboard.js'
import { workloads } from './workloads.js'
import { hosting } from './hosting.js'
import { progress, round, type Figures, type Suite, type Target } from './util.js'

const SUITES: Suite[] = [core, sync, requests, scale, org, browser, dashboard, workloads, hosting]

/** Bad command line: reported without a stack trace. */
class UsageError extends Error {}

interface Args { quick: boolean, json: boolean, only: string[] | undefined }

function usage (): string {
  return 'usage: node dist/bench/run.js [--quick] [--only <suite>[,<suite>...]] [--json]\n' +
    `suites: ${SUITES.map(s => s.name).join(', ')}\n` +
    'stdout: a Markdown report, or with --json the JSON document; bench/results.json is always written'
}

function parseArgs (argv: string[]): Args {
  const args: Args = { quick: false, json: false, only: undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--quick') {
      args.quick = true
    } else if (a === '--json') {
      args.json = true
    } else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length)
      if (v === undefined || v === '') throw new UsageError(`--only needs a suite name\n${usage()}`)
      args.only = [...(args.only ?? []), ...v.split(',').filter(s => s !== '')]
    } else if (a === '--help' || a === '-h') {
      console.error(usage())
      process.exit(0)
    } else {
      throw new UsageError(`unknown argument ${a}\n${usage()}`)
    }
  }
  if (args.only !== undefined) {
    for (const name of args.only) {
      if (!SUITES.some(s => s.name === name)) throw new UsageError(`unknown suite ${name}\n${usage()}`)
    }
  }
  return args
}

/** The package root: the nearest ancestor of this file with a package.json (works from bench/ and dist/bench/). */
function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const up = dirname(dir)
    if (up === dir) return process.cwd()
    dir = up
  }
}

function machine (started: Date): Figures {
  const cpuList = cpus()
  return {
    node: process.version,
    platform: platform(),
    arch: arch(),
    os_release: release(),
    cpus: cpuList.length,
    cpu_model: cpuList[0]?.model.trim() ?? 'unknown',
    total_memory_mb: round(totalmem() / (1024 * 1024), 0),
    date: started.toISOString(),
    loadavg_at_start: loadavgText()
  }
}

/** 1, 5 and 15 minute load averages: other work on the machine skews every figure (at the end they include the bench's own load). */
function loadavgText (): string {
  return loadavg().map(x => x.toFixed(2)).join(' ')
}

interface Check { target: string, value: number | string | null, pass: boolean | null }

/**
 * CPU ticks (USER_HZ) of the whole machine (/proc/stat) and of this bench's
 * own process tree (/proc/self/stat: utime + stime of this process plus
 * cutime + cstime of its children that have exited and been waited for,
 * which every suite's hub processes have by the end of the suite). Linux
 * only; undefined elsewhere.
 */
interface Ticks { busy: number, total: number, own: number }

function ticks (): Ticks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find(l => l.startsWith('cpu '))
    const self = readFileSync('/proc/self/stat', 'utf8')
    if (line === undefined) return undefined
    // user nice system idle iowait irq softirq steal
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number)
    // Fields after "(comm)": state is field 3, utime..cstime are fields 14..17.
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ')
    const own = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0)
    return { busy: user + nice + system + irq + softirq, total: user + nice + system + idle + iowait + irq + softirq + steal, own }
  } catch {
    return undefined
  }
}

/** Shares of all cores' time during a suite: machine busy, this bench (parent + its hub processes), everything else. */
interface MachineLoad { machine_busy_pct: number, bench_cpu_pct: number, other_processes_cpu_pct: number }

function loadBetween (a: Ticks | undefined, b: Ticks | undefined): MachineLoad | undefined {
  if (a === undefined || b === undefined || b.total <= a.total) return undefined
  const t = b.total - a.total
  const busy = (100 * (b.busy - a.busy)) / t
  const bench = (100 * (b.own - a.own)) / t
  return { machine_busy_pct: round(busy, 0), bench_cpu_pct: round(bench, 0), other_processes_cpu_pct: round(Math.max(0, busy - bench), 0) }
}

function check (target: Target, value: number | string | undefined): Check {
  const text = `${target.min !== undefined ? `>= ${target.min}` : `<= ${String(target.max)}`} ${target.unit}`
  if (typeof value !== 'number') return { target: text, value: value ?? null, pass: null }
  const pass = (target.min === undefined || value >= target.min) && (target.max === undefined || value <= target.max)
  return { target: text, value, pass }
}

async function main (): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const selected = SUITES.filter(s => args.only === undefined || args.only.includes(s.name))
  const started = new Date()
  const facts = machine(started) // before the suites: its load average is the machine's own
  const t0 = performance.now()
  const results: Record<string, Figures> = {}
  const machineLoad: Record<string, MachineLoad> = {}
  const targets: Record<string, Record<string, Check>> = {}
  progress(`suites: ${selected.map(s => s.name).join(', ')}${args.quick ? ' (quick: smaller N, not comparable to targets)' : ''}`)
  for (const suite of selected) {
    progress(`suite ${suite.name}: start`)
    const before = ticks()
    const figures = await suite.run({ quick: args.quick })
    const load = loadBetween(before, ticks())
    if (load !== undefined) {
      machineLoad[suite.name] = load
      progress(`suite ${suite.name}: machine busy ${load.machine_busy_pct}% of all cores (bench ${load.bench_cpu_pct}%, other processes ${load.other_processes_cpu_pct}%)`)
    }
    results[suite.name] = figures
    if (suite.targets !== undefined) {
      targets[suite.name] = Object.fromEntries(Object.entries(suite.targets).map(([k, t]) => [k, check(t, figures[k])]))
    }
    progress(`suite ${suite.name}: done`)
  }
  const doc: Report = {
    machine: { ...facts, loadavg_at_end: loadavgText() },
    options: { quick: args.quick, suites: selected.map(s => s.name) },
    duration_s: round((performance.now() - t0) / 1000, 1),
    machine_load: machineLoad,
    targets,
    results
  }
  const json = JSON.stringify(doc, null, 2)
  const out = join(packageRoot(), 'bench', 'results.json')
  await writeFile(out, json + '\n')
  progress(`wrote ${out}`)
  process.stdout.write(args.json ? json + '\n' : markdown(doc))
}

interface Report {
  machine: Figures
  options: { quick: boolean, suites: string[] }
  duration_s: number
  /** Per suite: how busy the machine was and how much of that was not the bench (noise). */
  machine_load: Record<string, MachineLoad>
  targets: Record<string, Record<string, Check>>
  results: Record<string, Figures>
}

// ------------------------------------------------------------------ Markdown report

const cell = (v: number | string | null | undefined): string =>
  v === undefined || v === null ? '' : String(v).replace(/\|/g, '\\|')

function passText (c: Check | undefined): string {
  if (c === undefined) return ''
  if (c.pass === null) return 'n/a'
  return c.pass ? 'pass' : '**FAIL**'
}

/**
 * One table per suite: every numeric figure, in the suite's order. A figure
 * `x` that comes with `x_min` and `x_max` is one row (median, min, max);
 * other numbers (parameters, counts, single measurements) fill the median
 * column alone. Text figures other than `note_*` are listed under the table;
 * the notes are in bench/results.json (and docs/benchmarks.md).
 */
function suiteMarkdown (name: string, figures: Figures, checks: Record<string, Check>, load: MachineLoad | undefined, cores: string): string {
  const busy = load === undefined
    ? []
    : [`Machine during this suite: ${load.machine_busy_pct}% of ${cores} cores busy; this bench ${load.bench_cpu_pct}%, other processes ${load.other_processes_cpu_pct}%.`, '']
  const lines = [`## ${name}`, '', ...busy, '| figure | median | min | max | target | pass |', '|---|---:|---:|---:|---|---|']
  const texts: string[] = []
  for (const [key, value] of Object.entries(figures)) {
    const base = key.replace(/_(min|max)$/, '')
    if (base !== key && typeof figures[base] === 'number' && figures[`${base}_min`] !== undefined && figures[`${base}_max`] !== undefined) continue
    if (typeof value === 'string') {
      if (!key.startsWith('note_')) texts.push(`- ${key}: ${value}`)
      continue
    }
    const spread = typeof figures[`${key}_min`] === 'number' && typeof figures[`${key}_max`] === 'number'
    const c = checks[key]
    lines.push(`| ${key} | ${cell(value)} | ${spread ? cell(figures[`${key}_min`]) : ''} | ${spread ? cell(figures[`${key}_max`]) : ''} | ${cell(c?.target)} | ${passText(c)} |`)
  }
  for (const [key, c] of Object.entries(checks)) {
    if (!(key in figures)) lines.push(`| ${key} | not measured | | | ${cell(c.target)} | n/a |`)
  }
  if (texts.length > 0) lines.push('', ...texts)
  return lines.join('\n') + '\n'
}

function markdown (doc: Report): string {
  const m = doc.machine
  const failed = Object.values(doc.targets).flatMap(t => Object.entries(t)).filter(([, c]) => c.pass === false).map(([k]) => k)
  const head = [
    `# Benchmarks${doc.options.quick ? ' (--quick: smaller N, not comparable to the targets)' : ''}`,
    '',
    `${String(m['date'])} · Node ${String(m['node'])} · ${String(m['platform'])} ${String(m['arch'])} ${String(m['os_release'])} · ` +
      `${String(m['cpus'])} × ${String(m['cpu_model'])} · ${String(m['total_memory_mb'])} MB RAM · ` +
      `load average ${String(m['loadavg_at_start'])} at start, ${String(m['loadavg_at_end'])} at end · ` +
      `suites ${doc.options.suites.join(', ')} in ${doc.duration_s} s`,
    '',
    'median/min/max over the runs of each figure; a single value is a parameter, a count or a one-off measurement. ' +
      `Targets: ${failed.length === 0 ? 'all measured ones pass' : `FAILED: ${failed.join(', ')}`}. ` +
      'Notes and every figure: bench/results.json; explanations: docs/benchmarks.md.',
    ''
  ]
  return [head.join('\n'), ...doc.options.suites.map(s => suiteMarkdown(s, doc.results[s] ?? {}, doc.targets[s] ?? {}, doc.machine_load[s], String(m['cpus'])))].join('\n')
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    console.error(err.message)
    process.exitCode = 2
    return
  }
  console.error('[bench] failed:', err)
  process.exitCode = 1
})
