/**
 * The `events` module for browser bundles: abstract-level (under
 * browser-level, the IndexedDB store) extends node:events' EventEmitter and
 * expects a bundler to supply it. This is the part of its API that
 * abstract-level uses (on/once/off, emit, listeners, removeAllListeners),
 * aliased in by scripts/build-browser.mjs.
 */
type Listener = (...args: unknown[]) => void

export class EventEmitter {
  #events = new Map<string | symbol, Listener[]>()

  on (event: string | symbol, listener: Listener): this {
    const list = this.#events.get(event) ?? []
    list.push(listener)
    this.#events.set(event, list)
    return this
  }

  addListener (event: string | symbol, listener: Listener): this { return this.on(event, listener) }
  prependListener (event: string | symbol, listener: Listener): this {
    this.#events.set(event, [listener, ...(this.#events.get(event) ?? [])])
    return this
  }

  once (event: string | symbol, listener: Listener): this {
    const wrapped = (...args: unknown[]): void => {
      this.off(event, wrapped)
      listener.apply(this, args)
    }
    ;(wrapped as unknown as { listener: Listener }).listener = listener
    return this.on(event, wrapped)
  }

  off (event: string | symbol, listener: Listener): this {
    const list = this.#events.get(event)
    if (list === undefined) return this
    const i = list.findLastIndex(l => l === listener || (l as unknown as { listener?: Listener }).listener === listener)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.#events.delete(event)
    return this
  }

  removeListener (event: string | symbol, listener: Listener): this { return this.off(event, listener) }

  removeAllListeners (event?: string | symbol): this {
    if (event === undefined) this.#events.clear()
    else this.#events.delete(event)
    return this
  }

  emit (event: string | symbol, ...args: unknown[]): boolean {
    const list = this.#events.get(event)
    if (list === undefined || list.length === 0) {
      if (event === 'error') throw args[0] instanceof Error ? args[0] : new Error(String(args[0]))
      return false
    }
    for (const l of [...list]) l.apply(this, args)
    return true
  }

  listeners (event: string | symbol): Listener[] { return [...(this.#events.get(event) ?? [])] }
  listenerCount (event: string | symbol): number { return this.#events.get(event)?.length ?? 0 }
  setMaxListeners (): this { return this }
  getMaxListeners (): number { return Infinity }
  eventNames (): Array<string | symbol> { return [...this.#events.keys()] }
}

export default { EventEmitter }
