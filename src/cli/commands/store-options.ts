/**
 * `--store`, `--store-namespace` and `--store-password-file`, shared by
 * `hub init` (recorded in hub.json, the password apart in keys/) and
 * `hub start` (this run only). A password may come in the URL (visible in
 * the process list and shell history: prefer the others), from
 * --store-password-file, or from libpq's PGPASSWORD; it is never printed.
 */
import { BadRequestError } from '../../errors.js'
import type { StoreChoice } from '../../hub.js'
import { opt, readOptionFile } from '../input.js'

export const STORE_OPTIONS = [
  { flags: '--store <url>', description: 'keep the store in PostgreSQL (postgres://user@host:port/db) instead of LevelDB in the directory; the password is never printed (prefer --store-password-file or PGPASSWORD to one in the URL)' },
  { flags: '--store-namespace <name>', description: 'with --store: this hub\'s partition of the database (default: its peer id)' },
  { flags: '--store-password-file <file>', description: 'with --store: read the database password from this file' }
]

/** The store choice of the command line, or undefined for the default. */
export async function storeChoice (o: Record<string, unknown>): Promise<StoreChoice | undefined> {
  const url = opt(o.store)
  const namespace = opt(o.storeNamespace)
  const passwordFile = opt(o.storePasswordFile)
  if (url === undefined) {
    if (namespace !== undefined || passwordFile !== undefined) throw new BadRequestError('--store-namespace and --store-password-file go with --store', { reason: 'store_option_without_store' })
    return undefined
  }
  const password = passwordFile !== undefined ? (await readOptionFile('store-password-file', passwordFile)).replace(/\r?\n$/, '') : undefined
  if (password === '') throw new BadRequestError('the --store-password-file is empty', { reason: 'empty_password' })
  return { url, ...(namespace !== undefined ? { namespace } : {}), ...(password !== undefined ? { password } : {}) }
}
