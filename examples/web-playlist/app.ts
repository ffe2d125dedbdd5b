/**
 * Web playlist: a small web app (no framework) on the Identity Hub SDK in a
 * browser (docs/browser.md).
 *
 * - Its identity is a did:key made on first visit and kept in IndexedDB
 *   (BrowserKeyStore: the seed sealed under a non-extractable AES key).
 * - It shows that DID and the exact `hub grant` command the owner runs.
 * - It connects to the owner's hub over libp2p WebSockets (the hub's `/ws/`
 *   multiaddr and the owner DID come from the URL, `?hub=…&owner=…`, as
 *   `npm run example:web-playlist` prints it, or from the form), and
 *   polls until the grant exists (`permissions_required` until then).
 * - It lists schema.org MusicPlaylist objects live (a subscription), adds
 *   and renames them (the grant is `CRU-`), and shows what it is refused:
 *   the owner's diary, deleting.
 *
 * In a real app you would `import … from 'identity-hub/client'` (the
 * `browser` export); this example imports the source so that it builds
 * from a checkout without a prior `npm run build`.
 */
import { BrowserKeyStore, HubClient, HubError, type RemoteObject, type Subscription } from '../../src/client/index.js'

const CONTEXT = 'https://schema.org'
const TYPE = 'MusicPlaylist'
const RETRY_MS = 1000

interface Playlist { name?: unknown, track?: Array<{ name?: unknown }> }

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`#${id} is missing from index.html`)
  return el as T
}

function setStatus (text: string, kind: 'wait' | 'ok' | 'bad' = 'wait'): void {
  const el = $('status')
  el.textContent = text
  el.className = kind === 'wait' ? '' : kind
}

function codeOf (err: unknown): string {
  return err instanceof HubError ? err.code : (err as Error).name
}

/** The owner's command, exactly as they would type it (`--dir` when the runner told us the hub's directory). */
export function grantCommand (did: string, dir: string | null): string {
  return ['hub grant', ...(dir !== null ? ['--dir', dir] : []), '--grantee', did, '--context', CONTEXT, '--type', TYPE, '--allow', 'CRU-'].join(' ')
}

const w = window as unknown as { __ready?: boolean, __error?: string }
const playlists = new Map<string, Playlist>()

function render (): void {
  const ul = $('playlists')
  ul.replaceChildren()
  if (playlists.size === 0) {
    const li = document.createElement('li')
    li.className = 'empty'
    li.textContent = 'No playlists yet.'
    ul.append(li)
  }
  const sorted = [...playlists.entries()].sort((a, b) => String(a[1].name).localeCompare(String(b[1].name)))
  for (const [id, p] of sorted) {
    const li = document.createElement('li')
    li.dataset.objectId = id
    const name = document.createElement('span')
    name.className = 'name'
    name.textContent = typeof p.name === 'string' ? p.name : '(unnamed)'
    const tracks = document.createElement('span')
    tracks.className = 'tracks'
    tracks.textContent = (p.track ?? []).map(t => String(t.name)).join(' · ')
    const rename = document.createElement('button')
    rename.className = 'small rename'
    rename.textContent = 'Rename'
    rename.addEventListener('click', () => { void renamePlaylist(id, li) })
    const del = document.createElement('button')
    del.className = 'small delete'
    del.textContent = 'Delete'
    del.addEventListener('click', () => { void deletePlaylist(id) })
    li.append(name, tracks, rename, del)
    ul.append(li)
  }
}

function refused (what: string, code: string): void {
  const ul = $('refused')
  const key = `${what}:${code}`
  if ([...ul.children].some(li => (li as HTMLElement).dataset.key === key)) return
  const li = document.createElement('li')
  li.dataset.key = key
  li.append(`${what}: refused, `)
  const c = document.createElement('code')
  c.textContent = code
  li.append(c)
  ul.append(li)
}

function writeError (text: string | undefined): void {
  const p = $('write-error')
  p.hidden = text === undefined
  p.textContent = text ?? ''
}

let client: HubClient | undefined

async function addPlaylist (form: HTMLFormElement): Promise<void> {
  if (client === undefined) return
  const data = new FormData(form)
  const name = String(data.get('name') ?? '').trim()
  const tracks = String(data.get('tracks') ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  if (name === '') return
  try {
    await client.collections.write({ '@context': CONTEXT, '@type': TYPE, name, numTracks: tracks.length, track: tracks.map(t => ({ '@type': 'MusicRecording', name: t })) })
    form.reset()
    writeError(undefined)
  } catch (err) {
    writeError(`Adding "${name}" failed: ${codeOf(err)}`)
  }
}

async function renamePlaylist (id: string, li: HTMLElement): Promise<void> {
  if (client === undefined) return
  const current = playlists.get(id)
  const input = document.createElement('input')
  input.value = typeof current?.name === 'string' ? current.name : ''
  input.maxLength = 200
  li.querySelector('.name')?.replaceWith(input)
  input.focus()
  input.addEventListener('keydown', e => {
    if (e.key !== 'Enter') return
    const name = input.value.trim()
    if (name === '' || client === undefined) return
    client.collections.change(id, d => { d.name = name }).then(() => { writeError(undefined) }, (err: unknown) => { writeError(`Renaming failed: ${codeOf(err)}`) })
  })
}

async function deletePlaylist (id: string): Promise<void> {
  if (client === undefined) return
  try {
    await client.collections.delete(id)
  } catch (err) {
    // The grant is CRU-: the hub refuses, and the app says so.
    refused('Deleting a playlist', codeOf(err))
  }
}

/** Subscribe once the grant is there; when the grant goes away (revoked), go back to waiting. */
async function follow (c: HubClient, grant: string): Promise<void> {
  for (;;) {
    let sub: Subscription
    try {
      sub = await c.collections.subscribe({ context: CONTEXT, type: TYPE }, e => {
        if (e.kind === 'deleted') playlists.delete(e.object.objectId)
        else playlists.set(e.object.objectId, e.object.value as Playlist)
        render()
      })
    } catch (err) {
      if (codeOf(err) !== 'permissions_required') throw err
      $('ask').hidden = false
      $('grant-cmd').textContent = grant
      setStatus('waiting for the owner\'s grant')
      await new Promise(resolve => setTimeout(resolve, RETRY_MS))
      continue
    }
    playlists.clear()
    for (const o of sub.initial as RemoteObject[]) playlists.set(o.objectId, o.value as Playlist)
    render()
    $('ask').hidden = true
    $('live').hidden = false
    setStatus('connected: playlists are live', 'ok')
    void probeDiary(c)
    const end = await sub.ended
    $('live').hidden = true
    if (end.code !== 'permissions_required') {
      setStatus(`disconnected (${end.code ?? 'closed'})`, 'bad')
      return
    }
    refused('Playlists after the owner revoked the grant', end.code)
  }
}

/** The owner's diary is not granted: show how the hub answers. */
async function probeDiary (c: HubClient): Promise<void> {
  try {
    await c.collections.query({ context: CONTEXT, type: 'Diary' })
    refused('Reading the owner\'s diary', 'allowed?!')
  } catch (err) {
    refused('Reading the owner\'s diary', codeOf(err))
  }
}

async function main (): Promise<void> {
  const params = new URLSearchParams(location.search)
  const store = await BrowserKeyStore.open('web-playlist')
  const identity = await store.getOrCreate('app')
  $('did').textContent = identity.did
  const grant = grantCommand(identity.did, params.get('dir'))
  $('grant-cmd').textContent = grant
  $('add').addEventListener('submit', e => { e.preventDefault(); void addPlaylist(e.target as HTMLFormElement) })
  render()
  // A test may look now: the identity and the grant command are on screen (main goes on waiting for the grant).
  w.__ready = true

  const hub = params.get('hub')
  const owner = params.get('owner')
  if (hub === null || owner === null) {
    const form = $<HTMLFormElement>('setup')
    form.hidden = false
    setStatus('tell the app which hub to use')
    form.addEventListener('submit', e => {
      e.preventDefault()
      const data = new FormData(form)
      const next = new URLSearchParams(params)
      next.set('hub', String(data.get('hub')))
      next.set('owner', String(data.get('owner')))
      location.search = next.toString()
    })
    return
  }
  $('hub').textContent = hub
  setStatus('connecting')
  try {
    client = await HubClient.connect({ hub, identity, owner })
  } catch (err) {
    setStatus(`cannot connect: ${codeOf(err)}: ${(err as Error).message}`, 'bad')
    return
  }
  await follow(client, grant)
}

main().then(
  () => {},
  (err: unknown) => { setStatus(`failed: ${(err as Error).message}`, 'bad'); w.__error = (err as Error).stack ?? String(err) }
)
