/**
 * Typed listeners for organization events. The engine emits a batch's
 * events only after the batch is durable, so a listener never sees a change
 * that a crash could still take back.
 */
import type { Logger } from '../log.js'
import type { OrgEvent, OrgEventType } from './types.js'

type Listener = (e: OrgEvent) => void

/** The listener for `type`: the event narrowed to that type, or any event for '*'. */
export type OrgListener<T extends OrgEventType | '*'> = (e: T extends OrgEventType ? Extract<OrgEvent, { type: T }> : OrgEvent) => void

export class OrgEvents {
  readonly #listeners = new Map<OrgEventType | '*', Set<Listener>>()
  readonly #log: Logger

  constructor (init: { logger: Logger }) {
    this.#log = init.logger
  }

  /** Listen to one event type, or '*' for all. Returns the unsubscribe function. */
  on<T extends OrgEventType | '*'> (type: T, listener: OrgListener<T>): () => void {
    let set = this.#listeners.get(type)
    if (set === undefined) this.#listeners.set(type, set = new Set())
    const l = listener as Listener
    set.add(l)
    return () => { set.delete(l) }
  }

  /**
   * Deliver events in order, type listeners before '*' ones. A throwing
   * listener is logged, not propagated: the change it reacts to is already
   * committed, so failing the operation would report a lie.
   */
  emit (events: readonly OrgEvent[]): void {
    for (const e of events) {
      for (const l of [...(this.#listeners.get(e.type) ?? []), ...(this.#listeners.get('*') ?? [])]) {
        try {
          l(e)
        } catch (err) {
          this.#log.error('org event listener failed', { event: e.type, reason: (err as Error).message })
        }
      }
    }
  }
}
