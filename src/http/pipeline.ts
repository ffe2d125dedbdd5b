/**
 * The request pipeline: middleware in the Koa/hono shape, `(ctx, next)`,
 * each doing one job (server.ts lists them in order). A middleware that
 * answers does not call `next`; one that throws leaves the answer to the
 * error middleware at the front.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Match } from './router.js'
import type { Caller } from './auth.js'
import type { ParsedBody } from './body.js'

export interface Context {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** The Expect header asked for something other than 100-continue. */
  readonly unmetExpectation: boolean
  /** The rate-limit key of the client. */
  client: string
  url?: URL
  match?: Match
  /** Why the target could not be routed (thrown once the request has been rate-limited). */
  unroutable?: unknown
  caller?: Caller
  body?: ParsedBody
  /** The status answered, for the access log. */
  status: number
}

export type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>

/** One function running `middleware` in order. */
export function compose (middleware: readonly Middleware[]): (ctx: Context) => Promise<void> {
  return async ctx => {
    const run = async (i: number): Promise<void> => {
      const m = middleware[i]
      if (m !== undefined) await m(ctx, async () => { await run(i + 1) })
    }
    await run(0)
  }
}
