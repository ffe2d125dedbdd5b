/**
 * Private keys on disk: one JSON file per key under `<hub dir>/keys/`, mode
 * 0600 in a 0700 folder, written atomically (temp file + rename) so a crash
 * never leaves a half-written key.
 */
import { mkdir, readFile, rename, writeFile, chmod, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { AlreadyExistsError, HubError, NotFoundError } from '../errors.js'
import { b64u, fromB64u } from './encoding.js'
import { Ed25519KeyPair } from './keys.js'

interface KeyFile { kty: 'Ed25519', seed: string }

export class FileKeyStore {
  readonly dir: string
  constructor (hubDir: string) {
    this.dir = join(hubDir, 'keys')
  }

  #path (name: string): string {
    if (!/^[a-z0-9][a-z0-9._-]{0,127}$/i.test(name)) throw new TypeError('invalid key name')
    return join(this.dir, `${name}.json`)
  }

  async put (name: string, key: Ed25519KeyPair, opts: { overwrite?: boolean } = {}): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    await chmod(this.dir, 0o700)
    const path = this.#path(name)
    if (opts.overwrite !== true && await this.has(name)) throw new AlreadyExistsError(`key ${name} already exists`)
    const body: KeyFile = { kty: 'Ed25519', seed: b64u(key.exportSeed()) }
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify(body), { mode: 0o600 })
    await rename(tmp, path)
  }

  /**
   * Read one key file; undefined only if it does not exist. Any other
   * failure (EACCES, EISDIR, EIO…) is `unavailable`: a key that cannot be
   * read must not pass for a key that is not there (a hub would open
   * without its owner key, or init would overwrite it).
   */
  async #read (name: string): Promise<string | undefined> {
    const path = this.#path(name)
    try {
      return await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new HubError('unavailable', `cannot read key ${name} at ${path}: ${(err as Error).message}`, { path }, { cause: err })
    }
  }

  async has (name: string): Promise<boolean> {
    return await this.#read(name) !== undefined
  }

  async get (name: string): Promise<Ed25519KeyPair> {
    const raw = await this.#read(name)
    if (raw === undefined) throw new NotFoundError(`key ${name} not found`)
    const parsed = JSON.parse(raw) as KeyFile
    return Ed25519KeyPair.fromSeed(fromB64u(parsed.seed))
  }

  /** Store raw secret bytes (e.g. the tenant secret) with the same protections as keys. */
  async putSecret (name: string, secret: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const path = this.#path(name)
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify({ kty: 'secret', secret: b64u(secret) }), { mode: 0o600 })
    await rename(tmp, path)
  }

  async getSecret (name: string): Promise<Uint8Array | undefined> {
    const raw = await this.#read(name)
    if (raw === undefined) return undefined
    return fromB64u((JSON.parse(raw) as { secret: string }).secret)
  }

  async delete (name: string): Promise<void> {
    await rm(this.#path(name), { force: true })
  }
}
