/**
 * `hub client watch --type T`: a live subscription (Collections.subscribe).
 * It prints progressively, so it prints itself and returns SILENT: first
 * one line when the subscription is live (with the current matches), then
 * one line per change. With --json every line is one JSON object (NDJSON):
 *
 *   {"kind":"subscribed","context":…,"type":…,"initial":[objects]}
 *   {"kind":"changed","object":{…}}      {"kind":"deleted","object":{…}}
 *
 * It stops on Ctrl-C / SIGTERM (closes the subscription and the client,
 * exit 0), after --count N change events (exit 0), or when the hub ends the
 * subscription or the connection is lost (the error, exit 1).
 */
import type { ClientFilter, HubClient, RemoteObject, SubscriptionEnd, SubscriptionEvent } from '../../../client/index.js'
import { BadRequestError, HubError, isErrorCode } from '../../../errors.js'
import { intOption } from '../../input.js'
import { localCommand, SILENT, type CliInput } from '../../spec.js'
import { COLLECTION_OPTIONS, CONN, CONNECTION_OPTIONS, GROUP, collectionQuery, connect } from './shared.js'

function objectLine (o: RemoteObject): string {
  return `${o.objectId}  ${o.type ?? '(encrypted)'}  ${JSON.stringify(o.value)}`
}

function eventLine (e: SubscriptionEvent): string {
  return e.kind === 'deleted' ? `deleted ${e.object.objectId}\n` : `changed ${objectLine(e.object)}\n`
}

type Outcome = { stop: 'count' | 'signal' } | { end: SubscriptionEnd }

/** --count N: at least 1, or undefined. */
export function watchCount (cli: CliInput): number | undefined {
  const count = intOption(cli.opts.count, '--count')
  if (count === 0) throw new BadRequestError('--count must be at least 1')
  return count
}

/**
 * Print a live subscription as it happens until a signal, `count` changes,
 * or its end (thrown as its error); closes `client` in every case. Shared
 * by `hub client watch` (as an app) and `hub watch` (as the hub itself).
 */
export async function watch (client: HubClient, q: { context: string, type: string, where?: ClientFilter[] }, count: number | undefined, json: boolean): Promise<typeof SILENT> {
  const out = (line: string): void => { process.stdout.write(line) }
  let stopWith!: (o: Outcome) => void
  const stopped = new Promise<Outcome>(r => { stopWith = r })
  const onSignal = (): void => { stopWith({ stop: 'signal' }) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    let live = false
    let seen = 0
    const held: SubscriptionEvent[] = []
    const emit = (e: SubscriptionEvent): void => {
      if (count !== undefined && seen >= count) return
      seen++
      out(json ? JSON.stringify(e) + '\n' : eventLine(e))
      if (count !== undefined && seen >= count) stopWith({ stop: 'count' })
    }
    // Events can arrive before the subscribed line is out: hold them until it is.
    const sub = await client.collections.subscribe(q, e => { if (live) emit(e); else held.push(e) })
    if (json) out(JSON.stringify({ kind: 'subscribed', context: q.context, type: q.type, initial: sub.initial }) + '\n')
    else out(`watching ${q.context} ${q.type}: ${sub.initial.length} object(s) now; Ctrl-C to stop\n` + sub.initial.map(o => `  ${objectLine(o)}\n`).join(''))
    live = true
    for (const e of held.splice(0)) emit(e)
    const lost = client.closed.then((err): Outcome => ({ end: { code: err?.code ?? 'unavailable', message: err?.message ?? 'the connection to the hub closed' } }))
    const outcome = await Promise.race([stopped, sub.ended.then((end): Outcome => ({ end })), lost])
    await sub.close()
    if ('end' in outcome && outcome.end.code !== undefined) {
      const code = isErrorCode(outcome.end.code) ? outcome.end.code : 'unavailable'
      throw new HubError(code, `the hub ended the subscription: ${outcome.end.message ?? outcome.end.code}`)
    }
    if (!json && 'stop' in outcome && outcome.stop === 'signal') out('stopped\n')
    return SILENT
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await client.close()
  }
}

export const clientWatch = localCommand<typeof SILENT>({
  name: 'client watch',
  group: GROUP,
  summary: 'a live query: one line per change until Ctrl-C (--json: NDJSON); needs R',
  description: 'Subscribe to one collection\'s changes and print them as they happen. The first line says the subscription is live and lists the current matches ' +
    '(--json: {"kind":"subscribed","initial":[…]}); then one line per change ({"kind":"changed"|"deleted","object":…}). ' +
    'Ctrl-C or SIGTERM closes it (exit 0); --count N stops after N changes; if the hub ends it (a revoked grant: permissions_required) or the connection is lost, that error and exit 1.',
  options: [
    ...CONNECTION_OPTIONS,
    ...COLLECTION_OPTIONS,
    { flags: '--count <n>', description: 'stop after this many changes (at least 1)' }
  ],
  examples: [
    `hub client watch ${CONN} --type MusicPlaylist`,
    `hub client watch ${CONN} --type MusicPlaylist --json --count 1 | jq .object.objectId`
  ],
  async run (cli) {
    const q = collectionQuery(cli)
    const count = watchCount(cli)
    return await watch(await connect(cli), q, count, cli.json)
  }
})
