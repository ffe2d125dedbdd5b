import { describe, expect, it } from 'vitest'
import { FOLLOW_BACKOFF, nextBackoff, RECONNECT_BACKOFF, REPLICATION_BACKOFF } from './backoff.js'

describe('backoff', () => {
  it('doubles from the minimum and stops at the maximum', () => {
    const p = { minMs: 100, maxMs: 750 }
    const seen: number[] = []
    let d = p.minMs
    for (let i = 0; i < 5; i++) { seen.push(d); d = nextBackoff(d, p) }
    expect(seen).toEqual([100, 200, 400, 750, 750])
  })
  it('never goes below the minimum, whatever it is given', () => {
    expect(nextBackoff(0, { minMs: 100, maxMs: 1000 })).toBe(200)
  })
  it('every policy has 0 < min < max', () => {
    for (const p of [RECONNECT_BACKOFF, REPLICATION_BACKOFF, FOLLOW_BACKOFF]) expect(0 < p.minMs && p.minMs < p.maxMs).toBe(true)
  })
})
