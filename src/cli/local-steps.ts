/**
 * What a command does on the caller's side around its handler (which may
 * run in the daemon): shared by the personal and the organization commands.
 */
import type { CommandArgs } from '../daemon/protocol.js'

export interface LocalSteps {
  /** Checks on the arguments (and reads of local files) before the hub is opened or the daemon contacted. */
  before?: (args: CommandArgs) => void | Promise<void>
  /** Turns the handler's result into what the CLI prints, with any local side effect. */
  after?: (result: unknown, args: CommandArgs) => Promise<unknown>
}
