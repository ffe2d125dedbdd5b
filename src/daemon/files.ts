/**
 * The daemon's files inside a hub directory:
 *
 *   daemon.json     { pid, startedAt, control: { url }, multiaddrs, did, peerId } (0600)
 *                   written last at start-up, so its presence means "a daemon was ready";
 *                   removed last at shutdown, after the store is closed.
 *   control.secret  the bearer secret of the control channel (0600), new at every start.
 *
 * Both are written to a fresh temp file with mode 0600 and renamed into place,
 * so a reader never sees a partial file and the secret is never world-readable,
 * not even for an instant.
 */
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { HubError } from '../errors.js'

export const DAEMON_FILE = 'daemon.json'
export const SECRET_FILE = 'control.secret'

export interface DaemonInfo {
  pid: number
  startedAt: string
  control: { url: string }
  multiaddrs: string[]
  /** The owner's DID. */
  did: string
  /** This hub instance's libp2p PeerId. */
  peerId: string
  /** Which engine holds the store: { engine: 'leveldb' } or { engine: 'postgres', url (password redacted), namespace }. */
  store?: { engine: string, url?: string, namespace?: string }
  /** Present when started with --http: the server's base URL and the file holding the admin API key. */
  http?: { url: string, adminKeyFile: string, /** With --serve-app: where the web app is served. */ app?: string }
}

export const ADMIN_KEY_FILE = 'http-admin.key'

export function adminKeyFile (dir: string): string {
  return join(dir, ADMIN_KEY_FILE)
}

/**
 * The admin API key of the HTTP server: created (0600) the first time the
 * server starts and kept across restarts, so scripts can rely on it.
 */
export async function loadOrCreateAdminKey (dir: string): Promise<string> {
  const path = adminKeyFile(dir)
  try {
    const key = (await readFile(path, 'utf8')).trim()
    if (key.length >= 16) return key
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err
  }
  const key = newSecret()
  await writePrivateFile(path, key + '\n')
  return key
}

export function daemonFile (dir: string): string {
  return join(dir, DAEMON_FILE)
}

export function secretFile (dir: string): string {
  return join(dir, SECRET_FILE)
}

/** 32 random bytes, base64url: the control channel's bearer secret. */
export function newSecret (): string {
  return randomBytes(32).toString('base64url')
}

/** Atomically replace `path` with `content`, readable by the owner only. */
export async function writePrivateFile (path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  // 'wx' refuses to follow anything already at the temp path (e.g. a planted symlink).
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(content)
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

function isDaemonInfo (v: unknown): v is DaemonInfo {
  if (typeof v !== 'object' || v === null) return false
  const o = v as Record<string, unknown>
  const control = o.control as Record<string, unknown> | null | undefined
  return Number.isSafeInteger(o.pid) && (o.pid as number) > 0 &&
    typeof control === 'object' && control !== null && typeof control.url === 'string' &&
    Array.isArray(o.multiaddrs) && typeof o.did === 'string' && typeof o.peerId === 'string'
}

/** daemon.json, or undefined when there is none (or it is unreadable garbage, which we treat as stale). */
export async function readDaemonInfo (dir: string): Promise<DaemonInfo | undefined> {
  let raw: string
  try {
    raw = await readFile(daemonFile(dir), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new HubError('unavailable', `cannot read ${daemonFile(dir)}: ${(err as Error).message}`)
  }
  try {
    const info: unknown = JSON.parse(raw)
    return isDaemonInfo(info) ? info : undefined
  } catch {
    return undefined
  }
}

export async function readSecret (dir: string): Promise<string | undefined> {
  try {
    return (await readFile(secretFile(dir), 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new HubError('unavailable', `cannot read ${secretFile(dir)}: ${(err as Error).message}`)
  }
}

/**
 * Remove daemon.json and control.secret if they still belong to `owner`
 * (pid and secret). Once our store lock is released a new daemon may start
 * and write its own files; we must not delete those.
 */
export async function removeDaemonFiles (dir: string, owner: { pid: number, secret: string }): Promise<void> {
  const info = await readDaemonInfo(dir).catch(() => undefined)
  if (info === undefined || info.pid === owner.pid) await rm(daemonFile(dir), { force: true })
  const secret = await readSecret(dir).catch(() => undefined)
  if (secret === undefined || secret === owner.secret) await rm(secretFile(dir), { force: true })
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to another user). */
export function isPidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
