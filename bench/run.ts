import '../src/shim.js'
/**
 * Benchmark entry point (`npm run bench`, after the build: dist/bench/run.js).
 *
 *   node dist/bench/run.js [--quick] [--only core[,other]]
 *
 * Runs the suites in order, prints ONE JSON document to stdout (machine
 * facts, options, targets, results) and writes the same document to
 * bench/results.json. Progress goes to stderr, so stdout stays pure JSON.
 *
 * Adding a suite: write bench/<name>.ts exporting a `Suite` (see util.ts)
 * and append it to SUITES below.
 */
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { cpus, totalmem, platform, arch, release } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { core } from './core.js'
import { sync } from './sync.js'
import { requests } from './requests.js'
import { progress, round, type Figures, type Suite, type Target } from './util.js'

const SUITES: Suite[] = [core, sync, requests]

/** Bad command line: reported without a stack trace. */
class UsageError extends Error {}

interface Args { quick: boolean, only: string[] | undefined }

function usage (): string {
  return `usage: node dist/bench/run.js [--quick] [--only <suite>[,<suite>...]]\nsuites: ${SUITES.map(s => s.name).join(', ')}`
}

function parseArgs (argv: string[]): Args {
  const args: Args = { quick: false, only: undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--quick') {
      args.quick = true
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
    date: started.toISOString()
  }
}

interface Check { target: string, value: number | string | null, pass: boolean | null }

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
  const t0 = performance.now()
  const results: Record<string, Figures> = {}
  const targets: Record<string, Record<string, Check>> = {}
  progress(`suites: ${selected.map(s => s.name).join(', ')}${args.quick ? ' (quick: smaller N, not comparable to targets)' : ''}`)
  for (const suite of selected) {
    progress(`suite ${suite.name}: start`)
    const figures = await suite.run({ quick: args.quick })
    results[suite.name] = figures
    if (suite.targets !== undefined) {
      targets[suite.name] = Object.fromEntries(Object.entries(suite.targets).map(([k, t]) => [k, check(t, figures[k])]))
    }
    progress(`suite ${suite.name}: done`)
  }
  const doc = {
    machine: machine(started),
    options: { quick: args.quick, suites: selected.map(s => s.name) },
    duration_s: round((performance.now() - t0) / 1000, 1),
    targets,
    results
  }
  const json = JSON.stringify(doc, null, 2)
  const out = join(packageRoot(), 'bench', 'results.json')
  await writeFile(out, json + '\n')
  progress(`wrote ${out}`)
  process.stdout.write(json + '\n')
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
