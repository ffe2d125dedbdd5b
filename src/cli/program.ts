/**
 * The `hub` command tree, built with commander from the command modules'
 * declarations (src/cli/commands/): options are per command, `hub <cmd>
 * --help` shows that command's options and examples, a typo gets "did you
 * mean", and an option value may start with a dash (`--allow -R--`).
 * Parsing only selects a command and collects its input; main.ts runs it.
 */
import { Command, Option } from 'commander'
import type { AnyCommand, OptionSpec } from './spec.js'

export interface Selected {
  command: AnyCommand
  args: Array<string | undefined>
  opts: Record<string, unknown>
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

function addOption (cmd: Command, o: OptionSpec): void {
  const option = new Option(o.flags, o.description)
  if (o.choices !== undefined) option.choices(o.choices)
  if (o.repeatable === true) option.argParser(collect)
  if (o.required === true) option.makeOptionMandatory()
  cmd.addOption(option)
}

const GROUP_ORDER = ['Hub', 'Daemon', 'Configuration', 'Devices and sync', 'Collections', 'Permissions and sharing', 'Backup and moving', 'Organization identity', 'Profile', 'Apps']

/**
 * Build the program. `onSelect` receives the chosen command and its input;
 * `version` is printed by `hub --version`.
 */
export function buildProgram (commands: readonly AnyCommand[], version: string, onSelect: (s: Selected) => void): Command {
  const program = new Command('hub')
    .description('Identity Hub: a peer-to-peer personal datastore. README.md has the walk-through.')
    .usage('<command> [options]')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (also: hub <command> --help)')
    .showSuggestionAfterError(true)
    // `hub sync --peer X` and `hub sync status --dir D`: a group's own options end at its subcommand's name.
    .enablePositionalOptions()
    // main.ts prints errors itself (typed, JSON with --json); subcommands inherit this at creation.
    .configureOutput({ outputError: () => {} })
    .exitOverride()
  program.configureHelp({
    sortSubcommands: false,
    subcommandTerm: cmd => [cmd.name(), ...cmd.registeredArguments.map(a => a.required ? `<${a.name()}>` : `[${a.name()}]`), ...(cmd.commands.length > 0 ? ['<command>'] : [])].join(' ')
  })
  program.addHelpText('after', '\n--dir defaults to $HUB_DIR, then ~/.identity-hub. HUB_LOG=debug|info logs JSON lines to stderr.\n' +
    'While a daemon runs, commands on its directory go through it.\nEvery command takes --json: one JSON document on stdout, errors as {"error":{"code","message"}} on stderr.')

  const groups = new Map<string, Command>()
  const sorted = [...commands].sort((a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group))
  for (const spec of sorted) {
    const words = spec.name.split(' ')
    let parent = program
    for (const w of words.slice(0, -1)) {
      let g = groups.get(w)
      if (g === undefined) {
        g = parent.command(w).description(`${w} commands (hub ${w} <command> --help)`).exitOverride()
        g.helpGroup(spec.group)
        groups.set(w, g)
      }
      parent = g
    }
    const leafName = words[words.length - 1] as string
    // A group word that is also a command (`hub sync`, `hub did`): the group runs it when no subcommand matches.
    const existing = words.length === 1 ? groups.get(leafName) : undefined
    const cmd = existing ?? parent.command(leafName).exitOverride()
    if (existing === undefined) groups.set(spec.name, cmd)
    cmd.summary(spec.summary).description(spec.description ?? spec.summary)
    cmd.helpGroup(spec.group)
    for (const a of spec.arguments ?? []) cmd.argument(a.optional === true ? `[${a.name}]` : `<${a.name}>`, a.description)
    for (const o of spec.options ?? []) addOption(cmd, o)
    if (spec.kind === 'hub' || spec.usesDir) cmd.option('--dir <dir>', 'the hub directory (default: $HUB_DIR or ~/.identity-hub)')
    cmd.option('--json', 'print one JSON document (errors as JSON on stderr)')
    cmd.option('--field <name>', 'print only this field of the result (a dot path, e.g. objectId or items.0.grantId), for scripts')
    const extra: string[] = []
    if (spec.stdin === 'json') extra.push('Reads a JSON value on standard input.')
    if (spec.examples !== undefined && spec.examples.length > 0) extra.push('Examples:\n' + spec.examples.map(e => `  $ ${e}`).join('\n'))
    if (extra.length > 0) cmd.addHelpText('after', '\n' + extra.join('\n\n'))
    cmd.action(function (this: Command) {
      const n = spec.arguments?.length ?? 0
      const args = this.processedArgs.slice(0, n) as Array<string | undefined>
      onSelect({ command: spec, args, opts: this.opts() })
    })
  }
  return program
}
