/**
 * hub.json in a hub directory (Node): read and written whole (a temp file,
 * then rename), so a reader sees the old file or the new one. The config's
 * shape and the `hub config` keys are in hub-config-core.ts, re-exported
 * here so Node callers keep one import path.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { HubError, NotFoundError } from './errors.js'
import { parseConfig, serializeConfig, type HubConfig } from './hub-config-core.js'

export * from './hub-config-core.js'

const absent = (err: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')

export function configPath (dir: string): string {
  return join(dir, 'hub.json')
}

export async function readConfig (dir: string): Promise<HubConfig> {
  const path = configPath(dir)
  let raw: string
  try {
    raw = await readFile(path, 'utf8')
  } catch (err) {
    if (absent(err)) throw new NotFoundError(`no hub at ${dir} (run "hub init --dir ${dir}")`)
    throw new HubError('unavailable', `cannot read ${path}: ${(err as Error).message}`, { path }, { cause: err })
  }
  return parseConfig(raw, path)
}

/** Replace hub.json atomically: a reader sees the old file or the new one, never half of one. */
export async function writeConfig (dir: string, cfg: HubConfig): Promise<void> {
  const tmp = join(dir, `hub.json.${process.pid}.${Date.now()}.tmp`)
  await writeFile(tmp, serializeConfig(cfg), { mode: 0o600 })
  await rename(tmp, configPath(dir))
}
