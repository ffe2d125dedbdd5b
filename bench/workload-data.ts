/**
 * The issue-18 workloads' data set and the message shapes between the
 * workloads suite (bench/workloads.ts) and its hub process
 * (bench/workloads-proc.ts). Kept apart from both so that importing the
 * types or the objects runs neither side.
 */

export const CONTEXT = 'https://schema.org'

/** The 5 types, in turn: object i has type TYPES[i % 5], so N objects hold N / 5 of each. */
export const TYPES = ['MusicPlaylist', 'MusicAlbum', 'MusicRecording', 'MusicGroup', 'Person'] as const

/** The W5 query type. */
export const QUERY_TYPE = 'MusicPlaylist'

/** Every object is padded to this many bytes of JSON (the "~310-byte schema.org objects"). */
export const OBJECT_BYTES = 310

const BLURB = 'Recorded live and remastered from the original tapes, with liner notes, full credits, the sleeve artwork and a short history of the band on the road. '

/** The type-specific fields of object i (k counts objects of its type). */
function fields (type: typeof TYPES[number], k: number): Record<string, unknown> {
  const band = `Band ${k % 97}`
  switch (type) {
    case 'MusicPlaylist': return { name: `Road Trip ${k}`, numTracks: 1 + (k % 10), genre: 'Classic Rock' }
    case 'MusicAlbum': return { name: `Album ${k}`, byArtist: band, numTracks: 8 + (k % 6), datePublished: `${1965 + (k % 20)}-01-01` }
    case 'MusicRecording': return { name: `Recording ${k}`, byArtist: band, duration: `PT${3 + (k % 5)}M${10 + (k % 50)}S` }
    case 'MusicGroup': return { name: band, genre: 'Classic Rock', foundingDate: `${1960 + (k % 15)}` }
    case 'Person': return { name: `Listener ${k}`, jobTitle: 'DJ', knowsAbout: 'Classic Rock' }
  }
}

/** Object i of the data set: a schema.org object of TYPES[i % 5], `description` padding its JSON to OBJECT_BYTES. */
export function workloadObject (i: number): Record<string, unknown> {
  const type = TYPES[i % TYPES.length] as typeof TYPES[number]
  const base = { '@context': CONTEXT, '@type': type, ...fields(type, Math.floor(i / TYPES.length)) }
  const room = OBJECT_BYTES - JSON.stringify({ ...base, description: '' }).length
  return { ...base, description: BLURB.repeat(3).slice(0, Math.max(0, room)) }
}

/** Sizes of one run. */
export interface WorkloadSizes {
  /** N: objects created one at a time (the data set), and again 64 in flight. */
  objects: number
  inFlight: number
  /** W2: updates of one object, whole value and field-level. */
  updates: number
  /** W2 flatness: per-update cost of `flatWindow` updates once the object has `flatLow`, then `flatHigh`, commits of history. */
  flatLow: number
  flatHigh: number
  flatWindow: number
  /** W4 samples (after `latencyWarmup` untimed ones). */
  latency: number
  latencyWarmup: number
  /** W5 timed queries (after `queryWarmup` untimed ones). */
  queries: number
  queryWarmup: number
}

/** What one run measured (the hub process's side of it). */
export interface WorkloadRun {
  objectBytes: number
  w1PerS: number
  w1InFlightPerS: number
  w2UpdatePerS: number
  w2ChangePerS: number
  /** CPU time (user + system, all threads of A's process) per operation: steadier than rates on a shared machine. */
  w1CpuUs: number
  w1InFlightCpuUs: number
  w2UpdateCpuUs: number
  w2ChangeCpuUs: number
  /** W3 CPU per commit: B's process (pulling, verifying, ingesting) and A's (serving). */
  w3CpuUsB: number
  w3CpuUsA: number
  w2FlatLowMsPerUpdate: number
  w2FlatHighMsPerUpdate: number
  w3Commits: number
  w3PerS: number
  w3BytesReceived: number
  w3AvgEnvelopeBytes: number
  echoBytesReceivedByA: number
  echoCommitsStoredByA: number
  /** false: A's watermark for B did not reach B's feed head within the wait (echo figures then cover what arrived until then). */
  echoSettled: boolean
  w4Ms: number[]
  w5Ms: number[]
  rssAfterSetupMiB: number
  rssPeakMiB: number
  rssEndMiB: number
}

export type ToWorkloadProc = { op: 'run', sizes: WorkloadSizes, runNo: number, runs: number }
export type FromWorkloadProc = { ok: true, result: WorkloadRun } | { ok: false, error: string }
