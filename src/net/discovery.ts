/**
 * Finding our owner's other hubs: provider records in the DHT under a key
 * only owner devices can compute (an HMAC under the tenant secret, so the
 * DHT never sees the owner DID), and the `IdentityHub` instances an owner
 * DID document lists.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { DidDocument } from '../identity/did-key.js'
import type { Logger } from '../log.js'
import { hubDidOfPeer, type HubLibp2p } from './node.js'
import type { PeerTable } from './peers.js'

/** How long one DHT provide or lookup may take. */
const DHT_TIMEOUT_MS = 10_000

/** `IdentityHub` service instances listed in a DID document. */
export function hubInstancesFromDidDocument (doc: DidDocument): string[] {
  const out: string[] = []
  for (const s of doc.service ?? []) {
    if (s.type !== 'IdentityHub') continue
    const ep = s.serviceEndpoint as { instances?: unknown } | string | undefined
    if (typeof ep === 'object' && ep !== null && Array.isArray(ep.instances)) {
      for (const i of ep.instances) if (typeof i === 'string') out.push(i)
    }
  }
  return out
}

/** The DHT record key of a discovery key: a raw CID of its SHA-256. */
export async function discoveryCid (key: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(key))
}

export interface DhtDiscoveryComponents {
  libp2p: Pick<HubLibp2p, 'contentRouting' | 'peerId' | 'getConnections'>
  /** The owner's private discovery key; undefined on a hub that has none (nothing to announce). */
  discoveryKey: () => Uint8Array | undefined
  peers: PeerTable
  log: Logger
}

export class DhtDiscovery {
  readonly #c: DhtDiscoveryComponents

  constructor (components: DhtDiscoveryComponents) {
    this.#c = components
  }

  /**
   * Announce ourselves under the owner's DHT key and look for the others;
   * every hub found is dialled at the next reconnection tick. Without a
   * connection there is no DHT to ask. Failures are only logged: the next
   * period tries again.
   */
  async tick (): Promise<void> {
    const { libp2p, peers, log } = this.#c
    const key = this.#c.discoveryKey()
    if (key === undefined || libp2p.getConnections().length === 0) return
    const cid = await discoveryCid(key)
    try {
      await libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(DHT_TIMEOUT_MS) })
    } catch (err) {
      log.debug('DHT provide failed', { reason: (err as Error).message })
    }
    try {
      for await (const p of libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(DHT_TIMEOUT_MS) })) {
        if (p.id.equals(libp2p.peerId)) continue
        let hubDid: string
        try { hubDid = hubDidOfPeer(p.id) } catch { continue }
        const s = peers.ensure(p.id.toString(), hubDid, p.multiaddrs.map(a => a.toString()))
        if (!s.connected) s.nextDialAt = 0
      }
    } catch (err) {
      log.debug('DHT lookup failed', { reason: (err as Error).message })
    }
  }
}
