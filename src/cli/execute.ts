/**
 * Run one hub command for the CLI: inside the directory's daemon when one
 * is running (a typed call over the control channel), else in-process.
 *
 * Falling back is only ever done when the daemon provably did not receive
 * the command (connection refused, files gone), so a command never runs
 * twice. The store lock can be held briefly by a daemon that is starting
 * or stopping, or by another one-shot command; opening the hub is retried
 * for a few seconds in that case, re-checking for a daemon each time.
 */
import { HubError } from '../errors.js'
import type { Logger } from '../log.js'
import { ControlClient, DaemonUnreachableError } from '../daemon/control.js'
import { findDaemon } from '../daemon/discovery.js'
import type { AnyHubCommand } from './spec.js'

const LOCK_WAIT_MS = 5000
const LOCK_RETRY_MS = 100

export async function execute (dir: string, command: AnyHubCommand, params: Record<string, unknown>, logger: Logger): Promise<unknown> {
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    const daemon = await findDaemon(dir)
    if (daemon !== undefined) {
      try {
        const client = await ControlClient.forDir(dir, daemon)
        logger.debug('forwarding to the hub daemon', { command: command.name, pid: daemon.pid, url: client.url })
        return await client.call(command.name, params)
      } catch (err) {
        if (!(err instanceof DaemonUnreachableError)) throw err
        logger.debug('the hub daemon does not answer; running in-process', { pid: daemon.pid })
      }
    }
    // Loaded lazily: a forwarded command never pays for importing the store stack.
    const { Hub } = await import('../hub.js')
    let hub
    try {
      hub = await Hub.open(dir, { logger })
    } catch (err) {
      if (err instanceof HubError && err.code === 'unavailable' && Date.now() < deadline) {
        await new Promise(resolve => setTimeout(resolve, LOCK_RETRY_MS))
        continue
      }
      throw err
    }
    try {
      // The same check the daemon applies to a call it receives.
      return await command.run({ hub }, command.params.check(params))
    } finally {
      await hub.close()
    }
  }
}
