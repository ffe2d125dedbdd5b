/** Human-readable output for terminals (the --json form is the contract). */
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
      process.stdout.write(`${command === 'write' ? 'created' : command === 'delete' ? 'deleted' : 'updated'} ${String(r.objectId)}\n  commit ${String(r.commitId)}\n`)
      return
    case 'query': {
      const objs = r.objects as Array<Record<string, unknown>>
      for (const o of objs) process.stdout.write(`${String(o.objectId)}  ${String(o.type)}  ${JSON.stringify(o.value)}\n`)
      process.stdout.write(`${objs.length} object(s)${r.cursor !== null ? `, more with --cursor ${String(r.cursor)}` : ''}\n`)
      return
    }
    default:
      process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  }
}
