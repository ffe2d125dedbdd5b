/** The organization commands (participant, keys, did, credentials, issuance, dcp). */
import type { AnyCommand } from '../../spec.js'

export const ORG_COMMANDS: AnyCommand[] = []
