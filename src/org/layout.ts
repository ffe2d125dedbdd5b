/**
 * Key layout of the organization records in the hub's LevelDB. Pure
 * functions; every key starts with `org!`, apart from the tenants' `t!` and
 * the hub's local `n!` records.
 *
 *   org!p!<pid>                 → ParticipantRecord JSON
 *   org!did!<did>               → pid          (a DID belongs to one participant)
 *   org!d!<pid>                 → DidResource JSON
 *   org!k!<pid>!<keyId>         → KeyPairResource JSON
 *   org!sk!<pid>!<keyId>        → sealed private key (vault.ts)
 *   org!c!<pid>!<credentialId>  → CredentialResource JSON
 *   org!cd!<pid>!<definitionId> → CredentialDefinition JSON   (issuer: what it issues)
 *   org!ir!<pid>!<issuerPid>    → IssuanceRequest JSON        (issuer: requests received)
 *   org!hr!<pid>!<holderPid>    → HolderCredentialRequest JSON (holder: requests sent)
 *   org!sl!<pid>!<listId>       → StatusListRecord JSON       (issuer: its revocation lists, bitstring included)
 *   org!ic!<pid>!<credentialId> → IssuedCredential JSON       (issuer: credentials with a status list entry)
 *   org!of!<pid>!<offerId>      → CredentialOfferRecord JSON  (holder: offers received)
 *   org!hp!<pid>                → HolderPolicy JSON           (holder: offer policy, renewal lead)
 *
 * Everything a participant owns is under a key naming it, so deleting a
 * participant is a handful of prefix scans folded into one atomic batch.
 */
import { esc } from '../store/layout.js'

export const ORG_PREFIX = 'org!'

export const orgKeys = {
  participant: (pid: string) => `org!p!${esc(pid)}`,
  participantsPrefix: () => 'org!p!',
  didOwner: (did: string) => `org!did!${esc(did)}`,
  didResource: (pid: string) => `org!d!${esc(pid)}`,
  keyPair: (pid: string, keyId: string) => `org!k!${esc(pid)}!${esc(keyId)}`,
  keyPairsPrefix: (pid: string) => `org!k!${esc(pid)}!`,
  privateKey: (pid: string, keyId: string) => `org!sk!${esc(pid)}!${esc(keyId)}`,
  privateKeysPrefix: (pid: string) => `org!sk!${esc(pid)}!`,
  credential: (pid: string, id: string) => `org!c!${esc(pid)}!${esc(id)}`,
  credentialsPrefix: (pid: string) => `org!c!${esc(pid)}!`,
  definition: (pid: string, id: string) => `org!cd!${esc(pid)}!${esc(id)}`,
  definitionsPrefix: (pid: string) => `org!cd!${esc(pid)}!`,
  issuanceRequest: (pid: string, issuerPid: string) => `org!ir!${esc(pid)}!${esc(issuerPid)}`,
  issuanceRequestsPrefix: (pid: string) => `org!ir!${esc(pid)}!`,
  holderRequest: (pid: string, holderPid: string) => `org!hr!${esc(pid)}!${esc(holderPid)}`,
  holderRequestsPrefix: (pid: string) => `org!hr!${esc(pid)}!`,
  statusList: (pid: string, listId: string) => `org!sl!${esc(pid)}!${esc(listId)}`,
  statusListsPrefix: (pid: string) => `org!sl!${esc(pid)}!`,
  issuedCredential: (pid: string, credentialId: string) => `org!ic!${esc(pid)}!${esc(credentialId)}`,
  issuedCredentialsPrefix: (pid: string) => `org!ic!${esc(pid)}!`,
  offer: (pid: string, offerId: string) => `org!of!${esc(pid)}!${esc(offerId)}`,
  offersPrefix: (pid: string) => `org!of!${esc(pid)}!`,
  holderPolicy: (pid: string) => `org!hp!${esc(pid)}`
}

/** Participant ids appear in URLs and CLI arguments: keep them plain. */
export const PARTICIPANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** Credential definition ids appear in URLs, DCP messages and CLI arguments. */
export const DEFINITION_ID = /^[A-Za-z0-9][A-Za-z0-9._~:-]{0,127}$/
/** Status list ids are the last segment of a public URL (random UUIDs when the hub makes them). */
export const STATUS_LIST_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/
/** Key ids become DID URL fragments. */
export const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
