/**
 * Drive the built `hub` binary (dist/, built by `npm test` before vitest
 * runs) in real processes: one-shot commands and background daemons.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { expect } from 'vitest'
import type { DaemonInfo } from '../src/daemon/files.js'

export const BIN = resolve('dist/src/cli/main.js')

export interface Run { code: number | null, stdout: string, stderr: string }

export async function hub (args: string[], opts: { stdin?: string, cwd?: string, env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return await new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', code => resolvePromise({ code, stdout, stderr }))
    child.stdin.end(opts.stdin ?? '')
  })
}

export async function ok (args: string[], opts: { stdin?: string, cwd?: string } = {}): Promise<Record<string, unknown>> {
  const r = await hub([...args, '--json'], opts)
  expect(r.stderr, `stderr of hub ${args.join(' ')}`).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

export async function fails (args: string[], code: string, opts: { stdin?: string } = {}): Promise<Record<string, unknown>> {
  const r = await hub([...args, '--json'], opts)
  expect(r.code).not.toBe(0)
  expect(r.stdout).toBe('')
  const body = JSON.parse(r.stderr) as { error: Record<string, unknown> }
  expect(body).toMatchObject({ error: { code } })
  return body.error
}

export interface Daemon { child: ChildProcess, info: DaemonInfo, exit: Promise<number | null>, stderr: () => string }

/** Every daemon still running at the end of a test (or suite) is SIGKILLed. */
export const running = new Set<Daemon>()

export async function killAll (): Promise<void> {
  await Promise.all([...running].map(async d => {
    if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL')
    await d.exit
  }))
}

/** `hub start --json` in the background; resolves with its ready line (= daemon.json). */
export async function startDaemon (dir: string, extra: string[] = []): Promise<Daemon> {
  const child = spawn(process.execPath, [BIN, 'start', '--dir', dir, '--json', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const exit = new Promise<number | null>(resolveExit => child.once('exit', code => resolveExit(code)))
  const d: Omit<Daemon, 'info'> = { child, exit, stderr: () => stderr }
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const info = await new Promise<DaemonInfo>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within 10 s; stderr: ${stderr}`)), 10_000)
    child.stdout?.on('data', (b: Buffer) => {
      stdout += b.toString()
      if (stdout.includes('\n')) {
        clearTimeout(timer)
        resolveReady(JSON.parse(stdout) as DaemonInfo)
      }
    })
    void exit.then(code => {
      clearTimeout(timer)
      reject(new Error(`hub start exited with ${String(code)}; stderr: ${stderr}`))
    })
  })
  const daemon = { ...d, info }
  running.add(daemon)
  return daemon
}


/** Poll `fn` every 100 ms until it returns a value (not undefined); fail naming `what` after `timeoutMs`. */
export async function until<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
