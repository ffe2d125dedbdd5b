/**
 * Consistency checks of the organization records (everything under `org!`),
 * as the atomic operations of OrgStore (engine.ts) are meant to keep them. Pure and
 * read-only: one scan of the `org!` range, no writes. Used by the tests after
 * every failure, crash and concurrency scenario; `hub doctor` can report the
 * same list.
 *
 *  - every participant has exactly one DID owner entry, pointing back at it,
 *    and one DID record; no owner entry points at a missing participant or
 *    a participant with another DID;
 *  - no key pair, sealed key, credential, DID record, credential
 *    definition, issuance request (issuer side), status list, issued
 *    credential, credential request, offer or holder policy (holder side) belongs to a
 *    participant that does not exist, and every
 *    record sits under the key its own ids name;
 *  - issuance and credential requests, and credential offers, have a known
 *    status (an ACCEPTED offer names its request); holder policies a known
 *    acceptance;
 *  - a sealed private key belongs to a CREATED or ACTIVATED key pair that
 *    says `hasPrivateKey`; every such key pair has its sealed key and (given
 *    the vault) it opens under its own record name and is the private half
 *    of the recorded public key; ROTATED and REVOKED key pairs hold none;
 *  - a participant has at most one default key pair;
 *  - status lists: a size that is a whole number of bytes, a bitstring that
 *    decodes to exactly that size, a next free index within it, a URL
 *    naming the list, one sequence number per list; issued credentials: their
 *    list exists (same participant, same URL), their index is below the
 *    list's next free index, no two share an index, and a list's set bits
 *    are exactly the indices of its revoked credentials.
 *
 * Problems are returned as readable lines (empty: consistent), never thrown,
 * and never include key material.
 */
import { prefixEnd, type KvStore } from '../store/kv.js'
import { utf8d } from '../identity/encoding.js'
import { Ed25519KeyPair } from '../identity/keys.js'
import { ORG_PREFIX, orgKeys } from './layout.js'
import { bitAt, decodeEncodedList, MAX_BITSTRING_BYTES } from './status-list.js'
import type { Vault } from './vault.js'
import type {
  CredentialDefinition, CredentialOfferRecord, CredentialResource, DidResource, HolderCredentialRequest, HolderPolicy, IssuanceRequest, IssuedCredential, KeyPairResource,
  ParticipantRecord, StatusListRecord
} from './types.js'

const PARTICIPANT_STATES = new Set(['CREATED', 'ACTIVATED', 'DEACTIVATED'])
const KEY_STATES = new Set(['CREATED', 'ACTIVATED', 'ROTATED', 'REVOKED'])
const DID_STATES = new Set(['UNPUBLISHED', 'PUBLISHED'])
const ISSUANCE_STATES = new Set(['RECEIVED', 'ISSUED', 'REJECTED'])
const HOLDER_REQUEST_STATES = new Set(['REQUESTED', 'FAILED', 'RECEIVED', 'ISSUED', 'REJECTED'])
const OFFER_STATES = new Set(['PENDING', 'ACCEPTED', 'DECLINED', 'FAILED'])
const OFFER_ACCEPTANCE = new Set(['known', 'any', 'none'])

/** `org!<kind>!<pid>[!<rest>]`: ids never contain `!` (participant and key ids by their syntax, others escaped). */
function split (key: string): { kind: string, pid: string, rest: string | undefined } | undefined {
  const parts = key.slice(ORG_PREFIX.length).split('!')
  if (parts.length < 2 || parts.length > 3) return undefined
  return { kind: parts[0] ?? '', pid: parts[1] ?? '', rest: parts[2] }
}

function parse<T> (key: string, value: Uint8Array, problems: string[]): T | undefined {
  try {
    const v = JSON.parse(utf8d.decode(value)) as unknown
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object')
    return v as T
  } catch {
    problems.push(`${key}: not a JSON record`)
    return undefined
  }
}

/**
 * Every inconsistency among the organization records of `kv`. With `vault`,
 * sealed private keys are also opened and matched with their public keys.
 */
export async function checkInvariants (kv: KvStore, vault?: Vault): Promise<string[]> {
  const problems: string[] = []
  const participants = new Map<string, ParticipantRecord>()
  const owners = new Map<string, string>() // owner-entry key → pid it names
  const dids = new Map<string, DidResource>()
  const keyPairs = new Map<string, KeyPairResource>() // record key → record
  const sealed = new Map<string, Uint8Array>() // sealed-key key → bytes
  const credentials = new Map<string, CredentialResource>()
  /** Records that only need their participant to exist: record key → participant id. */
  const owned = new Map<string, { pid: string, what: string }>()
  /** Status lists by record key, with their decoded bitstring (undefined: undecodable, already reported). */
  const statusLists = new Map<string, { list: StatusListRecord, bits: Uint8Array | undefined }>()
  const issued = new Map<string, IssuedCredential>()

  for await (const [key, value] of kv.entries({ gte: ORG_PREFIX, lt: prefixEnd(ORG_PREFIX) })) {
    const s = split(key)
    const kind = s?.kind
    if (s === undefined || s.pid === '') {
      problems.push(`${key}: not an organization key`)
    } else if (kind === 'p' && s.rest === undefined) {
      const p = parse<ParticipantRecord>(key, value, problems)
      if (p === undefined) continue
      if (orgKeys.participant(p.participantId) !== key) problems.push(`${key}: holds participant "${String(p.participantId)}"`)
      if (!PARTICIPANT_STATES.has(p.state)) problems.push(`${key}: unknown state ${String(p.state)}`)
      if (typeof p.did !== 'string') problems.push(`${key}: has no DID`)
      participants.set(s.pid, p)
    } else if (kind === 'did' && s.rest === undefined) {
      let pid: string
      try {
        pid = utf8d.decode(value)
      } catch {
        problems.push(`${key}: owner is not UTF-8`)
        continue
      }
      owners.set(key, pid)
    } else if (kind === 'd' && s.rest === undefined) {
      const d = parse<DidResource>(key, value, problems)
      if (d === undefined) continue
      if (orgKeys.didResource(d.participantId) !== key) problems.push(`${key}: holds the DID record of "${String(d.participantId)}"`)
      if (!DID_STATES.has(d.state)) problems.push(`${key}: unknown DID state ${String(d.state)}`)
      if (!Array.isArray(d.services)) problems.push(`${key}: services is not a list`)
      dids.set(s.pid, d)
    } else if (kind === 'k' && s.rest !== undefined) {
      const k = parse<KeyPairResource>(key, value, problems)
      if (k === undefined) continue
      if (orgKeys.keyPair(k.participantId, k.keyId) !== key) problems.push(`${key}: holds key pair "${String(k.keyId)}" of "${String(k.participantId)}"`)
      if (!KEY_STATES.has(k.state)) problems.push(`${key}: unknown key pair state ${String(k.state)}`)
      keyPairs.set(key, k)
    } else if (kind === 'sk' && s.rest !== undefined) {
      sealed.set(key, value)
    } else if (kind === 'c' && s.rest !== undefined) {
      const c = parse<CredentialResource>(key, value, problems)
      if (c === undefined) continue
      if (orgKeys.credential(c.participantId, c.credentialId) !== key) problems.push(`${key}: holds credential ${String(c.credentialId)} of "${String(c.participantId)}"`)
      credentials.set(key, c)
    } else if (kind === 'cd' && s.rest !== undefined) {
      const d = parse<CredentialDefinition>(key, value, problems)
      if (d === undefined) continue
      if (orgKeys.definition(d.participantId, d.id) !== key) problems.push(`${key}: holds credential definition "${String(d.id)}" of "${String(d.participantId)}"`)
      owned.set(key, { pid: d.participantId, what: 'credential definition' })
    } else if (kind === 'ir' && s.rest !== undefined) {
      const r = parse<IssuanceRequest>(key, value, problems)
      if (r === undefined) continue
      if (orgKeys.issuanceRequest(r.participantId, r.issuerPid) !== key) problems.push(`${key}: holds issuance request ${String(r.issuerPid)} of "${String(r.participantId)}"`)
      if (!ISSUANCE_STATES.has(r.status)) problems.push(`${key}: unknown issuance request status ${String(r.status)}`)
      owned.set(key, { pid: r.participantId, what: 'issuance request' })
    } else if (kind === 'hr' && s.rest !== undefined) {
      const r = parse<HolderCredentialRequest>(key, value, problems)
      if (r === undefined) continue
      if (orgKeys.holderRequest(r.participantId, r.holderPid) !== key) problems.push(`${key}: holds credential request ${String(r.holderPid)} of "${String(r.participantId)}"`)
      if (!HOLDER_REQUEST_STATES.has(r.status)) problems.push(`${key}: unknown credential request status ${String(r.status)}`)
      owned.set(key, { pid: r.participantId, what: 'credential request' })
    } else if (kind === 'sl' && s.rest !== undefined) {
      const l = parse<StatusListRecord>(key, value, problems)
      if (l === undefined) continue
      if (orgKeys.statusList(l.participantId, l.listId) !== key) problems.push(`${key}: holds status list ${String(l.listId)} of "${String(l.participantId)}"`)
      owned.set(key, { pid: l.participantId, what: 'status list' })
      statusLists.set(key, { list: l, bits: checkStatusList(key, l, problems) })
    } else if (kind === 'ic' && s.rest !== undefined) {
      const c = parse<IssuedCredential>(key, value, problems)
      if (c === undefined) continue
      if (orgKeys.issuedCredential(c.participantId, c.credentialId) !== key) problems.push(`${key}: holds issued credential ${String(c.credentialId)} of "${String(c.participantId)}"`)
      owned.set(key, { pid: c.participantId, what: 'issued credential' })
      issued.set(key, c)
    } else if (kind === 'of' && s.rest !== undefined) {
      const o = parse<CredentialOfferRecord>(key, value, problems)
      if (o === undefined) continue
      if (orgKeys.offer(o.participantId, o.offerId) !== key) problems.push(`${key}: holds credential offer ${String(o.offerId)} of "${String(o.participantId)}"`)
      if (!OFFER_STATES.has(o.status)) problems.push(`${key}: unknown credential offer status ${String(o.status)}`)
      if (o.status === 'ACCEPTED' && typeof o.holderPid !== 'string') problems.push(`${key}: ACCEPTED without the request it was accepted with`)
      owned.set(key, { pid: o.participantId, what: 'credential offer' })
    } else if (kind === 'hp' && s.rest === undefined) {
      const h = parse<HolderPolicy>(key, value, problems)
      if (h === undefined) continue
      if (orgKeys.holderPolicy(h.participantId) !== key) problems.push(`${key}: holds the holder policy of "${String(h.participantId)}"`)
      if (!OFFER_ACCEPTANCE.has(h.accept)) problems.push(`${key}: unknown offer acceptance ${String(h.accept)}`)
      owned.set(key, { pid: h.participantId, what: 'holder policy' })
    } else {
      problems.push(`${key}: not an organization key`)
    }
  }

  // Participants ⇄ DID owner entries ⇄ DID records.
  const ownerCount = new Map<string, number>()
  for (const [key, pid] of owners) {
    ownerCount.set(pid, (ownerCount.get(pid) ?? 0) + 1)
    const p = participants.get(pid)
    if (p === undefined) problems.push(`${key}: names participant "${pid}", which does not exist`)
    else if (orgKeys.didOwner(p.did) !== key) problems.push(`${key}: names participant "${pid}", whose DID is ${p.did}`)
  }
  for (const [pid, p] of participants) {
    const n = ownerCount.get(pid) ?? 0
    if (n !== 1) problems.push(`participant "${pid}": ${n} DID owner entries, expected 1`)
    if (owners.get(orgKeys.didOwner(p.did)) !== pid) problems.push(`participant "${pid}": ${p.did} is not indexed as its own`)
    const d = dids.get(pid)
    if (d === undefined) problems.push(`participant "${pid}": no DID record`)
    else if (d.did !== p.did) problems.push(`participant "${pid}": DID record is for ${d.did}, not ${p.did}`)
  }
  for (const pid of dids.keys()) {
    if (!participants.has(pid)) problems.push(`${orgKeys.didResource(pid)}: DID record of a participant that does not exist`)
  }

  // Key pairs and their sealed private keys.
  const defaults = new Map<string, string[]>()
  for (const [key, k] of keyPairs) {
    const p = participants.get(k.participantId)
    if (p === undefined) {
      problems.push(`${key}: key pair of a participant that does not exist`)
    } else if (k.kid !== `${p.did}#${k.keyId}`) {
      problems.push(`${key}: kid ${k.kid} is not ${p.did}#${k.keyId}`)
    }
    if (k.isDefault) defaults.set(k.participantId, [...(defaults.get(k.participantId) ?? []), k.keyId])
    const skName = orgKeys.privateKey(k.participantId, k.keyId)
    const sk = sealed.get(skName)
    if ((k.state === 'ROTATED' || k.state === 'REVOKED') && k.hasPrivateKey) problems.push(`${key}: ${k.state} but claims a private key`)
    if (k.hasPrivateKey && sk === undefined) problems.push(`${key}: claims a private key, but ${skName} is missing`)
    if (sk !== undefined && vault !== undefined) {
      let pair: Ed25519KeyPair | undefined
      try {
        pair = Ed25519KeyPair.fromSeed(vault.open(sk, skName))
      } catch {
        problems.push(`${skName}: does not open with this hub's vault under its own name`)
      }
      if (pair !== undefined && pair.publicJwk().x !== k.publicKeyJwk?.x) problems.push(`${skName}: is not the private half of the public key of ${key}`)
    }
  }
  for (const [pid, ids] of defaults) {
    if (ids.length > 1) problems.push(`participant "${pid}": ${ids.length} default key pairs (${ids.join(', ')})`)
  }
  for (const skName of sealed.keys()) {
    const s = split(skName)
    const recordKey = s === undefined ? '' : `${ORG_PREFIX}k!${s.pid}!${s.rest ?? ''}`
    const k = keyPairs.get(recordKey)
    if (k === undefined) problems.push(`${skName}: sealed key without a key pair record`)
    else if (k.state !== 'CREATED' && k.state !== 'ACTIVATED') problems.push(`${skName}: sealed key of a ${k.state} key pair`)
    else if (!k.hasPrivateKey) problems.push(`${skName}: sealed key of a key pair that says it has none`)
    if (s !== undefined && !participants.has(s.pid)) problems.push(`${skName}: sealed key of a participant that does not exist`)
  }

  for (const [key, c] of credentials) {
    if (!participants.has(c.participantId)) problems.push(`${key}: credential of a participant that does not exist`)
  }
  for (const [key, { pid, what }] of owned) {
    if (!participants.has(pid)) problems.push(`${key}: ${what} of a participant that does not exist`)
  }
  checkIssued(statusLists, issued, problems)
  return problems
}

/** One status list record on its own; returns its bitstring when it decodes. */
function checkStatusList (key: string, l: StatusListRecord, problems: string[]): Uint8Array | undefined {
  if (l.statusPurpose !== 'revocation') problems.push(`${key}: unknown status purpose ${String(l.statusPurpose)}`)
  if (!Number.isSafeInteger(l.seq) || l.seq < 1) problems.push(`${key}: sequence number ${String(l.seq)} is not a positive integer`)
  const sizeOk = Number.isSafeInteger(l.size) && l.size >= 8 && l.size % 8 === 0 && l.size <= MAX_BITSTRING_BYTES * 8
  if (!sizeOk) problems.push(`${key}: size ${String(l.size)} is not a multiple of 8 in 8…${MAX_BITSTRING_BYTES * 8}`)
  if (!Number.isSafeInteger(l.next) || l.next < 0 || (sizeOk && l.next > l.size)) problems.push(`${key}: next index ${String(l.next)} is outside 0…${String(l.size)}`)
  if (typeof l.url !== 'string' || !l.url.endsWith(`/status/${encodeURIComponent(String(l.listId))}`)) problems.push(`${key}: URL ${String(l.url)} does not name the list`)
  if (!sizeOk) return undefined
  let bits: Uint8Array
  try {
    bits = decodeEncodedList('BitstringStatusList', l.encodedList, l.size / 8)
  } catch (err) {
    problems.push(`${key}: bitstring does not decode (${(err as Error).message})`)
    return undefined
  }
  if (bits.length * 8 !== l.size) problems.push(`${key}: bitstring holds ${bits.length * 8} entries, not ${l.size}`)
  return bits
}

/** Issued credentials against their lists: within them, one per index, revoked exactly where a bit is set. */
function checkIssued (lists: Map<string, { list: StatusListRecord, bits: Uint8Array | undefined }>, issued: Map<string, IssuedCredential>, problems: string[]): void {
  const taken = new Map<string, string>() // list key + index → issued-credential key
  const revokedAt = new Map<string, Set<number>>() // list key → revoked indices
  const seqs = new Map<string, string>() // participant + seq → list key
  for (const [key, { list }] of lists) {
    const s = `${list.participantId}\n${String(list.seq)}`
    const other = seqs.get(s)
    if (other !== undefined) problems.push(`${key}: sequence number ${String(list.seq)} is also ${other}'s`)
    seqs.set(s, key)
  }
  for (const [key, c] of issued) {
    const listKey = orgKeys.statusList(c.participantId, c.listId)
    const l = lists.get(listKey)
    if (l === undefined) {
      problems.push(`${key}: its status list ${String(c.listId)} does not exist`)
      continue
    }
    if (c.statusListCredential !== l.list.url) problems.push(`${key}: names list URL ${String(c.statusListCredential)}, the list is at ${l.list.url}`)
    if (!Number.isSafeInteger(c.index) || c.index < 0 || c.index >= l.list.next || c.index >= l.list.size) {
      problems.push(`${key}: index ${String(c.index)} is outside the entries handed out by ${listKey} (0…${l.list.next - 1})`)
      continue
    }
    const slot = `${listKey}\n${c.index}`
    const other = taken.get(slot)
    if (other !== undefined) problems.push(`${key}: index ${c.index} of ${listKey} is also ${other}'s`)
    taken.set(slot, key)
    if (c.revoked === true) revokedAt.set(listKey, (revokedAt.get(listKey) ?? new Set()).add(c.index))
  }
  for (const [listKey, { bits }] of lists) {
    if (bits === undefined) continue
    const revoked = revokedAt.get(listKey) ?? new Set<number>()
    for (const i of revoked) {
      if (i < bits.length * 8 && !bitAt(bits, i)) problems.push(`${listKey}: bit ${i} is clear, but its credential is revoked`)
    }
    for (let byte = 0; byte < bits.length; byte++) {
      if (bits[byte] === 0) continue
      for (let i = byte * 8; i < byte * 8 + 8; i++) {
        if (bitAt(bits, i) && !revoked.has(i)) problems.push(`${listKey}: bit ${i} is set, but no revoked credential has that index`)
      }
    }
  }
}
