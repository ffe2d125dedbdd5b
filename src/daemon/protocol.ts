/**
 * The control channel's wire format, shared by ControlServer and ControlClient.
 *
 *   POST /v1/command   authorization: Bearer <control.secret>
 *   { "command": "device invite", "params": { "ttlSeconds": 600 } }
 *   200 { "result": … }                      the handler's JSON-able result
 *   4xx/5xx { "error": { "code", "message" } } a HubError; the code is the contract, the status a hint
 *
 * A call is typed: `params` is the command's parameter object (src/cli/params.ts),
 * which the daemon checks against the command's schema before its handler runs;
 * argv never crosses the channel.
 */
import { BadRequestError, HubError, type ErrorCode } from '../errors.js'

export const COMMAND_PATH = '/v1/command'

/** 8× the default value limit (1 MiB): room for a JSON-escaped value plus parameters. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024

export interface CommandRequest {
  command: string
  /** The command's parameters, a JSON object; the command's schema checks it. */
  params: Record<string, unknown>
}

// The codes live in errors.ts and their status table beside it (error-status.ts, the HTTP server uses
// it too); both re-exported here for the daemon's callers.
export { httpStatusOf } from '../error-status.js'
export { isErrorCode } from '../errors.js'

/** A HubError as the channel sends it: its wire form without `details` (the CLI prints code and message). */
export function errorBody (err: HubError): { error: { code: ErrorCode, message: string } } {
  return { error: { code: err.code, message: err.message } }
}

/** Validate a parsed request body; anything off-shape is a bad_request, never a crash. */
export function parseCommandRequest (body: unknown): CommandRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError('the request body must be a JSON object')
  const extra = Object.keys(body).filter(k => k !== 'command' && k !== 'params')
  if (extra.length > 0) throw new BadRequestError(`unknown field "${extra[0] as string}" in the request body (it takes "command" and "params")`)
  const { command, params } = body as Record<string, unknown>
  if (typeof command !== 'string' || command === '') throw new BadRequestError('"command" must be a non-empty string')
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new BadRequestError('"params" must be an object')
  return { command, params: params as Record<string, unknown> }
}
