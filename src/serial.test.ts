import { describe, expect, it } from 'vitest'
import { KeyedSerial, SerialQueue } from './serial.js'

/** A promise the test settles by hand. */
function gate (): { promise: Promise<void>, open: () => void } {
  let open!: () => void
  const promise = new Promise<void>(resolve => { open = resolve })
  return { promise, open }
}

describe('SerialQueue', () => {
  it('runs tasks one at a time in the order they were queued', async () => {
    const q = new SerialQueue()
    const log: string[] = []
    let running = 0
    const task = (name: string, g?: Promise<void>) => async () => {
      running++
      expect(running).toBe(1)
      log.push(`start ${name}`)
      await g
      log.push(`end ${name}`)
      running--
      return name
    }
    const first = gate()
    const results = Promise.all([q.run(task('a', first.promise)), q.run(task('b')), q.run(task('c'))])
    await Promise.resolve()
    expect(log).toEqual(['start a'])
    first.open()
    expect(await results).toEqual(['a', 'b', 'c'])
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
  })

  it('a failing task rejects its own caller only; the tasks behind it still run', async () => {
    const q = new SerialQueue()
    const boom = q.run(async () => { throw new Error('boom') })
    const sync = q.run(() => { throw new Error('sync boom') })
    const after = q.run(async () => 'still runs')
    await expect(boom).rejects.toThrow('boom')
    await expect(sync).rejects.toThrow('sync boom')
    expect(await after).toBe('still runs')
  })

  it('idle resolves once everything queued so far has settled, failures included', async () => {
    const q = new SerialQueue()
    const g = gate()
    let done = false
    void q.run(async () => { await g.promise; throw new Error('late failure') }).catch(() => {})
    void q.run(() => { done = true })
    expect(q.size).toBe(2)
    const idle = q.idle()
    g.open()
    await idle
    expect(done).toBe(true)
    expect(q.size).toBe(0)
  })
})

describe('KeyedSerial', () => {
  it('serializes the tasks of one key', async () => {
    const k = new KeyedSerial()
    const log: string[] = []
    const g = gate()
    const a1 = k.run('a', async () => { await g.promise; log.push('a1') })
    const a2 = k.run('a', () => { log.push('a2') })
    await Promise.resolve()
    expect(log).toEqual([])
    g.open()
    await Promise.all([a1, a2])
    expect(log).toEqual(['a1', 'a2'])
  })

  it('keys do not wait for each other', async () => {
    const k = new KeyedSerial()
    const g = gate()
    const blocked = k.run('a', async () => { await g.promise; return 'a' })
    // 'b' finishes while 'a' is still held open.
    expect(await k.run('b', async () => 'b')).toBe('b')
    g.open()
    expect(await blocked).toBe('a')
  })

  it('an error in one key affects neither that key\'s later tasks nor other keys', async () => {
    const k = new KeyedSerial()
    const failed = k.run('a', async () => { throw new Error('a failed') })
    const next = k.run('a', async () => 'a ok')
    const other = k.run('b', async () => 'b ok')
    await expect(failed).rejects.toThrow('a failed')
    expect(await next).toBe('a ok')
    expect(await other).toBe('b ok')
  })

  it('forgets a key once its queue runs empty', async () => {
    const k = new KeyedSerial()
    await Promise.all([k.run('a', () => 1), k.run('b', () => 2)])
    expect(k.size).toBe(0)
    const g = gate()
    const held = k.run('c', async () => { await g.promise })
    expect(k.size).toBe(1)
    g.open()
    await held
    expect(k.size).toBe(0)
  })
})
