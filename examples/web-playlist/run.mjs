#!/usr/bin/env node
/**
 * `npm run example:web-playlist [-- --dir DIR] [--json]`: one command runs
 * the web playlist example. It bundles the app (scripts/build-browser.mjs:
 * app.js, its chunks, automerge.wasm, index.html, style.css), inits a hub
 * (in a temporary directory, or DIR when given and not yet a hub), starts
 * it with `--http 127.0.0.1:0 --serve-app <the built app>`, and prints the
 * app's URL (with the hub's WebSockets multiaddr and the owner DID in its
 * query) and how to grant the app access. Ctrl-C stops the hub and removes
 * what it made. With --json it prints one line instead:
 * `{ url, dir, owner, hub, http }`.
 *
 * Needs the CLI built (`npm run build`, which the npm script runs first).
 */
/* global console, process, URLSearchParams -- a plain Node script (eslint.config.js declares Node globals for scripts/ only) */
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildBrowser } from '../../scripts/build-browser.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = resolve(HERE, '../..')
const BIN = join(ROOT, 'dist/src/cli/main.js')

const { values } = parseArgs({ options: { dir: { type: 'string' }, json: { type: 'boolean', default: false } } })
const made = []
const cleanup = () => { for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true }) }

if (!existsSync(BIN)) {
  console.error('the CLI is not built: run "npm run build" (npm run example:web-playlist does)')
  process.exit(1)
}

/** Run the CLI to completion; its stdout. */
function hub (args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.on('error', reject)
    child.on('close', code => {
      if (code === 0) resolvePromise(out)
      else reject(new Error(`hub ${args.join(' ')} exited with ${code}`))
    })
  })
}

const appDir = mkdtempSync(join(tmpdir(), 'web-playlist-app-'))
made.push(appDir)
await buildBrowser({ entryPoints: { app: join(HERE, 'app.ts') }, outdir: appDir, clean: false })
for (const f of ['index.html', 'style.css']) copyFileSync(join(HERE, f), join(appDir, f))

let dir = values.dir !== undefined ? resolve(values.dir) : undefined
if (dir === undefined) {
  const parent = mkdtempSync(join(tmpdir(), 'web-playlist-hub-'))
  made.push(parent)
  dir = join(parent, 'hub')
}
if (!existsSync(join(dir, 'hub.json'))) await hub(['init', '--dir', dir, '--json'])

// Its own process group: Ctrl-C in the terminal reaches only this script, which stops the
// hub with one SIGTERM (a second signal would make the hub skip its clean shutdown).
const daemon = spawn(process.execPath, [BIN, 'start', '--dir', dir, '--http', '127.0.0.1:0', '--serve-app', appDir, '--json'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true })
let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  daemon.kill('SIGTERM')
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
daemon.on('exit', (code, signal) => {
  cleanup()
  process.exit(code ?? (signal !== null ? 1 : 0))
})

let buffered = ''
daemon.stdout.on('data', d => {
  buffered += d
  const nl = buffered.indexOf('\n')
  if (nl < 0) return
  const info = JSON.parse(buffered.slice(0, nl))
  buffered = ''
  daemon.stdout.removeAllListeners('data')
  daemon.stdout.resume()
  const ws = info.multiaddrs.find(a => a.includes('/ws/'))
  if (ws === undefined) {
    console.error(`the hub listens on no WebSockets address (${info.multiaddrs.join(' ')}): add one, e.g. "hub config" network.listen /ip4/127.0.0.1/tcp/0/ws`)
    stop()
    return
  }
  const url = `${info.http.app}?${new URLSearchParams({ hub: ws, owner: info.did, dir })}`
  if (values.json) {
    process.stdout.write(JSON.stringify({ url, dir, owner: info.did, hub: ws, http: info.http.url }) + '\n')
    return
  }
  process.stdout.write([
    '',
    `web playlist: ${url}`,
    '',
    `The hub (owner ${info.did}) runs in ${dir}.`,
    'Open the URL: the app shows its DID and the command that grants it access, e.g.',
    `  hub grant --dir ${dir} --grantee <the app's DID> --context https://schema.org --type MusicPlaylist --allow CRU-`,
    'Add a playlist as the owner, and watch it appear in the app:',
    `  echo '{"@context":"https://schema.org","@type":"MusicPlaylist","name":"Road trip","numTracks":1,"track":[{"@type":"MusicRecording","name":"Free Bird"}]}' | hub write --dir ${dir}`,
    '',
    'Ctrl-C stops the hub' + (values.dir === undefined ? ' and deletes it.' : '.'),
    ''
  ].join('\n'))
})
