/**
 * The hub home seam (`#hub-home`, see hub-home.ts) in a browser:
 * IndexedDB. A hub named `name` keeps
 *   - its config and its keys in the database `identity-hub-<name>/home`:
 *     `hub.json` holds the config's text (as the file would), `keys/<key>`
 *     the same JSON a key file holds (the Ed25519 seed: libp2p needs the
 *     hub key's bytes, so it cannot be a non-extractable CryptoKey; like
 *     the 0600 key files under Node, the origin's storage is the boundary);
 *   - its store in `identity-hub-<name>/store` (store/browser-kv.ts),
 *     opened exclusively (one tab at a time).
 * The config is written last, as under Node, so its presence marks a
 * complete hub; each write is one IndexedDB transaction.
 */
import { AlreadyExistsError, BadRequestError, HubError, NotFoundError } from './errors.js'
import { parseConfig, serializeConfig, type HubConfig } from './hub-config-core.js'
import type { ExternalStore, HubHome, HubKeyStore } from './hub-home.js'
import { b64u, fromB64u, utf8, utf8d } from './identity/encoding.js'
import { Ed25519KeyPair } from './identity/keys.js'
import { BrowserKv } from './store/browser-kv.js'
import type { KvStore } from './store/kv.js'

const CONFIG = 'hub.json'
const KEY_NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/i

interface KeyRecord { kty: 'Ed25519', seed: string }
interface SecretRecord { kty: 'secret', secret: string }

/** The home database, opened for one operation and closed again (so nothing holds it between them). */
async function withHome<T> (name: string, fn: (kv: KvStore) => Promise<T>): Promise<T> {
  const kv = await BrowserKv.open(`${name}/home`)
  try {
    return await fn(kv)
  } finally {
    await kv.close()
  }
}

class IndexedDbKeyStore implements HubKeyStore {
  readonly #name: string
  constructor (name: string) { this.#name = name }

  #key (name: string): string {
    if (!KEY_NAME.test(name)) throw new TypeError('invalid key name')
    return `keys/${name}`
  }

  async #read (name: string): Promise<unknown> {
    const raw = await withHome(this.#name, async kv => await kv.get(this.#key(name)))
    if (raw === undefined) return undefined
    try {
      return JSON.parse(utf8d.decode(raw))
    } catch (err) {
      throw new HubError('unavailable', `key ${name} of hub ${this.#name} cannot be read`, { name }, { cause: err })
    }
  }

  async #write (name: string, body: KeyRecord | SecretRecord): Promise<void> {
    await withHome(this.#name, async kv => { await kv.batch([{ type: 'put', key: this.#key(name), value: utf8.encode(JSON.stringify(body)) }]) })
  }

  async put (name: string, key: Ed25519KeyPair, opts: { overwrite?: boolean } = {}): Promise<void> {
    if (opts.overwrite !== true && await this.has(name)) throw new AlreadyExistsError(`key ${name} already exists`)
    await this.#write(name, { kty: 'Ed25519', seed: b64u(key.exportSeed()) })
  }

  async has (name: string): Promise<boolean> {
    return await this.#read(name) !== undefined
  }

  async get (name: string): Promise<Ed25519KeyPair> {
    const rec = await this.#read(name) as KeyRecord | undefined
    if (rec === undefined) throw new NotFoundError(`key ${name} not found`)
    if (rec.kty !== 'Ed25519' || typeof rec.seed !== 'string') throw new HubError('unavailable', `key ${name} of hub ${this.#name} is not an Ed25519 key`, { name })
    return Ed25519KeyPair.fromSeed(fromB64u(rec.seed))
  }

  async putSecret (name: string, secret: Uint8Array): Promise<void> {
    await this.#write(name, { kty: 'secret', secret: b64u(secret) })
  }

  async getSecret (name: string): Promise<Uint8Array | undefined> {
    const rec = await this.#read(name) as SecretRecord | undefined
    if (rec === undefined) return undefined
    if (rec.kty !== 'secret' || typeof rec.secret !== 'string') throw new HubError('unavailable', `secret ${name} of hub ${this.#name} is malformed`, { name })
    return fromB64u(rec.secret)
  }

  async delete (name: string): Promise<void> {
    await withHome(this.#name, async kv => { await kv.batch([{ type: 'del', key: this.#key(name) }]) })
  }
}

class IndexedDbHome implements HubHome {
  readonly location: string
  readonly keys: HubKeyStore
  readonly engine = 'indexeddb'
  readonly #name: string

  constructor (name: string) {
    this.#name = name
    this.location = `indexeddb:${name}`
    this.keys = new IndexedDbKeyStore(name)
  }

  async exists (): Promise<boolean> {
    return await withHome(this.#name, async kv => await kv.get(CONFIG)) !== undefined
  }

  async create (): Promise<void> {}

  async readConfig (): Promise<HubConfig> {
    const raw = await withHome(this.#name, async kv => await kv.get(CONFIG))
    if (raw === undefined) throw new NotFoundError(`no hub named ${this.#name} in this browser`)
    return parseConfig(utf8d.decode(raw), `${this.location}/${CONFIG}`)
  }

  async writeConfig (cfg: HubConfig): Promise<void> {
    await withHome(this.#name, async kv => { await kv.batch([{ type: 'put', key: CONFIG, value: utf8.encode(serializeConfig(cfg)) }]) })
  }

  async openKv (opts: { sync?: boolean, external?: ExternalStore }): Promise<KvStore> {
    // A page cannot speak PostgreSQL's wire protocol: its store is IndexedDB.
    if (opts.external !== undefined) throw new BadRequestError('a hub in a browser keeps its store in IndexedDB; an external store is for Node', { reason: 'store_unsupported_here' })
    return await BrowserKv.open(`${this.#name}/store`, { exclusive: true, sync: opts.sync === true })
  }
}

/** The hub named `name` in this origin's IndexedDB. */
export function hubHome (name: string): HubHome {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new BadRequestError('a browser hub name is 1-64 letters, digits, ".", "_" or "-"', { reason: 'bad_hub_name' })
  return new IndexedDbHome(name)
}
