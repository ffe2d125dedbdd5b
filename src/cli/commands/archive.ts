/** `hub archive export|import`: every signed commit of the owner's partition, as NDJSON. */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { isAbsolute, resolve } from 'node:path'
import { AlreadyExistsError, BadRequestError } from '../../errors.js'
import { text } from '../params.js'
import { arg, opt } from '../input.js'
import { fields } from '../format.js'
import { hubCommand } from '../spec.js'

/** Paths cross to the daemon absolute: it runs elsewhere (another working directory) on this machine. */
function absolute (p: string): string {
  return isAbsolute(p) ? p : resolve(process.cwd(), p)
}

/** What the daemon accepts: an absolute path (a relative one would mean the daemon's working directory). */
function mustBeAbsolute (path: string): string {
  if (!isAbsolute(path)) throw new BadRequestError(`the archive path must be absolute (got "${path}")`)
  return path
}

export const archiveExport = hubCommand({
  name: 'archive export',
  group: 'Backup and moving',
  summary: 'write every signed commit of the owner\'s data to a file (NDJSON), to move or archive it',
  description: 'Write every signed commit of the owner\'s partition to --out, one JSON envelope per line between a header and an end marker. ' +
    'Encrypted objects stay encrypted. "hub archive import" on any hub of the same owner takes it back, verifying every commit.',
  options: [{ flags: '--out <file>', description: 'the archive file (never overwritten)', required: true }],
  examples: ['hub archive export --dir ~/hub --out ~/hub-archive.ndjson'],
  params: { path: text() },
  input: cli => ({ path: absolute(opt(cli.opts.out) as string) }),
  async run ({ hub }, p) {
    const { exportArchive } = await import('../../backup/archive.js')
    const out = createWriteStream(mustBeAbsolute(p.path), { flags: 'wx', mode: 0o600 })
    try {
      await once(out, 'open')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`${p.path} exists; refusing to overwrite it`)
      throw new BadRequestError(`cannot create ${p.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    try {
      const r = await exportArchive(hub, async line => { if (!out.write(line + '\n')) await once(out, 'drain') })
      return { out: p.path, ...r }
    } finally {
      out.end()
      await once(out, 'close')
    }
  },
  human: r => `wrote ${r.commits} commit(s) to ${r.out}\n`
})

export const archiveImport = hubCommand({
  name: 'archive import',
  group: 'Backup and moving',
  summary: 'take an archive back: every commit verified as if a peer had sent it',
  arguments: [{ name: 'FILE', description: 'an archive made by "hub archive export" for this owner' }],
  examples: ['hub archive import --dir ~/new-hub ~/hub-archive.ndjson'],
  params: { path: text() },
  input: cli => ({ path: absolute(arg(cli, 0, 'FILE')) }),
  async run ({ hub }, p) {
    const { archiveLines, importArchive } = await import('../../backup/archive.js')
    return { file: p.path, ...await importArchive(hub, archiveLines(mustBeAbsolute(p.path))) }
  },
  human: r => `imported ${r.file}\n` + fields([
    ['  commits', r.commits], ['  stored', r.stored], ['  already present', r.present], ['  quarantined', r.quarantined],
    ['  rejected', Object.entries(r.rejected).map(([k, v]) => `${String(v)} ${k}`).join(', ') || 'none']
  ])
})
