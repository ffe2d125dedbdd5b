/**
 * `hub start`, `hub stop` and `hub status`: the commands about the daemon
 * itself. None of them opens the store in this process.
 */
import { readFile } from 'node:fs/promises'
import { BadRequestError, HubError } from '../errors.js'
import type { Logger } from '../log.js'
import { ControlClient, DaemonUnreachableError } from '../daemon/control.js'
import { findDaemon, probeDaemon } from '../daemon/discovery.js'
import { isPidAlive, readDaemonInfo, type DaemonInfo } from '../daemon/files.js'
import type { HandlerTable } from '../daemon/daemon.js'
import type { HubNode } from '../net/hub-node.js'
import type { StoreChoice } from '../hub.js'
import { startHosting, startNetwork } from './network.js'


/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (loopback). Port 0 lets the OS choose. */
export function parseHttpAddress (v: string): { host: string, port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(v)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw new BadRequestError(`--http must be HOST:PORT, e.g. 127.0.0.1:8080 (got "${v}")`)
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '127.0.0.1' : m[2])
  return { host, port }
}

const STOP_TIMEOUT_MS = 10_000
const POLL_MS = 50

/** Run the daemon in the foreground until it is stopped; returns the exit code. */
export async function startDaemon (dir: string, opts: { handlers: HandlerTable<HubNode>, store?: StoreChoice, listen: string[], bootstrap: string[], http?: { host: string, port: number, serveApp?: string }, logger: Logger, onReady: (info: DaemonInfo) => void }): Promise<number> {
  const { runDaemon } = await import('../daemon/daemon.js')
  return await runDaemon({
    dir,
    handlers: opts.handlers,
    ...(opts.store !== undefined ? { store: opts.store } : {}),
    listen: opts.listen,
    bootstrap: opts.bootstrap,
    logger: opts.logger,
    onReady: opts.onReady,
    ...(opts.http !== undefined ? { http: opts.http } : {}),
    ...(startNetwork !== undefined ? { startNetwork } : {}),
    startHosting
  })
}

/**
 * The process is gone, or a zombie (exited; its parent has not reaped it
 * yet — a detached daemon's parent is whatever adopted it, which may never
 * reap in a container).
 */
async function hasExited (pid: number): Promise<boolean> {
  if (!isPidAlive(pid)) return true
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) S …": the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z'
  } catch {
    return false
  }
}

export interface StopResult {
  /** False when no daemon was running (stopping is idempotent). */
  stopped: boolean
  pid?: number
}

/** Ask the daemon to shut down and wait until it has (its daemon.json is gone). */
export async function stopDaemon (dir: string): Promise<StopResult> {
  const info = await findDaemon(dir)
  if (info === undefined) return { stopped: false }
  try {
    const client = await ControlClient.forDir(dir, info)
    await client.call('shutdown', {}, { timeoutMs: STOP_TIMEOUT_MS })
  } catch (err) {
    // Refused: it is already shutting down (control channel closed first), so just wait.
    if (!(err instanceof DaemonUnreachableError)) throw err
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS
  for (;;) {
    // Done when the process has exited: its files go first, then the process
    // (a caller that restarts the hub at once must not race its lock).
    if (await hasExited(info.pid)) return { stopped: true, pid: info.pid }
    if (Date.now() > deadline) {
      throw new HubError('unavailable', `the hub daemon (pid ${info.pid}) did not stop within ${STOP_TIMEOUT_MS / 1000} s; ` +
        `if no daemon is running for ${dir}, its daemon.json is stale and can be deleted`)
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

export interface StatusResult {
  running: boolean
  pid?: number
  startedAt?: string
  control?: { url: string }
  multiaddrs?: string[]
  did?: string
  peerId?: string
  http?: DaemonInfo['http']
  /** Which engine holds the store (a PostgreSQL URL with its password redacted). */
  store?: DaemonInfo['store']
  /** When this device's authorization was revoked by the owner (null: it is not). */
  revokedAt?: string | null
  /** A daemon.json is present but no daemon answers (crashed, or mid-shutdown); it is ignored and replaced at the next start. */
  stale?: boolean
}

export async function daemonStatus (dir: string): Promise<StatusResult> {
  const live = await probeDaemon(dir)
  if (live !== undefined) {
    // A revoked device says so here too (its daemon keeps running, cut off from the owner's other hubs).
    const revokedAt = await ControlClient.forDir(dir, live)
      .then(async c => await c.call('sync status', {}, { timeoutMs: 2000 }) as { self?: { revokedAt?: string | null } } | null)
      .then(r => r?.self?.revokedAt ?? null, () => null)
    return { running: true, ...live, revokedAt }
  }
  return (await readDaemonInfo(dir)) !== undefined ? { running: false, stale: true } : { running: false }
}
