/**
 * The hub daemon: one long-lived process that owns a hub directory (its
 * LevelDB lock, its network node) and runs every other CLI command on that
 * directory through the local control channel (control.ts).
 *
 * Start-up order makes daemon.json a reliable "ready" marker: open the hub
 * (taking the store lock, the real mutual exclusion between daemons), write
 * a fresh control secret, listen for control requests, start the network,
 * and only then write daemon.json. Shutdown runs the reverse: stop taking
 * control requests, stop the network, close the hub (which waits for pending
 * writes), then remove daemon.json and control.secret.
 *
 * The network is a seam: `startNetwork` is injected, so the libp2p layer
 * (src/net) plugs in without changes here. Handlers see it as `ctx.net`.
 * To give handlers the network's richer API, instantiate the generics with
 * the concrete handle type, e.g. `Daemon.start<HubNetwork>({ startNetwork,
 * handlers })` with `handlers: HandlerTable<HubNetwork>`.
 */
import { resolve } from 'node:path'
import { Hub, type StoreChoice } from '../hub.js'
import { HubError, toHubError, BadRequestError } from '../errors.js'
import { silentLogger, type Logger } from '../log.js'
import { ControlServer } from './control.js'
import { probeDaemon } from './discovery.js'
import { listenStably } from './listen-addresses.js'
import { adminKeyFile, daemonFile, loadOrCreateAdminKey, newSecret, removeDaemonFiles, secretFile, writePrivateFile, type DaemonInfo } from './files.js'
import type { HttpServer } from '../http/server.js'
import { checkOutboundEnv, chosenOutboundMode, isLoopbackHost, outboundMode, restrictOutboundFor } from '../identity/outbound.js'

export interface NetworkHandle { multiaddrs(): string[]; stop(): Promise<void> }
export type StartNetwork<N extends NetworkHandle = NetworkHandle> = (hub: Hub, opts: { listen: string[], bootstrap: string[], logger: Logger }) => Promise<N>

/** What a command handler works on: the open hub and, inside a daemon with a network, the network. */
export interface HandlerContext<N extends NetworkHandle = NetworkHandle> {
  hub: Hub
  /** Absent in-process (a one-shot CLI command has no network) and in a daemon started without one. */
  net?: N
}

/**
 * One command as the daemon runs it: `params` is whatever the caller sent
 * (a JSON object); the handler checks it against its schema before use.
 */
export type Handler<N extends NetworkHandle = NetworkHandle> = (ctx: HandlerContext<N>, params: Record<string, unknown>) => Promise<unknown>
export type HandlerTable<N extends NetworkHandle = NetworkHandle> = Readonly<Record<string, Handler<N>>>

export interface DaemonOptions<N extends NetworkHandle = NetworkHandle> {
  dir: string
  handlers: HandlerTable<N>
  listen?: string[]
  bootstrap?: string[]
  /** Without it the daemon runs with no network (multiaddrs = []). */
  startNetwork?: StartNetwork<N>
  /**
   * The network of a hosting hub (hub.json `hosting`), started instead of
   * `startNetwork`: one node for every hosted owner (net/hosting/). Handlers
   * reach it through hostingOf(hub); `ctx.net` stays unset.
   */
  startHosting?: StartNetwork
  /**
   * Serve the HTTP API (Identity API, did:web, DCP) on this address. Off by
   * default. Beyond loopback (0.0.0.0, ::, any other address or name),
   * outbound requests default to the `deny` policy (public addresses only)
   * while it runs, unless HUB_OUTBOUND or HUB_OUTBOUND_LOOPBACK says
   * otherwise (identity/outbound.ts); an unknown value of either refuses
   * the start.
   */
  http?: { host: string, port: number, /** Also serve this directory's web app at /app/ (http/static-app.ts). */ serveApp?: string }
  /** `hub start --store`: this store instead of hub.json's, for this run (its password is never written anywhere). */
  store?: StoreChoice
  logger?: Logger
}

export class Daemon<N extends NetworkHandle = NetworkHandle> {
  readonly dir: string
  readonly hub: Hub
  readonly #opts: DaemonOptions<N>
  readonly #log: Logger
  #secret = ''
  #server: ControlServer | undefined
  #net: N | undefined
  /** A hosting hub's node (startHosting), in place of #net. */
  #hosting: NetworkHandle | undefined
  #http: HttpServer | undefined
  /** Lifts the outbound `deny` default taken while the HTTP server listens beyond loopback. */
  #releaseOutbound: () => void = () => {}
  #info: DaemonInfo | undefined
  #stopping: Promise<void> | undefined
  readonly #stopped: Promise<boolean>
  #settle: (clean: boolean) => void = () => {}

  private constructor (dir: string, hub: Hub, opts: DaemonOptions<N>, log: Logger) {
    this.dir = dir
    this.hub = hub
    this.#opts = opts
    this.#log = log
    this.#stopped = new Promise(resolve => { this.#settle = resolve })
  }

  /**
   * Start a daemon for `opts.dir`. Throws HubError `unavailable` if another
   * live daemon owns the directory (or anything else holds its store). A
   * stale daemon.json (dead pid, silent control URL) is simply replaced.
   */
  static async start<N extends NetworkHandle = NetworkHandle> (opts: DaemonOptions<N>): Promise<Daemon<N>> {
    const dir = resolve(opts.dir)
    const logger = opts.logger ?? silentLogger
    const log = logger.child('daemon')
    const other = await probeDaemon(dir)
    if (other !== undefined) {
      throw new HubError('unavailable', `a hub daemon (pid ${other.pid}) is already running for ${dir} at ${other.control.url}; stop it with "hub stop --dir ${dir}"`)
    }
    // An unreachable PostgreSQL store fails here: unavailable, reason database_unavailable (the start exits non-zero).
    const hub = await Hub.open(dir, { logger, ...(opts.store !== undefined ? { store: opts.store } : {}) })
    const daemon = new Daemon<N>(dir, hub, opts, log)
    try {
      await daemon.#start()
    } catch (err) {
      await daemon.#teardown().catch(() => {})
      throw err
    }
    return daemon
  }

  async #start (): Promise<void> {
    this.#secret = newSecret()
    await writePrivateFile(secretFile(this.dir), this.#secret + '\n')
    this.#server = await ControlServer.listen({
      secret: this.#secret,
      logger: this.#log.child('control'),
      dispatch: async (command, params) => await this.#dispatch(command, params)
    })
    const listen = this.#opts.listen ?? []
    // Bootstrap peers from hub.json (`hub config set network.bootstrap …`) and from the command line.
    // The node checks them (bad_request before anything dials), as `hub config set` does.
    const bootstrap = [...new Set([...(this.hub.config.network?.bootstrap ?? []), ...(this.#opts.bootstrap ?? [])])]
    const startNetwork = this.#opts.startNetwork
    const startHosting = this.#opts.startHosting
    if (this.hub.config.hosting !== undefined) {
      if (startHosting === undefined) throw new HubError('unsupported', 'this is a hosting hub and this daemon was started without the hosting network', { reason: 'no_hosting_network' })
      this.#hosting = await listenStably(this.dir, listen, this.#log.child('hosting'), async addrs =>
        await startHosting(this.hub, { listen: addrs, bootstrap, logger: this.#log.child('hosting') }))
    } else if (startNetwork !== undefined) {
      // The first start records the ports it chose; later starts come back on them (listen-addresses.ts).
      this.#net = await listenStably(this.dir, listen, this.#log.child('net'), async addrs =>
        await startNetwork(this.hub, { listen: addrs, bootstrap, logger: this.#log.child('net') }))
    } else if (listen.length > 0 || bootstrap.length > 0) {
      this.#log.warn('no network layer is available yet: --listen and --bootstrap are ignored', { listen, bootstrap })
    }
    let http: DaemonInfo['http']
    if (this.#opts.http !== undefined) {
      const { createHttpServer } = await import('../http/app.js')
      const adminKey = await loadOrCreateAdminKey(this.dir)
      // Before listening: a server reachable from outside makes outbound requests
      // (did:web, status lists, service endpoints) default to public addresses
      // only, unless the operator chose a mode (HUB_OUTBOUND, HUB_OUTBOUND_LOOPBACK).
      checkOutboundEnv()
      this.#releaseOutbound = restrictOutboundFor(this.#opts.http.host)
      const serveApp = this.#opts.http.serveApp
      const staticApp = serveApp !== undefined ? await (await import('../http/static-app.js')).staticApp({ dir: serveApp }) : undefined
      // The owner's dashboard (/dashboard/) runs its API through this same dispatch: every page action is a command.
      this.#http = createHttpServer(this.hub, { adminKey, logger: this.#log, ...(staticApp !== undefined ? { staticApp } : {}), dashboard: { dispatch: async (command, params) => await this.#dispatch(command, params) } })
      const url = await this.#http.listen(this.#opts.http.host, this.#opts.http.port)
      if (!isLoopbackHost(this.#opts.http.host)) {
        this.#log.warn('the HTTP API listens beyond loopback: keep /api/identity/ off the public network and put TLS in front', { url })
      }
      this.#log.info('outbound requests', { mode: outboundMode(), chosen: chosenOutboundMode() !== undefined })
      http = { url, adminKeyFile: adminKeyFile(this.dir), ...(serveApp !== undefined ? { app: `${url}/app/` } : {}) }
      // Issuance requests a previous run received but did not settle (crash, shutdown) are processed now.
      // Not awaited: a slow holder must not delay the daemon's start.
      // Holder maintenance (polling unanswered requests, renewing expiring credentials) runs on a timer
      // while the HTTP server runs; the service stops it when the hub closes.
      void import('../org/hub-org.js').then(async ({ issuanceOf }) => await issuanceOf(this.hub)).then(async i => { i.startMaintenance(); return await i.resume() }).then(
        n => { if (n > 0) this.#log.info('resuming issuance requests', { count: n }) },
        (err: unknown) => { this.#log.error('cannot resume issuance requests', { reason: (err as Error).message }) }
      )
    }
    this.#info = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      control: { url: this.#server.url },
      multiaddrs: (this.#net ?? this.#hosting)?.multiaddrs() ?? [],
      did: this.hub.did,
      peerId: this.hub.peerId,
      store: this.hub.storeInfo,
      ...(http !== undefined ? { http } : {})
    }
    // Last step: from here on, CLI processes forward their commands to us.
    await writePrivateFile(daemonFile(this.dir), JSON.stringify(this.#info, null, 2) + '\n')
    this.#log.info('daemon ready', { dir: this.dir, control: this.#server.url, multiaddrs: this.#info.multiaddrs })
  }

  /** The content of daemon.json. */
  get info (): DaemonInfo {
    if (this.#info === undefined) throw new HubError('unavailable', 'the daemon is not started')
    return this.#info
  }

  get net (): N | undefined {
    return this.#net
  }

  /** True once a shutdown has begun. */
  get stopping (): boolean {
    return this.#stopping !== undefined
  }

  /** Resolves when the daemon has shut down: true if every step succeeded. */
  get stopped (): Promise<boolean> {
    return this.#stopped
  }

  /** Shut down (idempotent: every caller gets the same shutdown). Rejects if a step failed. */
  async shutdown (reason = 'requested'): Promise<void> {
    this.#stopping ??= this.#stop(reason)
    await this.#stopping
  }

  /** `ping` (the current DaemonInfo) and `shutdown` are answered here, ahead of the handler table. */
  async #dispatch (command: string, params: Record<string, unknown>): Promise<unknown> {
    if (command === 'ping') return { ...this.info, multiaddrs: (this.#net ?? this.#hosting)?.multiaddrs() ?? [] }
    if (command === 'shutdown') {
      // Begin after this reply is written: closing the control server first
      // would otherwise race the response to the caller.
      setImmediate(() => { this.shutdown('control command').catch(() => {}) })
      return { stopping: true, pid: process.pid }
    }
    const handler = Object.hasOwn(this.#opts.handlers, command) ? this.#opts.handlers[command] : undefined
    if (handler === undefined) throw new BadRequestError(`unknown command "${command}"`)
    const ctx: HandlerContext<N> = this.#net !== undefined ? { hub: this.hub, net: this.#net } : { hub: this.hub }
    return await handler(ctx, params)
  }

  async #stop (reason: string): Promise<void> {
    this.#log.info('daemon stopping', { reason })
    let clean = true
    try {
      clean = await this.#teardown()
    } finally {
      this.#log.info('daemon stopped', { clean })
      this.#settle(clean)
    }
    if (!clean) throw new HubError('internal', 'the daemon did not shut down cleanly (see the log)')
  }

  /** Every step runs even if an earlier one failed, so the store is closed and the files go whatever happens. */
  async #teardown (): Promise<boolean> {
    let clean = true
    const step = async (what: string, fn: () => Promise<void> | undefined): Promise<void> => {
      try {
        await fn()
      } catch (err) {
        clean = false
        this.#log.error(`${what} failed`, { error: toHubError(err).message })
      }
    }
    await step('closing the control channel', () => this.#server?.close())
    // The maintenance timer stops with the HTTP server it serves (closing the hub would stop it too, later).
    await step('stopping holder maintenance', () => this.#http === undefined || this.hub.closed ? undefined : import('../org/hub-org.js').then(async ({ issuanceOf }) => await issuanceOf(this.hub)).then(i => { i.stopMaintenance() }))
    await step('closing the HTTP server', () => this.#http?.close())
    this.#releaseOutbound()
    await step('stopping the network', () => this.#net?.stop())
    await step('stopping the hosting network', () => this.#hosting?.stop())
    await step('closing the hub', () => this.hub.close())
    if (this.#secret !== '') await step('removing daemon.json and control.secret', () => removeDaemonFiles(this.dir, { pid: process.pid, secret: this.#secret }))
    return clean
  }
}

export interface RunDaemonOptions<N extends NetworkHandle = NetworkHandle> extends DaemonOptions<N> {
  /** Called once the daemon is ready, with the content of daemon.json. */
  onReady?: (info: DaemonInfo) => void
  /** A second SIGINT/SIGTERM during shutdown calls this with 1 (default: process.exit). */
  forceExit?: (code: number) => void
}

/**
 * Run a daemon until SIGINT, SIGTERM or a `shutdown` control command, and
 * return the exit code: 0 after a clean shutdown, 1 otherwise. A second
 * signal while shutting down gives up at once with forceExit(1).
 */
export async function runDaemon<N extends NetworkHandle = NetworkHandle> (opts: RunDaemonOptions<N>): Promise<number> {
  const log = (opts.logger ?? silentLogger).child('daemon')
  const forceExit = opts.forceExit ?? ((code: number) => process.exit(code))
  let daemon: Daemon<N> | undefined
  let signalled: string | undefined
  // Installed before start-up so a signal during it is not fatal by default
  // (which would leave a half-started daemon's files behind).
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled !== undefined || daemon?.stopping === true) {
      log.warn('signal during shutdown: exiting now', { signal })
      forceExit(1)
      return
    }
    signalled = signal
    if (daemon !== undefined) daemon.shutdown(`signal ${signal}`).catch(() => {})
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    daemon = await Daemon.start(opts)
    if (signalled !== undefined) {
      daemon.shutdown(`signal ${signalled} during start-up`).catch(() => {})
    } else {
      opts.onReady?.(daemon.info)
    }
    return await daemon.stopped ? 0 : 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
