/**
 * App-side CLI commands: `hub identity new` makes an app identity (a key
 * file), and `hub client …` uses someone's hub over the request protocol
 * with that identity, through HubClient. They never open a hub directory
 * and never go through a daemon: the hub they talk to is named by
 * `--hub MULTIADDR`, the owner by `--owner DID`, the caller by `--key FILE`.
 * Output and error codes follow the rest of the CLI (`--json`).
 */
import { BadRequestError } from '../errors.js'
import type { CommitStrategy } from '../commits/commit.js'
import type { ClientFilter, ClientSortOrder, HubClient } from '../client/index.js'
import { parseWhere } from './commands.js'

export type ClientOptions = Record<string, string | boolean | string[] | undefined>

interface ClientCommandArgs {
  positionals: string[]
  options: ClientOptions
  stdin?: string
}

/** Commands whose input is read from stdin. */
export const CLIENT_READS_STDIN = new Set(['client write', 'client update'])

/** The default `--context` of `hub client query` (apps must name one; schema.org is the common case). */
export const DEFAULT_CLIENT_CONTEXT = 'https://schema.org'

function str (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

function need (a: ClientCommandArgs, name: string): string {
  const v = str(a.options[name])
  if (v === undefined || v === '') throw new BadRequestError(`missing --${name} ${name === 'owner' ? 'DID' : name === 'hub' ? 'MULTIADDR' : 'FILE'}`)
  return v
}

function one (a: ClientCommandArgs, name: string): string {
  const v = a.positionals[0]
  if (v === undefined) throw new BadRequestError(`missing ${name}`)
  return v
}

function jsonInput (text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') throw new BadRequestError('pipe the value as JSON on stdin')
  try {
    return JSON.parse(text)
  } catch {
    throw new BadRequestError('the value on stdin is not valid JSON')
  }
}

async function withClient<T> (a: ClientCommandArgs, fn: (c: HubClient) => Promise<T>): Promise<T> {
  const hub = need(a, 'hub')
  const keyPath = need(a, 'key')
  const owner = need(a, 'owner')
  const { HubClient, readKeyFile } = await import('../client/index.js')
  const identity = await readKeyFile(keyPath)
  const client = await HubClient.connect({ hub, identity, owner })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

const COMMANDS: Record<string, (a: ClientCommandArgs) => Promise<unknown>> = {
  async 'identity new' (a) {
    const out = str(a.options.out)
    if (out === undefined || out === '') throw new BadRequestError('missing --out FILE')
    const { createKeyFile } = await import('../client/key-file.js')
    const key = await createKeyFile(out)
    return { did: key.did }
  },
  async 'client write' (a) {
    const strategy = str(a.options.strategy) ?? 'automerge'
    if (strategy !== 'automerge' && strategy !== 'lww') throw new BadRequestError('--strategy must be automerge or lww')
    const value = jsonInput(a.stdin)
    return await withClient(a, async c => await c.collections.write(value, { strategy: strategy as CommitStrategy }))
  },
  async 'client update' (a) {
    const id = one(a, 'OBJECT_ID')
    const value = jsonInput(a.stdin)
    return await withClient(a, async c => await c.collections.update(id, value))
  },
  async 'client read' (a) {
    const id = one(a, 'OBJECT_ID')
    return await withClient(a, async c => await c.collections.read(id))
  },
  async 'client delete' (a) {
    const id = one(a, 'OBJECT_ID')
    return await withClient(a, async c => await c.collections.delete(id))
  },
  async 'client history' (a) {
    const id = one(a, 'OBJECT_ID')
    return await withClient(a, async c => await c.collections.history(id))
  },
  async 'client query' (a) {
    const type = str(a.options.type)
    if (type === undefined || type === '') throw new BadRequestError('missing --type T (apps query one context and type)')
    const context = str(a.options.context) ?? DEFAULT_CLIENT_CONTEXT
    const where: ClientFilter[] = ([] as string[]).concat((a.options.where as string[] | undefined) ?? []).map(parseWhere)
    const limit = str(a.options.limit)
    if (limit !== undefined && !/^\d+$/.test(limit)) throw new BadRequestError('--limit must be a positive integer')
    const sort = str(a.options.sort)
    if (sort !== undefined && !['created', '-created', 'updated', '-updated'].includes(sort)) throw new BadRequestError('--sort must be created, -created, updated or -updated')
    const cursor = str(a.options.cursor)
    return await withClient(a, async c => await c.collections.query({
      context,
      type,
      ...(where.length > 0 ? { where } : {}),
      ...(limit !== undefined ? { limit: Number(limit) } : {}),
      ...(sort !== undefined ? { sort: sort as ClientSortOrder } : {}),
      ...(cursor !== undefined ? { cursor } : {})
    }))
  }
}

/** Run one app-side command (the caller has read stdin when CLIENT_READS_STDIN has it). */
export async function runClientCommand (command: string, args: ClientCommandArgs): Promise<unknown> {
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
  if (run === undefined) throw new BadRequestError(`unknown command "${command}" (see hub --help)`)
  return await run(args)
}
