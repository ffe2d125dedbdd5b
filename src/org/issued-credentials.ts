/**
 * Issuer side: its revocation status lists and the credentials issued into
 * them. One aggregate, because a credential's index and its list's cursor
 * (and, on revocation, its bit and its record) must change in one batch:
 * an index is never handed out twice nor recorded without its list.
 */
import { randomUUID } from 'node:crypto'
import { AlreadyExistsError, BadRequestError, ConflictError, HubError, NotFoundError } from '../errors.js'
import type { OrgTransactions } from './engine.js'
import { checkDefinitionId, checkForeignId, CREDENTIAL_TYPE, MAX_REQUESTED_CREDENTIALS } from './id-checks.js'
import { orgKeys, STATUS_LIST_ID } from './layout.js'
import { loadParticipant } from './records.js'
import { decodeEncodedList, encodeBitstring, MAX_BITSTRING_BYTES, MIN_BITSTRING_ENTRIES, setBit } from './status-list.js'
import type { IssuanceRequest, IssuedCredential, StatusListRecord } from './types.js'

/** What an issuer records before signing credentials with status list entries (issuance-processor.ts). */
export interface IssuedCredentialsInput {
  /**
   * The issuer's public base URL (its IssuerService endpoint): lists are
   * served at `<statusBaseUrl>/status/<listId>`. A list started under
   * another base URL is not filled further: its URL would not reach it.
   */
  statusBaseUrl: string
  /** Entries of a list started by this call. Default {@link MIN_BITSTRING_ENTRIES}; smaller ones only for tests. */
  listSize?: number
  /** The credentials about to be signed (ids chosen by the caller), in the order indices are handed out. */
  credentials: Array<{ credentialId: string, definitionId: string, credentialType: string }>
}

export interface IssuedCredentialsComponents {
  engine: OrgTransactions
}

/** A status list's URL: `<base>/status/<listId>`, normalised as the holder's checker normalises it. */
function statusListUrl (base: string, listId: string): string {
  return new URL(`${base}/status/${encodeURIComponent(listId)}`).href
}

function checkStatusBaseUrl (v: unknown): string {
  let u: URL
  try {
    u = new URL(typeof v === 'string' ? v : '')
  } catch {
    throw new BadRequestError('the status list base URL must be an absolute URL')
  }
  // A query or fragment would end up in front of "/status/<listId>" and name another resource.
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw new BadRequestError('the status list base URL must be an http(s) URL without query, fragment or credentials', { url: String(v) })
  }
  return u.href.replace(/\/+$/, '')
}

function checkListSize (v: unknown): number {
  // Whole bytes (the bitstring is bytes), and no bigger than a holder's checker accepts.
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 8 || v % 8 !== 0 || v > MAX_BITSTRING_BYTES * 8) {
    throw new BadRequestError(`a status list size must be a multiple of 8 in 8…${MAX_BITSTRING_BYTES * 8}`)
  }
  return v
}

export class IssuedCredentials {
  readonly #engine: OrgTransactions

  constructor (components: IssuedCredentialsComponents) {
    this.#engine = components.engine
  }

  /**
   * Record credentials about to be issued for a RECEIVED request, each with
   * the next free index of the issuer's current status list, in one batch.
   * A full list (or one made under another base URL) is left as it is and a
   * new one started. Called before signing, so every credential that may
   * reach a holder can be revoked; a credential whose delivery then fails
   * keeps its (harmless) record and index.
   */
  async record (pid: string, issuerPid: string, input: IssuedCredentialsInput): Promise<IssuedCredential[]> {
    const op = 'issued-credential.record'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const req = await e.json<IssuanceRequest>(orgKeys.issuanceRequest(p.participantId, issuerPid))
      if (req === undefined) throw new NotFoundError(`participant "${pid}" has no issuance request ${issuerPid}`, { issuerPid })
      const lists = await e.list<StatusListRecord>(orgKeys.statusListsPrefix(p.participantId))

      e.step(op, 'validate')
      if (req.status !== 'RECEIVED') throw new ConflictError(`issuance request ${issuerPid} is already ${req.status}`, { status: req.status })
      const base = checkStatusBaseUrl(input.statusBaseUrl)
      const listSize = checkListSize(input.listSize ?? MIN_BITSTRING_ENTRIES)
      const creds = Array.isArray(input.credentials) ? input.credentials : []
      if (creds.length === 0 || creds.length > MAX_REQUESTED_CREDENTIALS) throw new BadRequestError(`1…${MAX_REQUESTED_CREDENTIALS} credentials are recorded at once`)
      const ids = new Set<string>()
      for (const c of creds) {
        const id = checkForeignId(c.credentialId, 'credentialId')
        checkDefinitionId(c.definitionId)
        if (typeof c.credentialType !== 'string' || !CREDENTIAL_TYPE.test(c.credentialType)) throw new BadRequestError('credentialType must be a credential type name')
        if (ids.has(id) || await e.get(orgKeys.issuedCredential(p.participantId, id)) !== undefined) {
          throw new AlreadyExistsError(`credential ${id} is already recorded as issued`, { credentialId: id })
        }
        ids.add(id)
      }

      e.step(op, 'allocate')
      const now = e.iso()
      let current = lists.reduce<StatusListRecord | undefined>((a, l) => a === undefined || l.seq > a.seq ? l : a, undefined)
      let seq = current?.seq ?? 0
      const touched = new Map<string, StatusListRecord>()
      const out: IssuedCredential[] = []
      for (const c of creds) {
        if (current === undefined || current.next >= current.size || current.url !== statusListUrl(base, current.listId)) {
          const listId = randomUUID()
          current = {
            participantId: p.participantId,
            listId,
            seq: ++seq,
            url: statusListUrl(base, listId),
            statusPurpose: 'revocation',
            size: listSize,
            next: 0,
            encodedList: encodeBitstring(new Uint8Array(listSize / 8)),
            createdAt: now,
            updatedAt: now
          }
          tx.events.push({ type: 'status-list.created', participantId: p.participantId, listId, size: listSize })
        } else {
          // A copy: the records read are not changed unless the batch commits.
          current = touched.get(current.listId) ?? { ...current }
        }
        const index = current.next++
        current.updatedAt = now
        touched.set(current.listId, current)
        const ic: IssuedCredential = {
          participantId: p.participantId,
          credentialId: c.credentialId,
          issuerPid,
          holderDid: req.holderDid,
          definitionId: c.definitionId,
          credentialType: c.credentialType,
          listId: current.listId,
          index,
          statusListCredential: current.url,
          revoked: false,
          issuedAt: now
        }
        tx.put(orgKeys.issuedCredential(p.participantId, ic.credentialId), ic)
        tx.events.push({ type: 'issued-credential.recorded', participantId: p.participantId, credentialId: ic.credentialId, listId: ic.listId, index })
        out.push(ic)
      }
      for (const l of touched.values()) tx.put(orgKeys.statusList(p.participantId, l.listId), l)
      return out
    })
  }

  /** The credentials this participant issued with a status list entry. */
  async list (pid: string): Promise<IssuedCredential[]> {
    const p = await loadParticipant(this.#engine, pid)
    return await this.#engine.list<IssuedCredential>(orgKeys.issuedCredentialsPrefix(p.participantId))
  }

  async find (pid: string, credentialId: string): Promise<IssuedCredential | undefined> {
    const p = await loadParticipant(this.#engine, pid)
    return credentialId === '' ? undefined : await this.#engine.json<IssuedCredential>(orgKeys.issuedCredential(p.participantId, credentialId))
  }

  /** The participant's status lists, oldest first. */
  async listStatusLists (pid: string): Promise<StatusListRecord[]> {
    const p = await loadParticipant(this.#engine, pid)
    return (await this.#engine.list<StatusListRecord>(orgKeys.statusListsPrefix(p.participantId))).sort((a, b) => a.seq - b.seq)
  }

  /** One status list, or undefined (also for an id that cannot be one). */
  async findStatusList (pid: string, listId: string): Promise<StatusListRecord | undefined> {
    const p = await loadParticipant(this.#engine, pid)
    return STATUS_LIST_ID.test(listId) ? await this.#engine.json<StatusListRecord>(orgKeys.statusList(p.participantId, listId)) : undefined
  }

  /**
   * Revoke a credential this participant issued: its bit in the status list
   * is set and its record marked, in one batch. Idempotent (revoking a
   * revoked credential changes nothing). Holders' checkers see it once their
   * cached copy of the list expires (≤ 5 minutes for this hub's checker).
   */
  async revoke (pid: string, credentialId: string): Promise<IssuedCredential> {
    const op = 'issued-credential.revoke'
    const e = this.#engine
    return await e.mutate(op, async tx => {
      e.step(op, 'load')
      const p = await loadParticipant(e, pid)
      const ic = await this.find(p.participantId, credentialId)
      if (ic === undefined) throw new NotFoundError(`participant "${pid}" issued no credential ${credentialId} with a status list entry`, { credentialId })
      const list = await e.json<StatusListRecord>(orgKeys.statusList(p.participantId, ic.listId))
      if (list === undefined) throw new HubError('internal', `status list ${ic.listId} of issued credential ${credentialId} is missing`)
      e.step(op, 'transition')
      if (ic.revoked) return ic
      const bits = decodeEncodedList('BitstringStatusList', list.encodedList, list.size / 8)
      setBit(bits, ic.index)
      const now = e.iso()
      const next: IssuedCredential = { ...ic, revoked: true, revokedAt: now }
      tx.put(orgKeys.statusList(p.participantId, list.listId), { ...list, encodedList: encodeBitstring(bits), updatedAt: now })
      tx.put(orgKeys.issuedCredential(p.participantId, ic.credentialId), next)
      tx.events.push({ type: 'issued-credential.revoked', participantId: p.participantId, credentialId: ic.credentialId, listId: ic.listId, index: ic.index })
      return next
    })
  }
}
