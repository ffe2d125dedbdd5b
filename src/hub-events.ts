/**
 * A minimal typed event emitter for the Hub's events (node:events is not in
 * a browser). Listeners run synchronously in the order they were added; the
 * Hub isolates them (a throwing listener is logged, the others still run).
 */
export class HubEmitter<E extends { [K in keyof E]: unknown[] }> {
  /** Per event, its listeners (each typed by its event; stored untyped). */
  readonly #listeners = new Map<keyof E, unknown[]>()

  on<K extends keyof E> (event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event) ?? []
    list.push(listener)
    this.#listeners.set(event, list)
    return this
  }

  /** Remove one registration of `listener` (the latest, like node:events). */
  off<K extends keyof E> (event: K, listener: (...args: E[K]) => void): this {
    const list = this.#listeners.get(event)
    if (list === undefined) return this
    const i = list.lastIndexOf(listener)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.#listeners.delete(event)
    return this
  }

  /** A copy of the listeners of `event`: adding or removing during delivery does not disturb it. */
  listeners<K extends keyof E> (event: K): Array<(...args: E[K]) => void> {
    return [...(this.#listeners.get(event) ?? [])] as Array<(...args: E[K]) => void>
  }

  listenerCount<K extends keyof E> (event: K): number {
    return this.#listeners.get(event)?.length ?? 0
  }

  /** Call every listener of `event`; a throw stops the delivery (the Hub catches per listener instead). */
  emit<K extends keyof E> (event: K, ...args: E[K]): boolean {
    const list = this.listeners(event)
    for (const l of list) l(...args)
    return list.length > 0
  }
}
