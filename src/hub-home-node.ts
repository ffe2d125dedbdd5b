/**
 * The hub home seam (`#hub-home`, see hub-home.ts) under Node: a
 * directory, laid out as it always was (hub.ts documents it) — hub.json
 * (hub-config.ts), keys/*.json (identity/keystore.ts), store/ (LevelDB).
 * A hub whose store is PostgreSQL (hub.json `store`, `hub start --store`)
 * has no store/ directory: its data is the namespace of hub_kv it names
 * (src/store/pg-kv.ts), reached with the password given at start, else
 * keys/store-password, else libpq's PGPASSWORD.
 */
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { HubError } from './errors.js'
import { readConfig, redactStoreUrl, withStorePassword, writeConfig, type HubConfig } from './hub-config.js'
import { STORE_PASSWORD_SECRET, type ExternalStore, type HubHome } from './hub-home.js'
import { FileKeyStore } from './identity/keystore.js'
import type { KvStore } from './store/kv.js'
import { LevelKv } from './store/level-kv.js'

/** "Not there" only for ENOENT/ENOTDIR: a file that cannot be read (EACCES, EIO…) is not a missing one. */
const absent = (err: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')

class DirectoryHome implements HubHome {
  readonly location: string
  readonly keys: FileKeyStore
  readonly engine = 'leveldb'

  constructor (dir: string) {
    this.location = dir
    this.keys = new FileKeyStore(dir)
  }

  async exists (): Promise<boolean> {
    const path = join(this.location, 'hub.json')
    try {
      await stat(path)
      return true
    } catch (err) {
      if (absent(err)) return false
      throw new HubError('unavailable', `cannot check ${path}: ${(err as Error).message}`, { path }, { cause: err })
    }
  }

  async create (): Promise<void> {
    await mkdir(this.location, { recursive: true, mode: 0o700 })
  }

  async readConfig (): Promise<HubConfig> {
    return await readConfig(this.location)
  }

  async writeConfig (cfg: HubConfig): Promise<void> {
    await writeConfig(this.location, cfg)
  }

  async openKv (opts: { sync?: boolean, external?: ExternalStore }): Promise<KvStore> {
    if (opts.external !== undefined) return await this.#openExternal(opts.external)
    const path = join(this.location, 'store')
    await mkdir(path, { recursive: true, mode: 0o700 })
    return await LevelKv.open(path, { sync: opts.sync === true })
  }

  /** PostgreSQL: loaded only for a hub that uses it, so a LevelDB hub never loads the driver. */
  async #openExternal (ext: ExternalStore): Promise<KvStore> {
    const { PgKv } = await import('./store/pg-kv.js')
    const stored = await this.keys.getSecret(STORE_PASSWORD_SECRET)
    const password = ext.password ?? (stored !== undefined ? new TextDecoder().decode(stored) : undefined)
    try {
      return await PgKv.open({
        url: withStorePassword(ext.config.url, password),
        namespace: ext.config.namespace,
        ...(ext.logger !== undefined ? { logger: ext.logger } : {})
      })
    } catch (err) {
      // Say which store (password redacted): the driver's message names only a socket.
      if (err instanceof HubError && err.details?.reason === 'database_unavailable') {
        throw new HubError('unavailable', `cannot reach the hub's PostgreSQL store at ${redactStoreUrl(ext.config.url)}: ${err.message}`, { ...err.details, store: redactStoreUrl(ext.config.url) }, { cause: err })
      }
      throw err
    }
  }
}

/** The home of the hub in directory `dir`. */
export function hubHome (dir: string): HubHome {
  return new DirectoryHome(dir)
}
