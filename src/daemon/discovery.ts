/**
 * Is a daemon running for a hub directory? Two levels of certainty:
 *  - findDaemon: daemon.json exists and its pid is alive. Cheap (no I/O
 *    beyond one small file), and enough for the CLI to try forwarding: if
 *    nothing answers, the request was never delivered and it falls back.
 *  - probeDaemon: the same, and the control channel answers a `ping` from
 *    that very pid. Used where a wrong "yes" would hurt (refusing to start,
 *    `hub status`), since pids get reused after a crash.
 */
import { ControlClient } from './control.js'
import { isPidAlive, readDaemonInfo, type DaemonInfo } from './files.js'

export async function findDaemon (dir: string): Promise<DaemonInfo | undefined> {
  const info = await readDaemonInfo(dir)
  return info !== undefined && isPidAlive(info.pid) ? info : undefined
}

/** The daemon's current info (fresh multiaddrs) if it answers within `timeoutMs`, else undefined. */
export async function probeDaemon (dir: string, timeoutMs = 2000): Promise<DaemonInfo | undefined> {
  const info = await findDaemon(dir)
  if (info === undefined) return undefined
  try {
    const client = await ControlClient.forDir(dir, info)
    const live = await client.call('ping', {}, { timeoutMs }) as Partial<DaemonInfo> | null
    return live?.pid === info.pid ? { ...info, ...live } : undefined
  } catch {
    return undefined
  }
}
