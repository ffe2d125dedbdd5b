/**
 * The composition root: where the parts that must not know each other are
 * wired together. The network layer (src/net) sits above the request
 * protocol (src/request) in docs/architecture.md, so a HubNode takes the
 * request server and the `Devices.attest` client as injected functions;
 * every place that starts a node for a hub does it through startHubNode.
 */
import type { Stream } from '@libp2p/interface'
import { BadRequestError, HubError } from './errors.js'
import type { Hub } from './hub.js'
import { FrameChannel, remoteError } from './net/channel.js'
import { MAX_REQUEST_FRAME_BYTES, REQUEST_BURST, REQUEST_RATE_PER_SECOND } from './net/constants.js'
import { silentLogger, type Logger } from './log.js'
import type { HubNode, HubNodeOptions } from './net/hub-node.js'
import type { HostedOwners } from './net/hosting/owners.js'
import type { HostingNode, HostingNodeOptions } from './net/hosting/node.js'
import type { ClusterOptions, HostingCluster } from './net/hosting/cluster.js'
import type { Ed25519KeyPair } from './identity/keys.js'
import type { KeyResolver } from './identity/resolver.js'
import { hostingRouter } from './request/hosting-router.js'
import { PeerRateLimiter } from './request/rate-limit.js'
import { handleRequest } from './request/handler.js'
import { serveRequests } from './request/server.js'
import { signRequest, validateServerMessage } from './request/token.js'

export interface StartHubNodeOptions extends HubNodeOptions {
  /**
   * The per-peer request rate limit (a token bucket per remote peer id).
   * Default REQUEST_RATE_PER_SECOND sustained, REQUEST_BURST at once
   * (src/net/constants.ts, protocols/request.md).
   */
  requestRateLimit?: { ratePerSecond: number, burst: number }
}

/** Start a HubNode for `hub` that serves and speaks the request protocol. */
export async function startHubNode (hub: Hub, opts: StartHubNodeOptions = {}): Promise<HubNode> {
  const { HubNode } = await import('./net/hub-node.js')
  const { requestRateLimit, ...nodeOpts } = opts
  const log = (opts.logger ?? hub.log).child('net').child('request')
  const limiter = requestRateLimit === undefined ? undefined : new PeerRateLimiter(requestRateLimit)
  const net = hub.config.network
  return await HubNode.start(hub, {
    // Relay and mDNS follow hub.json (`hub config set network.relay true`) unless the caller decides.
    ...(net?.relay === true ? { relay: true } : {}),
    ...(net?.mdns === true ? { mdns: true } : {}),
    requests: async (stream, remotePeer) => { await serveRequests(hub, log, stream, remotePeer, limiter) },
    askAttestation: async (stream, lifetimeS, signal) => await askAttestation(hub, stream, lifetimeS, signal),
    ...nodeOpts
  })
}

/**
 * Start the one node of a hosting hub (net/hosting/node.ts) for every
 * owner in `owners`, with the request protocol routed per owner
 * (request/hosting-router.ts) under the per-peer rate limit.
 */
export async function startHostingNode (owners: HostedOwners, hostKey: Ed25519KeyPair, keys: KeyResolver, opts: HostingNodeOptions & Pick<StartHubNodeOptions, 'requestRateLimit'> = {}): Promise<HostingNode> {
  const { HostingNode } = await import('./net/hosting/node.js')
  const { requestRateLimit, ...nodeOpts } = opts
  const limiter = new PeerRateLimiter(requestRateLimit ?? { ratePerSecond: REQUEST_RATE_PER_SECOND, burst: REQUEST_BURST })
  // Requests may arrive while the node is still starting: until it is returned, nothing is counted.
  const started: { node?: HostingNode } = {}
  const route = hostingRouter({
    owner: did => owners.get(did),
    counters: did => started.node?.counters(did),
    lookup: async kid => await keys.resolveKey(kid),
    forwarder: did => started.node?.forwarder(did),
    audit: async (owner, entry) => { if (started.node !== undefined) await started.node.audit(owner, entry); else await owner.hub.audit.append(entry) }
  })
  const node = await HostingNode.start(owners, hostKey, {
    ...nodeOpts,
    forwardedRequest: async (owner, jws) => (await handleRequest(owner.hub, jws)).result ?? null,
    requests: async (stream, remotePeer) => { await serveRequests(route, (opts.logger ?? silentLogger).child('request'), stream, remotePeer, limiter) }
  })
  started.node = node
  return node
}

/**
 * `hub start` on a hosting hub: the owners it hosts (over the hub's own
 * store; the hub's key is every tenant's), the one hosting node, found
 * afterwards with hostingOf(hub). Stopping it closes the owners' hubs, not
 * the hub itself.
 */
export async function startHosting (hub: Hub, opts: HostingNodeOptions & { clusterOptions?: ClusterOptions } = {}): Promise<{ node: HostingNode, multiaddrs: () => string[], stop: () => Promise<void> }> {
  const { HostedOwners } = await import('./net/hosting/owners.js')
  const { setHosting } = await import('./net/hosting/registry.js')
  const logger = opts.logger ?? hub.log
  const defaults = hub.config.hosting?.defaultQuotas
  // On PostgreSQL, always as one of possibly several processes: writes fenced by shard leases (net/hosting/cluster.ts).
  const { clusterOptions, ...nodeOpts } = opts
  const cluster = hub.storeInfo.engine === 'postgres' ? await openCluster(hub, logger, clusterOptions) : undefined
  const owners = await HostedOwners.open({
    kv: hub.kv, hostKey: hub.hubKey, hubDid: hub.hubDid, peerId: hub.peerId, dir: hub.dir, engine: hub.storeInfo.engine, logger,
    ...(defaults !== undefined ? { defaultQuotas: defaults } : {}),
    ...(cluster !== undefined ? { cluster } : {})
  })
  let node: HostingNode
  try {
    node = await startHostingNode(owners, hub.hubKey, hub.keys, { ...nodeOpts, logger, ...(cluster !== undefined ? { cluster } : {}) })
  } catch (err) {
    await cluster?.stop()
    await owners.close()
    throw err
  }
  setHosting(hub, node)
  return {
    node,
    multiaddrs: () => node.multiaddrs(),
    stop: async () => {
      setHosting(hub, undefined)
      try { await node.stop() } finally { await owners.close() }
    }
  }
}

/** The shard leases and inbox of a hosting hub on PostgreSQL (loaded only there). */
async function openCluster (hub: Hub, logger: Logger, opts: ClusterOptions | undefined): Promise<HostingCluster> {
  const [{ PgKv }, { HostingCluster }] = await Promise.all([import('./store/pg-kv.js'), import('./net/hosting/cluster.js')])
  if (!(hub.kv instanceof PgKv)) throw new HubError('internal', 'a hosting hub on PostgreSQL without a PostgreSQL store')
  return await HostingCluster.open(hub.kv, logger.child('hosting').child('cluster'), opts)
}

/**
 * One `Devices.attest` request on a stream to one of our owner's hubs,
 * signed with our hub key; the stream is closed afterwards.
 */
async function askAttestation (hub: Hub, stream: Stream, lifetimeS: number, signal: AbortSignal): Promise<string> {
  const ch = new FrameChannel(stream, MAX_REQUEST_FRAME_BYTES)
  try {
    await ch.send({ t: 'request', id: 1, jws: signRequest(hub.hubKey, hub.did, 'Devices', 'attest', { lifetimeS }) }, signal)
    const reply = await ch.receive(validateServerMessage, signal)
    if (reply === null) throw new HubError('unavailable', 'the hub closed the request stream')
    if (reply.t === 'error') throw remoteError(reply)
    const result = reply.t === 'response' && reply.id === 1 ? reply.result as { attestation?: unknown } | null : undefined
    if (typeof result?.attestation !== 'string') throw new BadRequestError('the hub did not answer Devices.attest with an attestation')
    return result.attestation
  } finally {
    await ch.close().catch(() => { ch.abort(new Error('closing')) })
  }
}
