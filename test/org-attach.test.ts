/**
 * The organization half attached from outside (src/org/hub-org.ts): one
 * store per hub, the deprecated `hub.org` alias of the package entry, the
 * hub's resolver answering the did:web documents the org hosts, and
 * issuance closing with the hub.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Hub, orgOf, issuanceOf } from '../src/index.js'
import { cleanup, tempHub } from './helpers.js'

afterEach(cleanup)

describe('orgOf(hub)', () => {
  it('is one store per hub, and the deprecated hub.org is the same one', async () => {
    const a = await tempHub()
    const b = await tempHub()
    expect(orgOf(a)).toBe(orgOf(a))
    expect(orgOf(a)).not.toBe(orgOf(b))
    expect((a as Hub).org).toBe(orgOf(a))
  })

  it('the hub resolves a did:web it hosts from its own store once the org is attached', async () => {
    const hub = await tempHub()
    const did = 'did:web:hosted.example:org:acme'
    await orgOf(hub).createParticipant({ participantId: 'acme', did, active: true, key: { keyId: 'k1' } })
    await orgOf(hub).publishDid('acme')
    const doc = await hub.resolveDocument(did)
    expect(doc.id).toBe(did)
  })

  it('issuance closes with the hub; after close it is unavailable', async () => {
    const hub = await tempHub()
    const service = await issuanceOf(hub)
    expect(await issuanceOf(hub)).toBe(service)
    await hub.close()
    expect(hub.closed).toBe(true)
    const other = await tempHub()
    await other.close()
    await expect(issuanceOf(other)).rejects.toMatchObject({ code: 'unavailable' })
  })
})
