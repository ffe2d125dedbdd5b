/** Devices: each hub of the owner with role, last seen, sync state and liveness; pairing by invite (text + QR); revoking. */
import { del, get, post, type Page } from '../api.js'
import { announce, badge, did, field, h, render, table, time } from '../dom.js'

interface Device { hubDid: string, role: string, name: string | null, createdAt: string, revokedAt: string | null, self: boolean }
export interface SyncPeer { hubDid: string, name: string | null, role: string, connected: boolean, replicating?: boolean, lastSync?: string | null, watermark: number, head?: number, behind?: number }
export interface SyncStatus { running: boolean, self: { hubDid: string, revokedAt: string | null }, peers: SyncPeer[] }

function syncState (p: SyncPeer | undefined): HTMLElement {
  if (p === undefined) return badge('unknown', 'warn')
  if (!p.connected) return badge('offline', 'warn')
  if ((p.behind ?? 0) > 0) return badge(`behind by ${p.behind ?? 0}`, 'warn')
  return p.lastSync !== null && p.lastSync !== undefined ? badge('caught up', 'ok') : badge('connecting', 'info')
}

export async function devicesPage (main: HTMLElement): Promise<void> {
  const [devices, sync] = await Promise.all([get<Page<Device>>('/devices'), get<SyncStatus>('/sync')])
  const list = h('div', { id: 'device-list' })
  const draw = (s: SyncStatus): void => {
    const peers = new Map(s.peers.map(p => [p.hubDid, p]))
    render(list,
      s.self.revokedAt !== null ? h('p', { class: 'error', role: 'alert' }, `This device was revoked at ${s.self.revokedAt}: the owner's other hubs no longer sync with it.`) : null,
      table('Devices of this owner', [
        ['Device', d => h('span', {}, did(d.hubDid), d.self ? h('small', {}, ' (this hub)') : null, d.name !== null ? h('br') : null, d.name !== null ? h('small', {}, d.name) : null)],
        ['Role', d => d.role],
        ['Last seen', d => d.self ? 'now' : time(peers.get(d.hubDid)?.lastSync ?? null)],
        ['Sync', d => d.revokedAt !== null ? badge('revoked', 'bad') : d.self ? badge('this hub', 'info') : syncState(peers.get(d.hubDid))],
        ['Live', d => d.self ? '–' : peers.get(d.hubDid)?.connected === true ? badge('live', 'ok') : badge('no', 'warn')],
        ['', d => d.self || d.revokedAt !== null ? '' : h('button', { type: 'button', class: 'danger', onclick: () => { void revoke(d) } }, 'Revoke…')]
      ], devices.items.map(d => ({ ...d, sync: peers.get(d.hubDid) }))))
    list.dataset.synced = String(s.peers.filter(p => p.connected && (p.behind ?? 0) === 0 && p.lastSync !== null && p.lastSync !== undefined).length)
  }
  const revoke = async (d: Device): Promise<void> => {
    if (!confirm(`Revoke device ${d.hubDid}? It gets nothing more from any hub that learns of the revocation.`)) return
    await del(`/devices/${encodeURIComponent(d.hubDid)}`)
    announce(`Revoked ${d.hubDid}`)
    await devicesPage(main)
  }
  const role = h('select', { name: 'role' }, h('option', { value: 'owner-device' }, 'owner device (reads and writes)'), h('option', { value: 'blind' }, 'blind (stores ciphertext only)'))
  const invite = h('div', { id: 'invite', 'aria-live': 'polite' })
  const pair = async (e: Event): Promise<void> => {
    e.preventDefault()
    try {
      const r = await post<{ invite: string, expiresAt: string, qrSvg: string }>('/devices/invite', { role: role.value })
      const text = h('textarea', { readonly: true, rows: 4, id: 'invite-text', 'aria-label': 'Invite text' })
      text.value = r.invite
      render(invite,
        h('p', {}, 'On the new device run ', h('code', {}, 'hub init --dir DIR --join <invite>'), ` (one-time; expires ${new Date(r.expiresAt).toLocaleString()}).`),
        text,
        h('img', { class: 'qr', alt: 'QR code of the invite', src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(r.qrSvg)}` }))
    } catch (err) {
      render(invite, h('p', { class: 'error', role: 'alert' }, (err as Error).message))
    }
  }
  render(main,
    h('h1', {}, 'Devices'),
    list,
    h('h2', { id: 'pair' }, 'Pair a new device'),
    h('form', { class: 'filters', 'aria-labelledby': 'pair', onsubmit: (e: Event) => { void pair(e) } }, field('Role', role), h('button', { type: 'submit' }, 'Create invite')),
    invite)
  draw(sync)
  main.addEventListener('sync-status', (ev: Event) => {
    void get<Page<Device>>('/devices').then(d => { devices.items = d.items; draw((ev as CustomEvent<SyncStatus>).detail) })
  })
}
