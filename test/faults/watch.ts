/**
 * Process-level watch for fault tests: unhandled rejections and uncaught
 * exceptions collected instead of crashing the run (a test then asserts
 * there were none), and a settled heap figure after full GCs, for the
 * "memory stays bounded" checks.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { afterAll, beforeAll } from 'vitest'

/** Install the listeners for this test file; the returned list fills as anomalies happen. */
export function watchProcess (): string[] {
  const anomalies: string[] = []
  const onRejection = (reason: unknown): void => { anomalies.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`) }
  const onException = (err: Error): void => { anomalies.push(`uncaughtException: ${String(err.stack ?? err)}`) }
  beforeAll(() => {
    process.on('unhandledRejection', onRejection)
    process.on('uncaughtException', onException)
  })
  afterAll(() => {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
  })
  return anomalies
}

/** A full GC, without --expose-gc on the command line (the flag can be set at run time). */
function gcFunction (): (() => void) | undefined {
  const g = globalThis as { gc?: () => void }
  if (typeof g.gc === 'function') return g.gc
  try {
    v8.setFlagsFromString('--expose-gc')
    const fn: unknown = vm.runInNewContext('gc')
    return typeof fn === 'function' ? fn as () => void : undefined
  } catch {
    return undefined
  }
}
/** Undefined where a full GC cannot be forced: heap bounds must then be looser. */
export const forceGc = gcFunction()

/** Heap in use after three full GCs with pauses (finalizers and freed buffers settle). */
export async function settledHeapMiB (): Promise<number> {
  for (let i = 0; i < 3; i++) {
    forceGc?.()
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return process.memoryUsage().heapUsed / 2 ** 20
}
