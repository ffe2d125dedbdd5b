/**
 * Every `hub` command, in help order. Adding a command = one module here
 * (or under org/ or app/) and one line in this list.
 */
import type { Handler, HandlerTable } from '../../daemon/daemon.js'
import type { HubNode } from '../../net/hub-node.js'
import type { AnyCommand, AnyHubCommand } from '../spec.js'
import { APP_COMMANDS } from './app/index.js'
import { ORG_COMMANDS } from './org/index.js'
import { HOSTING_COMMANDS } from './hosting/index.js'
import { archiveExport, archiveImport } from './archive.js'
import { audit } from './audit.js'
import { auditSearch, auditSummary } from './audit-search.js'
import { dashboard } from './dashboard.js'
import { diff } from './diff.js'
import { revokePreview } from './revoke-preview.js'
import { backup } from './backup.js'
import { collectionEncrypt } from './collection-encrypt.js'
import { collectionList } from './collection-list.js'
import { configGet, configSet } from './config.js'
import { deviceInvite } from './device-invite.js'
import { deviceList } from './device-list.js'
import { deviceRevoke } from './device-revoke.js'
import { doctor } from './doctor.js'
import { follow } from './follow.js'
import { following } from './following.js'
import { grant } from './grant.js'
import { grants } from './grants.js'
import { info } from './info.js'
import { peers } from './peers.js'
import { profileGet, profileSet } from './profile.js'
import { revoke } from './revoke.js'
import { shared } from './shared.js'
import { syncOnce } from './sync.js'
import { syncStatus } from './sync-status.js'
import { unfollow } from './unfollow.js'
import { startCommand, status, stop } from './daemon.js'
import { del } from './delete.js'
import { exportObject } from './export.js'
import { history } from './history.js'
import { init } from './init.js'
import { query } from './query.js'
import { read } from './read.js'
import { update } from './update.js'
import { watchCommand } from './watch.js'
import { write } from './write.js'

const HUB_SIDE: AnyCommand[] = [
  init, info, doctor, dashboard,
  ...HOSTING_COMMANDS,
  stop, status,
  configGet, configSet,
  deviceInvite, deviceList, deviceRevoke, peers, syncOnce, syncStatus,
  write, collectionList, collectionEncrypt, update, read, del, history, diff, query, watchCommand, exportObject,
  grant, grants, revoke, revokePreview, audit, auditSearch, auditSummary, follow, following, unfollow, shared,
  backup, archiveExport, archiveImport,
  ...ORG_COMMANDS,
  profileGet, profileSet
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
