/** Human-readable output for terminals (the --json form is the contract). */
import type { DaemonInfo } from '../daemon/files.js'

/**
 * `hub start`'s ready line. With --json it is the one JSON document on
 * stdout (the content of daemon.json), so scripts can wait for one line.
 */
export function printReady (info: DaemonInfo, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(info) + '\n')
    return
  }
  const net = info.multiaddrs.length > 0 ? info.multiaddrs.join(' ') : 'no network'
  const http = info.http !== undefined ? `, HTTP ${info.http.url} (admin key in ${info.http.adminKeyFile})${info.http.app !== undefined ? `, web app ${info.http.app}` : ''}` : ''
  process.stdout.write(`hub daemon running (pid ${info.pid}): control ${info.control.url}, ${net}${http}, peer id ${info.peerId}; Ctrl-C or "hub stop" stops it\n`)
}

export function printHuman (command: string, result: unknown): void {
  if (typeof result === 'string') {
    process.stdout.write(result.endsWith('\n') ? result : result + '\n')
    return
  }
  if (result === null) {
    process.stdout.write(command === 'profile get' ? 'no profile set\n' : 'null\n')
    return
  }
  const r = result as Record<string, unknown>
  switch (command) {
    case 'init':
      process.stdout.write(`created hub\n  owner DID: ${String(r.did)}\n  hub DID:   ${String(r.hubDid)}\n  peer id:   ${String(r.peerId)}\n  dir:       ${String(r.dir)}\n`)
      return
    case 'write':
    case 'update':
    case 'delete':
    case 'profile set':
    case 'client write':
    case 'client update':
    case 'client delete': {
      const verb = command.endsWith('write') ? 'created' : command.endsWith('delete') ? 'deleted' : command === 'client update' && r.changed === false ? 'unchanged' : 'updated'
      process.stdout.write(`${verb} ${String(r.objectId)}\n  commit ${String(r.commitId)}\n`)
      return
    }
    case 'identity new':
      process.stdout.write(`created app identity ${String(r.did)}\n(the owner grants it with: hub grant --grantee ${String(r.did)} --context … --type … --allow CRUD)\n`)
      return
    case 'query':
    case 'client query': {
      const objs = r.objects as Array<Record<string, unknown>>
      for (const o of objs) process.stdout.write(`${String(o.objectId)}  ${String(o.type)}  ${JSON.stringify(o.value)}\n`)
      process.stdout.write(`${objs.length} object(s)${r.cursor !== null ? `, more with --cursor ${String(r.cursor)}` : ''}\n`)
      return
    }
    case 'status':
      if (r.running !== true) {
        process.stdout.write(`no hub daemon is running${r.stale === true ? ' (ignoring a stale daemon.json)' : ''}\n`)
        return
      }
      process.stdout.write(`hub daemon running (pid ${String(r.pid)}) since ${String(r.startedAt)}\n  control:    ${(r.control as { url: string }).url}\n` +
        `  multiaddrs: ${(r.multiaddrs as string[]).join(' ') || '(no network)'}\n` +
        (r.http !== undefined ? `  http:       ${(r.http as { url: string }).url} (admin key in ${(r.http as { adminKeyFile: string }).adminKeyFile})\n` : ''))
      return
    case 'device invite':
      process.stdout.write(`${String(r.invite)}\n(one-time; expires ${String(r.expiresAt)}; on the new device run: hub init --dir DIR --join <invite>)\n`)
      return
    case 'sync':
      process.stdout.write(`pulled ${String(r.received)} commit(s) (${String(r.stored)} new) from ${String(r.peer)} in ${String(r.roundTrips)} round trip(s); now at ${String(r.watermark)}/${String(r.head)}\n`)
      return
    case 'stop':
      process.stdout.write(r.stopped === true ? `stopped the hub daemon (pid ${String(r.pid)})\n` : 'no hub daemon was running\n')
      return
    case 'doctor': {
      for (const t of r.tenants as Array<Record<string, unknown>>) {
        const problems = t.problems as Array<Record<string, unknown>>
        const remaining = t.remaining as Array<Record<string, unknown>> | undefined
        process.stdout.write(`tenant ${String(t.tenant)}: ${String(t.commits)} commit(s), ${String(t.objects)} object(s), ` +
          `${problems.length === 0 ? 'no problems' : `${problems.length} problem(s)`}` +
          `${Number(t.repaired) > 0 ? `, ${String(t.repaired)} derived key(s) repaired` : ''}` +
          `${remaining !== undefined ? `, ${remaining.length} remaining` : ''}\n`)
        for (const p of remaining ?? problems) {
          process.stdout.write(`  ${String(p.code)} (${String(p.kind)})${p.objectId !== undefined ? ` object ${String(p.objectId)}` : ''}${p.commitId !== undefined ? ` commit ${String(p.commitId)}` : ''}: ${String(p.detail)}\n`)
        }
        for (const n of t.notes as string[]) process.stdout.write(`  note: ${n}\n`)
      }
      const orgProblems = (r.org as { problems?: string[] } | undefined)?.problems ?? []
      process.stdout.write(`organization records: ${orgProblems.length === 0 ? 'no problems' : `${orgProblems.length} problem(s)`}\n`)
      for (const p of orgProblems) process.stdout.write(`  ${p}\n`)
      process.stdout.write(r.clean === true ? 'clean\n' : r.repair === true ? 'NOT clean (signed data is never changed; see above)\n' : 'NOT clean (hub doctor --repair rewrites derived data)\n')
      return
    }
    default:
      process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  }
}
