/** The hosting commands (issue 17), one module each: create a hosting hub, add, list and remove owners. */
import type { AnyCommand } from '../../spec.js'
import { hostingAddOwner } from './add-owner.js'
import { hostingDoctor } from './doctor.js'
import { hostingInit } from './init.js'
import { hostingList } from './list.js'
import { hostingRemoveOwner } from './remove-owner.js'

export const HOSTING_COMMANDS: AnyCommand[] = [hostingInit, hostingAddOwner, hostingList, hostingRemoveOwner, hostingDoctor]
