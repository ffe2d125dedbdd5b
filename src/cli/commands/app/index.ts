/** The app-side commands (identity, client): no hub directory, no daemon; they talk to a running hub over the network. */
import type { AnyCommand } from '../../spec.js'
import { clientDelete } from './client-delete.js'
import { clientHistory } from './client-history.js'
import { clientQuery } from './client-query.js'
import { clientRead } from './client-read.js'
import { clientUpdate } from './client-update.js'
import { clientWatch } from './client-watch.js'
import { clientWrite } from './client-write.js'
import { identityNew } from './identity-new.js'
import { identityShow } from './identity-show.js'

export const APP_COMMANDS: AnyCommand[] = [
  identityNew, identityShow,
  clientWrite, clientRead, clientUpdate, clientDelete, clientHistory, clientQuery, clientWatch
]
