/** The app-side commands (identity, client): no hub directory, no daemon. */
import type { AnyCommand } from '../../spec.js'

export const APP_COMMANDS: AnyCommand[] = []
