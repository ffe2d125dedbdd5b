/**
 * What one `hub` command is: its documentation (summary, arguments,
 * options, examples: commander builds `hub <cmd> --help` from them), how
 * argv becomes typed params (in the CLI process), what runs with those
 * params (inside the daemon when one owns the directory, else in-process),
 * and how the result reads on a terminal. Each command is one module under
 * src/cli/commands/ holding all of that together.
 *
 * Two kinds:
 *  - `hub` commands work on an open hub. Their params cross the control
 *    channel as a JSON object and are checked by `params` on arrival.
 *  - `local` commands run in the CLI process only (init, start, stop,
 *    status, backup, the app side): no daemon dispatch.
 */
import type { Logger } from '../log.js'
import type { HandlerContext } from '../daemon/daemon.js'
import type { HubNode } from '../net/hub-node.js'
import { schema, type Infer, type Schema, type Shape } from './params.js'

export interface OptionSpec {
  /** commander syntax: '--ttl <seconds>', '--encrypt', '--where <expr>'. */
  flags: string
  description: string
  /** May be given several times; the value is a list. */
  repeatable?: boolean
  required?: boolean
  choices?: readonly string[]
}

export interface ArgumentSpec {
  /** Shown in help: OBJECT_ID, HUB_DID… */
  name: string
  description: string
  optional?: boolean
}

export interface CliInput {
  /** Positional arguments in declared order. */
  args: Array<string | undefined>
  /** Options by camelCase name (`--owner-key` → ownerKey): string, boolean or string[]. */
  opts: Record<string, unknown>
  /** Standard input, read when the command declares `stdin`. */
  stdin?: string
  /** The hub directory (absolute): --dir, $HUB_DIR or ~/.identity-hub. */
  dir: string
  json: boolean
  logger: Logger
}

export type CommandContext = HandlerContext<HubNode>

/** A local command that printed its own output (`hub start`'s ready line) returns this. */
export const SILENT: unique symbol = Symbol('printed already')

interface Doc {
  /** 'write', 'device invite': the words typed after `hub`. */
  name: string
  summary: string
  /** Longer help text, shown by `hub <cmd> --help`. */
  description?: string
  examples?: string[]
  arguments?: ArgumentSpec[]
  options?: OptionSpec[]
  /** The command reads standard input (JSON value, or text). */
  stdin?: 'json' | 'text'
  /** Show this command in `hub --help` under this heading. */
  group: string
}

// Handlers are declared as methods: a registry of commands of every
// params/result type is then a list of HubCommand<unknown, …> (method
// parameters are compared bivariantly), with no `any`. Each command's own
// module is typed precisely; only the dispatcher sees them erased, and it
// hands `run` exactly what `params.check` returned.
export interface HubCommand<P, R, O = R> extends Doc {
  kind: 'hub'
  params: Schema<P>
  /** argv → params, in the CLI process (may read local files named by options). */
  input (cli: CliInput): P | Promise<P>
  /** Runs where the hub is open: the daemon, or this process. */
  run (ctx: CommandContext, params: P): Promise<R>
  /** Back in the CLI process: local side effects (write a file, set the exit code). */
  after? (result: R, cli: CliInput): O | Promise<O>
  /** The terminal form of the result (default: indented JSON). */
  human? (result: O): string
}

export interface LocalCommand<O> extends Doc {
  kind: 'local'
  /** Takes --dir (a hub directory). */
  usesDir: boolean
  run (cli: CliInput): Promise<O>
  human? (result: O): string
}

export type AnyHubCommand = HubCommand<unknown, unknown, unknown>
export type AnyLocalCommand = LocalCommand<unknown>
export type AnyCommand = AnyHubCommand | AnyLocalCommand

/** Declare a hub command; `params` is a field record (params.ts) whose type the handler gets. */
export function hubCommand<S extends Shape, R, O = R> (spec: Omit<HubCommand<Infer<S>, R, O>, 'kind' | 'params'> & { params: S }): HubCommand<Infer<S>, R, O> {
  return { ...spec, kind: 'hub', params: schema(spec.params) }
}

export function localCommand<O> (spec: Omit<LocalCommand<O>, 'kind' | 'usesDir'> & { usesDir?: boolean }): LocalCommand<O> {
  return { ...spec, kind: 'local', usesDir: spec.usesDir ?? false }
}
