/**
 * The owner's dashboard page (issue 16, docs/dashboard.md): a small
 * vanilla-TypeScript app bundled by scripts/build-dashboard.mjs and served
 * by the hub at /dashboard/. It talks only to its own origin
 * (/dashboard/api, the event stream), holds no secret but the session's
 * CSRF token (the cookie is HttpOnly), and renders every value as text.
 */
import { ApiError, startSession, type SessionInfo } from './api.js'
import { announce, h, render } from './dom.js'
import { currentRoute } from './nav.js'
import { auditPage } from './pages/audit.js'
import { collectionsPage, objectPage, objectsPage } from './pages/collections.js'
import { devicesPage } from './pages/devices.js'
import { orgPage } from './pages/org.js'
import { sharingPage } from './pages/sharing.js'

const PAGES = [['collections', 'Collections'], ['sharing', 'Sharing'], ['audit', 'Audit'], ['devices', 'Devices'], ['org', 'Organization']] as const

let renderSeq = 0

async function show (main: HTMLElement): Promise<void> {
  const seq = ++renderSeq
  // A message about the previous page does not belong on the next one.
  announce('')
  const { path, params } = currentRoute()
  const section = path.split('/')[1] ?? 'collections'
  const top = section === 'objects' || section === 'object' ? 'collections' : section
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav.pages a')) {
    if (a.dataset.page === top) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  // A fresh element per page: listeners of the previous page go with it.
  const fresh = h('main', { id: 'main', tabindex: -1 })
  main.replaceWith(fresh)
  fresh.setAttribute('aria-busy', 'true')
  try {
    if (section === 'objects') await objectsPage(fresh, params)
    else if (section === 'object') await objectPage(fresh, decodeURIComponent(path.split('/')[2] ?? ''))
    else if (section === 'sharing') await sharingPage(fresh)
    else if (section === 'audit') await auditPage(fresh, params)
    else if (section === 'devices') await devicesPage(fresh)
    else if (section === 'org') await orgPage(fresh)
    else await collectionsPage(fresh)
    const title = fresh.querySelector('h1')?.textContent ?? 'Dashboard'
    document.title = `${title} · Identity Hub`
    // The first page with its data in the DOM, then painted (bench/dashboard.ts reads this mark).
    if (performance.getEntriesByName('dashboard-first-page').length === 0) requestAnimationFrame(() => { performance.mark('dashboard-first-page') })
  } catch (err) {
    if (seq !== renderSeq) return
    if (err instanceof ApiError && err.status === 401) { loggedOut(fresh, err); return }
    render(fresh, h('h1', {}, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, `${(err as Error).message}${err instanceof ApiError ? ` (${err.code})` : ''}`))
  } finally {
    fresh.removeAttribute('aria-busy')
    document.body.dataset.page = top
    document.body.dataset.ready = String(seq)
  }
  if (seq === renderSeq && document.activeElement?.closest('nav.pages') !== null) fresh.focus({ preventScroll: true })
}

function loggedOut (main: HTMLElement, err?: ApiError): void {
  render(main, h('h1', {}, 'Log in'),
    h('p', {}, err?.reason === 'session_expired' ? 'Your session expired. ' : 'You are not logged in. ',
      'On the hub\'s machine run ', h('code', {}, 'hub dashboard'), ' and open the one-time link it prints.'))
  document.body.dataset.ready = 'logged-out'
}

/** Server-sent events: sync state, new audit entries and changes reach the page that shows them. */
function listen (): void {
  const es = new EventSource('/dashboard/api/events')
  const forward = (name: string, type: string): void => {
    es.addEventListener(name, (e: MessageEvent<string>) => {
      document.getElementById('main')?.dispatchEvent(new CustomEvent(type, { detail: JSON.parse(e.data) as unknown }))
    })
  }
  forward('sync', 'sync-status')
  forward('audit', 'audit-entry')
  forward('change', 'object-change')
  es.addEventListener('error', () => { if (es.readyState === EventSource.CLOSED) announce('Live updates stopped (the hub stopped or the session ended).', 'bad') })
}

async function start (): Promise<void> {
  const main = document.getElementById('main') as HTMLElement
  const nav = document.querySelector('nav.pages') as HTMLElement
  render(nav, h('ul', {}, PAGES.map(([id, label]) => h('li', {}, h('a', { href: `#/${id}`, 'data-page': id }, label)))))
  window.addEventListener('hashchange', () => { void show(document.getElementById('main') as HTMLElement) })
  // The session (for its CSRF token) and the first page load together: a GET needs no token, and
  // without a session both answer 401 (the page then says how to log in).
  const [session] = await Promise.all([startSession().catch((err: unknown) => err), show(main)])
  if (session instanceof ApiError && session.status === 401) { loggedOut(document.getElementById('main') as HTMLElement, session); return }
  if (session instanceof Error) throw session
  const s = session as SessionInfo
  const who = document.getElementById('who')
  if (who !== null) { who.textContent = s.did; who.title = `owner ${s.did} · this hub ${s.hubDid} (${s.role})` }
  // Live updates once the first page is up (their first poll would otherwise compete with it).
  listen()
}

void start().catch((err: unknown) => { announce(`The dashboard failed to start: ${(err as Error).message}`, 'bad') })
