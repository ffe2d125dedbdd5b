/**
 * Structured, quiet-by-default logging. Library code receives a Logger and
 * never touches the console; `HUB_LOG=debug|info|warn|error` turns on JSON
 * lines on stderr. Never pass secrets as fields.
 */
import { environment, writeErrorLine } from '#platform/env'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export interface Logger {
  debug (msg: string, fields?: Record<string, unknown>): void
  info (msg: string, fields?: Record<string, unknown>): void
  warn (msg: string, fields?: Record<string, unknown>): void
  error (msg: string, fields?: Record<string, unknown>): void
  child (scope: string): Logger
}

export function createLogger (scope = 'hub', level: LogLevel | 'silent' = envLevel(), sink: (line: string) => void = writeErrorLine): Logger {
  const min = level === 'silent' ? Infinity : ORDER[level]
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return
    sink(JSON.stringify({ t: new Date().toISOString(), level: lvl, scope, msg, ...fields }))
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (s) => createLogger(`${scope}.${s}`, level, sink)
  }
}

function envLevel (): LogLevel | 'silent' {
  const v = environment().HUB_LOG
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'silent'
}

export const silentLogger: Logger = createLogger('hub', 'silent')
