#!/usr/bin/env node
/**
 * The `hub` command. Parses arguments, opens the hub (or, when a daemon owns
 * the directory, forwards the command to it), runs one handler and prints
 * the result. With --json, exactly one JSON document goes to stdout; errors
 * go to stderr as {"error":{"code","message"}} with a non-zero exit.
 */
import '../shim.js'
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { BadRequestError, HubError, toHubError } from '../errors.js'
import { createLogger, type Logger } from '../log.js'
import { fromB64u } from '../identity/encoding.js'
import type { Ed25519KeyPair } from '../identity/keys.js'
import { handlers, LOCAL_STEPS, READS_STDIN, type CommandArgs } from './commands.js'
import { daemonStatus, parseHttpAddress, startDaemon, stopDaemon } from './daemon-commands.js'
import { execute } from './execute.js'
import { printHuman, printReady } from './output.js'
import { USAGE } from './usage.js'

const OPTIONS = {
  dir: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  strategy: { type: 'string' },
  context: { type: 'string' },
  type: { type: 'string' },
  where: { type: 'string', multiple: true },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  sort: { type: 'string' },
  out: { type: 'string' },
  'owner-key': { type: 'string' },
  listen: { type: 'string', multiple: true },
  bootstrap: { type: 'string', multiple: true },
  join: { type: 'string' },
  role: { type: 'string' },
  name: { type: 'string' },
  ttl: { type: 'string' },
  peer: { type: 'string', multiple: true },
  grantee: { type: 'string' },
  allow: { type: 'string' },
  expires: { type: 'string' },
  object: { type: 'string' },
  after: { type: 'string' },
  encrypt: { type: 'boolean' },
  tag: { type: 'string' },
  blind: { type: 'boolean' },
  repair: { type: 'boolean' },
  // app side (hub identity / hub client)
  hub: { type: 'string' },
  key: { type: 'string' },
  owner: { type: 'string' },
  // organization identity (participants, keys, DIDs, credentials, DCP)
  http: { type: 'string' },
  id: { type: 'string' },
  did: { type: 'string' },
  participant: { type: 'string' },
  active: { type: 'boolean' },
  'key-id': { type: 'string' },
  'public-key': { type: 'string' },
  activate: { type: 'boolean' },
  successor: { type: 'string' },
  'no-successor': { type: 'boolean' },
  jwt: { type: 'string' },
  audience: { type: 'string' },
  scope: { type: 'string', multiple: true },
  token: { type: 'string' },
  // DCP issuance (hub issuance define, hub credentials request)
  issuer: { type: 'string' },
  definition: { type: 'string', multiple: true },
  holder: { type: 'string', multiple: true },
  validity: { type: 'string' },
  claims: { type: 'string' },
  'status-list': { type: 'boolean' },
  endpoint: { type: 'string' }
} as const

/** Commands with subcommands: `hub device invite`, `hub sync status`… */
const SUBCOMMANDS: Record<string, { subs: string[], optional?: boolean }> = {
  profile: { subs: ['get', 'set'] },
  device: { subs: ['invite', 'list', 'revoke'] },
  sync: { subs: ['status'], optional: true },
  collection: { subs: ['encrypt'] },
  identity: { subs: ['new'] },
  client: { subs: ['write', 'read', 'update', 'delete', 'query', 'history'] },
  participant: { subs: ['create', 'list', 'activate', 'deactivate', 'delete'] },
  keys: { subs: ['list', 'create', 'activate', 'rotate', 'revoke'] },
  did: { subs: ['show', 'publish', 'unpublish', 'add-service', 'remove-service'], optional: true },
  credentials: { subs: ['add', 'list', 'request', 'requests'] },
  issuance: { subs: ['define', 'list', 'delete', 'requests', 'issued', 'revoke'] },
  dcp: { subs: ['token'] }
}

/** Printed by `hub start` itself (the ready line), so main prints nothing more. */
const ALREADY_PRINTED = Symbol('already printed')

export function defaultDir (): string {
  return process.env.HUB_DIR !== undefined && process.env.HUB_DIR !== '' ? process.env.HUB_DIR : join(homedir(), '.identity-hub')
}

async function readStdin (): Promise<string> {
  if (process.stdin.isTTY === true) return ''
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function loadOwnerKey (path: string): Promise<Ed25519KeyPair> {
  let text: string
  try {
    text = (await readFile(path, 'utf8')).trim()
  } catch (err) {
    throw new BadRequestError(`cannot read the --owner-key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const { Ed25519KeyPair } = await import('../identity/keys.js')
  try {
    if (text.startsWith('{')) return Ed25519KeyPair.fromJwk(JSON.parse(text) as Record<string, unknown>)
    return Ed25519KeyPair.fromSeed(fromB64u(text))
  } catch {
    throw new BadRequestError('--owner-key must hold an OKP Ed25519 private JWK or a base64url 32-byte seed')
  }
}

async function run (argv: string[], json: boolean, logger: Logger): Promise<{ result: unknown, command: string }> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    throw new BadRequestError((err as Error).message)
  }
  const { values, positionals } = parsed
  const [first, ...rest] = positionals
  let command = first
  if (command === undefined || values.help === true || command === 'help') return { result: USAGE, command: 'help' }
  const group = Object.hasOwn(SUBCOMMANDS, command) ? SUBCOMMANDS[command] : undefined
  if (group !== undefined) {
    const sub = rest[0]
    if (sub !== undefined && group.subs.includes(sub)) {
      rest.shift()
      command = `${command} ${sub}`
    } else if (group.optional !== true) {
      throw new BadRequestError(`usage: hub ${command} ${group.subs.join('|')}`)
    }
  }
  // App side: no hub directory, no daemon; the hub is reached over the network (--hub).
  if (command === 'identity new' || command.startsWith('client ')) {
    const { CLIENT_READS_STDIN, runClientCommand } = await import('./client-commands.js')
    const stdin = CLIENT_READS_STDIN.has(command) ? await readStdin() : undefined
    return { result: await runClientCommand(command, { positionals: rest, options: values, ...(stdin !== undefined ? { stdin } : {}) }), command }
  }
  const dir = resolve(values.dir ?? defaultDir())

  switch (command) {
    // Never through a daemon: there is no hub (hence no daemon) before init.
    case 'init': {
      if (values.join !== undefined) {
        if (values['owner-key'] !== undefined) throw new BadRequestError('--join and --owner-key exclude each other: a joined device holds no owner key')
        const r = values.blind === true ? 'blind' : values.role
        if (values.blind === true && values.role !== undefined && values.role !== 'blind') throw new BadRequestError('--blind and --role ' + values.role + ' contradict each other')
        if (r !== undefined && r !== 'owner-device' && r !== 'blind') throw new BadRequestError('--role must be owner-device or blind')
        const { joinHub } = await import('../net/pair.js')
        return { result: await joinHub(dir, values.join, { ...(r !== undefined ? { role: r } : {}), ...(values.name !== undefined ? { name: values.name } : {}) }), command }
      }
      const ownerKey = values['owner-key'] !== undefined ? await loadOwnerKey(values['owner-key']) : undefined
      const { Hub } = await import('../hub.js')
      return { result: await Hub.init(dir, ownerKey !== undefined ? { ownerKey } : {}), command }
    }
    case 'start': {
      const code = await startDaemon(dir, {
        listen: values.listen ?? [],
        bootstrap: values.bootstrap ?? [],
        ...(values.http !== undefined ? { http: parseHttpAddress(values.http) } : {}),
        logger,
        onReady: info => printReady(info, json)
      })
      process.exitCode = code
      // Whatever the network layer left running must not keep a stopped daemon alive.
      setTimeout(() => process.exit(code), 2000).unref()
      return { result: ALREADY_PRINTED, command }
    }
    case 'stop':
      return { result: await stopDaemon(dir), command }
    case 'status':
      return { result: await daemonStatus(dir), command }
  }

  const handler = Object.hasOwn(handlers, command) ? handlers[command] : undefined
  if (handler === undefined) throw new BadRequestError(`unknown command "${command}" (see hub --help)`)
  // The daemon may run elsewhere than our working directory: send the absolute dir.
  const args: CommandArgs = { positionals: rest, options: { ...values, dir } }
  const local = Object.hasOwn(LOCAL_STEPS, command) ? LOCAL_STEPS[command] : undefined
  await local?.before?.(args)
  if (READS_STDIN.has(command)) args.stdin = await readStdin()
  const result = await execute(dir, command, handler, args, logger)
  return { result: local?.after !== undefined ? await local.after(result, args) : result, command }
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const json = argv.includes('--json')
  try {
    const { result, command } = await run(argv, json, createLogger('hub'))
    if (result === ALREADY_PRINTED) {
      if (!json) process.stdout.write('hub daemon stopped\n')
    } else if (json) {
      process.stdout.write(JSON.stringify(result) + '\n')
    } else {
      printHuman(command, result)
    }
  } catch (e) {
    const err = toHubError(e)
    if (json) process.stderr.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n')
    else process.stderr.write(`hub: ${err.message} [${err.code}]\n`)
    process.exitCode = err instanceof HubError && err.code === 'internal' ? 70 : 1
  }
}

await main()
