/**
 * The process environment seam (`#platform/env`): under Node, `process.env`
 * and stderr. See env-web.ts for the browser's.
 */

/** The environment variables this process was started with (read on every call: tests change them). */
export function environment (): Readonly<Record<string, string | undefined>> {
  return process.env
}

/** One line of diagnostics (the JSON log lines of log.ts). */
export function writeErrorLine (line: string): void {
  process.stderr.write(line + '\n')
}
