/**
 * The store archive: every signed commit of the owner's partition as
 * NDJSON, in feed order (a commit's dependencies always come before it), to
 * move a store to another machine, archive it, or seed a restored hub.
 *
 *   {"format":"identity-hub-archive","version":1,"ownerDid":"did:key:…","exportedAt":"…"}
 *   {"commit":"<envelope, exactly as stored>"}            one line per commit
 *   {"end":true,"commits":<count>}                        absent = truncated
 *
 * The envelopes are the signed bytes themselves, so importing verifies
 * every signature and runs every rule a commit from a peer meets (owner,
 * grants, revocations, limits): an archive grants nothing its signers could
 * not. Encrypted collections stay encrypted; a blind hub's archive holds
 * only ciphertext.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { BadRequestError, HubError, NotFoundError, TooLargeError, isErrorCode, type ErrorCode } from '../errors.js'
import type { Hub } from '../hub.js'

export const ARCHIVE_FORMAT = 'identity-hub-archive'
export const ARCHIVE_VERSION = 1

export interface ArchiveHeader {
  format: typeof ARCHIVE_FORMAT
  version: number
  ownerDid: string
  exportedAt: string
}

export interface ExportResult { commits: number }

export interface ImportResult {
  /** Commits in the archive. */
  commits: number
  /** Newly stored. */
  stored: number
  /** Already present. */
  present: number
  /** Kept but invalid (they rely on a revoked grant or device, as when a peer sends them). */
  quarantined: number
  /** Refused, by error code (a commit refused by a peer's rules is refused here too). */
  rejected: Partial<Record<ErrorCode, number>>
}

/** Write the archive of `hub`'s own partition, one line at a time. */
export async function exportArchive (hub: Hub, write: (line: string) => Promise<void>, onProgress?: (done: number) => void): Promise<ExportResult> {
  const header: ArchiveHeader = { format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, ownerDid: hub.did, exportedAt: new Date().toISOString() }
  await write(JSON.stringify(header))
  let commits = 0
  for await (const { commitId } of hub.store.feed(0)) {
    const envelope = await hub.store.getEnvelope(commitId)
    if (envelope === undefined) throw new HubError('internal', `the feed names commit ${commitId} but the store has no envelope for it`, { commitId })
    await write(JSON.stringify({ commit: envelope }))
    commits++
    onProgress?.(commits)
  }
  await write(JSON.stringify({ end: true, commits }))
  return { commits }
}

function parseLine (line: string, n: number): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    throw new BadRequestError(`archive line ${n} is not JSON`, { line: n })
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadRequestError(`archive line ${n} is not a JSON object`, { line: n })
  return v as Record<string, unknown>
}

/**
 * Import an archive into `hub`. The header must name this hub's owner
 * (`wrong_owner` otherwise, before anything is stored). Each commit is
 * ingested like one from a peer; a refused commit is counted by its code
 * and the import goes on, so one bad line never costs the rest. A missing
 * trailer (a truncated file) is reported after everything before it is in.
 */
/** The longest archive line read: a commit line is a few MiB at most; anything longer is not one of ours. */
export const MAX_ARCHIVE_LINE_BYTES = 8 * 1024 * 1024

/**
 * The lines of an archive file, read in chunks and never held whole: a
 * regular file only (a directory or a device is `bad_request`), and a line
 * over MAX_ARCHIVE_LINE_BYTES is `too_large` (so `/dev/zero` or a file with
 * no newline cannot exhaust memory).
 */
export async function * archiveLines (path: string, maxLineBytes = MAX_ARCHIVE_LINE_BYTES): AsyncGenerator<string> {
  let info
  try {
    info = await stat(path)
  } catch (err) {
    throw new NotFoundError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  if (!info.isFile()) throw new BadRequestError(`${path} is not a regular file (an archive is one file made by "hub archive export")`)
  const input = createReadStream(path)
  let parts: Buffer[] = []
  let pending = 0
  let line = 1
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let from = 0
      for (let nl = chunk.indexOf(0x0a, from); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
        if (pending + nl - from > maxLineBytes) throw new TooLargeError(`archive line ${line} is over ${maxLineBytes} bytes: not an archive this hub wrote`, { line, limit: maxLineBytes })
        parts.push(chunk.subarray(from, nl))
        yield Buffer.concat(parts).toString('utf8')
        parts = []
        pending = 0
        line++
        from = nl + 1
      }
      pending += chunk.length - from
      if (pending > maxLineBytes) throw new TooLargeError(`archive line ${line} is over ${maxLineBytes} bytes: not an archive this hub wrote`, { line, limit: maxLineBytes })
      parts.push(chunk.subarray(from))
    }
    if (pending > 0) yield Buffer.concat(parts).toString('utf8')
  } finally {
    input.destroy()
  }
}

export async function importArchive (hub: Hub, lines: AsyncIterable<string>, onProgress?: (done: number) => void): Promise<ImportResult> {
  const result: ImportResult = { commits: 0, stored: 0, present: 0, quarantined: 0, rejected: {} }
  let n = 0
  let header: ArchiveHeader | undefined
  let ended = false
  for await (const raw of lines) {
    n++
    const line = raw.trim()
    if (line === '') continue
    const v = parseLine(line, n)
    if (header === undefined) {
      if (v.format !== ARCHIVE_FORMAT) throw new BadRequestError('this file is not a store archive (made by "hub archive export")')
      if (v.version !== ARCHIVE_VERSION) throw new BadRequestError(`unsupported archive version ${String(v.version)}`)
      if (v.ownerDid !== hub.did) {
        throw new HubError('wrong_owner', `this archive belongs to ${String(v.ownerDid)}, not to this hub's owner ${hub.did}`, { archiveOwner: v.ownerDid, owner: hub.did })
      }
      header = v as unknown as ArchiveHeader
      continue
    }
    if (ended) throw new BadRequestError(`archive line ${n} follows the end marker`, { line: n })
    if (v.end === true) {
      ended = true
      if (v.commits !== result.commits) throw new BadRequestError(`the archive's end marker counts ${String(v.commits)} commits but it holds ${result.commits}`)
      continue
    }
    if (typeof v.commit !== 'string') throw new BadRequestError(`archive line ${n} holds no commit`, { line: n })
    result.commits++
    try {
      const r = await hub.ingest(v.commit)
      if (r.quarantined === true) result.quarantined++
      else if (r.stored) result.stored++
      else result.present++
    } catch (err) {
      const code: ErrorCode = err instanceof HubError && isErrorCode(err.code) ? err.code : 'internal'
      result.rejected[code] = (result.rejected[code] ?? 0) + 1
    }
    onProgress?.(result.commits)
  }
  if (header === undefined) throw new BadRequestError('the archive is empty')
  if (!ended) throw new BadRequestError(`the archive is truncated: no end marker after ${result.commits} commits (those were imported)`, { ...result })
  return result
}
