/**
 * What every `hub client …` command shares: the three options naming the
 * hub, the caller and the owner, and a connected HubClient for the run.
 * The SDK (libp2p) is imported inside the run, so `hub --help` stays light.
 */
import type { HubClient } from '../../../client/index.js'
import type { ClientFilter } from '../../../client/index.js'
import { BadRequestError } from '../../../errors.js'
import { list, need, opt, parseWhere } from '../../input.js'
import type { CliInput, OptionSpec } from '../../spec.js'

export const GROUP = 'Apps'

/** The `--context` of `client query` and `client watch` when none is given (apps must name one; schema.org is the common case). */
export const DEFAULT_CONTEXT = 'https://schema.org'

export const CONNECTION_OPTIONS: OptionSpec[] = [
  { flags: '--hub <multiaddr>', description: 'the hub to talk to: a multiaddr ending in /p2p/<peer id> ("hub status --json" lists them)', required: true },
  { flags: '--key <file>', description: 'the app identity\'s key file ("hub identity new")', required: true },
  { flags: '--owner <did>', description: 'the owner whose hub it is (the owner grants the app\'s DID first)', required: true }
]

/** Shown in examples: the three connection options. */
export const CONN = '--hub /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW… --key app.key --owner did:key:z6Mk…'

/** Connect as the app (--key) to the owner's (--owner) hub (--hub). */
export async function connect (cli: CliInput): Promise<HubClient> {
  const hub = need(cli, 'hub', 'MULTIADDR')
  const keyPath = need(cli, 'key', 'FILE')
  const owner = need(cli, 'owner', 'DID')
  const { HubClient, readKeyFile } = await import('../../../client/index.js')
  const identity = await readKeyFile(keyPath)
  return await HubClient.connect({ hub, identity, owner })
}

/** Run `fn` with a connected client, closed afterwards whatever happens. */
export async function withClient<T> (cli: CliInput, fn: (c: HubClient) => Promise<T>): Promise<T> {
  const client = await connect(cli)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/** --type (required by the option spec too), --context (default schema.org) and --where filters. */
export function collectionQuery (cli: CliInput): { context: string, type: string, where?: ClientFilter[] } {
  const type = opt(cli.opts.type)
  if (type === undefined || type === '') throw new BadRequestError('missing --type TYPE (apps query one context and type)')
  const context = opt(cli.opts.context) ?? DEFAULT_CONTEXT
  if (context === '') throw new BadRequestError('--context must not be empty')
  const where = list(cli.opts.where).map(parseWhere)
  return { context, type, ...(where.length > 0 ? { where } : {}) }
}

export const COLLECTION_OPTIONS: OptionSpec[] = [
  { flags: '--type <type>', description: 'the collection\'s @type', required: true },
  { flags: '--context <context>', description: `the collection's @context (default ${DEFAULT_CONTEXT})` },
  { flags: '--where <expr>', description: 'a filter on a top-level field: FIELD=VALUE, FIELD>VALUE, >=, <, <= (repeatable)', repeatable: true }
]
