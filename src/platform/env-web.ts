/**
 * The process environment seam in a browser (see env-node.ts): a page has
 * no environment, so every `HUB_*` setting takes its default there;
 * diagnostics go to the console.
 */

const EMPTY: Readonly<Record<string, string | undefined>> = Object.freeze({})

export function environment (): Readonly<Record<string, string | undefined>> {
  return EMPTY
}

export function writeErrorLine (line: string): void {
  // The page's console is a browser's stderr.
  // eslint-disable-next-line no-console
  console.error(line)
}
