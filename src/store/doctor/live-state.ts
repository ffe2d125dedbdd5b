/**
 * The running hub's in-memory state against the rebuild: its grant registry
 * and its keyring are built at open and then kept current by ingests, so a
 * repair of the stored Permissions or Keys objects does not reach them by
 * itself (doctor.ts re-applies the rebuilt metas, and says when a restart is
 * still needed).
 */
import { deepEqual, type JsonValue } from '../../objects/json.js'
import { prefixEnd, type KvStore } from '../kv.js'
import type { ObjectMeta, TenantStore } from '../tenant-store.js'
import type { AddProblem } from './types.js'

export interface LiveState {
  registryStale: boolean
  keyringStale: boolean
  /** A Permissions object among `rewritten`. */
  permissionsTouched: boolean
  /** Every Permissions object's rebuilt meta (for reloading the live registry). */
  permissionMetas: ObjectMeta[]
}

/**
 * Compare the live registry and keyring of `store` with those of `rebuilt`
 * (over `scratch`); `rewritten` are the objects whose meta the repair
 * rewrites, `tainted` those left out because of signed-data problems.
 */
export async function compareLiveState (store: TenantStore, rebuilt: TenantStore, scratch: KvStore, rewritten: ReadonlySet<string>, tainted: ReadonlySet<string>, add: AddProblem): Promise<LiveState> {
  const L = store.layout
  const permissionMetas: ObjectMeta[] = []
  const pp = L.permissionsPrefix()
  const ids: string[] = []
  for await (const k of scratch.keys({ gte: pp, lt: prefixEnd(pp) })) ids.push(k.slice(pp.length))
  for (const m of await rebuilt.getMetas(ids)) if (m !== undefined) permissionMetas.push(m)
  const permissionsTouched = ids.some(id => rewritten.has(id))
  const registryStale = !sameRegistry(store, rebuilt)
  if (registryStale) add({ code: 'stale_registry', detail: 'the running hub\'s grants and device authorizations differ from those the commits define' })
  const keyringStale = !sameKeyring(store, rebuilt, tainted)
  if (keyringStale) add({ code: 'stale_keyring', detail: 'the running hub\'s content keys differ from those its key envelopes give' })
  return { registryStale, keyringStale, permissionsTouched, permissionMetas }
}

/**
 * Whether the live keyring holds the content keys the rebuilt one does (key
 * id → its Keys object), leaving aside key envelopes touched by signed-data
 * problems (reported as such).
 */
function sameKeyring (live: TenantStore, rebuilt: TenantStore, tainted: ReadonlySet<string>): boolean {
  const norm = (s: TenantStore): string[] => s.keyring.all().filter(k => !tainted.has(k.objectId)).map(k => `${k.key.kid} ${k.objectId}`).sort()
  const a = norm(live)
  const b = norm(rebuilt)
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function sameRegistry (a: TenantStore, b: TenantStore): boolean {
  const norm = (s: TenantStore): JsonValue => JSON.parse(JSON.stringify({
    grants: s.registry.grants().sort((x, y) => x.id < y.id ? -1 : x.id > y.id ? 1 : 0),
    devices: s.registry.devices().sort((x, y) => x.objectId < y.objectId ? -1 : x.objectId > y.objectId ? 1 : 0)
  })) as JsonValue
  return deepEqual(norm(a), norm(b))
}
