/**
 * A hub instance: its keys, its config and its store, in a "hub home"
 * (hub-home.ts): a directory under Node, IndexedDB in a browser.
 * `Hub.init` creates the home, `Hub.open` wires the parts together.
 * Everything else (network, HTTP) is layered on top of an open Hub.
 *
 * Directory layout (Node, hub-home-node.ts):
 *   hub.json        config (no secrets)
 *   keys/owner.json the owner's Ed25519 key (0600) — absent on a joined device
 *   keys/hub.json   this instance's key = its libp2p PeerId = its did:key (0600)
 *   keys/tenant.json the owner's tenant secret, shared by owner devices (0600):
 *                   derives the private DHT discovery key (and, later, collection tags)
 *   store/          LevelDB — absent when hub.json `store` names PostgreSQL
 *                   (then keys/store-password may hold its password)
 */
import { platformCrypto } from '#platform/crypto'
import { hubHome } from '#hub-home'
import { AlreadyExistsError } from './errors.js'
import type { Did } from './ids.js'
import { DEFAULT_MAX_COMMIT_BYTES, parseCommit, verifyCommit } from './commits/commit.js'
import { Ed25519KeyPair } from './identity/keys.js'
import { didKeyDocument, type DidDocument } from './identity/did-key.js'
import { createDidResolver, KeyResolver, type ResolverOptions } from './identity/resolver.js'
import { peerIdOf } from './identity/peer.js'
import { DEFAULT_MAX_VALUE_BYTES } from './objects/json.js'
import type { KvStore } from './store/kv.js'
import { TenantStore, actorFor, type CommitEvent, type IngestResult } from './store/tenant-store.js'
import { Collections } from './interfaces/collections.js'
import { Profile } from './interfaces/profile.js'
import { Devices } from './interfaces/devices.js'
import { Permissions } from './interfaces/permissions.js'
import { AuditLog } from './store/audit.js'
import { ReplayCache } from './store/replay-cache.js'
import { runQuery } from './store/query.js'
import { Keyring } from './encryption/keyring.js'
import { CollectionKeys, openerOf } from './interfaces/collection-keys.js'
import { LocalState, type KnownPeer } from './store/local-state.js'
import { silentLogger, type Logger } from './log.js'
import { CONFIG_VERSION, checkStoreNamespace, redactStoreUrl, splitStoreUrl, type HubConfig, type HubRole, type StoreConfig } from './hub-config-core.js'
import { STORE_PASSWORD_SECRET, type ExternalStore, type HubHome } from './hub-home.js'
import { HubEmitter } from './hub-events.js'

export { CONFIG_VERSION, type HubConfig, type HubRole } from './hub-config-core.js'
export type { HubHome } from './hub-home.js'

/** A hub's home: a directory (Node), or a home object (a browser's IndexedDB home, a test's). */
export type HubLocation = string | HubHome

function homeOf (where: HubLocation): HubHome {
  return typeof where === 'string' ? hubHome(where) : where
}

/** A hub's config (hub.json); not_found when there is no hub there. */
export async function readConfig (where: HubLocation): Promise<HubConfig> {
  return await homeOf(where).readConfig()
}

export interface InitOptions {
  /** Import this owner key instead of generating one. */
  ownerKey?: Ed25519KeyPair
  /** The owner's tenant secret, when restoring an owner from a backup (src/backup/owner-backup.ts); fresh otherwise. */
  tenantSecret?: Uint8Array
  maxValueBytes?: number
  /** Keep the store in PostgreSQL instead of the home's own engine (see {@link StoreChoice}). */
  store?: StoreChoice
}

/**
 * An external store as given by a person: a postgres:// URL (a password in
 * it is kept apart: see splitStoreUrl), an optional namespace (default: the
 * hub's peer id), an optional password (from --store-password-file).
 */
export interface StoreChoice {
  url: string
  namespace?: string
  password?: string
}

/** Which engine holds a hub's store, fit to print (`hub status`, logs): never a password. */
export interface StoreInfo {
  engine: string
  url?: string
  namespace?: string
}

export interface InitResult {
  did: Did
  hubDid: Did
  peerId: string
  dir: string
  store: StoreInfo
}

/** What a device receives from the hub it pairs with (see net/pair.ts). */
export interface JoinWelcome {
  ownerDid: Did
  role: HubRole
  tenantSecret?: Uint8Array
  /** Owner-signed commits the new device needs before it can act (device authorizations). */
  commits: string[]
  /** The inviting hub, so the new device can find it again. */
  peers: KnownPeer[]
}

export interface OpenOptions {
  logger?: Logger
  resolver?: ResolverOptions
  /** fsync every write batch (see LevelKv; a browser store ignores it). */
  sync?: boolean
  /** Override the configured value size limit for this process. */
  maxValueBytes?: number
  /** Entries of each issuer status list started (IssuanceDeps.statusListSize); only tests should make it smaller than the default. */
  statusListSize?: number
  /** Use this store for this process instead of hub.json's (`hub start --store`): its password, if any, is used and never recorded. */
  store?: StoreChoice
}

/** The external store to open: `override` (hub start --store) before hub.json's. */
function externalStore (config: HubConfig, override: StoreChoice | undefined, logger: Logger): ExternalStore | undefined {
  if (override === undefined) return config.store === undefined ? undefined : { config: config.store, logger }
  const { url, password } = splitStoreUrl(override.url)
  const namespace = checkStoreNamespace(override.namespace ?? config.store?.namespace ?? config.peerId)
  const pw = override.password ?? password
  return { config: { engine: 'postgres', url, namespace }, logger, ...(pw !== undefined ? { password: pw } : {}) }
}

function storeInfoOf (home: HubHome, store: StoreConfig | undefined): StoreInfo {
  return store === undefined ? { engine: home.engine } : { engine: store.engine, url: redactStoreUrl(store.url), namespace: store.namespace }
}

export interface HubEvents {
  commit: [CommitEvent]
}

/** A person's store choice as hub.json records it (no password) and the password apart. */
function storeChoice (choice: StoreChoice, peerId: string): { config: StoreConfig, password?: string } {
  const { url, password } = splitStoreUrl(choice.url)
  const pw = choice.password ?? password
  return { config: { engine: 'postgres', url, namespace: checkStoreNamespace(choice.namespace ?? peerId) }, ...(pw !== undefined ? { password: pw } : {}) }
}

/**
 * A new hub's external store must reach the database (unavailable otherwise)
 * and its namespace must be empty: one that holds another hub's data would
 * mix two owners in one partition. Checked before anything is created.
 */
async function checkEmptyStore (home: HubHome, store: { config: StoreConfig, password?: string }): Promise<void> {
  const kv = await home.openKv({ external: store })
  try {
    for await (const key of kv.keys({ limit: 1 })) {
      throw new AlreadyExistsError(`the store's namespace ${store.config.namespace} already holds data (key ${key.slice(0, 40)}); name another with --store-namespace`, { reason: 'store_not_empty', namespace: store.config.namespace })
    }
  } finally {
    await kv.close()
  }
}

const DISCOVERY_INFO = new TextEncoder().encode('identity-hub discovery v1')

export class Hub {
  readonly dir: string
  readonly config: HubConfig
  readonly did: Did
  readonly hubDid: Did
  readonly peerId: string
  readonly hubKey: Ed25519KeyPair
  readonly ownerKey: Ed25519KeyPair | undefined
  readonly kv: KvStore
  /** Which engine holds the store (and, for PostgreSQL, where: redacted). */
  readonly storeInfo: StoreInfo
  readonly store: TenantStore
  readonly collections: Collections
  readonly profile: Profile
  readonly devices: Devices
  readonly permissions: Permissions
  /** Encrypted collections: their content keys and key envelopes. */
  readonly collectionKeys: CollectionKeys
  /** Every request by anyone but the owner, allowed or denied. */
  readonly audit: AuditLog
  /** Request tokens (iss, jti) already accepted. */
  readonly replay: ReplayCache
  /** DCP self-issued ID tokens (iss, jti) already accepted: replay protection is on, always. */
  readonly dcpReplay: ReplayCache
  readonly keys: KeyResolver
  readonly log: Logger
  readonly local: LocalState
  /** Shared by the owner's devices; absent on blind hubs. */
  readonly tenantSecret: Uint8Array | undefined
  readonly events = new HubEmitter<HubEvents>()
  /** Partitions of other owners whose shared collections this hub pulls. */
  readonly #foreign = new Map<string, Promise<TenantStore>>()
  readonly #maxValueBytes: number
  /** Entries of each issuer status list started (OpenOptions.statusListSize), for the organization half. */
  readonly statusListSize: number | undefined
  /** Parts attached from outside (the organization half, src/org/hub-org.ts) that close with the hub, newest first. */
  readonly #closeHooks: Array<() => Promise<void>> = []
  /** DID documents this hub hosts itself, answered before the network (registered by the parts that host them). */
  readonly #documentSources: Array<(did: string) => Promise<DidDocument | undefined>> = []
  #closed = false

  private constructor (args: { dir: string, config: HubConfig, hubKey: Ed25519KeyPair, ownerKey: Ed25519KeyPair | undefined, tenantSecret: Uint8Array | undefined, kv: KvStore, storeInfo: StoreInfo, logger: Logger, resolver?: ResolverOptions, maxValueBytes: number, statusListSize?: number }) {
    this.dir = args.dir
    this.config = args.config
    this.did = args.config.ownerDid
    this.hubDid = args.config.hubDid
    this.peerId = args.config.peerId
    this.hubKey = args.hubKey
    this.ownerKey = args.ownerKey
    this.kv = args.kv
    this.storeInfo = args.storeInfo
    this.log = args.logger
    this.local = new LocalState(args.kv)
    this.tenantSecret = args.tenantSecret
    this.#maxValueBytes = args.maxValueBytes
    this.statusListSize = args.statusListSize
    this.keys = new KeyResolver(createDidResolver(args.resolver))
    // This hub opens envelopes sealed to its own key-agreement key, and to the owner's when it holds the owner key.
    const openers = [openerOf(args.hubKey), ...(args.ownerKey !== undefined ? [openerOf(args.ownerKey)] : [])]
    this.store = new TenantStore({
      kv: args.kv,
      tenant: this.did,
      keyring: new Keyring(args.config.role === 'blind' ? [] : openers),
      actor: actorFor(this.hubDid),
      // This hub signs the acceptance of every grantee commit that enters the owner's hubs here.
      acceptor: args.hubKey,
      maxValueBytes: args.maxValueBytes,
      onCommit: e => { this.#emitCommit(e) },
      onHookError: err => { this.log.error('post-write hook failed', { reason: (err as Error).message }) }
    })
    // Writes made here are signed by the owner key when this hub holds it.
    const signer = args.ownerKey ?? args.hubKey
    const common = { store: this.store, kv: args.kv, signer, maxValueBytes: args.maxValueBytes }
    this.collections = new Collections({ ...common, lookup: async kid => await this.keys.resolveKey(kid), encryption: () => this.collectionKeys })
    this.profile = new Profile(common)
    this.devices = new Devices({ store: this.store, ownerKey: args.ownerKey })
    this.permissions = new Permissions({ store: this.store, ownerKey: args.ownerKey, keys: () => this.collectionKeys })
    this.collectionKeys = new CollectionKeys({
      store: this.store,
      signer,
      tenantSecret: args.tenantSecret,
      openers,
      // Objects with names in their headers are plaintext: encrypted ones carry only a tag.
      holdsPlaintext: async (context, type) => (await runQuery(args.kv, this.store, { interface: 'Collections', context, type, limit: 1 })).objects.length > 0
    })
    this.audit = new AuditLog(args.kv, this.store.layout)
    this.replay = new ReplayCache(args.kv)
    this.dcpReplay = new ReplayCache(args.kv, 'n!dcp-jti!')
  }

  /** Whether close() was called. */
  get closed (): boolean { return this.#closed }

  /** Run `fn` when the hub closes, before its store does (newest first). */
  onClose (fn: () => Promise<void>): void {
    this.#closeHooks.push(fn)
  }

  /** Answer some DIDs from this hub's own data before going to the network (e.g. the did:web documents it hosts). */
  addDocumentSource (source: (did: string) => Promise<DidDocument | undefined>): void {
    this.#documentSources.push(source)
  }

  /**
   * Resolve a DID document, answering DIDs this hub hosts from its own store
   * (the same document its did:web endpoint would serve) before going to the
   * network.
   */
  async resolveDocument (did: string): Promise<DidDocument> {
    for (const source of this.#documentSources) {
      const local = await source(did)
      if (local !== undefined) return local
    }
    return await this.keys.resolveDocument(did)
  }

  /**
   * Whether a complete hub lives there. Under Node only a missing hub.json
   * counts as "no hub" (a file that cannot be read is `unavailable`).
   */
  static async exists (where: HubLocation): Promise<boolean> {
    return await homeOf(where).exists()
  }

  /** Create a new hub (a directory, or another home) with a fresh (or imported) owner DID. */
  static async init (where: HubLocation, opts: InitOptions = {}): Promise<InitResult> {
    const home = homeOf(where)
    const dir = home.location
    if (await home.exists()) throw new AlreadyExistsError(`a hub already exists at ${dir}`)
    const owner = opts.ownerKey ?? Ed25519KeyPair.generate()
    const hubKey = Ed25519KeyPair.generate()
    const peerId = peerIdOf(hubKey.publicKey)
    // Checked before anything is created: a bad URL or namespace leaves no half-made hub.
    const store = opts.store === undefined ? undefined : storeChoice(opts.store, peerId)
    if (store !== undefined) await checkEmptyStore(home, store)
    await home.create()
    const keystore = home.keys
    if (store?.password !== undefined) await keystore.putSecret(STORE_PASSWORD_SECRET, new TextEncoder().encode(store.password))
    await keystore.put('owner', owner, { overwrite: true })
    await keystore.put('hub', hubKey, { overwrite: true })
    await keystore.putSecret('tenant', opts.tenantSecret ?? platformCrypto.randomBytes(32))
    const config: HubConfig = {
      version: CONFIG_VERSION,
      ownerDid: owner.did,
      hubDid: hubKey.did,
      peerId,
      role: 'owner-device',
      createdAt: new Date().toISOString(),
      limits: { maxValueBytes: opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, maxCommitBytes: DEFAULT_MAX_COMMIT_BYTES },
      ...(store !== undefined ? { store: store.config } : {})
    }
    // hub.json is written last: its presence marks a complete hub.
    await home.writeConfig(config)
    // The founding hub is the owner's first device: other devices recognise
    // it by this owner-signed authorization, like any device they pair with.
    const hub = await Hub.open(home)
    try {
      await hub.devices.authorize(hub.hubDid, 'owner-device', 'founding hub')
    } finally {
      await hub.close()
    }
    return { did: config.ownerDid, hubDid: config.hubDid, peerId: config.peerId, dir, store: hub.storeInfo }
  }

  /**
   * Create a hub directory for a device that joined an existing owner: its
   * own fresh hub key, no owner key, and the owner's welcome (see net/pair.ts).
   */
  static async initJoined (where: HubLocation, hubKey: Ed25519KeyPair, welcome: JoinWelcome): Promise<InitResult> {
    const home = homeOf(where)
    const dir = home.location
    if (await home.exists()) throw new AlreadyExistsError(`a hub already exists at ${dir}`)
    await home.create()
    const keystore = home.keys
    await keystore.put('hub', hubKey, { overwrite: true })
    if (welcome.tenantSecret !== undefined) await keystore.putSecret('tenant', welcome.tenantSecret)
    const config: HubConfig = {
      version: CONFIG_VERSION,
      ownerDid: welcome.ownerDid,
      hubDid: hubKey.did,
      peerId: peerIdOf(hubKey.publicKey),
      role: welcome.role,
      createdAt: new Date().toISOString(),
      limits: { maxValueBytes: DEFAULT_MAX_VALUE_BYTES, maxCommitBytes: DEFAULT_MAX_COMMIT_BYTES }
    }
    await home.writeConfig(config)
    const hub = await Hub.open(home)
    try {
      for (const env of welcome.commits) await hub.ingest(env)
      for (const p of welcome.peers) await hub.local.rememberPeer(p)
    } finally {
      await hub.close()
    }
    return { did: config.ownerDid, hubDid: config.hubDid, peerId: config.peerId, dir, store: hub.storeInfo }
  }

  static async open (where: HubLocation, opts: OpenOptions = {}): Promise<Hub> {
    const home = homeOf(where)
    const config = await home.readConfig()
    const keystore = home.keys
    const hubKey = await keystore.get('hub')
    const ownerKey = await keystore.has('owner') ? await keystore.get('owner') : undefined
    const tenantSecret = await keystore.getSecret('tenant')
    const logger = opts.logger ?? silentLogger
    const external = externalStore(config, opts.store, logger.child('store'))
    const kv = await home.openKv({ sync: opts.sync === true, ...(external !== undefined ? { external } : {}) })
    const hub = new Hub({
      dir: home.location,
      config,
      hubKey,
      ownerKey,
      tenantSecret,
      kv,
      storeInfo: storeInfoOf(home, external?.config),
      logger,
      maxValueBytes: opts.maxValueBytes ?? config.limits.maxValueBytes,
      ...(opts.resolver !== undefined ? { resolver: opts.resolver } : {}),
      ...(opts.statusListSize !== undefined ? { statusListSize: opts.statusListSize } : {})
    })
    await hub.store.open()
    hub.log.info('hub opened', { dir: home.location, did: hub.did, peerId: hub.peerId, store: hub.storeInfo })
    return hub
  }

  /**
   * The private DHT key under which the owner's devices announce themselves:
   * derived from the tenant secret, so nothing public links it to the DID.
   */
  discoveryKey (): Uint8Array | undefined {
    if (this.tenantSecret === undefined) return undefined
    return platformCrypto.hmacSha256(this.tenantSecret, DISCOVERY_INFO)
  }

  /** The owner's DID document. */
  didDocument (): DidDocument {
    return didKeyDocument(this.did)
  }

  /**
   * Deliver a durable commit to every listener (sync streams, subscriptions,
   * the network node). Each listener is isolated: one that throws is logged
   * and the others still run.
   */
  #emitCommit (e: CommitEvent): void {
    for (const l of this.events.listeners('commit')) {
      try {
        l(e)
      } catch (err) {
        this.log.error('commit listener failed', { reason: (err as Error).message, stack: (err as Error).stack?.split('\n').slice(0, 4).join(' | ') })
      }
    }
  }

  /**
   * The store of a tenant: our owner's, or (opened on first use) the
   * partition holding what another owner shared with us. Its commits are
   * validated against *that* owner's grants and devices, which arrive with
   * them.
   */
  async tenant (did: string): Promise<TenantStore> {
    if (did === this.did) return this.store
    let p = this.#foreign.get(did)
    if (p === undefined) {
      p = (async () => {
        const store = new TenantStore({
          kv: this.kv,
          tenant: did as Did,
          actor: actorFor(this.hubDid),
          maxValueBytes: this.#maxValueBytes,
          onCommit: e => { this.#emitCommit(e) },
          onHookError: err => { this.log.error('post-write hook failed', { reason: (err as Error).message }) }
        })
        await store.open()
        return store
      })()
      this.#foreign.set(did, p)
    }
    return await p
  }

  /** Read-only view of what another owner shared with us (read, query, history). */
  async sharedBy (did: string): Promise<Collections> {
    const store = await this.tenant(did)
    return new Collections({ store, kv: this.kv, signer: this.hubKey, maxValueBytes: this.#maxValueBytes, lookup: async kid => await this.keys.resolveKey(kid) })
  }

  /**
   * Accept a signed commit from outside (another hub, an app): parse,
   * verify the signature, then validate and store it atomically. Any
   * failure throws a HubError and stores nothing.
   */
  async ingest (envelope: string | unknown): Promise<IngestResult> {
    const commit = await verifyCommit(parseCommit(envelope, this.config.limits.maxCommitBytes), async kid => await this.keys.resolveKey(kid))
    return await this.store.ingest(commit)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const hook of [...this.#closeHooks].reverse()) await hook()
    await this.store.idle()
    this.store.close()
    for (const p of this.#foreign.values()) {
      const s = await p.catch(() => undefined)
      await s?.idle()
      s?.close()
    }
    await this.kv.close()
  }
}

