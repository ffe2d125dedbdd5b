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
import { Hub } from '../hub.js'
import { BadRequestError, HubError, toHubError } from '../errors.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { fromB64u } from '../identity/encoding.js'
import { handlers, READS_STDIN, type CommandArgs } from './commands.js'
import { printHuman } from './output.js'
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
  'owner-key': { type: 'string' }
} as const

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
  const text = (await readFile(path, 'utf8')).trim()
  try {
    if (text.startsWith('{')) return Ed25519KeyPair.fromJwk(JSON.parse(text) as Record<string, unknown>)
    return Ed25519KeyPair.fromSeed(fromB64u(text))
  } catch {
    throw new BadRequestError('--owner-key must hold an OKP Ed25519 private JWK or a base64url 32-byte seed')
  }
}

async function run (argv: string[]): Promise<{ result: unknown, command: string }> {
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
  if (command === 'profile') {
    const sub = rest.shift()
    if (sub !== 'get' && sub !== 'set') throw new BadRequestError('usage: hub profile get|set')
    command = `profile ${sub}`
  }
  const dir = resolve(values.dir ?? defaultDir())

  if (command === 'init') {
    const ownerKey = values['owner-key'] !== undefined ? await loadOwnerKey(values['owner-key']) : undefined
    return { result: await Hub.init(dir, ownerKey !== undefined ? { ownerKey } : {}), command }
  }

  const handler = handlers[command]
  if (handler === undefined) throw new BadRequestError(`unknown command "${command}" (see hub --help)`)
  const args: CommandArgs = { positionals: rest, options: { ...values } }
  if (READS_STDIN.has(command)) args.stdin = await readStdin()

  const hub = await Hub.open(dir)
  try {
    return { result: await handler(hub, args), command }
  } finally {
    await hub.close()
  }
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const json = argv.includes('--json')
  try {
    const { result, command } = await run(argv)
    if (json) process.stdout.write(JSON.stringify(result) + '\n')
    else printHuman(command, result)
  } catch (e) {
    const err = toHubError(e)
    if (json) process.stderr.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n')
    else process.stderr.write(`hub: ${err.message} [${err.code}]\n`)
    process.exitCode = err instanceof HubError && err.code === 'internal' ? 70 : 1
  }
}

await main()
