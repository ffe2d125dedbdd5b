/**
 * The owners a hosting hub serves (issue 17): one record each in the hub's
 * store (`H!o!<owner>`), and one Hub per owner — a blind hub of that owner
 * under the hosting hub's own key — over that owner's partition of the
 * one shared store (`h!<owner>!`, store/prefix-kv.ts) with its quotas
 * (store/quota-kv.ts). A tenant's hub is the ordinary Hub: its tenant
 * store, registry, audit log, replay cache and local state are the ones a
 * single-owner blind hub has, only their keys live under the owner's
 * prefix. Removing an owner deletes that prefix and its record, nothing
 * else. docs/architecture.md "Hosting".
 */
import { AlreadyExistsError, NotFoundError, UnsupportedError } from '../../errors.js'
import { CONFIG_VERSION, type HubConfig } from '../../hub-config-core.js'
import type { ExternalStore, HubHome, HubKeyStore } from '../../hub-home.js'
import { Hub, type JoinWelcome } from '../../hub.js'
import { utf8, utf8d } from '../../identity/encoding.js'
import type { Ed25519KeyPair } from '../../identity/keys.js'
import type { ResolverOptions } from '../../identity/resolver.js'
import type { Did } from '../../ids.js'
import type { Logger } from '../../log.js'
import { DEFAULT_MAX_COMMIT_BYTES } from '../../commits/commit.js'
import { DEFAULT_MAX_VALUE_BYTES } from '../../objects/json.js'
import type { KvStore } from '../../store/kv.js'
import { esc } from '../../store/layout.js'
import { FencedKv } from '../../store/fenced-kv.js'
import { PrefixKv, prefixUpper } from '../../store/prefix-kv.js'
import { QuotaKv, type Quotas, type Usage } from '../../store/quota-kv.js'
import type { HostingCluster } from './cluster.js'
import { resultError, type InboxResult } from './inbox.js'

export type { Quotas, Usage } from '../../store/quota-kv.js'

export interface OwnerRecord {
  owner: Did
  addedAt: string
  quotas: Quotas
}

export interface HostedOwner {
  readonly record: OwnerRecord
  readonly hub: Hub
  readonly quota: QuotaKv
}

const RECORD = 'H!o!'
/** Owners opened side by side at start (HostedOwners.open). */
const OPEN_CONCURRENCY = 16
/** Keys deleted per batch when an owner is removed. */
const DELETE_CHUNK = 1000

export const partitionOf = (owner: string): string => `h!${esc(owner)}!`

/** A logger whose every line carries `fields` (the tenant, in a hosting hub). */
export function withFields (log: Logger, fields: Record<string, unknown>): Logger {
  return {
    debug: (m, f) => { log.debug(m, { ...fields, ...f }) },
    info: (m, f) => { log.info(m, { ...fields, ...f }) },
    warn: (m, f) => { log.warn(m, { ...fields, ...f }) },
    error: (m, f) => { log.error(m, { ...fields, ...f }) },
    child: scope => withFields(log.child(scope), fields)
  }
}

/** The only key a tenant's hub has is the hosting hub's; it holds no owner key and no tenant secret. */
class HostKeys implements HubKeyStore {
  readonly #key: Ed25519KeyPair
  constructor (key: Ed25519KeyPair) { this.#key = key }
  async put (): Promise<void> { throw new UnsupportedError('a hosted owner\'s keys are the hosting hub\'s') }
  async has (name: string): Promise<boolean> { return name === 'hub' }
  async get (name: string): Promise<Ed25519KeyPair> {
    if (name !== 'hub') throw new NotFoundError(`no key ${name} for a hosted owner`)
    return this.#key
  }

  async putSecret (): Promise<void> { throw new UnsupportedError('a hosted owner has no secrets on the hosting hub') }
  async getSecret (): Promise<Uint8Array | undefined> { return undefined }
  async delete (): Promise<void> { throw new UnsupportedError('a hosted owner\'s keys are the hosting hub\'s') }
}

/** The home of one hosted owner: a config made from its record, the host's key, the owner's partition. */
class TenantHome implements HubHome {
  readonly location: string
  readonly keys: HubKeyStore
  readonly engine: string
  readonly #config: HubConfig
  readonly #kv: KvStore

  constructor (args: { location: string, engine: string, config: HubConfig, key: Ed25519KeyPair, kv: KvStore }) {
    this.location = args.location
    this.engine = args.engine
    this.#config = args.config
    this.keys = new HostKeys(args.key)
    this.#kv = args.kv
  }

  async exists (): Promise<boolean> { return true }
  async create (): Promise<void> {}
  async readConfig (): Promise<HubConfig> { return this.#config }
  async writeConfig (): Promise<void> { throw new UnsupportedError('a hosted owner\'s config is its record on the hosting hub') }
  async openKv (opts: { external?: ExternalStore }): Promise<KvStore> {
    if (opts.external !== undefined) throw new UnsupportedError('a hosted owner lives in the hosting hub\'s store')
    return this.#kv
  }
}

export interface HostedOwnersInit {
  /** The hosting hub's store, shared by every owner (each in its partition). */
  kv: KvStore
  /** The hosting hub's key: every tenant hub's key, hence one peer id for all. */
  hostKey: Ed25519KeyPair
  hubDid: Did
  peerId: string
  /** The hosting hub's directory (scratch space for `hub doctor`). */
  dir: string
  engine: string
  logger: Logger
  resolver?: ResolverOptions
  /** Quotas of an owner added without any. */
  defaultQuotas?: Quotas
  /**
   * Several processes on one PostgreSQL (cluster.ts): every owner's batches
   * are fenced by its shard's lease, and an owner this process does not
   * hold is added through the holder. `kv` must be the cluster's store.
   */
  cluster?: HostingCluster
}

export class HostedOwners {
  readonly #c: HostedOwnersInit
  readonly #owners = new Map<string, HostedOwner>()
  /** Owners being added here: a refresh must not close them before their record is written. */
  readonly #adding = new Set<Did>()
  #closed = false

  private constructor (init: HostedOwnersInit) {
    this.#c = init
  }

  /**
   * Open every owner recorded in `kv`, OPEN_CONCURRENCY at a time: opening
   * one is a few store range reads (its registry, quota usage, watermarks),
   * each a round trip to LevelDB's thread pool or to PostgreSQL, so one at
   * a time the process mostly waits (docs/benchmarks.md "Hosting").
   */
  static async open (init: HostedOwnersInit): Promise<HostedOwners> {
    const o = new HostedOwners(init)
    const records = await o.#records()
    let next = 0
    let failed: { err: unknown } | undefined
    const worker = async (): Promise<void> => {
      while (failed === undefined && next < records.length) {
        const record = records[next++] as OwnerRecord
        try { await o.#openOwner(record) } catch (err) { failed ??= { err } }
      }
    }
    await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, records.length) }, worker))
    // One owner that cannot be opened fails the start, as it did one at a time: the others opened are closed.
    if (failed !== undefined) {
      await o.close()
      throw failed.err
    }
    return o
  }

  async #records (): Promise<OwnerRecord[]> {
    const out: OwnerRecord[] = []
    for await (const [, v] of this.#c.kv.entries({ gte: RECORD, lt: prefixUpper(RECORD) })) out.push(JSON.parse(utf8d.decode(v)) as OwnerRecord)
    return out
  }

  /**
   * Follow the records other processes wrote (several processes on one
   * database): open the owners added elsewhere, close those removed
   * elsewhere. Returns the DIDs closed.
   */
  async refresh (): Promise<{ opened: string[], closed: string[] }> {
    const records = await this.#records()
    const seen = new Set(records.map(r => r.owner))
    const opened: string[] = []
    for (const r of records) {
      if (this.#owners.has(r.owner) || this.#adding.has(r.owner) || this.#closed) continue
      try {
        await this.#openOwner(r)
        opened.push(r.owner)
      } catch (err) {
        // Not ready to open here yet (its holder has not made its first writes): the next refresh retries.
        this.#c.logger.debug('a hosted owner added elsewhere cannot be opened yet', { tenant: r.owner, reason: (err as Error).message })
      }
    }
    const closed: string[] = []
    for (const [did, o] of this.#owners) {
      if (seen.has(did as Did) || this.#adding.has(did as Did)) continue
      this.#owners.delete(did)
      await o.hub.close()
      closed.push(did)
    }
    return { opened, closed }
  }

  /** The owner `did`, opened from its record if another process added it since. */
  async ensure (did: string): Promise<HostedOwner | undefined> {
    const open = this.#owners.get(did)
    if (open !== undefined || this.#closed) return open
    const raw = await this.#c.kv.get(RECORD + esc(did))
    if (raw === undefined) return undefined
    return this.#owners.get(did) ?? await this.#openOwner(JSON.parse(utf8d.decode(raw)) as OwnerRecord)
  }

  get size (): number { return this.#owners.size }

  /** The cluster this process is one of (several processes on one PostgreSQL), if any. */
  get cluster (): HostingCluster | undefined { return this.#c.cluster }

  /** The hosted owner named `did`, if any. */
  get (did: string): HostedOwner | undefined {
    return this.#owners.get(did)
  }

  all (): HostedOwner[] {
    return [...this.#owners.values()]
  }

  /** Which hosted owner `hubDid` is a live device of (a device's key is its own, so at most one). */
  ownerOfDevice (hubDid: string): HostedOwner | undefined {
    if (hubDid === this.#c.hubDid) return undefined
    for (const o of this.#owners.values()) if (o.hub.store.registry.device(hubDid) !== undefined) return o
    return undefined
  }

  list (): Array<OwnerRecord & { usage: Usage }> {
    return this.all().map(o => ({ ...o.record, usage: o.quota.usage }))
  }

  /**
   * Host a new owner from the welcome its device sent when it paired us
   * (net/pair.ts): the owner's device authorizations, the peers to find it.
   */
  async add (welcome: JoinWelcome, quotas?: Quotas): Promise<HostedOwner> {
    if (this.#owners.has(welcome.ownerDid)) throw new AlreadyExistsError(`owner ${welcome.ownerDid} is already hosted here`, { reason: 'owner_hosted' })
    const record: OwnerRecord = { owner: welcome.ownerDid, addedAt: new Date().toISOString(), quotas: quotas ?? this.#c.defaultQuotas ?? {} }
    const cluster = this.#c.cluster
    this.#adding.add(record.owner)
    const putRecord = async (): Promise<void> => { await this.#c.kv.batch([{ type: 'put', key: RECORD + esc(record.owner), value: utf8.encode(JSON.stringify(record)) }]) }
    let owner: HostedOwner | undefined
    try {
      if (cluster === undefined || cluster.holds(record.owner)) {
        owner = await this.#openOwner(record)
        for (const env of welcome.commits) await owner.hub.ingest(env)
        for (const p of welcome.peers) await owner.hub.local.rememberPeer(p)
        await putRecord()
      } else {
        // Another process orders this owner's writes: it opens the owner from the record (its
        // first writes, such as the store's format marker, are its own), ingests, then we open it.
        await putRecord()
        const r = await cluster.forward(record.owner, { kind: 'ingest', envelopes: welcome.commits })
        if (!r.ok) throw resultError(r.error)
        for (const res of r.value as InboxResult[]) if (!res.ok) throw resultError(res.error)
        for (const peer of welcome.peers) await cluster.forward(record.owner, { kind: 'peer', peer }, { wait: false })
        owner = this.#owners.get(record.owner) ?? await this.#openOwner(record)
      }
    } catch (err) {
      this.#owners.delete(record.owner)
      await owner?.hub.close()
      await this.#c.kv.batch([{ type: 'del', key: RECORD + esc(record.owner) }]).catch(() => {})
      await this.#deletePartition(record.owner)
      throw err
    } finally {
      this.#adding.delete(record.owner)
    }
    return owner
  }

  /** Change an owner's quotas (what it already holds stays). */
  async setQuotas (did: string, quotas: Quotas): Promise<OwnerRecord> {
    const o = this.#owners.get(did)
    if (o === undefined) throw new NotFoundError(`owner ${did} is not hosted here`)
    const record: OwnerRecord = { ...o.record, quotas }
    await this.#c.kv.batch([{ type: 'put', key: RECORD + esc(did), value: utf8.encode(JSON.stringify(record)) }])
    o.quota.setLimits(quotas)
    this.#owners.set(did, { ...o, record })
    return record
  }

  /** Stop hosting `did`: close its hub, delete its partition and its record. Returns the keys deleted. */
  async remove (did: string): Promise<number> {
    const o = this.#owners.get(did)
    if (o === undefined) throw new NotFoundError(`owner ${did} is not hosted here`)
    this.#owners.delete(did)
    await o.hub.close()
    const n = await this.#deletePartition(did)
    await this.#c.kv.batch([{ type: 'del', key: RECORD + esc(did) }])
    return n
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const o of this.#owners.values()) await o.hub.close()
    this.#owners.clear()
  }

  async #deletePartition (did: string): Promise<number> {
    const prefix = partitionOf(did)
    let n = 0
    for (;;) {
      const keys: string[] = []
      for await (const k of this.#c.kv.keys({ gte: prefix, lt: prefixUpper(prefix), limit: DELETE_CHUNK })) keys.push(k)
      if (keys.length === 0) return n
      await this.#c.kv.batch(keys.map(key => ({ type: 'del' as const, key })))
      n += keys.length
    }
  }

  async #openOwner (record: OwnerRecord): Promise<HostedOwner> {
    const c = this.#c
    const cluster = c.cluster
    const base: KvStore = cluster === undefined ? c.kv : new FencedKv(cluster.kv, () => cluster.fence(record.owner), `owner ${record.owner}`)
    const quota = await QuotaKv.open(new PrefixKv(base, partitionOf(record.owner)), record.owner, record.quotas)
    const config: HubConfig = {
      version: CONFIG_VERSION,
      ownerDid: record.owner,
      hubDid: c.hubDid,
      peerId: c.peerId,
      role: 'blind',
      createdAt: record.addedAt,
      limits: { maxValueBytes: DEFAULT_MAX_VALUE_BYTES, maxCommitBytes: DEFAULT_MAX_COMMIT_BYTES }
    }
    const home = new TenantHome({ location: c.dir, engine: c.engine, config, key: c.hostKey, kv: quota })
    const hub = await Hub.open(home, { logger: withFields(c.logger, { tenant: record.owner }), ...(c.resolver !== undefined ? { resolver: c.resolver } : {}) })
    const owner: HostedOwner = { record, hub, quota }
    this.#owners.set(record.owner, owner)
    return owner
  }
}
