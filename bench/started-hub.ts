/**
 * A real `hub start` (the built CLI) as a child process, for the figures of
 * a started hub (bench/workloads.ts `rss_started_mb`, bench/rss-breakdown.ts):
 * spawned, waited for until it prints its ready line, and its memory read
 * from /proc the way the figures define it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'

export interface StartedHub {
  child: ChildProcess
  /** From spawning to the ready line, ms. */
  readyMs: number
  /** SIGTERM, SIGKILL after 10 s; resolves when it exited. */
  stop: () => Promise<void>
}

/** `node [nodeArgs] CLI start --dir DIR --json --listen loopback`, once ready. */
export async function startHubProcess (cli: string, dir: string, opts: { nodeArgs?: string[], env?: NodeJS.ProcessEnv } = {}): Promise<StartedHub> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), cli, 'start', '--dir', dir, '--json', '--listen', '/ip4/127.0.0.1/tcp/0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.env !== undefined ? { env: opts.env } : {})
  })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM')
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(killer)
  }
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-2000) })
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; if (out.includes('\n')) resolve(performance.now() - t0) })
      void exited.then(() => reject(new Error(`hub start exited before it was ready: ${stderr}`)))
    })
    return { child, readyMs, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** VmRSS and VmHWM of a process, MiB (/proc/<pid>/status). */
export async function procRss (pid: number): Promise<{ rss: number, hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    if (m === null) throw new Error(`/proc/${pid}/status has no ${field}`)
    return Number(m[1]) / 1024
  }
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') }
}
