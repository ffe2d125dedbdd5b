/**
 * The control channel's wire format, shared by ControlServer and ControlClient.
 *
 *   POST /v1/command   authorization: Bearer <control.secret>
 *   { "command": "read", "args": { "positionals": ["bafk…"], "options": { "json": true }, "stdin"?: "…" } }
 *   200 { "result": … }                      the handler's JSON-able result
 *   4xx/5xx { "error": { "code", "message" } } a HubError; the code is the contract, the status a hint
 */
import { BadRequestError, HubError, type ErrorCode } from '../errors.js'

export const COMMAND_PATH = '/v1/command'

/** 8× the default value limit (1 MiB): room for a JSON-escaped value on stdin plus arguments. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024

/** Arguments of one CLI command, plain and serializable so they can cross the control channel. */
export interface CommandArgs {
  positionals: string[]
  options: Record<string, string | boolean | string[] | undefined>
  /** Whatever was piped on stdin, if the command reads it (read by the CLI, never by the daemon). */
  stdin?: string
}

export interface CommandRequest {
  command: string
  args: CommandArgs
}

// The codes live in errors.ts and their status table beside it (error-status.ts, the HTTP server uses
// it too); both re-exported here for the daemon's callers.
export { httpStatusOf } from '../error-status.js'
export { isErrorCode } from '../errors.js'

/** A HubError as the channel sends it: its wire form without `details` (the CLI prints code and message). */
export function errorBody (err: HubError): { error: { code: ErrorCode, message: string } } {
  return { error: { code: err.code, message: err.message } }
}

function isOptionValue (v: unknown): boolean {
  return v === undefined || typeof v === 'string' || typeof v === 'boolean' ||
    (Array.isArray(v) && v.every(x => typeof x === 'string'))
}

/** Validate a parsed request body; anything off-shape is a bad_request, never a crash. */
export function parseCommandRequest (body: unknown): CommandRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError('the request body must be a JSON object')
  const { command, args } = body as Record<string, unknown>
  if (typeof command !== 'string' || command === '') throw new BadRequestError('"command" must be a non-empty string')
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new BadRequestError('"args" must be an object')
  const { positionals, options, stdin } = args as Record<string, unknown>
  if (!Array.isArray(positionals) || !positionals.every(p => typeof p === 'string')) throw new BadRequestError('"args.positionals" must be an array of strings')
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new BadRequestError('"args.options" must be an object')
  const opts = options as Record<string, unknown>
  for (const [k, v] of Object.entries(opts)) {
    if (!isOptionValue(v)) throw new BadRequestError(`option "${k}" must be a string, a boolean or an array of strings`)
  }
  if (stdin !== undefined && typeof stdin !== 'string') throw new BadRequestError('"args.stdin" must be a string')
  const parsed: CommandArgs = { positionals: positionals as string[], options: opts as CommandArgs['options'] }
  if (stdin !== undefined) parsed.stdin = stdin
  return { command, args: parsed }
}
