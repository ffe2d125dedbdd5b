/**
 * The hub home seam (`#hub-home`, see hub-home.ts) under Node: a
 * directory, laid out as it always was (hub.ts documents it) — hub.json
 * (hub-config.ts), keys/*.json (identity/keystore.ts), store/ (LevelDB).
 */
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { HubError } from './errors.js'
import { readConfig, writeConfig, type HubConfig } from './hub-config.js'
import type { HubHome } from './hub-home.js'
import { FileKeyStore } from './identity/keystore.js'
import type { KvStore } from './store/kv.js'
import { LevelKv } from './store/level-kv.js'

/** "Not there" only for ENOENT/ENOTDIR: a file that cannot be read (EACCES, EIO…) is not a missing one. */
const absent = (err: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')

class DirectoryHome implements HubHome {
  readonly location: string
  readonly keys: FileKeyStore

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

  async openKv (opts: { sync?: boolean }): Promise<KvStore> {
    const path = join(this.location, 'store')
    await mkdir(path, { recursive: true, mode: 0o700 })
    return await LevelKv.open(path, { sync: opts.sync === true })
  }
}

/** The home of the hub in directory `dir`. */
export function hubHome (dir: string): HubHome {
  return new DirectoryHome(dir)
}
