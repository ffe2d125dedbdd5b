/**
 * Pairing: /identity-hub/pair/1.0.0. An owner hub issues a one-time,
 * expiring invite carrying its multiaddrs and a random token (only the
 * token's hash is stored). The new device dials with its own fresh hub key —
 * Noise proves it holds it — and redeems the token; the owner hub signs a
 * DeviceAuthorization for that hub DID and replies with what the device
 * needs to act for the owner.
 */
import { platformCrypto } from '#platform/crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream } from '@libp2p/interface'
import { AlreadyExistsError, AuthenticationError, BadRequestError, HubError, PermissionsRequiredError, toHubError } from '../errors.js'
import { Hub, type HubLocation, type HubRole, type InitResult, type JoinWelcome } from '../hub.js'
import { asDid, asObjectId } from '../ids.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { b64u, fromB64u, utf8d } from '../identity/encoding.js'
import { hashToken } from '../store/local-state.js'
import type { Logger } from '../log.js'
import { FrameChannel, remoteError } from './channel.js'
import { INVITE_TTL_MS, MAX_FRAME_BYTES, PAIR_PROTOCOL } from './constants.js'
import { validateInvite, validateJoin, validatePairReply, type Invite } from './messages.js'
import { createHubLibp2p, hubDidOfPeer, type HubLibp2p } from './node.js'

const PREFIX = 'ihub1_'

export function encodeInvite (inv: Invite): string {
  return PREFIX + b64u(JSON.stringify(inv))
}

export function decodeInvite (text: string): Invite {
  const t = text.trim()
  if (!t.startsWith(PREFIX)) throw new BadRequestError('not an Identity Hub invite')
  let value: unknown
  try {
    value = JSON.parse(utf8d.decode(fromB64u(t.slice(PREFIX.length))))
  } catch {
    throw new BadRequestError('invite is corrupted')
  }
  if (!validateInvite(value)) throw new BadRequestError('invite is malformed')
  return value
}

/** Issue an invite (owner hubs only). */
export async function createInvite (hub: Hub, addrs: string[], opts: { ttlMs?: number, role?: HubRole } = {}): Promise<{ invite: string, expiresAt: string }> {
  if (hub.ownerKey === undefined) throw new PermissionsRequiredError('only a hub holding the owner key can invite devices')
  if (addrs.length === 0) throw new HubError('unavailable', 'the hub is not listening: start it with "hub start" first')
  const token = b64u(platformCrypto.randomBytes(32))
  const exp = Date.now() + (opts.ttlMs ?? INVITE_TTL_MS)
  await hub.local.putInvite({ tokenHash: hashToken(token), role: opts.role ?? 'owner-device', expiresAt: exp, used: false })
  return { invite: encodeInvite({ v: 1, owner: hub.did, peer: hub.peerId, addrs: addrs.slice(0, 16), token, exp }), expiresAt: new Date(exp).toISOString() }
}

/** Envelopes of every Permissions and Keys object's commits, in dependency order. */
async function permissionCommits (hub: Hub): Promise<unknown[]> {
  const out: unknown[] = []
  const ids = new Set([...hub.store.registry.devices().map(d => d.objectId), ...hub.store.registry.grants().map(g => g.id), ...hub.store.keyring.all().map(k => k.objectId)])
  for (const id of ids) {
    for (const cid of await hub.store.objectCommitIds(asObjectId(id))) {
      const env = await hub.store.getEnvelope(cid)
      if (env !== undefined) out.push(JSON.parse(env))
    }
  }
  return out
}

export interface PairServerContext {
  hub: Hub
  addrs: () => string[]
  log: Logger
}

export async function servePair (ctx: PairServerContext, stream: Stream, connection: Connection): Promise<void> {
  const ch = new FrameChannel(stream, 64 * 1024)
  try {
    const join = await ch.receive(validateJoin, AbortSignal.timeout(10_000))
    if (join === null) return
    const hub = ctx.hub
    const inv = await hub.local.getInvite(hashToken(join.token))
    if (inv === undefined || inv.used) throw new AuthenticationError('invite is unknown or already used')
    if (Date.now() >= inv.expiresAt) throw new AuthenticationError('invite has expired')
    if (inv.role !== join.role) throw new PermissionsRequiredError(`invite is for a ${inv.role} hub`)
    // Burn the token before anything else, so a replay cannot race us.
    await hub.local.putInvite({ ...inv, used: true })
    const device = asDid(hubDidOfPeer(connection.remotePeer))
    if (hub.devices.isAuthorized(device) === undefined) await hub.devices.authorize(device, join.role, join.name)
    // An owner device can read the encrypted collections from its first sync: seal their keys to it too.
    if (join.role === 'owner-device') await hub.collectionKeys.addReaders([device])
    await ch.send({
      t: 'welcome',
      owner: hub.did,
      role: join.role,
      ...(join.role === 'owner-device' && hub.tenantSecret !== undefined ? { tenantSecret: b64u(hub.tenantSecret) } : {}),
      commits: await permissionCommits(hub),
      addrs: ctx.addrs().slice(0, 16)
    })
    ctx.log.info('device paired', { device, role: join.role })
    await ch.close()
  } catch (err) {
    const e = toHubError(err)
    ctx.log.info('pairing refused', { code: e.code, reason: e.message })
    await ch.fail(e)
  }
}

export interface JoinOptions {
  role?: HubRole
  name?: string
  timeoutMs?: number
}

/**
 * Redeem an invite from `node` (whose key becomes the new device): dial the
 * inviting hub, send the token, and return its welcome. A hosting hub
 * redeems owners' invites this way from its running node
 * (net/hosting/node.ts), as a blind device of each.
 */
export async function redeemInvite (node: Pick<HubLibp2p, 'dialProtocol'>, inv: Invite, opts: { role: HubRole, name?: string, timeoutMs?: number }): Promise<JoinWelcome> {
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 15_000)
  // Every address names the inviting peer, so Noise refuses anyone else.
  const inviter = peerIdFromString(inv.peer)
  const addrs = inv.addrs.map(a => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${inv.peer}`))
  const stream = await node.dialProtocol(addrs, PAIR_PROTOCOL, { signal })
  const ch = new FrameChannel(stream, MAX_FRAME_BYTES)
  await ch.send({ t: 'join', v: 1, token: inv.token, role: opts.role, ...(opts.name !== undefined ? { name: opts.name } : {}) }, signal)
  const reply = await ch.receive(validatePairReply, signal)
  if (reply === null) throw new HubError('unavailable', 'the inviting hub closed the connection')
  if (reply.t === 'error') throw remoteError(reply)
  if (reply.owner !== inv.owner) throw new AuthenticationError('the inviting hub answered for a different owner')
  await ch.close()
  return {
    ownerDid: asDid(reply.owner),
    role: reply.role,
    ...(reply.tenantSecret !== undefined ? { tenantSecret: fromB64u(reply.tenantSecret) } : {}),
    commits: reply.commits.map(c => JSON.stringify(c)),
    peers: [{ peerId: inv.peer, hubDid: hubDidOfPeer(inviter), addrs: [...new Set([...reply.addrs, ...inv.addrs])] }]
  }
}

/** Create a hub in `dir` (or another home: a browser's IndexedDB) that joins the owner who issued `inviteText`. */
export async function joinHub (dir: HubLocation, inviteText: string, opts: JoinOptions = {}): Promise<InitResult & { role: HubRole }> {
  const inv = decodeInvite(inviteText)
  if (Date.now() >= inv.exp) throw new AuthenticationError('invite has expired')
  // Checked before dialing, so an invite is not spent on a hub that cannot be created.
  if (await Hub.exists(dir)) throw new AlreadyExistsError(`a hub already exists at ${typeof dir === 'string' ? dir : dir.location}`)
  const role = opts.role ?? 'owner-device'
  const hubKey = Ed25519KeyPair.generate()
  const node = await createHubLibp2p(hubKey, null)
  let welcome: JoinWelcome
  try {
    welcome = await redeemInvite(node, inv, { role, ...(opts.name !== undefined ? { name: opts.name } : {}), ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) })
  } finally {
    await node.stop()
  }
  const out = await Hub.initJoined(dir, hubKey, welcome)
  return { ...out, role }
}
