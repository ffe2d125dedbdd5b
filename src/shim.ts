/**
 * Runtime compatibility shim. It must be the first import of every entry
 * point (library root, CLI, tests), because libp2p 3 calls
 * `Promise.withResolvers`, which Node 20 lacks (it arrived in Node 22).
 * Feature-detected: on runtimes that have it, this file does nothing.
 */
interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>(): Resolvers<T> {
    let resolve!: Resolvers<T>['resolve']
    let reject!: Resolvers<T>['reject']
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

export {}
