/**
 * The organization commands (participant, keys, did, credentials, issuance,
 * dcp), one module each, in help order: a participant's lifecycle first,
 * then what it holds and publishes, then what it exchanges over DCP.
 *
 * Bare `hub did` is `hub did show`. It relies on program.ts's
 * `enablePositionalOptions()`: without it, a group word that is also a
 * command would take the `--dir` and `--participant` of `hub did show …`.
 */
import type { AnyCommand } from '../../spec.js'
import { credentialsAdd } from './credentials-add.js'
import { credentialsList } from './credentials-list.js'
import { credentialsOfferPolicy } from './credentials-offer-policy.js'
import { credentialsOffers } from './credentials-offers.js'
import { credentialsRequest } from './credentials-request.js'
import { credentialsRequests } from './credentials-requests.js'
import { dcpToken } from './dcp-token.js'
import { dcpVerify } from './dcp-verify.js'
import { didAddService } from './did-add-service.js'
import { didPublish } from './did-publish.js'
import { didRemoveService } from './did-remove-service.js'
import { didShow } from './did-show.js'
import { didUnpublish } from './did-unpublish.js'
import { did } from './did.js'
import { issuanceDefine } from './issuance-define.js'
import { issuanceDelete } from './issuance-delete.js'
import { issuanceIssued } from './issuance-issued.js'
import { issuanceList } from './issuance-list.js'
import { issuanceOffer } from './issuance-offer.js'
import { issuanceRequests } from './issuance-requests.js'
import { issuanceRevoke } from './issuance-revoke.js'
import { keysActivate } from './keys-activate.js'
import { keysCreate } from './keys-create.js'
import { keysList } from './keys-list.js'
import { keysRevoke } from './keys-revoke.js'
import { keysRotate } from './keys-rotate.js'
import { participantActivate } from './participant-activate.js'
import { participantCreate } from './participant-create.js'
import { participantDeactivate } from './participant-deactivate.js'
import { participantDelete } from './participant-delete.js'
import { participantList } from './participant-list.js'

export const ORG_COMMANDS: AnyCommand[] = [
  participantCreate, participantList, participantActivate, participantDeactivate, participantDelete,
  keysList, keysCreate, keysActivate, keysRotate, keysRevoke,
  did, didShow, didPublish, didUnpublish, didAddService, didRemoveService,
  credentialsAdd, credentialsList, credentialsRequest, credentialsRequests, credentialsOffers, credentialsOfferPolicy,
  issuanceDefine, issuanceList, issuanceDelete, issuanceRequests, issuanceIssued, issuanceRevoke, issuanceOffer,
  dcpToken, dcpVerify
]
