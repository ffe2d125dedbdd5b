import { afterEach, describe, expect, it, vi } from 'vitest'
import { HubError } from '../errors.js'
import { AttestationHolder, type Attested } from './attestations.js'

const at = (issuedAt: number, lifeMs: number): Attested => ({ attestation: `jws@${issuedAt}`, issuedAt, expiresAt: issuedAt + lifeMs, renewAt: issuedAt + lifeMs / 2 })

describe('AttestationHolder', () => {
  afterEach(() => { vi.useRealTimers() })

  it('reuses the one held until half its life, and shares one attempt between concurrent callers', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    let obtained = 0
    const h = new AttestationHolder({ obtain: async () => { obtained++; return at(Date.now(), 10_000) }, wanted: () => false })
    const [a, b] = await Promise.all([h.get(), h.get()])
    expect(obtained).toBe(1)
    expect(a).toBe(b)
    vi.setSystemTime(1_000_000 + 4_999)
    expect(await h.get()).toBe(a)
    vi.setSystemTime(1_000_000 + 5_000)
    expect((await h.get()).issuedAt).toBe(1_005_000)
    expect(obtained).toBe(2)
  })

  it('keeps using the held one while renewal fails, until it expires; reports why', async () => {
    vi.useFakeTimers({ now: 2_000_000 })
    let fail = false
    const h = new AttestationHolder({
      obtain: async () => { if (fail) throw new HubError('unavailable', 'no owner hub connected'); return at(Date.now(), 10_000) },
      wanted: () => false
    })
    const first = await h.get()
    fail = true
    vi.setSystemTime(2_000_000 + 6_000)
    expect(await h.get()).toBe(first)
    expect(h.error).toBe('unavailable: no owner hub connected')
    vi.setSystemTime(2_000_000 + 10_000)
    await expect(h.get()).rejects.toMatchObject({ code: 'unavailable' })
    fail = false
    await h.get()
    expect(h.error).toBeUndefined()
  })

  it('renews in the background at half life while wanted', async () => {
    vi.useFakeTimers({ now: 3_000_000 })
    let obtained = 0
    let wanted = true
    const h = new AttestationHolder({ obtain: async () => { obtained++; return at(Date.now(), 10_000) }, wanted: () => wanted })
    await h.get()
    await vi.advanceTimersByTimeAsync(5_000)
    expect(obtained).toBe(2)
    expect(h.current?.issuedAt).toBe(3_005_000)
    wanted = false
    await vi.advanceTimersByTimeAsync(20_000)
    // The renewal at 3_010_000 ran (it was scheduled while wanted) and scheduled nothing more.
    expect(obtained).toBe(3)
    h.stop()
  })
})
