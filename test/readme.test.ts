/**
 * The READMEs are honest by construction: every ```sh / ```bash / ```shell
 * block of README.md and examples/playlist-app/README.md runs, verbatim and
 * in order, in one `bash` process per README (`set -euo pipefail`), and the
 * test fails when a documented command fails, naming the block and the line.
 *
 * Each README runs in a fresh scratch directory that is both the cwd and
 * HOME (so `~/laptop`, `~/phone`… are scratch dirs), with HUB_DIR and the
 * other HUB_* variables unset, and PATH starting with a bin dir whose `hub`
 * shim runs this checkout's dist/ (what `npm link` gives a reader). The
 * scratch dir gets a `dist` symlink to the checkout's dist/, because the
 * example's README runs from the repository root (`node dist/examples/…`).
 *
 * One block is skipped, by an explicit rule: the block containing `npm ci`
 * ("The two commands": `npm ci && npm run demo`, `npm ci && npm test`,
 * `npm link`). It is what runs this test and installs the checkout; running
 * it here would rebuild dist/ under the other tests and recurse.
 *
 * The test builds nothing: `npm test` runs `npm run build` before vitest.
 *
 * Afterwards, pass or fail, every daemon still running under the scratch
 * HOME (a daemon.json anywhere below it) is stopped with `hub stop --dir`,
 * whatever is left is SIGKILLed, and the scratch dir is deleted.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const REPO = resolve('.')
const BIN = join(REPO, 'dist/src/cli/main.js')
const READMES = ['README.md', 'examples/playlist-app/README.md']

/** The one block the runner does not run (see the header comment). */
export const SKIP_RULE = 'npm ci'

export interface Block { readme: string, index: number, line: number, lang: string, code: string }

/** Every fenced ```sh / ```bash / ```shell block, with the README line of its first command line. */
export function shellBlocks (markdown: string, readme: string): Block[] {
  const blocks: Block[] = []
  const lines = markdown.split('\n')
  let open: { fence: string, lang: string, start: number, body: string[] } | undefined
  for (const [i, line] of lines.entries()) {
    if (open === undefined) {
      const m = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(line)
      if (m !== null) open = { fence: m[2] ?? '```', lang: (m[3] ?? '').toLowerCase(), start: i + 2, body: [] }
    } else if (line.trim().startsWith(open.fence) && line.trim().replace(/[`~]/g, '') === '') {
      if (['sh', 'bash', 'shell'].includes(open.lang)) {
        blocks.push({ readme, index: blocks.length + 1, line: open.start, lang: open.lang, code: open.body.join('\n') })
      }
      open = undefined
    } else {
      open.body.push(line)
    }
  }
  if (open !== undefined) throw new Error(`${readme}: a code fence opened at line ${open.start - 1} is never closed`)
  return blocks
}

export interface Outcome {
  ok: boolean
  /** The failing block and README line, when known. */
  failed?: { block: number, line: number, command: string, code: number }
  timedOut: boolean
  skipped: number[]
  output: string
  ms: number
}

/** Runs the blocks of one README in order in one bash process; see the header comment. */
export async function runReadme (markdown: string, readme: string, opts: { timeoutMs: number }): Promise<Outcome> {
  const started = Date.now()
  const blocks = shellBlocks(markdown, readme)
  const skipped = blocks.filter(b => b.code.includes(SKIP_RULE)).map(b => b.index)
  const scratch = await mkdtemp(join(tmpdir(), 'ihub-readme-'))
  const bin = join(scratch, '.readme-bin')
  await mkdir(bin)
  await writeFile(join(bin, 'hub'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 })
  await symlink(join(REPO, 'dist'), join(scratch, 'dist'))

  // One script: each block's lines at known script lines, so the ERR trap's
  // LINENO maps back to a block and a README line.
  const MARK = '__README_RUNNER_FAILED__'
  const script = [
    'set -euo pipefail',
    `trap 'rc=$?; printf "\\n${MARK} %s %s %s\\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR`
  ]
  const lineMap = new Map<number, { block: number, line: number }>()
  for (const b of blocks) {
    if (skipped.includes(b.index)) continue
    script.push(`echo "── ${readme} block ${b.index} (line ${b.line}) $(date +%T.%N) ──"`)
    for (const [i, l] of b.code.split('\n').entries()) {
      script.push(l)
      lineMap.set(script.length, { block: b.index, line: b.line + i })
    }
  }
  script.push('')
  const scriptFile = join(bin, 'readme.sh')
  await writeFile(scriptFile, script.join('\n'))

  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('HUB_') || k.startsWith('VITEST') || k === 'NODE_OPTIONS' || k.startsWith('npm_')) continue
    env[k] = v
  }
  env.HOME = scratch
  env.PATH = `${bin}:${process.env.PATH ?? ''}`

  let output = ''
  let timedOut = false
  const code = await new Promise<number | null>(resolveExit => {
    const child = spawn('bash', ['--noprofile', '--norc', scriptFile], { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    const timer = setTimeout(() => {
      timedOut = true
      try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch { /* already gone */ }
    }, opts.timeoutMs)
    child.on('close', c => { clearTimeout(timer); resolveExit(c) })
  })
  try {
    await cleanUp(scratch, bin)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }

  let failed: Outcome['failed']
  const m = [...output.matchAll(new RegExp(`${MARK} (\\d+) (\\d+) (.*)`, 'g'))].at(-1) ?? null
  if (m !== null) {
    const at = lineMap.get(Number(m[2])) ?? nearest(lineMap, Number(m[2]))
    failed = { block: at?.block ?? 0, line: at?.line ?? 0, command: m[3] ?? '', code: Number(m[1]) }
  }
  return { ok: code === 0 && !timedOut, failed, timedOut, skipped, output, ms: Date.now() - started }
}

function nearest (map: Map<number, { block: number, line: number }>, scriptLine: number): { block: number, line: number } | undefined {
  let best: { block: number, line: number } | undefined
  for (const [l, at] of map) if (l <= scriptLine) best = at
  return best
}

/** Stops every daemon under the scratch HOME (hub stop), then SIGKILLs what is left. */
async function cleanUp (scratch: string, bin: string): Promise<void> {
  const daemons: Array<{ dir: string, pid?: number }> = []
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 6) return
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const e of entries) {
      const p = join(dir, e.name)
      if (e.isDirectory() && !e.isSymbolicLink()) await walk(p, depth + 1)
      else if (e.isFile() && e.name === 'daemon.json') {
        const pid = await readFile(p, 'utf8').then(t => (JSON.parse(t) as { pid?: number }).pid).catch(() => undefined)
        daemons.push({ dir: dirname(p), ...(pid !== undefined ? { pid } : {}) })
      }
    }
  }
  await walk(scratch, 0)
  await Promise.all(daemons.map(async d => {
    await new Promise<void>(done => {
      const c = spawn(join(bin, 'hub'), ['stop', '--dir', d.dir], { stdio: 'ignore', env: { ...process.env, HOME: scratch } })
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000)
      c.on('close', () => { clearTimeout(t); done() })
      c.on('error', () => { clearTimeout(t); done() })
    })
  }))
  for (const d of daemons) {
    if (d.pid === undefined || !alive(d.pid)) continue
    try { process.kill(d.pid, 'SIGKILL') } catch { /* exited */ }
  }
  for (const d of daemons) {
    for (let i = 0; i < 50 && d.pid !== undefined && alive(d.pid); i++) await new Promise(done => setTimeout(done, 100))
  }
}

/** Whether a process runs (a zombie, exited but not yet reaped, does not). */
export function alive (pid: number): boolean {
  try { process.kill(pid, 0) } catch { return false }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^\d+ \(.*\) [ZX]/.test(stat)
  } catch { return existsSync(`/proc/${pid}`) || process.platform !== 'linux' }
}

function report (o: Outcome, readme: string): string {
  const where = o.failed !== undefined
    ? `${readme}: block ${o.failed.block}, line ${o.failed.line} failed (exit ${o.failed.code}): ${o.failed.command}`
    : o.timedOut ? `${readme}: timed out` : `${readme}: bash exited non-zero`
  return `${where}\n── output (last 6000 chars) ──\n${o.output.slice(-6000)}`
}

describe('README shell blocks run verbatim', () => {
  it('the CLI is built (npm test builds it before vitest)', () => {
    expect(existsSync(BIN), `${BIN} is missing: run "npm run build"`).toBe(true)
    expect(spawnSync('bash', ['--version']).status).toBe(0)
  })

  it('README.md has exactly one skipped block, the one with npm ci', async () => {
    const blocks = shellBlocks(await readFile('README.md', 'utf8'), 'README.md')
    const skipped = blocks.filter(b => b.code.includes(SKIP_RULE))
    expect(skipped).toHaveLength(1)
    expect(skipped[0]?.code).toContain('npm ci && npm test')
    expect(blocks.length).toBeGreaterThan(5)
    for (const readme of READMES) {
      const text = await readFile(readme, 'utf8')
      // One spelling of the CLI: `hub` on the PATH, never `npx hub` in a block.
      for (const b of shellBlocks(text, readme)) expect(b.code, `${readme} block ${b.index}`).not.toMatch(/npx hub/)
    }
  })

  for (const readme of READMES) {
    it.concurrent(`${readme}`, async () => {
      // README.md runs ≈145 s on a loaded 2-core machine (its many hub starts): room above that.
      const o = await runReadme(await readFile(readme, 'utf8'), readme, { timeoutMs: 240_000 })
      if (!o.ok) expect.fail(report(o, readme))
      expect(o.skipped).toEqual(readme === 'README.md' ? [o.skipped[0]] : [])
    }, 260_000)
  }
})

describe('the README runner catches failures', () => {
  it('a failing command fails the run, naming its block and line', async () => {
    const md = [
      '# Synthetic', '', '```sh', 'echo one', '```', '', 'text', '',
      '```bash', 'echo two', 'hub definitely-not-a-command --json', 'echo never', '```', ''
    ].join('\n')
    const o = await runReadme(md, 'SYNTHETIC.md', { timeoutMs: 20_000 })
    expect(o.ok).toBe(false)
    expect(o.failed).toMatchObject({ block: 2, line: 11 })
    expect(o.failed?.command).toContain('definitely-not-a-command')
    expect(o.output).not.toContain('never')
  })

  it('a failure inside a pipeline fails too (pipefail)', async () => {
    const o = await runReadme('```shell\nfalse | cat\necho never\n```\n', 'PIPE.md', { timeoutMs: 20_000 })
    expect(o.ok).toBe(false)
    expect(o.failed).toMatchObject({ block: 1, line: 2 })
  })

  it('a later block sees the files (and variables) of earlier ones; other fences do not run', async () => {
    const md = [
      '```sh', 'echo \'{"name":"x"}\' > made.json', 'X=42', '```',
      '```text', 'this is not a command', '```',
      '```json', '{"not": "run"}', '```',
      '```sh', 'test -f made.json && test "$X" = 42', 'test "$HOME" = "$PWD"', 'test -z "${HUB_DIR:-}"', 'command -v hub', '```'
    ].join('\n')
    const o = await runReadme(md, 'OK.md', { timeoutMs: 20_000 })
    expect(o.ok, o.output).toBe(true)
    expect(o.output).toContain('.readme-bin/hub')
  })

  it('a failed run still stops the daemons it started and deletes its scratch dir', async () => {
    const o = await runReadme('```sh\nhub init --dir ~/d > /dev/null\nhub start --dir ~/d --detach --json\nfalse\n```\n', 'DAEMON.md', { timeoutMs: 30_000 })
    expect(o.ok).toBe(false)
    expect(o.failed).toMatchObject({ block: 1, line: 4 })
    const pid = (JSON.parse(/^\{"pid".*$/m.exec(o.output)?.[0] ?? '{}') as { pid?: number }).pid
    expect(pid).toBeTypeOf('number')
    expect(alive(pid ?? 0), `daemon ${pid ?? '?'} still runs`).toBe(false)
    const dir = /"logFile":"(.*)\/d\/hub\.log"/.exec(o.output)?.[1]
    expect(dir !== undefined && !existsSync(dir), `scratch dir ${dir ?? '?'} deleted`).toBe(true)
  }, 40_000)

  it('a run past its time limit fails', async () => {
    const o = await runReadme('```sh\nsleep 30\n```\n', 'SLOW.md', { timeoutMs: 1_000 })
    expect(o.ok).toBe(false)
    expect(o.timedOut).toBe(true)
  })
})
