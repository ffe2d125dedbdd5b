/**
 * CLI command handlers. Each takes a HandlerContext (the open Hub, and the
 * network when run inside a daemon that has one) and plain, serializable
 * arguments, and returns a JSON-able result, so the same table runs
 * in-process or inside a running daemon (which receives the same arguments
 * over its control channel). Anything that must happen in the caller's
 * process — checking local arguments, writing files relative to its working
 * directory — lives in LOCAL_STEPS, never in a handler.
 */
import { writeFile } from 'node:fs/promises'
import { BadRequestError, HubError } from '../errors.js'
import type { Handler } from '../daemon/daemon.js'
import type { CommandArgs } from '../daemon/protocol.js'
import type { Filter, FilterOp, SortOrder } from '../store/query.js'
import type { JsonPrimitive } from '../objects/json.js'
import type { CommitStrategy } from '../commits/commit.js'
import type { HubNode } from '../net/hub-node.js'
import type { HandlerContext } from '../daemon/daemon.js'
import type { HubRole } from '../hub.js'
import { ProgressBar } from './progress.js'
import { ORG_LOCAL_STEPS, orgHandlers } from './org-commands.js'
import type { LocalSteps } from './local-steps.js'
import { orgOf } from '../org/hub-org.js'

export type { CommandArgs } from '../daemon/protocol.js'
export type { Handler, HandlerContext } from '../daemon/daemon.js'

function parseJsonInput (text: string | undefined, what = 'value'): unknown {
  if (text === undefined || text.trim() === '') throw new BadRequestError(`pipe the ${what} as JSON on stdin`)
  try {
    return JSON.parse(text)
  } catch {
    throw new BadRequestError(`the ${what} on stdin is not valid JSON`)
  }
}

function one (args: CommandArgs, name: string): string {
  const v = args.positionals[0]
  if (v === undefined) throw new BadRequestError(`missing ${name}`)
  return v
}

function str (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

const WHERE = /^([^<>=!]+?)(>=|<=|=|>|<)(.*)$/s
const OP_NAMES: Record<string, FilterOp> = { '=': 'eq', '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' }

/** `field=value`, `field>=3`… Values parse as JSON when they can (numbers, true, null, "quoted"), else as strings. */
export function parseWhere (expr: string): Filter {
  const m = WHERE.exec(expr)
  if (m === null) throw new BadRequestError(`invalid --where "${expr}" (use FIELD=VALUE, FIELD>VALUE, FIELD<=VALUE…)`)
  const [, field, op, raw] = m as unknown as [string, string, string, string]
  let value: JsonPrimitive = raw
  try {
    const parsed: unknown = JSON.parse(raw)
    if (parsed === null || ['string', 'number', 'boolean'].includes(typeof parsed)) value = parsed as JsonPrimitive
  } catch { /* a bare string */ }
  return { field: field.trim(), op: OP_NAMES[op] as FilterOp, value }
}

/** The network of the running daemon, or an `unavailable` error explaining how to get one. */
function network (ctx: HandlerContext<HubNode>): HubNode {
  if (ctx.net === undefined) throw new HubError('unavailable', 'this command needs the running hub: start it with "hub start --dir DIR"')
  return ctx.net
}

function role (a: CommandArgs): HubRole | undefined {
  const r = str(a.options.role)
  if (r === undefined) return undefined
  if (r !== 'owner-device' && r !== 'blind') throw new BadRequestError('--role must be owner-device or blind')
  return r
}

export const handlers: Record<string, Handler<HubNode>> = {
  ...orgHandlers,
  async write ({ hub }, a) {
    const strategy = (str(a.options.strategy) ?? 'automerge') as CommitStrategy
    return await hub.collections.create(parseJsonInput(a.stdin), { strategy, encrypt: a.options.encrypt === true })
  },
  async 'collection encrypt' ({ hub }, a) {
    const context = str(a.options.context)
    const type = str(a.options.type)
    if (context === undefined || type === undefined) throw new BadRequestError('hub collection encrypt needs --context C and --type T')
    const k = await hub.collectionKeys.encrypt(context, type)
    return { context, type, tag: k.tag, keyId: k.key.kid, version: k.version, readers: hub.collectionKeys.readers().map(r => r.kid.slice(0, r.kid.indexOf('#'))) }
  },
  async update ({ hub }, a) {
    return await hub.collections.update(one(a, 'OBJECT_ID'), parseJsonInput(a.stdin))
  },
  async read ({ hub }, a) {
    return await hub.collections.read(one(a, 'OBJECT_ID'))
  },
  async delete ({ hub }, a) {
    return await hub.collections.delete(one(a, 'OBJECT_ID'))
  },
  async history ({ hub }, a) {
    return await hub.collections.history(one(a, 'OBJECT_ID'))
  },
  async query ({ hub }, a) {
    const where = ([] as string[]).concat((a.options.where as string[] | undefined) ?? []).map(parseWhere)
    const limit = str(a.options.limit)
    if (limit !== undefined && !/^\d+$/.test(limit)) throw new BadRequestError('--limit must be a positive integer')
    const context = str(a.options.context)
    const type = str(a.options.type)
    const cursor = str(a.options.cursor)
    const sort = str(a.options.sort) as SortOrder | undefined
    const tag = str(a.options.tag)
    return await hub.collections.query({
      ...(tag !== undefined ? { tag } : {}),
      ...(context !== undefined ? { context } : {}),
      ...(type !== undefined ? { type } : {}),
      ...(where.length > 0 ? { where } : {}),
      ...(limit !== undefined ? { limit: Number(limit) } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
      ...(sort !== undefined ? { sort } : {})
    })
  },
  // The bytes travel as base64 and LOCAL_STEPS.export writes the file in the
  // CLI process, so --out is relative to the caller's directory, not the daemon's.
  async export ({ hub }, a) {
    const objectId = one(a, 'OBJECT_ID')
    const bytes = await hub.collections.export(objectId)
    return { objectId, data: Buffer.from(bytes).toString('base64') }
  },
  async 'profile get' ({ hub }) {
    return await hub.profile.get()
  },
  async 'profile set' ({ hub }, a) {
    return await hub.profile.set(parseJsonInput(a.stdin, 'profile'))
  },
  /** `hub did` is `hub did show`: the owner's did:key document, or with --participant that participant's. */
  async did (ctx, a) {
    return await (orgHandlers['did show'] as Handler<HubNode>)(ctx, a)
  },
  async info ({ hub }) {
    return { did: hub.did, hubDid: hub.hubDid, peerId: hub.peerId, role: hub.config.role, dir: hub.dir }
  },
  async 'device invite' (ctx, a) {
    const ttl = str(a.options.ttl)
    if (ttl !== undefined && !/^\d+$/.test(ttl)) throw new BadRequestError('--ttl is a number of seconds')
    const r = role(a)
    return await network(ctx).createInvite({ ...(ttl !== undefined ? { ttlMs: Number(ttl) * 1000 } : {}), ...(r !== undefined ? { role: r } : {}) })
  },
  async 'device list' ({ hub }) {
    return {
      devices: hub.devices.list().map(d => ({
        hubDid: d.device,
        objectId: d.objectId,
        role: d.role,
        name: d.name ?? null,
        createdAt: d.createdAt,
        revokedAt: d.revokedAt === undefined ? null : new Date(d.revokedAt).toISOString(),
        self: d.device === hub.hubDid
      }))
    }
  },
  async 'device revoke' ({ hub }, a) {
    const target = one(a, 'HUB_DID')
    const r = await hub.devices.revoke(target)
    return { revoked: target, objectId: r.objectId, commitId: r.commitId }
  },
  async peers (ctx) {
    return { peers: network(ctx).peers() }
  },
  async 'sync status' ({ hub, net }) {
    if (net !== undefined) return { running: true, peers: net.syncStatus() }
    // Without a daemon: what this hub has pulled from each peer so far.
    const marks = await hub.store.watermarks()
    return {
      running: false,
      peers: hub.devices.list().filter(d => d.device !== hub.hubDid && d.revokedAt === undefined).map(d => ({
        hubDid: d.device, name: d.name ?? null, role: d.role, connected: false, watermark: marks.get(d.device) ?? 0
      }))
    }
  },
  async grant ({ hub }, a) {
    const grantee = str(a.options.grantee)
    const context = str(a.options.context)
    const type = str(a.options.type)
    const allow = str(a.options.allow)
    if (grantee === undefined || context === undefined || type === undefined || allow === undefined) throw new BadRequestError('hub grant needs --grantee DID --context C --type T --allow CRUD-string')
    const expiresAt = str(a.options.expires)
    const objectId = str(a.options.object)
    return await hub.permissions.grant({ grantee, context, type, allow, ...(expiresAt !== undefined ? { expiresAt } : {}), ...(objectId !== undefined ? { objectId } : {}) })
  },
  async revoke ({ hub }, a) {
    return await hub.permissions.revoke(one(a, 'GRANT_ID'))
  },
  async grants ({ hub }, a) {
    const grantee = str(a.options.grantee)
    return { grants: hub.permissions.list(grantee !== undefined ? { grantee } : {}) }
  },
  async audit ({ hub }, a) {
    const limit = str(a.options.limit)
    const after = str(a.options.after)
    if ((limit !== undefined && !/^\d+$/.test(limit)) || (after !== undefined && !/^\d+$/.test(after))) throw new BadRequestError('--limit and --after are numbers')
    return { entries: await hub.audit.list({ ...(limit !== undefined ? { limit: Number(limit) } : {}), ...(after !== undefined ? { after: Number(after) } : {}) }) }
  },
  async follow (ctx, a) {
    const owner = str(a.options.owner)
    const peer = ([] as string[]).concat((a.options.peer as string | string[] | undefined) ?? [])
    if (owner === undefined || peer.length === 0) throw new BadRequestError('hub follow needs --owner DID and --peer MULTIADDR')
    await network(ctx).follow(owner, peer)
    return { following: owner, peers: peer }
  },
  async shared ({ hub }, a) {
    const owner = str(a.options.owner)
    if (owner === undefined) throw new BadRequestError('hub shared needs --owner DID')
    const view = await hub.sharedBy(owner)
    const context = str(a.options.context)
    const type = str(a.options.type)
    return await view.query({ ...(context !== undefined ? { context } : {}), ...(type !== undefined ? { type } : {}), limit: 1000 })
  },
  // Runs wherever the hub is open: in the daemon while it runs (the check
  // then sees live writes and retries around them), else in-process.
  async doctor ({ hub }, a) {
    const { doctor } = await import('../store/doctor.js')
    const report = await doctor(hub, { repair: a.options.repair === true })
    // Organization records are checked, never repaired: each operation writes them in one batch, so damage means a bug.
    const org = await orgOf(hub).check()
    return { ...report, clean: report.clean && org.length === 0, org: { problems: org } }
  },
  async sync (ctx, a) {
    const peers = ([] as string[]).concat((a.options.peer as string | string[] | undefined) ?? [])
    const peer = peers[0]
    if (peer === undefined || peers.length > 1) throw new BadRequestError('hub sync takes exactly one --peer MULTIADDR')
    if (ctx.net !== undefined) return await ctx.net.syncOnce(peer)
    // No daemon: a temporary node for this one pass, with a progress bar on a terminal.
    const { startHubNode } = await import('./network.js')
    const node = await startHubNode(ctx.hub, { discoveryIntervalMs: 0 })
    const bar = new ProgressBar()
    try {
      return await node.syncOnce(peer, p => bar.update(p.watermark, p.head, 'syncing'))
    } finally {
      bar.done()
      await node.stop()
    }
  }
}

/** Commands whose input is read from stdin. */
export const READS_STDIN = new Set(['write', 'update', 'profile set'])

export type { LocalSteps } from './local-steps.js'

/** The parts of a command that run in the CLI process, whether the handler ran in-process or in a daemon. */
export const LOCAL_STEPS: Readonly<Record<string, LocalSteps>> = {
  ...ORG_LOCAL_STEPS,
  // Exit 1 when the store is not clean (after --repair: when the re-check is
  // not); the report is printed all the same, on stdout, also with --json.
  doctor: {
    async after (result) {
      if ((result as { clean?: unknown } | null)?.clean !== true) process.exitCode = 1
      return result
    }
  },
  export: {
    before (a) {
      if (str(a.options.out) === undefined) throw new BadRequestError('missing --out FILE')
      one(a, 'OBJECT_ID')
    },
    async after (result, a) {
      const r = result as { objectId?: unknown, data?: unknown } | null
      if (typeof r?.data !== 'string') throw new HubError('internal', 'export returned no data')
      const bytes = Buffer.from(r.data, 'base64')
      const out = str(a.options.out) as string
      await writeFile(out, bytes)
      return { objectId: r.objectId, out, bytes: bytes.length }
    }
  }
}
