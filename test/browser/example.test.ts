/**
 * The web playlist example (examples/web-playlist/) as a user meets it: its
 * one command (run.mjs: bundle the app, init a hub, `hub start --http …
 * --serve-app …`) serves the app; Chromium opens it from the hub; the app
 * shows its DID and the grant command; the owner runs exactly that command;
 * the list renders live, a playlist added in the page lands on the hub
 * signed by the app's key, and what the app is refused (the diary,
 * deleting) is shown. Screenshots go to docs/browser/ so the docs show the
 * current app. Ctrl-C (SIGINT) stops the hub and removes its temporary
 * directory.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { browserUnavailable, launchBrowser, stopBrowsers } from './harness.js'
import { hub } from '../cli-helpers.js'

const skip = browserUnavailable()
if (skip !== undefined) console.warn(`browser tests skipped: ${skip}`)

const SHOTS = 'docs/browser'
interface Ready { url: string, dir: string, owner: string, hub: string, http: string }

let runner: ChildProcess | undefined
afterAll(async () => {
  await stopBrowsers()
  if (runner !== undefined && runner.exitCode === null) runner.kill('SIGKILL')
})

async function start (): Promise<{ child: ChildProcess, ready: Ready, exit: Promise<number | null> }> {
  const child = spawn(process.execPath, ['examples/web-playlist/run.mjs', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  runner = child
  const exit = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  let out = ''
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as Ready)
    })
    void exit.then(code => { reject(new Error(`run.mjs exited with ${String(code)}: ${err}`)) })
  })
  return { child, ready, exit }
}

async function cli (args: string[], stdin?: string): Promise<unknown> {
  const r = await hub([...args, '--json'], stdin !== undefined ? { stdin } : {})
  if (r.code !== 0) throw new Error(`hub ${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

describe.skipIf(skip !== undefined)('examples/web-playlist', () => {
  it('one command serves the app from the hub; granted, it lists, adds and shows its refusals', { timeout: 60_000 }, async () => {
    const { child, ready, exit } = await start()
    expect(ready.url.startsWith(`${ready.http}/app/?`)).toBe(true)
    const playlist = { '@context': 'https://schema.org', '@type': 'MusicPlaylist', name: 'Road trip', numTracks: 2, track: [{ '@type': 'MusicRecording', name: 'Free Bird' }, { '@type': 'MusicRecording', name: 'Sweet Home Alabama' }] }
    await cli(['write', '--dir', ready.dir], JSON.stringify(playlist))
    await cli(['write', '--dir', ready.dir], JSON.stringify({ '@context': 'https://schema.org', '@type': 'Diary', text: 'Dear diary' }))

    const browser = await launchBrowser()
    const page = await browser.open(ready.url)
    await page.setViewportSize({ width: 900, height: 760 })
    const did = await page.textContent('#did')
    expect(did).toMatch(/^did:key:z6Mk/)
    await page.waitForSelector('#ask:not([hidden])')
    const command = (await page.textContent('#grant-cmd')) ?? ''
    expect(command).toBe(`hub grant --dir ${ready.dir} --grantee ${did ?? ''} --context https://schema.org --type MusicPlaylist --allow CRU-`)
    mkdirSync(SHOTS, { recursive: true })
    await page.screenshot({ path: `${SHOTS}/web-playlist-before-grant.png`, fullPage: true })

    // The owner runs exactly the command the app shows (the daemon executes it).
    const [name, ...args] = command.split(' ')
    expect(name).toBe('hub')
    await cli(args)

    await page.waitForSelector('#playlists li .name >> text=Road trip')
    await page.waitForSelector('#status.ok')
    await page.waitForSelector('#refused li >> text=diary')
    expect(await page.textContent('#refused')).toContain('permissions_required')

    await page.fill('#add input[name=name]', 'Made in the browser')
    await page.fill('#add input[name=tracks]', 'Gimme Three Steps, Simple Man')
    await page.click('#add button')
    await page.waitForSelector('#playlists li .name >> text=Made in the browser')
    const made = (await cli(['query', '--dir', ready.dir, '--type', 'MusicPlaylist'])) as { items: Array<{ objectId: string, value: { name: string } }> }
    const mine = made.items.find(o => o.value.name === 'Made in the browser')
    expect(mine).toBeDefined()
    const history = (await cli(['history', '--dir', ready.dir, mine?.objectId ?? ''])) as { commits: Array<{ signer: string }> }
    expect(history.commits.map(c => c.signer)).toEqual([did])

    // A change on the owner's side shows up live.
    const road = made.items.find(o => o.value.name === 'Road trip')
    await cli(['update', '--dir', ready.dir, road?.objectId ?? ''], JSON.stringify({ ...playlist, name: 'Road trip (edited by the owner)' }))
    await page.waitForSelector('#playlists li .name >> text=Road trip (edited by the owner)')

    // CRU- has no D: the hub refuses, the app says so.
    await page.click(`#playlists li[data-object-id="${road?.objectId ?? ''}"] .delete`)
    await page.waitForSelector('#refused li >> text=Deleting')
    await page.screenshot({ path: `${SHOTS}/web-playlist.png`, fullPage: true })
    await browser.close()

    child.kill('SIGINT')
    expect(await exit).toBe(0)
    expect(existsSync(ready.dir)).toBe(false)
  })
})
