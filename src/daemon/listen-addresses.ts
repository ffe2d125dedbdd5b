/**
 * Which addresses `hub start` listens on, and keeping them stable.
 *
 * Paired devices remember each other's addresses; a hub that comes back on
 * new random ports is unreachable at every address its devices know, and
 * when both sides restarted neither can dial the other. So the first start
 * picks concrete ports for the default addresses and records them in
 * hub.json (`network.listen`); every later start reuses them. `--listen`
 * overrides the record for one run without changing it; `hub config set
 * network.listen …` changes it for good.
 *
 * A recorded port another program took in the meantime is not fatal: the
 * hub picks new ports, records them and says so (its devices find it again
 * when it dials them, as it still knows where they are).
 */
import { createServer, type AddressInfo, type Server } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { BadRequestError, HubError } from '../errors.js'
import { readConfig, writeConfig } from '../hub-config.js'
import type { Logger } from '../log.js'
import { DEFAULT_LISTEN } from '../net/node.js'

export interface ListenPlan {
  listen: string[]
  /** Where the addresses came from: the command line, hub.json, or chosen now (and to be recorded). */
  source: 'flag' | 'config' | 'new'
}

/** The addresses to listen on for this start. */
export async function planListen (dir: string, flag: string[]): Promise<ListenPlan> {
  if (flag.length > 0) return { listen: checkListen(flag), source: 'flag' }
  const recorded = (await readConfig(dir)).network?.listen
  if (recorded !== undefined && recorded.length > 0) {
    // `hub config set network.listen /ip4/0.0.0.0/tcp/0` means "any port, then keep it": pick now, record.
    const picked = await withFreePorts(checkListen(recorded))
    return { listen: picked, source: picked.some((a, i) => a !== recorded[i]) ? 'new' : 'config' }
  }
  return { listen: await withFreePorts(DEFAULT_LISTEN), source: 'new' }
}

/** Every address must parse as a multiaddr: a typo is the person's mistake (bad_request), not a crash. */
export function checkListen (addrs: string[]): string[] {
  for (const a of addrs) {
    try {
      multiaddr(a)
    } catch (err) {
      throw new BadRequestError(`--listen: "${a}" is not a multiaddr (${(err as Error).message})`, { listen: a })
    }
  }
  return addrs
}

const TCP_PORT = /^(\/(?:ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/)(\d+)(.*)$/

/**
 * The same addresses with every `tcp/0` replaced by a port that is free now.
 * All probe sockets stay open until every port is known, so two addresses
 * never get the same port.
 */
export async function withFreePorts (addrs: string[]): Promise<string[]> {
  const probes: Array<Server | undefined> = []
  try {
    for (const a of addrs) {
      const m = TCP_PORT.exec(a)
      probes.push(m === null || m[2] !== '0' ? undefined : await probe(a.split('/')[2] ?? '127.0.0.1'))
    }
    return addrs.map((a, i) => {
      const srv = probes[i]
      const m = TCP_PORT.exec(a)
      if (srv === undefined || m === null) return a
      return `${m[1]}${(srv.address() as AddressInfo).port}${m[3]}`
    })
  } finally {
    await Promise.all(probes.map(async p => { if (p !== undefined) await new Promise(resolve => p.close(resolve)) }))
  }
}

/** The same addresses with every TCP port set to 0 (any free port). */
export function anyPort (addrs: string[]): string[] {
  return addrs.map(a => {
    const m = TCP_PORT.exec(a)
    return m === null ? a : `${m[1]}0${m[3]}`
  })
}

async function probe (host: string): Promise<Server> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, host, () => { resolve(srv) })
  })
}

export function isAddressInUse (err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(e.message)) return true
  }
  return false
}

/** Record the addresses a first start chose, so the next start comes back on them. */
export async function recordListen (dir: string, listen: string[]): Promise<void> {
  const cfg = await readConfig(dir)
  await writeConfig(dir, { ...cfg, network: { ...cfg.network, listen } })
}

/**
 * Start the network on the planned addresses. A recorded or newly chosen
 * port that is taken gets new ports once (recorded, with a warning); a
 * taken port the person asked for with --listen is theirs to fix
 * (`unavailable`).
 */
export async function listenStably<N> (dir: string, flag: string[], log: Logger, start: (listen: string[]) => Promise<N>): Promise<N> {
  const plan = await planListen(dir, flag)
  let listen = plan.listen
  let net: N
  try {
    net = await start(listen)
  } catch (err) {
    if (!isAddressInUse(err)) throw err
    if (plan.source === 'flag') {
      throw new HubError('unavailable', `cannot listen on ${listen.join(', ')}: the address is in use by another program`, { listen }, { cause: err })
    }
    listen = await withFreePorts(anyPort(listen))
    log.warn('a recorded listen address is in use by another program: listening on new ports (devices find this hub again when it dials them)', { was: plan.listen, now: listen })
    try {
      net = await start(listen)
    } catch (err2) {
      if (isAddressInUse(err2)) throw new HubError('unavailable', `cannot listen on ${listen.join(', ')}: the address is in use`, { listen }, { cause: err2 })
      throw err2
    }
    await recordListen(dir, listen)
    return net
  }
  if (plan.source === 'new') await recordListen(dir, listen)
  return net
}
