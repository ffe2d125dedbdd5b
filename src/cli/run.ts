/**
 * The `hub` command: parse argv (program.ts, over the command modules in
 * commands/), turn it into the command's params, run it — forwarded to the
 * directory's daemon when one runs, else in-process — and print the result.
 * With --json, exactly one JSON document goes to stdout; errors go to
 * stderr as {"error":{"code","message"}} with a non-zero exit. Loaded by
 * main.ts once startup-heap.ts has set the young generation's growth.
 */
import '../shim.js'
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { CommanderError } from 'commander'
import { BadRequestError, HubError, toHubError } from '../errors.js'
import { createLogger } from '../log.js'
import { COMMANDS } from './commands/index.js'
import { execute } from './execute.js'
import { pickField, printable } from './format.js'
import { buildProgram, type Selected } from './program.js'
import { SILENT, type CliInput } from './spec.js'
import { endStartup } from './startup-heap.js'

export function defaultDir (): string {
  return process.env.HUB_DIR !== undefined && process.env.HUB_DIR !== '' ? process.env.HUB_DIR : join(homedir(), '.identity-hub')
}

function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return typeof pkg.version === 'string' ? pkg.version : 'unknown'
}

async function readStdin (): Promise<string> {
  if (process.stdin.isTTY === true) return ''
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** commander's message without its "error: " prefix, on one line. */
function commanderMessage (err: CommanderError): string {
  return err.message.replace(/^error: /, '').replace(/\n+/g, ' ').trim()
}

async function runSelected (s: Selected, json: boolean): Promise<unknown> {
  const spec = s.command
  const cli: CliInput = {
    args: s.args,
    opts: s.opts,
    dir: resolve(typeof s.opts.dir === 'string' ? s.opts.dir : defaultDir()),
    json,
    logger: createLogger('hub')
  }
  if (spec.stdin !== undefined) cli.stdin = await readStdin()
  if (spec.kind === 'local') return await spec.run(cli)
  const params = await spec.input(cli) as Record<string, unknown>
  // Checked here too, so a bad value fails before a daemon is contacted.
  spec.params.check(params)
  const result = await execute(cli.dir, spec, params, cli.logger)
  return spec.after !== undefined ? await spec.after(result, cli) : result
}

function print (s: Selected, result: unknown, json: boolean): void {
  if (result === SILENT) return
  const field = s.opts.field
  if (typeof field === 'string') {
    const v = pickField(result, field)
    process.stdout.write(printable(v) + '\n')
    return
  }
  if (json) {
    process.stdout.write(JSON.stringify(result ?? null) + '\n')
    return
  }
  const human = s.command.human
  const text = human !== undefined ? human(result) : JSON.stringify(result, null, 2) + '\n'
  process.stdout.write(text.endsWith('\n') ? text : text + '\n')
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const json = argv.includes('--json')
  // `hub … | head`: a reader that goes away is not an error of ours.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw err
  })
  let selected: Selected | undefined
  const program = buildProgram(COMMANDS, version(), s => { selected = s })
  if (argv.length === 0) {
    program.outputHelp()
    return
  }
  try {
    try {
      await program.parseAsync(argv, { from: 'user' })
    } catch (err) {
      if (!(err instanceof CommanderError)) throw err
      // Help and --version were printed (help without a subcommand to stderr, exit 1).
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return
      if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync') { process.exitCode = 1; return }
      throw new BadRequestError(commanderMessage(err))
    }
    if (selected === undefined) return
    // `hub start` ends start-up itself, once its daemon is ready (commands/daemon.ts).
    if (selected.command.name !== 'start') endStartup()
    const result = await runSelected(selected, json)
    print(selected, result, json)
  } catch (e) {
    const err = toHubError(e)
    if (json) process.stderr.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n')
    else process.stderr.write(`hub: ${err.message} [${err.code}]\n`)
    process.exitCode = err instanceof HubError && err.code === 'internal' ? 70 : 1
  }
}

await main()
