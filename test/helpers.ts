import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hub, type InitOptions, type OpenOptions } from '../src/hub.js'
import { testHubStore } from './test-kv.js'

const cleanups: Array<() => Promise<void>> = []

export async function tempDir (prefix = 'hub-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/**
 * A fresh hub in a temp directory (closed and removed by cleanup()). Under
 * HUB_TEST_STORE=postgres (`npm run test:pg`) its store is a fresh
 * namespace of the test file's throwaway PostgreSQL (test/test-kv.ts)
 * instead of LevelDB, unless `opts.init.store` names one.
 */
export async function tempHub (opts: { init?: InitOptions, open?: OpenOptions } = {}): Promise<Hub> {
  const dir = join(await tempDir(), 'hub')
  const store = opts.init?.store ?? await testHubStore()
  await Hub.init(dir, { ...opts.init, ...(store !== undefined ? { store } : {}) })
  const hub = await Hub.open(dir, opts.open)
  cleanups.push(async () => { await hub.close() })
  return hub
}

export async function cleanup (): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c()
}

/** Every key and value in a hub's store, for byte-for-byte comparisons. */
export async function dumpStore (hub: Hub): Promise<Map<string, string>> {
  await hub.store.idle()
  const out = new Map<string, string>()
  for await (const [k, v] of hub.kv.entries({})) out.set(k, Buffer.from(v).toString('base64'))
  return out
}

/**
 * The replicated data of a hub's store: everything except per-instance
 * bookkeeping that normal connection activity updates (remembered peer
 * addresses under `n!`, sync watermarks under `w!`, the audit log under `a!`).
 */
export async function dumpData (hub: Hub): Promise<Map<string, string>> {
  const all = await dumpStore(hub)
  for (const k of [...all.keys()]) if (k.startsWith('n!') || /^t!.*?!(w|a)!/.test(k)) all.delete(k)
  return all
}

export function playlist (name: string, tracks: string[] = ['Sweet Home Alabama']): Record<string, unknown> {
  return {
    '@context': 'https://schema.org',
    '@type': 'MusicPlaylist',
    name,
    numTracks: tracks.length,
    track: tracks.map(t => ({ '@type': 'MusicRecording', name: t, byArtist: 'Lynyrd Skynyrd' }))
  }
}

/** The pid of a process that has exited (for stale daemon.json fixtures). */
export async function deadPid (): Promise<number> {
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise(resolve => child.once('exit', resolve))
  if (child.pid === undefined) throw new Error('could not spawn a process')
  return child.pid
}
