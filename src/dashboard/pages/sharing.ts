/** Sharing: grants (create, revoke with a preview of what the grantee loses), follows and what others share. */
import { del, get, post, query, type Page } from '../api.js'
import { announce, badge, did, field, h, render, table, time } from '../dom.js'

interface Grant { grantId: string, grantee: string, context: string, type: string, allow: string, objectId: string | null, expiresAt: string | null, revokedAt: string | null, active: boolean }
interface Preview { grant: Grant, alreadyRevoked: boolean, loses: string[] }
interface Follow { owner: string, peers: string[], streaming: boolean, lastSync: string | null, lastError: string | null }
interface CollectionRow { context: string | null, type: string | null }

const status = (g: Grant): HTMLElement => g.revokedAt !== null ? badge('revoked', 'bad') : g.active ? badge('active', 'ok') : badge('expired', 'warn')

function crud (allow: string): HTMLElement {
  return h('span', { class: 'crud', 'aria-label': [...'CRUD'].map((l, i) => `${({ C: 'create', R: 'read', U: 'update', D: 'delete' })[l as 'C']} ${allow[i] === l ? 'yes' : 'no'}`).join(', ') },
    [...'CRUD'].map((l, i) => h('span', { class: allow[i] === l ? 'on' : 'off', 'aria-hidden': 'true' }, l)))
}

export async function sharingPage (main: HTMLElement): Promise<void> {
  const [grants, follows, cols] = await Promise.all([get<Page<Grant>>('/grants'), get<Page<Follow>>('/follows'), get<Page<CollectionRow>>('/collections')])
  const named = cols.items.filter((c): c is { context: string, type: string } => c.context !== null && c.type !== null)

  const grantee = h('input', { name: 'grantee', required: true, placeholder: 'did:key:z6Mk…', autocomplete: 'off', spellcheck: 'false' })
  const collection = h('select', { name: 'collection' }, named.map(c => h('option', { value: JSON.stringify([c.context, c.type]) }, `${c.type} (${c.context})`)), h('option', { value: 'other' }, 'another collection…'))
  const otherContext = h('input', { name: 'context', placeholder: 'https://schema.org' })
  const otherType = h('input', { name: 'type', placeholder: 'MusicPlaylist' })
  const other = h('div', { class: 'other', hidden: named.length > 0 }, field('Context', otherContext), field('Type', otherType))
  collection.addEventListener('change', () => { other.hidden = collection.value !== 'other' })
  const bits = [...'CRUD'].map(l => h('input', { type: 'checkbox', name: `allow-${l}`, value: l, checked: l === 'R' }))
  const objectId = h('input', { name: 'objectId', placeholder: 'optional: one object only', autocomplete: 'off' })
  const expires = h('input', { name: 'expires', type: 'datetime-local' })
  const formError = h('p', { class: 'error', role: 'alert' })

  const create = async (e: Event): Promise<void> => {
    e.preventDefault()
    const [context, type] = collection.value === 'other' || collection.value === '' ? [otherContext.value.trim(), otherType.value.trim()] : JSON.parse(collection.value) as [string, string]
    const allow = bits.map((b, i) => b.checked ? 'CRUD'[i] : '-').join('')
    const body: Record<string, unknown> = { grantee: grantee.value.trim(), context, type, allow }
    if (objectId.value.trim() !== '') body.objectId = objectId.value.trim()
    if (expires.value !== '') body.expiresAt = new Date(expires.value).toISOString()
    try {
      const r = await post<{ grantId: string }>('/grants', body)
      announce(`Granted: ${r.grantId}`)
      await sharingPage(main)
    } catch (err) {
      formError.textContent = (err as Error).message
    }
  }

  const dialog = h('dialog', { id: 'revoke-dialog', 'aria-labelledby': 'revoke-title' })
  const askRevoke = async (g: Grant): Promise<void> => {
    const p = await get<Preview>(`/grants/${encodeURIComponent(g.grantId)}/preview`)
    render(dialog,
      h('h2', { id: 'revoke-title' }, 'Revoke this grant?'),
      h('p', {}, 'The grantee ', did(g.grantee), ' loses:'),
      h('ul', { class: 'loses' }, p.loses.map(l => h('li', {}, l))),
      h('form', { method: 'dialog', class: 'actions' },
        h('button', { value: 'cancel', type: 'submit' }, 'Cancel'),
        h('button', { value: 'revoke', type: 'submit', class: 'danger', id: 'confirm-revoke' }, 'Revoke')))
    dialog.onclose = () => {
      if (dialog.returnValue !== 'revoke') return
      void del(`/grants/${encodeURIComponent(g.grantId)}`).then(async () => { announce(`Revoked ${g.grantId}`); await sharingPage(main) }, (err: unknown) => { announce((err as Error).message, 'bad') })
    }
    dialog.showModal()
    ;(dialog.querySelector('button[value="cancel"]') as HTMLButtonElement | null)?.focus()
  }

  const sharedOut = h('div', { id: 'shared' })
  const showShared = async (owner: string): Promise<void> => {
    const r = await get<Page<{ objectId: string, type: string | null, value: unknown }>>(`/shared${query({ owner, limit: 50 })}`)
    render(sharedOut, table(`Shared with you by ${owner}`, [['Object', o => h('code', {}, o.objectId.slice(0, 18) + '…')], ['Type', o => o.type ?? ''], ['Value', o => h('code', {}, JSON.stringify(o.value).slice(0, 120))]], r.items, 'Nothing pulled from this owner yet.'))
  }

  render(main,
    h('h1', {}, 'Sharing'),
    h('h2', {}, 'Grants'),
    table('Grants', [
      ['Grantee', g => did(g.grantee)],
      ['Collection', g => h('span', {}, g.type, h('br'), h('small', {}, g.context), g.objectId !== null ? h('small', {}, h('br'), 'object ', h('code', {}, g.objectId.slice(0, 12) + '…')) : null)],
      ['Allow', g => crud(g.allow)],
      ['Expires', g => g.expiresAt === null ? 'never' : time(g.expiresAt)],
      ['Status', status],
      ['', g => g.revokedAt === null ? h('button', { type: 'button', class: 'danger', 'data-grant': g.grantId, onclick: () => { void askRevoke(g) } }, 'Revoke…') : '']
    ], grants.items, 'No grants: nobody but you can use your collections.'),
    h('h2', { id: 'new-grant' }, 'New grant'),
    h('form', { class: 'grant-form', 'aria-labelledby': 'new-grant', onsubmit: (e: Event) => { void create(e) } },
      field('Grantee DID', grantee, 'the app or person allowed'),
      field('Collection', collection),
      other,
      h('fieldset', { class: 'crud-bits' }, h('legend', {}, 'Allow'), bits.map((b, i) => h('label', {}, b, ` ${['create', 'read', 'update', 'delete'][i] as string}`))),
      field('Object', objectId),
      field('Expires', expires, 'optional; leave empty for no expiry'),
      formError,
      h('button', { type: 'submit' }, 'Grant')),
    dialog,
    h('h2', {}, 'Owners you follow'),
    table('Follows', [
      ['Owner', f => did(f.owner)],
      ['Stream', f => f.streaming ? badge('live', 'ok') : badge('not live', 'warn')],
      ['Last sync', f => time(f.lastSync)],
      ['Last error', f => f.lastError ?? '–'],
      ['', f => h('button', { type: 'button', onclick: () => { void showShared(f.owner) } }, 'What they share')]
    ], follows.items, 'You follow nobody ("hub follow" adds an owner).'),
    sharedOut)
}
