/**
 * The parent side of the kill -9 fault tests (crash.test.ts, org-crash.test.ts):
 * run a child hub process (its script generated into a temp directory, run
 * with `node` against the built dist/) and SIGKILL it at a random moment.
 *
 * The children share a small line protocol on stdout (worker-kit.ts):
 *   OPENING   before Hub.open
 *   READY     after Hub.open
 * and their own lines besides (BEGIN/ACK/NOOP/ERR …), which each test parses.
 * A normal round kills the child 20–400 ms after its first acknowledgement;
 * every fifth round kills it early instead, within 150 ms of OPENING (during
 * LevelDB recovery or the first operations).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { expect } from 'vitest'
import { Hub } from '../../src/hub.js'
import { HubError } from '../../src/errors.js'
import { tempDir } from '../helpers.js'

/** FAULTS_LONG=1 (npm run test:faults): the long profile. */
export const LONG = process.env.FAULTS_LONG === '1'
/** FAULTS_SEED=<n> replays a run's random choices (kill times are wall-clock, so a replay is similar, not identical). */
export const SEED = process.env.FAULTS_SEED !== undefined ? Number(process.env.FAULTS_SEED) : Math.floor(Math.random() * 2 ** 31)

const children = new Set<ChildProcess>()

/** SIGKILL every child still running (a failed round's) and wait for it to close: for afterEach. */
export async function killChildren (): Promise<void> {
  await Promise.all([...children].map(async c => {
    if (c.exitCode === null && c.signalCode === null) {
      const closed = new Promise(resolve => c.once('close', resolve))
      c.kill('SIGKILL')
      await closed
    }
  }))
  children.clear()
}

/**
 * A temp directory with the child's script and two initialized hubs: `dir`,
 * the one it crashes, and `warmDir`, a scratch hub it warms up on first.
 * `modules` are the built files the script imports: missing ones fail the test.
 */
export async function prepareRun (prefix: string, scriptName: string, modules: string[], source: string): Promise<{ dir: string, script: string, warmDir: string }> {
  for (const p of modules) expect(existsSync(p), `${p} is missing: run "npm run build" first`).toBe(true)
  const root = await tempDir(prefix)
  const dir = join(root, 'hub')
  const script = join(root, scriptName)
  await writeFile(script, source)
  await Hub.init(dir)
  // Each child warms up on this scratch hub before it opens the real one.
  const warmDir = join(root, 'warm')
  await Hub.init(warmDir)
  return { dir, script, warmDir }
}

/** What the parent saw of one round, whatever the child's own lines. */
export interface KillRound {
  /** Lines the test's parser did not know (the child's ERR lines) and protocol errors it found. */
  errors: string[]
  stderr: string
  /** The child wrote READY: it opened the hub. */
  ready: boolean
  /** The watchdog killed the child: it never got going. */
  stuck: boolean
  killedAfterMs: number
  /** Killed within 150 ms of OPENING, rather than 20–400 ms after the first acknowledgement. */
  early: boolean
  /** The signal that ended the child, or `code <n>`. */
  exit: string
}

/**
 * What a test's parser made of one of the child's lines: an acknowledgement
 * (the first one arms the kill in a normal round), another line of its
 * protocol, or a line it does not know (an error).
 */
export type LineKind = 'ack' | 'ok' | 'unknown'

/**
 * Run the child until a random moment, SIGKILL it, and return every line it
 * wrote before dying ('close' fires once its stdout pipe is drained).
 * `parse` gets every line but OPENING and READY, and may add to `errors`.
 */
export async function killRound (script: string, args: string[], round: number, rnd: () => number, parse: (text: string, errors: string[]) => LineKind): Promise<KillRound> {
  const early = round % 5 === 4
  const delay = early ? Math.floor(rnd() * 150) : 20 + Math.floor(rnd() * 381)
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const out: KillRound = { errors: [], stderr: '', ready: false, stuck: false, killedAfterMs: delay, early, exit: '' }
  let buf = ''
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => { timer ??= setTimeout(() => { child.kill('SIGKILL') }, delay) }
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (text === 'OPENING') {
        if (early) arm()
      } else if (text === 'READY') {
        out.ready = true
      } else {
        const kind = parse(text, out.errors)
        if (kind === 'ack') {
          if (!early) arm()
        } else if (kind === 'unknown') {
          out.errors.push(text)
        }
      }
    }
  })
  child.stderr.on('data', (d: Buffer) => { out.stderr += d.toString() })
  const closed = new Promise<void>(resolve => child.once('close', (code, signal) => {
    out.exit = signal ?? `code ${String(code)}`
    resolve()
  }))
  // A child that never gets going is a failure, not a hang.
  const watchdog = setTimeout(() => {
    out.stuck = true
    child.kill('SIGKILL')
  }, 15_000)
  await closed
  clearTimeout(watchdog)
  if (timer !== undefined) clearTimeout(timer)
  children.delete(child)
  // A partial last line (killed mid-write) is not an acknowledgement: ignored.
  return out
}

/**
 * The checks every round passes: no error lines, ended by our SIGKILL (not
 * by itself, not by the watchdog), and, unless killed early, it opened the
 * hub and acknowledged something. `who` names the child in the messages.
 */
export function expectKilled (r: KillRound, ctx: string, who: string, acks: number): void {
  expect(r.errors, `${ctx}: ${who} reported errors; stderr: ${r.stderr}`).toEqual([])
  expect(r.exit, `${ctx}: ${who} ended by itself; stderr: ${r.stderr}`).toBe('SIGKILL')
  expect(r.stuck, `${ctx}: ${who} did not start within 15 s; stderr: ${r.stderr}`).toBe(false)
  if (!r.early) {
    expect(r.ready, `${ctx}: ${who} never opened the hub; stderr: ${r.stderr}`).toBe(true)
    expect(acks, `${ctx}: ${who} acknowledged nothing; stderr: ${r.stderr}`).toBeGreaterThan(0)
  }
}

/** When the round's kill came, for failure messages. */
export function killedWhen (r: KillRound): string {
  return `killed ${r.killedAfterMs} ms after ${r.early ? 'opening' : 'its first ack'}`
}

/** Hub.open, retrying while the killed child's LevelDB lock is still held. */
export async function openHub (dir: string): Promise<Hub> {
  for (let i = 0; ; i++) {
    try {
      return await Hub.open(dir)
    } catch (err) {
      if (!(err instanceof HubError && err.code === 'unavailable') || i >= 50) throw err
      await sleep(20)
    }
  }
}
