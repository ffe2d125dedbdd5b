/**
 * `hub diff OBJECT_ID [--from COMMIT] [--to COMMIT]`: what changed in an
 * object between two of its versions, field by field (issue 16: the
 * dashboard's history view shows the same answer).
 *
 * A version is the object as of one signed commit: for an Automerge object,
 * the document with that commit's change and everything it depends on (so
 * two offline edits made on two devices are two versions, and their merge is
 * the current value); for an LWW object, the value that commit carried.
 * Every commit comes from `hub.collections.history`, which verifies each
 * signature; encrypted payloads are opened with the hub's collection keys
 * exactly as the store opens them (an object this hub cannot read is a
 * `conflict`, as for export).
 */
import * as A from '../../objects/automerge-load.js'
import { BadRequestError, ConflictError, NotFoundError } from '../../errors.js'
import { parseCommit, type Commit } from '../../commits/commit.js'
import { commitHeaderAad } from '../../encryption/commit-aad.js'
import { utf8d } from '../../identity/encoding.js'
import { docValue } from '../../objects/automerge.js'
import { parseObjectId } from '../../interfaces/collections.js'
import type { Hub } from '../../hub.js'
import { defined, optional, text } from '../params.js'
import { arg, opt } from '../input.js'
import { table } from '../format.js'
import { hubCommand } from '../spec.js'

export interface FieldChange {
  /** Dot path of the field (`tracks.2.name`); '' for the whole value. */
  path: string
  kind: 'added' | 'removed' | 'changed'
  before?: unknown
  after?: unknown
}

export interface Version { commitId: string | 'current', operation: string, committedAt: string | null, signer: string | null, value: unknown }

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A readable structural diff: objects key by key, arrays index by index, anything else by equality. */
export function diffValues (before: unknown, after: unknown, path = '', out: FieldChange[] = []): FieldChange[] {
  const at = (k: string | number): string => path === '' ? String(k) : `${path}.${k}`
  if (isRecord(before) && isRecord(after)) {
    for (const k of Object.keys(before)) {
      if (!Object.hasOwn(after, k)) out.push({ path: at(k), kind: 'removed', before: before[k] })
      else diffValues(before[k], after[k], at(k), out)
    }
    for (const k of Object.keys(after)) if (!Object.hasOwn(before, k)) out.push({ path: at(k), kind: 'added', after: after[k] })
    return out
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const n = Math.max(before.length, after.length)
    for (let i = 0; i < n; i++) {
      if (i >= after.length) out.push({ path: at(i), kind: 'removed', before: before[i] })
      else if (i >= before.length) out.push({ path: at(i), kind: 'added', after: after[i] })
      else diffValues(before[i], after[i], at(i), out)
    }
    return out
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) {
    if (before === undefined) out.push({ path, kind: 'added', after })
    else if (after === undefined) out.push({ path, kind: 'removed', before })
    else out.push({ path, kind: 'changed', before, after })
  }
  return out
}

/** A commit's payload in clear, opened with this hub's keys like the store does; undefined for a delete. */
function plainPayload (hub: Hub, c: Commit): Uint8Array | undefined {
  if (c.header.operation === 'delete') return undefined
  const kid = c.header.enc
  if (kid === undefined) return c.payload
  const plain = hub.store.keyring.open(kid, utf8d.decode(c.payload), commitHeaderAad(c.header))
  if (plain === undefined) throw new ConflictError('this hub cannot read the object (no key for its collection)', { reason: 'no_key' })
  return plain
}

/** Every version of an object, oldest first, and its current value. */
export async function objectVersions (hub: Hub, objectId: string): Promise<{ versions: Version[], current: unknown }> {
  const oid = parseObjectId(objectId)
  const { commits } = await hub.collections.history(oid)
  const parsed = commits.map(h => ({ h, c: parseCommit(h.envelope, Infinity) }))
  const versions: Version[] = []
  const strategy = parsed[0]?.c.header.commit_strategy
  if (strategy === 'automerge') {
    let doc = A.init<Record<string, unknown>>()
    const hashes = new Map<string, string>()
    const changes: Uint8Array[] = []
    for (const { c } of parsed) {
      const p = plainPayload(hub, c)
      if (p === undefined) continue
      changes.push(p)
      hashes.set(c.id, A.decodeChange(p).hash)
    }
    ;[doc] = A.applyChanges(doc, changes)
    for (const { h, c } of parsed) {
      const hash = hashes.get(c.id)
      versions.push({ commitId: h.commitId, operation: h.operation, committedAt: h.committedAt, signer: h.signer, value: hash === undefined ? null : docValue(A.view(doc, [hash])) })
    }
    const deleted = parsed.at(-1)?.c.header.operation === 'delete'
    const current = deleted ? null : docValue(doc)
    A.free(doc)
    return { versions, current }
  }
  for (const { h, c } of parsed) {
    const p = plainPayload(hub, c)
    let value: unknown = null
    if (p !== undefined) {
      try { value = JSON.parse(utf8d.decode(p)) } catch { throw new ConflictError('an LWW commit payload is not JSON', { reason: 'bad_payload', commitId: h.commitId }) }
    }
    versions.push({ commitId: h.commitId, operation: h.operation, committedAt: h.committedAt, signer: h.signer, value })
  }
  const current = await hub.collections.read(oid).then(v => v.value as unknown, () => null)
  return { versions, current }
}

export async function diffObject (hub: Hub, p: { objectId: string, from?: string, to?: string }): Promise<{ objectId: string, from: Version, to: Version, changes: FieldChange[] }> {
  const { versions, current } = await objectVersions(hub, p.objectId)
  const last = versions.at(-1)
  if (last === undefined) throw new NotFoundError(`object ${p.objectId} has no commits`)
  const pick = (id: string): Version => {
    const v = versions.find(x => x.commitId === id)
    if (v === undefined) throw new NotFoundError(`commit ${id} is not a commit of object ${p.objectId}`, { reason: 'unknown_commit' })
    return v
  }
  const to: Version = p.to === undefined || p.to === 'current'
    ? { commitId: 'current', operation: last.operation, committedAt: last.committedAt, signer: null, value: current }
    : pick(p.to)
  // Default --from: the version before --to (for "current", before the last commit), or nothing before the first.
  const before = (to.commitId === 'current' ? versions.length : versions.indexOf(to)) - 1
  const none: Version = { commitId: 'none', operation: 'none', committedAt: null, signer: null, value: undefined }
  const from: Version = p.from !== undefined ? pick(p.from) : to.commitId === 'current' ? versions[before - 1] ?? none : versions[before] ?? none
  if (from.commitId === to.commitId && p.from !== undefined) throw new BadRequestError('--from and --to name the same version', { reason: 'same_version' })
  return { objectId: p.objectId, from, to, changes: diffValues(from.value ?? undefined, to.value ?? undefined) }
}

const cell = (v: unknown): string => v === undefined ? '' : JSON.stringify(v)

export const diff = hubCommand({
  name: 'diff',
  group: 'Collections',
  summary: 'what changed in an object between two versions (commits), field by field',
  description: 'Field-by-field changes between two versions of an object. A version is the object as of one commit ' +
    '(from "hub history"); --to defaults to the current value (the merge of every head), --from to the version before --to.',
  arguments: [{ name: 'OBJECT_ID', description: 'the object' }],
  options: [
    { flags: '--from <commit>', description: 'the older version (a commit id from "hub history")' },
    { flags: '--to <commit>', description: 'the newer version (a commit id, or "current": the default)' }
  ],
  examples: ['hub diff bafy… --json', 'hub diff bafy… --from b1… --to current'],
  params: { objectId: text(), from: optional(text()), to: optional(text()) },
  input: cli => defined({ objectId: arg(cli, 0, 'OBJECT_ID'), from: opt(cli.opts.from), to: opt(cli.opts.to) }),
  run: async ({ hub }, p) => await diffObject(hub, p),
  human: r => r.changes.length === 0
    ? `no changes between ${r.from.commitId} and ${r.to.commitId}\n`
    : table(r.changes, [['FIELD', c => c.path === '' ? '(value)' : c.path], ['CHANGE', c => c.kind], ['BEFORE', c => cell(c.before)], ['AFTER', c => cell(c.after)]]) +
      `${r.changes.length} change(s) from ${r.from.commitId} to ${r.to.commitId}\n`
})
