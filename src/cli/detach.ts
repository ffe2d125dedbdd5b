/**
 * `hub start --detach`: run the daemon in the background and return once it
 * is ready. The CLI re-runs itself as `hub start … --json` in a new session
 * (so a Ctrl-C or a closed terminal does not reach it), with its logs
 * appended to a file, waits for the ready line (the daemon's daemon.json)
 * and prints it. If the daemon exits before it is ready, the error it
 * printed is this command's error.
 */
import { spawn } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { HubError, errorFromWire } from '../errors.js'
import type { DaemonInfo } from '../daemon/files.js'

const READY_TIMEOUT_MS = 60_000

export interface Detached { info: DaemonInfo, logFile: string }

/** `argv` is the start command's arguments without --detach/--log-file. */
export async function startDetached (argv: string[], logFile: string): Promise<Detached> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url))
  const log = openSync(logFile, 'a', 0o600)
  let child
  try {
    child = spawn(process.execPath, [main, 'start', ...argv, '--json'], {
      detached: true,
      stdio: ['ignore', 'pipe', log],
      // Logs go to the file; info level unless the caller chose one.
      env: { ...process.env, HUB_LOG: process.env.HUB_LOG ?? 'info' }
    })
  } finally {
    closeSync(log)
  }
  // stdio[1] is 'pipe', so stdout exists.
  const stdout = child.stdout as Readable
  return await new Promise<Detached>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => finish(new HubError('unavailable', `the hub daemon was not ready within ${READY_TIMEOUT_MS / 1000} s; see ${logFile}`)), READY_TIMEOUT_MS)
    const finish = (result: Detached | Error): void => {
      clearTimeout(timer)
      stdout.removeAllListeners('data')
      child.removeAllListeners('exit')
      stdout.destroy()
      child.unref()
      if (result instanceof Error) reject(result)
      else resolve(result)
    }
    stdout.setEncoding('utf8')
    stdout.on('data', (chunk: string) => {
      out += chunk
      const nl = out.indexOf('\n')
      if (nl < 0) return
      try {
        finish({ info: JSON.parse(out.slice(0, nl)) as DaemonInfo, logFile })
      } catch {
        finish(new HubError('internal', `the hub daemon printed an unexpected ready line; see ${logFile}`))
      }
    })
    child.once('exit', code => {
      // Its error went to the log file as JSON (it ran with --json): surface it.
      void (async () => {
        const text = await readFile(logFile, 'utf8').catch(() => '')
        const last = text.trimEnd().split('\n').reverse().find(l => l.startsWith('{"error"'))
        if (last !== undefined) {
          try {
            const e = (JSON.parse(last) as { error: { code: string, message: string } }).error
            finish(errorFromWire(e))
            return
          } catch { /* fall through */ }
        }
        finish(new HubError('unavailable', `the hub daemon exited (code ${String(code)}) before it was ready; see ${logFile}`))
      })()
    })
  })
}
