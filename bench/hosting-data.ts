/**
 * The owners of the hosting bench (bench/hosting.ts): each made on its own
 * ordinary hub (kept in memory: nothing of it is measured), with the host
 * authorized as its blind device and `objects` encrypted playlists, then
 * reduced to what a hosting hub receives from that owner's devices — the
 * welcome (its Permissions commits, as pairing sends them) and the commits
 * a blind hub may hold, in feed order. Written as NDJSON (one owner a
 * line) so the bench's processes can stream them without holding every
 * owner's commits in memory (which would swamp their RSS figures).
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { parseCommit } from '../src/commits/commit.js'
import type { HubConfig } from '../src/hub-config-core.js'
import type { HubHome, HubKeyStore } from '../src/hub-home.js'
import { Hub } from '../src/hub.js'
import { b64u, fromB64u } from '../src/identity/encoding.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { silentLogger } from '../src/log.js'
import { blindMayHold } from '../src/net/sync-access.js'
import type { Did } from '../src/ids.js'
import type { KvStore } from '../src/store/kv.js'
import { MemoryKv } from '../src/store/memory-kv.js'

export interface OwnerSource {
  did: string
  /** The owner key's seed (base64url): the bench signs the owner's requests to the host with it. */
  seed: string
  welcome: string[]
  commits: string[]
}

/** A hub home entirely in memory: the owners' own hubs are scaffolding, not under test. */
class MemoryHome implements HubHome {
  readonly location: string
  readonly engine = 'memory'
  readonly keys: HubKeyStore
  #config: HubConfig | undefined
  readonly #kv = new MemoryKv()

  constructor (name: string) {
    this.location = `memory:${name}`
    const keys = new Map<string, Ed25519KeyPair>()
    const secrets = new Map<string, Uint8Array>()
    this.keys = {
      put: async (n, k) => { keys.set(n, k) },
      has: async n => keys.has(n),
      get: async n => {
        const k = keys.get(n)
        if (k === undefined) throw new Error(`no key ${n}`)
        return k
      },
      putSecret: async (n, s) => { secrets.set(n, s) },
      getSecret: async n => secrets.get(n),
      delete: async n => { keys.delete(n); secrets.delete(n) }
    }
  }

  async exists (): Promise<boolean> { return this.#config !== undefined }
  async create (): Promise<void> {}
  async readConfig (): Promise<HubConfig> {
    if (this.#config === undefined) throw new Error('no hub here')
    return this.#config
  }

  async writeConfig (cfg: HubConfig): Promise<void> { this.#config = cfg }
  async openKv (): Promise<KvStore> {
    this.#kv.closed = false // Hub.init closes its store before Hub.open opens it again
    return this.#kv
  }
}

async function makeOwner (name: string, hostDids: string[], objects: number): Promise<OwnerSource> {
  const ownerKey = Ed25519KeyPair.generate()
  const home = new MemoryHome(name)
  await Hub.init(home, { ownerKey })
  const hub = await Hub.open(home, { logger: silentLogger })
  try {
    for (const host of hostDids) await hub.devices.authorize(host as Did, 'blind', 'bench host')
    for (let k = 0; k < objects; k++) {
      await hub.collections.create({ '@context': 'https://schema.org', '@type': 'MusicPlaylist', name: `${name} p${k}`, numTracks: k }, { encrypt: true })
    }
    await hub.store.idle()
    const ids: string[] = []
    for await (const e of hub.store.feed(0, 10_000_000)) ids.push(e.commitId)
    const envs = (await hub.store.getEnvelopes(ids)) as string[]
    const welcome: string[] = []
    const commits: string[] = []
    for (const env of envs) {
      const h = parseCommit(env, Infinity).header
      if (!blindMayHold(h)) continue
      if (h.interface === 'Permissions') welcome.push(env); else commits.push(env)
    }
    return { did: hub.did, seed: b64u(ownerKey.exportSeed()), welcome, commits }
  } finally {
    await hub.close()
  }
}

/** Make `owners` owners of `objects` objects each, each with every host of `hostDids` as a blind device, into `file` (NDJSON). */
export async function writeSources (file: string, hostDids: string[], owners: number, objects: number, onProgress?: (done: number) => void): Promise<void> {
  const out = createWriteStream(file)
  for (let i = 0; i < owners; i++) {
    const line = JSON.stringify(await makeOwner(`o${i}`, hostDids, objects)) + '\n'
    if (!out.write(line)) await once(out, 'drain')
    if ((i + 1) % 100 === 0) onProgress?.(i + 1)
  }
  out.end()
  await once(out, 'finish')
}

/** The owners in `file`, one at a time, with their index; only those with from <= index < to. */
export async function * readSources (file: string, from = 0, to = Infinity): AsyncGenerator<{ index: number, source: OwnerSource }> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
  let index = 0
  for await (const line of lines) {
    if (line === '') continue
    if (index >= to) break
    if (index >= from) yield { index, source: JSON.parse(line) as OwnerSource }
    index++
  }
  lines.close()
}

export function ownerKeyOf (s: OwnerSource): Ed25519KeyPair {
  return Ed25519KeyPair.fromSeed(fromB64u(s.seed))
}
