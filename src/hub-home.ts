/**
 * Where a hub lives: the "hub home" seam. A hub is its config (hub.json,
 * no secrets), its keys and secrets, and its store. Under Node a home is a
 * directory (hub-home-node.ts: the layout documented in hub.ts, byte
 * for byte what it always was); in a browser it is IndexedDB
 * (hub-home-web.ts). The Hub itself only talks to this interface.
 *
 * Import the implementation for this platform as
 * `import { hubHome } from '#hub-home'` (package.json "imports").
 */
import type { HubConfig, StoreConfig } from './hub-config-core.js'
import type { Logger } from './log.js'
import type { Ed25519KeyPair } from './identity/keys.js'
import type { KvStore } from './store/kv.js'

/** Private keys and raw secrets, by name ([a-z0-9][a-z0-9._-]{0,127}). */
export interface HubKeyStore {
  put (name: string, key: Ed25519KeyPair, opts?: { overwrite?: boolean }): Promise<void>
  has (name: string): Promise<boolean>
  /** not_found when absent; unavailable when it exists but cannot be read. */
  get (name: string): Promise<Ed25519KeyPair>
  putSecret (name: string, secret: Uint8Array): Promise<void>
  getSecret (name: string): Promise<Uint8Array | undefined>
  delete (name: string): Promise<void>
}

/** A store outside the home (hub.json `store`, or `hub start --store`), and the password to reach it if one was given. */
export interface ExternalStore {
  config: StoreConfig
  password?: string
  logger?: Logger
}

/** The secret (keys/) holding the external store's password, when `hub init --store` was given one. */
export const STORE_PASSWORD_SECRET = 'store-password'

export interface HubHome {
  /** What names this home in messages and `Hub.dir`: a directory, or `indexeddb:<name>`. */
  readonly location: string
  readonly keys: HubKeyStore
  /** Whether a complete hub lives here (its config exists; it is written last). */
  exists (): Promise<boolean>
  /** Make the home ready for a new hub (under Node: the directory, mode 0700). */
  create (): Promise<void>
  /** not_found when there is no hub here. */
  readConfig (): Promise<HubConfig>
  /** Replace the config atomically: a reader sees the old one or the new one. */
  writeConfig (cfg: HubConfig): Promise<void>
  /** The engine of the home's own store ('leveldb' under Node, 'indexeddb' in a browser). */
  readonly engine: string
  /**
   * Open the hub's store: the home's own, or `external` (PostgreSQL) when
   * given — then nothing is created for a store inside the home. `sync`
   * asks for durable writes where the engine offers them.
   */
  openKv (opts: { sync?: boolean, external?: ExternalStore }): Promise<KvStore>
}
