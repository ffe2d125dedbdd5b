/**
 * The named steps of every organization operation, and the failure a test
 * failpoint throws. Kept apart from the engine so the crash and failpoint
 * tests, and every resource module, agree on one list: a step added here is
 * a new failure case in org-store.test.ts without touching the tests.
 */
import { HubError } from '../errors.js'

/** The named steps of each operation, in order. A failpoint can stop any of them. */
export const OPERATION_STEPS = {
  'participant.create': ['validate', 'api-key', 'key-pair', 'seal-private-key', 'did-document', 'activate', 'commit'],
  'participant.activate': ['load', 'transition', 'publish', 'commit'],
  'participant.deactivate': ['load', 'transition', 'unpublish', 'commit'],
  'participant.delete': ['load', 'collect', 'commit'],
  'participant.regenerate-api-key': ['load', 'api-key', 'commit'],
  'keypair.create': ['load', 'key-pair', 'seal-private-key', 'commit'],
  'keypair.activate': ['load', 'transition', 'commit'],
  'keypair.rotate': ['load', 'transition', 'destroy-private-key', 'successor', 'seal-private-key', 'commit'],
  'keypair.revoke': ['load', 'transition', 'destroy-private-key', 'commit'],
  'did.publish': ['load', 'transition', 'commit'],
  'did.unpublish': ['load', 'transition', 'commit'],
  'did.service.add': ['load', 'validate', 'commit'],
  'did.service.remove': ['load', 'validate', 'commit'],
  'credential.store': ['load', 'validate', 'commit'],
  'credential.revoke': ['load', 'transition', 'commit'],
  'credential.delete': ['load', 'commit'],
  'issuance.definition.create': ['load', 'validate', 'commit'],
  'issuance.definition.delete': ['load', 'commit'],
  'issuance.request.receive': ['load', 'validate', 'commit'],
  'issuance.request.settle': ['load', 'transition', 'commit'],
  'issued-credential.record': ['load', 'validate', 'allocate', 'commit'],
  'issued-credential.revoke': ['load', 'transition', 'commit'],
  'credential-request.create': ['load', 'validate', 'commit'],
  'credential-request.update': ['load', 'transition', 'commit'],
  'credential-request.complete': ['load', 'validate', 'transition', 'supersede', 'commit']
} as const

/**
 * The operations of offers, polling and renewal (holder side): a table of
 * their own, with their failpoint tests in credential-offers.test.ts.
 */
export const HOLDER_OPERATION_STEPS = {
  'credential-offer.receive': ['load', 'validate', 'bound', 'commit'],
  'credential-offer.update': ['load', 'transition', 'commit'],
  'holder-policy.set': ['load', 'validate', 'commit'],
  'credential-request.poll': ['load', 'transition', 'commit']
} as const

export type OrgOperation = keyof typeof OPERATION_STEPS
export type HolderOperation = keyof typeof HOLDER_OPERATION_STEPS
/** Every operation the engine runs. */
export type AnyOrgOperation = OrgOperation | HolderOperation
export type OrgStep<O extends AnyOrgOperation = AnyOrgOperation> = (typeof OPERATION_STEPS & typeof HOLDER_OPERATION_STEPS)[O][number]

/** Called at every step of every operation; throwing aborts the operation. For tests. */
export type Failpoint = (op: AnyOrgOperation, step: string) => void

/** Thrown by a failpoint in tests; a plain HubError so it travels like any failure. */
export class InjectedFailure extends HubError {
  constructor (op: string, step: string) {
    super('internal', `injected failure at ${op}/${step}`)
  }
}
