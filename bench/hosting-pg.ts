/**
 * The PostgreSQL server of the hosting bench: HUB_BENCH_PG_URL if set, else
 * a throwaway cluster started the way the tests start theirs
 * (test/pg-harness.ts: initdb in a temp directory, loopback port,
 * fsync=off), stopped afterwards; undefined, with the reason, when neither
 * is possible (the PostgreSQL figures are then left out).
 */
import { startPostgres } from '../test/pg-harness.js'

export interface BenchPg { url: string, origin: string, stop: () => Promise<void> }

export async function benchPostgres (): Promise<BenchPg | { reason: string }> {
  const given = process.env.HUB_BENCH_PG_URL
  if (given !== undefined && given !== '') return { url: given, origin: 'HUB_BENCH_PG_URL', stop: async () => {} }
  const started = await startPostgres()
  if (started.cluster === undefined) return { reason: started.reason }
  return { url: started.cluster.url, origin: 'throwaway cluster (test/pg-harness.ts, fsync=off)', stop: started.cluster.stop }
}
