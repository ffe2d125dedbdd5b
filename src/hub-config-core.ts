/**
 * A hub's config (hub.json, no secrets) as values: its shape, parsing and
 * serialization, and the keys `hub config get|set` knows. No I/O, so the
 * Hub's browser build carries it; reading and writing the file is
 * hub-config.ts (Node), storing it in IndexedDB is hub-home-web.ts.
 * Its presence marks a complete hub, so it is only ever replaced whole.
 * `network` holds what a person may edit with `hub config`: the addresses
 * `hub start` listens on, recorded at the first start so that a hub comes
 * back on the same ports and its paired devices find it again.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { BadRequestError, HubError } from './errors.js'
import type { Did } from './ids.js'

export const CONFIG_VERSION = 1

export type HubRole = 'owner-device' | 'blind'

export interface NetworkConfig {
  /** libp2p listen multiaddrs (kubo's Addresses.Swarm). Recorded with concrete ports by the first `hub start`. */
  listen?: string[]
  /** Multiaddrs dialled at every start, besides the devices the hub remembers. */
  bootstrap?: string[]
  /** Serve as a circuit relay for the owner's own devices (an always-on hub). */
  relay?: boolean
  /** Find the owner's devices on the local network with mDNS. */
  mdns?: boolean
}

export interface HubConfig {
  version: number
  ownerDid: Did
  hubDid: Did
  peerId: string
  role: HubRole
  createdAt: string
  limits: { maxValueBytes: number, maxCommitBytes: number }
  network?: NetworkConfig
  /** Where the store lives when it is not the home's own (LevelDB under Node): absent means the default. */
  store?: StoreConfig
  /** Present on a hosting hub (`hub hosting init`): it serves the owners it hosts (docs/hosting.md). */
  hosting?: HostingConfig
}

/** A hosting hub's settings: the quotas of an owner added without any. */
export interface HostingConfig {
  defaultQuotas?: { objects?: number, bytes?: number, requestsPerSecond?: number }
}

/**
 * A store outside the hub's home: today PostgreSQL (src/store/pg-kv.ts).
 * `url` never holds a password (see {@link splitStoreUrl}): the password is
 * the secret keys/store-password, PGPASSWORD, or given again at `hub start`.
 */
export interface StoreConfig {
  engine: 'postgres'
  url: string
  /** This hub's partition of the database (PgKv namespace): the hub's peer id unless named. */
  namespace: string
}

/** Parse a config's text; `where` names it in errors (a path, an IndexedDB key). */
export function parseConfig (raw: string, where: string): HubConfig {
  let cfg: HubConfig
  try {
    cfg = JSON.parse(raw) as HubConfig
  } catch (err) {
    throw new HubError('internal', `${where} is not valid JSON: ${(err as Error).message}`, { path: where }, { cause: err })
  }
  if (cfg.version !== CONFIG_VERSION) throw new BadRequestError(`unsupported hub.json version ${String(cfg.version)}`)
  const st = cfg.store as Partial<StoreConfig> | undefined
  if (st !== undefined && (st.engine !== 'postgres' || typeof st.url !== 'string' || typeof st.namespace !== 'string')) {
    throw new BadRequestError(`${where}: "store" must be { engine: "postgres", url, namespace }`, { reason: 'bad_store_config' })
  }
  return cfg
}

/**
 * A `postgres://` (or `postgresql://`) connection string, split into the
 * URL without its password (what hub.json and every message may carry) and
 * the password. Anything else is bad_request (reason bad_store_url); the
 * refusal never echoes the password.
 */
export function splitStoreUrl (raw: string): { url: string, password?: string } {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new BadRequestError('--store must be a postgres:// connection string, e.g. postgres://hub@db.example:5432/hubs', { reason: 'bad_store_url' })
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new BadRequestError(`--store takes a postgres:// connection string (got a ${u.protocol} URL); without --store the hub keeps LevelDB in its directory`, { reason: 'bad_store_url' })
  }
  if (u.hostname === '' && !u.searchParams.has('host')) throw new BadRequestError('--store names no database host', { reason: 'bad_store_url' })
  const password = u.password !== '' ? decodeURIComponent(u.password) : undefined
  u.password = ''
  return { url: u.toString(), ...(password !== undefined ? { password } : {}) }
}

/** A namespace as PgKv takes it (1–200 printable ASCII characters, no spaces): checked before anything is created. */
export function checkStoreNamespace (ns: string): string {
  if (!/^[\x21-\x7e]{1,200}$/.test(ns)) throw new BadRequestError('--store-namespace is 1–200 printable ASCII characters without spaces', { reason: 'bad_namespace' })
  return ns
}

/** A connection string fit to print: any password replaced by `***` (an unparsable one is shown as `(unparsable URL)`). */
export function redactStoreUrl (raw: string): string {
  try {
    const u = new URL(raw)
    if (u.password !== '') u.password = '***'
    for (const k of [...u.searchParams.keys()]) if (/pass/i.test(k)) u.searchParams.set(k, '***')
    return u.toString()
  } catch {
    return '(unparsable URL)'
  }
}

/** The URL with `password` put back, for the driver only (never printed). */
export function withStorePassword (url: string, password: string | undefined): string {
  if (password === undefined) return url
  const u = new URL(url)
  u.password = encodeURIComponent(password)
  return u.toString()
}

/** The text of a config, as hub.json has always held it. */
export function serializeConfig (cfg: HubConfig): string {
  return JSON.stringify(cfg, null, 2) + '\n'
}

/** The keys `hub config get|set` knows, what each holds, and how a value typed on the command line is read. */
export const CONFIG_KEYS = {
  'network.listen': { kind: 'multiaddrs', describe: 'libp2p listen multiaddrs, e.g. /ip4/0.0.0.0/tcp/4001 (several: repeat the value); add /p2p-circuit to be reachable through a relay' },
  'network.bootstrap': { kind: 'multiaddrs', describe: 'multiaddrs dialled at every start, each ending in /p2p/<peer id>' },
  'network.relay': { kind: 'boolean', describe: 'serve as a circuit relay for the owner\'s own devices (true|false)' },
  'network.mdns': { kind: 'boolean', describe: 'find the owner\'s devices on the local network with mDNS (true|false)' }
} as const

export type ConfigKey = keyof typeof CONFIG_KEYS
export type ConfigValue = string[] | boolean

const FIELD: Record<ConfigKey, keyof NetworkConfig> = {
  'network.listen': 'listen',
  'network.bootstrap': 'bootstrap',
  'network.relay': 'relay',
  'network.mdns': 'mdns'
}

export function isConfigKey (key: string): key is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, key)
}

function checkConfigKey (key: string): ConfigKey {
  if (!isConfigKey(key)) {
    throw new BadRequestError(`unknown config key "${key}"; known keys: ${Object.keys(CONFIG_KEYS).join(', ')}`, { key })
  }
  return key
}

/** Multiaddrs as given by a person: each must parse, bootstrap ones must name their peer. */
export function checkMultiaddrs (key: ConfigKey, values: string[]): string[] {
  for (const v of values) {
    let ma
    try {
      ma = multiaddr(v)
    } catch (err) {
      throw new BadRequestError(`${key}: "${v}" is not a multiaddr (${(err as Error).message})`, { key, value: v })
    }
    if (key === 'network.bootstrap') {
      const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
      if (id === undefined) throw new BadRequestError(`${key}: "${v}" must end in /p2p/<peer id>`, { key, value: v })
      // The peer id itself must parse: a reconnect timer would otherwise meet it first, and crash.
      try {
        peerIdFromString(id)
      } catch {
        throw new BadRequestError(`${key}: "${v}" names no valid peer id ("${id}")`, { key, value: v })
      }
    }
  }
  return values
}

function parseBoolean (key: ConfigKey, values: string[]): boolean {
  const v = values.length === 1 ? values[0] : undefined
  if (v === 'true') return true
  if (v === 'false') return false
  throw new BadRequestError(`${key} takes one value: true or false`, { key, values })
}

/** The value of `key` (the default when unset: no addresses, false). */
export function getConfigValue (cfg: HubConfig, key: string): ConfigValue {
  const k = checkConfigKey(key)
  const v = cfg.network?.[FIELD[k]]
  if (CONFIG_KEYS[k].kind === 'boolean') return v === true
  return Array.isArray(v) ? [...v] : []
}

/**
 * A copy of `cfg` with `key` set from command-line words; no words unsets
 * it (the default applies again). Malformed values are bad_request and
 * change nothing.
 */
export function withConfigValue (cfg: HubConfig, key: string, values: string[]): HubConfig {
  const k = checkConfigKey(key)
  const network: NetworkConfig = { ...cfg.network }
  const field = FIELD[k]
  if (values.length === 0) {
    delete network[field]
  } else if (CONFIG_KEYS[k].kind === 'boolean') {
    (network as Record<string, unknown>)[field] = parseBoolean(k, values)
  } else {
    (network as Record<string, unknown>)[field] = [...checkMultiaddrs(k, values)]
  }
  const next: HubConfig = { ...cfg, network }
  if (Object.keys(network).length === 0) delete next.network
  return next
}
