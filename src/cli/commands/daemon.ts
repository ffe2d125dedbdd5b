/** `hub start`, `hub stop`, `hub status`: the daemon itself. None of them opens the store in this process. */
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { BadRequestError } from '../../errors.js'
import type { HandlerTable } from '../../daemon/daemon.js'
import type { HubNode } from '../../net/hub-node.js'
import type { StoreChoice } from '../../hub.js'
import { daemonStatus, parseHttpAddress, startDaemon, stopDaemon, type StatusResult, type StopResult } from '../daemon-commands.js'
import { fields, pickField, printable } from '../format.js'
import { list, opt } from '../input.js'
import { printReady } from '../output.js'
import { localCommand, SILENT } from '../spec.js'
import { endStartup } from '../startup-heap.js'
import { storeLine } from './init.js'
import { STORE_OPTIONS, storeChoice } from './store-options.js'

/** `--serve-app DIR`: goes with --http, and must be a directory (checked before anything starts). Absolute, for --detach. */
async function appDir (dir: string | undefined, http: string | undefined): Promise<string | undefined> {
  if (dir === undefined) return undefined
  if (http === undefined) throw new BadRequestError('--serve-app goes with --http (the app is served by the HTTP server)', { reason: 'serve_app_without_http' })
  const abs = resolve(dir)
  const st = await stat(abs).catch(() => undefined)
  if (st?.isDirectory() !== true) throw new BadRequestError(`--serve-app ${dir} is not a directory`, { reason: 'no_app_dir' })
  return abs
}

/** `--store URL [--store-namespace NS]` for a detached start, the password moved to PGPASSWORD. */
async function detachedStoreArgv (store: StoreChoice): Promise<string[]> {
  const { splitStoreUrl } = await import('../../hub-config-core.js')
  const { url, password } = splitStoreUrl(store.url)
  const pw = store.password ?? password
  if (pw !== undefined) process.env.PGPASSWORD = pw
  return ['--store', url, ...(store.namespace !== undefined ? ['--store-namespace', store.namespace] : [])]
}

/** `hub start` runs the given handler table (the registry's hub commands) inside the daemon. */
export function startCommand (handlers: HandlerTable<HubNode>): ReturnType<typeof localCommand<typeof SILENT>> {
  return localCommand<typeof SILENT>({
    name: 'start',
    group: 'Daemon',
    usesDir: true,
    summary: 'run the hub in the foreground (until Ctrl-C, SIGTERM or "hub stop")',
    description: 'Run the hub: its libp2p node, sync with the owner\'s devices and, with --http, the Identity API, did:web and DCP. ' +
      'Meanwhile every other command on --dir goes through it. Listen addresses are kept in DIR/hub.json (network.listen): ' +
      'the first start picks ports and records them, so paired devices find this hub again after a restart.',
    options: [
      { flags: '--listen <multiaddr>', description: 'listen here instead of the recorded addresses (repeatable)', repeatable: true },
      { flags: '--bootstrap <multiaddr>', description: 'also dial this peer (repeatable; hub.json network.bootstrap is added)', repeatable: true },
      { flags: '--http <host:port>', description: 'serve the HTTP API here (admin key: DIR/http-admin.key)' },
      { flags: '--serve-app <dir>', description: 'with --http: also serve the static web app in this directory at /app/ (docs/browser.md)' },
      { flags: '--detach', description: 'run in the background and return once ready; logs go to --log-file' },
      { flags: '--log-file <file>', description: 'with --detach: append the daemon\'s logs here (default DIR/hub.log)' },
      ...STORE_OPTIONS.map(o => ({ ...o, description: `${o.description} — for this run, overriding hub.json` }))
    ],
    examples: ['hub start --dir ~/hub', 'hub start --dir ~/hub --detach', 'hub start --dir ~/hub --listen /ip4/0.0.0.0/tcp/4001 --http 127.0.0.1:8080', 'hub start --dir ~/hub --http 127.0.0.1:8080 --serve-app ./my-web-app'],
    async run (cli) {
      const http = opt(cli.opts.http)
      const serveApp = await appDir(opt(cli.opts.serveApp), http)
      if (cli.opts.logFile !== undefined && cli.opts.detach !== true) throw new BadRequestError('--log-file goes with --detach (in the foreground, logs go to stderr)')
      const store = await storeChoice(cli.opts)
      if (cli.opts.detach === true) {
        const { startDetached } = await import('../detach.js')
        // The password reaches the background process through its environment (PGPASSWORD), never its argv (visible in ps).
        const storeArgv = store === undefined ? [] : await detachedStoreArgv(store)
        const argv = ['--dir', cli.dir, ...storeArgv, ...list(cli.opts.listen).flatMap(a => ['--listen', a]), ...list(cli.opts.bootstrap).flatMap(a => ['--bootstrap', a]), ...(http !== undefined ? ['--http', http] : []), ...(serveApp !== undefined ? ['--serve-app', serveApp] : [])]
        const { info, logFile } = await startDetached(argv, resolve(opt(cli.opts.logFile) ?? join(cli.dir, 'hub.log')))
        const field = opt(cli.opts.field)
        if (field !== undefined) process.stdout.write(printable(pickField({ ...info, logFile }, field)) + '\n')
        else if (cli.json) process.stdout.write(JSON.stringify({ ...info, logFile }) + '\n')
        else process.stdout.write(`hub daemon running in the background (pid ${info.pid}), logs in ${logFile}; "hub stop --dir ${cli.dir}" stops it\n`)
        return SILENT
      }
      // A start that fails must end this process even if something it started lingers (a timer, a socket).
      const failed = (err: unknown): never => {
        setTimeout(() => process.exit(process.exitCode ?? 1), 2000).unref()
        throw err
      }
      const code = await startDaemon(cli.dir, {
        handlers,
        ...(store !== undefined ? { store } : {}),
        listen: list(cli.opts.listen),
        bootstrap: list(cli.opts.bootstrap),
        ...(http !== undefined ? { http: { ...parseHttpAddress(http), ...(serveApp !== undefined ? { serveApp } : {}) } } : {}),
        logger: cli.logger,
        onReady: info => { endStartup(); printReady(info, cli.json) }
      }).catch(failed)
      process.exitCode = code
      if (!cli.json) process.stdout.write('hub daemon stopped\n')
      // Whatever the network layer left running must not keep a stopped daemon alive.
      setTimeout(() => process.exit(code), 2000).unref()
      return SILENT
    }
  })
}

export const stop = localCommand<StopResult>({
  name: 'stop',
  group: 'Daemon',
  usesDir: true,
  summary: 'ask the running daemon to shut down; returns once its process has exited',
  async run (cli) { return await stopDaemon(cli.dir) },
  human: r => r.stopped ? `stopped the hub daemon (pid ${String(r.pid)})\n` : 'no hub daemon was running\n'
})

export const status = localCommand<StatusResult>({
  name: 'status',
  group: 'Daemon',
  usesDir: true,
  summary: 'whether a daemon runs: its pid, control URL, multiaddrs and HTTP address',
  async run (cli) { return await daemonStatus(cli.dir) },
  human (r) {
    if (!r.running) return `no hub daemon is running${r.stale === true ? ' (ignoring a stale daemon.json)' : ''}\n`
    const revoked = typeof r.revokedAt === 'string' ? `THIS DEVICE WAS REVOKED by the owner at ${r.revokedAt}: the owner's other hubs no longer sync with it\n` : ''
    return revoked + `hub daemon running (pid ${String(r.pid)}) since ${String(r.startedAt)}\n` + fields([
      ['  control', r.control?.url],
      ['  multiaddrs', (r.multiaddrs ?? []).join(' ') || '(no network)'],
      ...(r.store !== undefined ? [['  store', storeLine(r.store)] as const] : []),
      ...(r.http !== undefined ? [['  http', `${r.http.url} (admin key in ${r.http.adminKeyFile})`] as const] : [])
    ])
  }
})
