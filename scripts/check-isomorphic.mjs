#!/usr/bin/env node
/**
 * The isomorphic rule (issue 12): the app SDK (src/client/index.ts), the
 * hub in a tab (src/browser/index.ts: the Hub, its store on IndexedDB, its
 * libp2p node; issue 15) and everything they import, as a browser bundler
 * would resolve it, use no `node:` module and none of Node's globals
 * (Buffer, process, require, __dirname). Package "imports" (#platform/*, #client/key-file) resolve
 * under the `browser` condition. Run by `npm run lint`; test/isomorphic.test.ts
 * checks that it catches what it should.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const NODE_GLOBALS = new Set(['Buffer', 'process', 'require', '__dirname', '__filename'])
/** Node built-ins that may also be named without the `node:` prefix. */
const BUILTINS = new Set(['fs', 'fs/promises', 'path', 'os', 'crypto', 'net', 'http', 'https', 'child_process', 'url', 'module', 'stream', 'worker_threads', 'buffer', 'util', 'events', 'zlib', 'dns', 'tls'])

/** Where a `#…` specifier points for a browser, from package.json "imports". */
function resolveHash (spec, imports) {
  for (const [key, target] of Object.entries(imports)) {
    const star = key.indexOf('*')
    const match = star < 0 ? (spec === key ? '' : undefined) : (spec.startsWith(key.slice(0, star)) && spec.endsWith(key.slice(star + 1)) ? spec.slice(star, spec.length - (key.length - star - 1)) : undefined)
    if (match === undefined) continue
    const path = target['identity-hub-source']?.browser
    if (typeof path !== 'string') return undefined
    return resolve(ROOT, path.replace('*', match))
  }
  return undefined
}

/** Node globals a file uses as identifiers (the scanner skips comments and strings). */
function nodeGlobalsIn (text) {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, text)
  const found = new Set()
  let prev
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan()) {
    if (t === ts.SyntaxKind.Identifier && NODE_GLOBALS.has(scanner.getTokenText()) && prev !== ts.SyntaxKind.DotToken) found.add(scanner.getTokenText())
    prev = t
  }
  return [...found]
}

/**
 * Walk the import closure of `entry` (a path under src/). `files` maps a
 * path to its text (default: read from disk). Returns the files reached and
 * the problems found, each "file: what".
 */
export function closureOf (entry, { read = p => readFileSync(p, 'utf8'), exists = existsSync, imports } = {}) {
  const hashImports = imports ?? JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')).imports ?? {}
  const seen = new Set()
  const problems = []
  const stack = [resolve(ROOT, entry)]
  const rel = p => relative(ROOT, p)
  while (stack.length > 0) {
    const file = stack.pop()
    if (seen.has(file)) continue
    seen.add(file)
    const text = read(file)
    for (const g of nodeGlobalsIn(text)) problems.push(`${rel(file)}: uses Node's ${g}`)
    for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
      if (spec.startsWith('node:') || BUILTINS.has(spec)) {
        problems.push(`${rel(file)}: imports ${spec}`)
      } else if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'))
        if (exists(target)) stack.push(target)
        else problems.push(`${rel(file)}: imports ${spec}, which does not exist`)
      } else if (spec.startsWith('#')) {
        const target = resolveHash(spec, hashImports)
        if (target === undefined) problems.push(`${rel(file)}: imports ${spec}, which has no browser target in package.json "imports"`)
        else if (!exists(target)) problems.push(`${rel(file)}: imports ${spec}, whose browser target ${rel(target)} does not exist`)
        else stack.push(target)
      }
      // Bare package specifiers (libp2p, @noble/*, automerge, ajv) are
      // browser packages; the browser issue bundles and runs them.
    }
  }
  return { files: [...seen].map(rel).sort(), problems }
}

/** The browser entries the lint checks, and what each is. */
export const BROWSER_ENTRIES = [
  { entry: 'src/client/index.ts', what: 'the app SDK' },
  { entry: 'src/browser/index.ts', what: 'the hub in a tab' }
]

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let failed = false
  for (const { entry, what } of BROWSER_ENTRIES) {
    const { files, problems } = closureOf(entry)
    if (problems.length > 0) {
      console.error(`${what} (${entry}) must run in a browser; its import closure (${files.length} files) has:\n  ${problems.join('\n  ')}`)
      failed = true
    }
  }
  if (failed) process.exit(1)
}
