/** Organization: participants and their state, key pairs and lifecycle, the served DID document, credentials, issuance. */
import { get, type Page } from '../api.js'
import { badge, did, h, render, table, time } from '../dom.js'

interface Participant { participantId: string, did: string, state: string, updatedAt?: string }
interface KeyPair { keyId: string, state: string, algorithm?: string, createdAt?: string, isDefault?: boolean }
interface Credential { credentialId: string, types: string[], state: string, issuer: string, expirationDate?: string | null, issuanceDate?: string | null, status?: string | null }
interface Definition { id?: string, credentialType?: string, [k: string]: unknown }
interface Request { holderPid?: string, issuerPid?: string, state?: string, [k: string]: unknown }

const stateBadge = (s: string): HTMLElement => badge(s, /ACTIV|ISSUED|VALID/i.test(s) ? 'ok' : /REVOK|DEACT|ERROR|REJECT|EXPIRED/i.test(s) ? 'bad' : 'info')
const items = <T>(r: unknown): T[] => Array.isArray(r) ? r as T[] : ((r as Page<T> | null)?.items ?? [])

export async function orgPage (main: HTMLElement): Promise<void> {
  const ps = await get<Page<Participant>>('/org/participants')
  if (ps.items.length === 0) {
    render(main, h('h1', {}, 'Organization'), h('p', { class: 'empty' }, 'No participants on this hub ("hub participant create" adds one).'))
    return
  }
  const sections = await Promise.all(ps.items.map(async p => {
    const base = `/org/participants/${encodeURIComponent(p.participantId)}`
    const [keys, doc, creds, defs, reqs] = await Promise.all([
      get<unknown>(`${base}/keys`), get<unknown>(`${base}/did`).catch(() => null), get<unknown>(`${base}/credentials`), get<unknown>(`${base}/issuance`), get<unknown>(`${base}/issuance-requests`)
    ])
    return h('section', { class: 'participant', 'aria-labelledby': `p-${p.participantId}` },
      h('h2', { id: `p-${p.participantId}` }, p.participantId, ' ', stateBadge(p.state)),
      h('p', {}, did(p.did), p.updatedAt !== undefined ? [' · updated ', time(p.updatedAt)] : null),
      h('h3', {}, 'Key pairs'),
      table(`Key pairs of ${p.participantId}`, [['Key', k => h('code', {}, k.keyId)], ['State', k => stateBadge(k.state)], ['Default', k => k.isDefault === true ? 'yes' : ''], ['Created', k => time(k.createdAt ?? null)]], items<KeyPair>(keys), 'No key pairs.'),
      h('h3', {}, 'DID document (as served)'),
      h('pre', { class: 'value', tabindex: 0 }, doc === null ? 'not published' : JSON.stringify(doc, null, 2)),
      h('h3', {}, 'Credentials'),
      table(`Credentials of ${p.participantId}`, [
        ['Types', c => c.types.filter(t => t !== 'VerifiableCredential').join(', ')], ['State', c => stateBadge(c.state)],
        ['Issuer', c => did(c.issuer)], ['Valid until', c => time(c.expirationDate ?? null)]
      ], items<Credential>(creds), 'No credentials stored.'),
      h('h3', {}, 'Issuance definitions'),
      table(`Issuance definitions of ${p.participantId}`, [['Definition', d => h('code', {}, String(d.id ?? d.credentialType ?? JSON.stringify(d).slice(0, 60)))], ['Credential type', d => String(d.credentialType ?? '')]], items<Definition>(defs), 'This participant issues nothing.'),
      h('h3', {}, 'Issuance requests'),
      table(`Issuance requests of ${p.participantId}`, [['Request', r => h('code', {}, String(r.holderPid ?? r.issuerPid ?? ''))], ['State', r => stateBadge(String(r.state ?? ''))]], items<Request>(reqs), 'No issuance requests.'))
  }))
  render(main, h('h1', {}, 'Organization'), sections)
}
