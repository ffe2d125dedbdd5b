/**
 * Runtime compatibility shim. It must be the first import of every entry
 * point (library root, CLI, tests, benchmarks), because js-libp2p 3 uses two
 * globals that Node 20 lacks (both arrived in Node 22):
 *  - `Promise.withResolvers`, called throughout libp2p and @libp2p/utils;
 *  - `WebSocket`, which @libp2p/websockets uses to *dial* (listening works
 *    without it), failing with "WebSocket is not defined" — set by the
 *    platform module `#platform/globals` (from `ws` under Node; nothing to
 *    do in a browser).
 * Everything is feature-detected: on Node 22+ this file does nothing.
 */
import '#platform/globals'

interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve']
      let reject!: Resolvers<T>['reject']
      const promise = new Promise<T>((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}

export {}
