/**
 * Every `hub` command, in help order. Adding a command = one module here
 * (or under org/ or app/) and one line in this list.
 */
import type { Handler, HandlerTable } from '../../daemon/daemon.js'
import type { HubNode } from '../../net/hub-node.js'
import type { AnyCommand, AnyHubCommand } from '../spec.js'
import { APP_COMMANDS } from './app/index.js'
import { ORG_COMMANDS } from './org/index.js'
import { collectionEncrypt } from './collection-encrypt.js'
import { startCommand, status, stop } from './daemon.js'
import { del } from './delete.js'
import { exportObject } from './export.js'
import { history } from './history.js'
import { init } from './init.js'
import { query } from './query.js'
import { read } from './read.js'
import { update } from './update.js'
import { write } from './write.js'

const HUB_SIDE: AnyCommand[] = [
  init,
  stop, status,
  write, collectionEncrypt, update, read, del, history, query, exportObject,
  ...ORG_COMMANDS
]

/** What the daemon runs: every hub command, its params checked on arrival. */
export function hubHandlers (commands: readonly AnyCommand[]): HandlerTable<HubNode> {
  const table: Record<string, Handler<HubNode>> = {}
  for (const c of commands) {
    if (c.kind !== 'hub') continue
    const cmd: AnyHubCommand = c
    table[c.name] = async (ctx, raw) => await cmd.run(ctx, cmd.params.check(raw))
  }
  return table
}

export const COMMANDS: readonly AnyCommand[] = [...HUB_SIDE, startCommand(hubHandlers(HUB_SIDE)), ...APP_COMMANDS]
