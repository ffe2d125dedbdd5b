/**
 * One full check of a tenant: signed data (signed.ts), the feed replayed
 * into a scratch store (replay.ts), derived data compared (derived.ts) and
 * the running hub's registry and keyring (live-state.ts). It writes nothing
 * to the hub's store: the fixes it returns are applied by doctor.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { KvOp, KvStore } from '../kv.js'
import { LevelKv } from '../level-kv.js'
import type { ObjectMeta, TenantStore } from '../tenant-store.js'
import { compareDerived } from './derived.js'
import { compareLiveState } from './live-state.js'
import { replayFeed } from './replay.js'
import { scanCommits } from './signed.js'
import { problemList, type DoctorHub, type DoctorProblem } from './types.js'

export interface CheckResult {
  commits: number
  feed: number
  objects: number
  problems: DoctorProblem[]
  /** Derived-data fixes for untainted objects. */
  ops: KvOp[]
  repaired: number
  tainted: Set<string>
  /** Objects whose stored value the rebuild could not decrypt (kept as stored). */
  unreadable: number
  registryStale: boolean
  keyringStale: boolean
  permissionsTouched: boolean
  /** Every Permissions object's rebuilt meta (for reloading the live registry). */
  permissionMetas: ObjectMeta[]
}

/** One full check of a tenant, with a scratch store for the rebuild (removed afterwards). */
export async function check (hub: DoctorHub, store: TenantStore): Promise<CheckResult> {
  const dir = await mkdtemp(join(hub.dir, '.doctor-'))
  try {
    const scratch = await LevelKv.open(dir)
    try {
      return await checkWith(hub, store, scratch)
    } finally {
      await scratch.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Signed data, replay into `scratch`, comparison of derived data. */
async function checkWith (hub: DoctorHub, store: TenantStore, scratch: KvStore): Promise<CheckResult> {
  const { problems, add } = problemList()
  const signed = await scanCommits(hub.kv, store.layout, hub.keys.resolveKey, add)
  const { rebuilt, feed, tainted, bad } = await replayFeed(hub, store, scratch, signed, add)
  const derived = await compareDerived(hub.kv, scratch, store.layout, rebuilt, bad, tainted, add)
  const live = await compareLiveState(store, rebuilt, scratch, derived.pair, tainted, add)
  rebuilt.close()
  return {
    commits: signed.commits,
    feed,
    objects: derived.objects,
    problems,
    ops: derived.ops,
    repaired: 0,
    tainted,
    unreadable: derived.unreadable,
    registryStale: live.registryStale,
    keyringStale: live.keyringStale,
    permissionsTouched: derived.permissionsTouched || live.permissionsTouched,
    permissionMetas: live.permissionMetas
  }
}
