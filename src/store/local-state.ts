/**
 * Per-instance state that never replicates: known peer addresses and
 * outstanding device invites. Kept in the same LevelDB under `n!`, outside
 * every tenant partition and outside the change feed.
 */
import { sha256Hex, utf8, utf8d } from '../identity/encoding.js'
import { prefixEnd, type KvStore } from './kv.js'

export interface KnownPeer {
  peerId: string
  hubDid: string
  addrs: string[]
  lastSeen?: string
}

export interface InviteRecord {
  tokenHash: string
  role: 'owner-device' | 'blind'
  expiresAt: number
  used: boolean
}

/** Another owner whose shared collections this hub pulls (see HubNode.follow). */
export interface FollowRecord {
  owner: string
  addrs: string[]
}

const PEER = 'n!peer!'
const FOLLOW = 'n!follow!'
const INVITE = 'n!invite!'

export function hashToken (token: string): string {
  return sha256Hex(token)
}

export class LocalState {
  readonly #kv: KvStore
  constructor (kv: KvStore) {
    this.#kv = kv
  }

  async peers (): Promise<KnownPeer[]> {
    const out: KnownPeer[] = []
    for await (const [, v] of this.#kv.entries({ gte: PEER, lt: prefixEnd(PEER) })) out.push(JSON.parse(utf8d.decode(v)) as KnownPeer)
    return out
  }

  async rememberPeer (p: KnownPeer): Promise<void> {
    const addrs = [...new Set(p.addrs)].slice(0, 16)
    await this.#kv.batch([{ type: 'put', key: PEER + p.peerId, value: utf8.encode(JSON.stringify({ ...p, addrs })) }])
  }

  async forgetPeer (peerId: string): Promise<void> {
    await this.#kv.batch([{ type: 'del', key: PEER + peerId }])
  }

  async follows (): Promise<FollowRecord[]> {
    const out: FollowRecord[] = []
    for await (const [, v] of this.#kv.entries({ gte: FOLLOW, lt: prefixEnd(FOLLOW) })) out.push(JSON.parse(utf8d.decode(v)) as FollowRecord)
    return out
  }

  async putFollow (f: FollowRecord): Promise<void> {
    await this.#kv.batch([{ type: 'put', key: FOLLOW + f.owner, value: utf8.encode(JSON.stringify(f)) }])
  }

  async deleteFollow (owner: string): Promise<void> {
    await this.#kv.batch([{ type: 'del', key: FOLLOW + owner }])
  }

  async putInvite (inv: InviteRecord): Promise<void> {
    await this.#kv.batch([{ type: 'put', key: INVITE + inv.tokenHash, value: utf8.encode(JSON.stringify(inv)) }])
  }

  async getInvite (tokenHash: string): Promise<InviteRecord | undefined> {
    const raw = await this.#kv.get(INVITE + tokenHash)
    return raw === undefined ? undefined : JSON.parse(utf8d.decode(raw)) as InviteRecord
  }
}
