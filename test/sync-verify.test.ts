/**
 * The batch verifier a puller uses for a sync page (commits/commit.ts
 * verifyCommits, #platform/verify-pool: Node's thread pool from 4
 * signatures up, inline below) gives exactly verifyCommit's verdict, commit
 * by commit, whatever the page size.
 */
import { describe, expect, it } from 'vitest'
import { parseCommit, signCommit, verifyCommit, verifyCommits, type Commit, type UnsignedHeader } from '../src/commits/commit.js'
import { HubError } from '../src/errors.js'
import { b64u, utf8 } from '../src/identity/encoding.js'
import { Ed25519KeyPair } from '../src/identity/keys.js'
import { verifyMany } from '#platform/verify-pool'

const owner = Ed25519KeyPair.generate()
const other = Ed25519KeyPair.generate()
const keys = new Map([[owner.kid, owner.publicKey], [other.kid, other.publicKey]])
let lookups = 0
const lookup = (kid: string): Uint8Array => {
  lookups++
  const k = keys.get(kid)
  if (k === undefined) throw new HubError('authentication_failed', `unknown key ${kid}`)
  return k
}

function header (signer: Ed25519KeyPair): UnsignedHeader {
  return { interface: 'Collections', context: 'https://schema.org', type: 'MusicPlaylist', operation: 'create', committed_at: '2026-01-02T03:04:05.678Z', commit_strategy: 'lww', sub: signer.did, deps: [] }
}

const page = (n: number): Commit[] => Array.from({ length: n }, (_, i) => {
  const signer = i % 3 === 0 ? other : owner
  return parseCommit(JSON.stringify(signCommit(header(signer), utf8.encode(JSON.stringify({ name: `p${i}` })), signer).envelope))
})

/** The same commit with its payload swapped after signing: the signature no longer covers it. */
function forged (c: Commit): Commit {
  return parseCommit(JSON.stringify({ ...c.envelope, payload: b64u(utf8.encode('{"name":"forged"}')) }))
}

async function verdict (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    return err instanceof HubError ? `${err.code} ${String(err.details?.commitId ?? '')}` : `other ${String(err)}`
  }
}

describe('verifyCommits (a sync page)', () => {
  it.each([1, 3, 4, 64, 500])('a page of %i good commits verifies, each key looked up once', async n => {
    const commits = page(n)
    lookups = 0
    expect((await verifyCommits(commits, lookup)).map(c => c.id)).toEqual(commits.map(c => c.id))
    expect(lookups).toBe(Math.min(n, 2))
  })

  it.each([1, 3, 4, 64, 500])('a page of %i with forged commits fails on the first forged one, as verifyCommit does', async n => {
    const commits = page(n)
    const bad = Math.floor(n / 2)
    commits[bad] = forged(commits[bad] as Commit)
    if (n > 2) commits[n - 1] = forged(commits[n - 1] as Commit)
    const single = await verdict(verifyCommit(commits[bad] as Commit, lookup))
    expect(single).toBe(`authentication_failed ${(commits[bad] as Commit).id}`)
    expect(await verdict(verifyCommits(commits, lookup))).toBe(single)
  })

  it('a signature that is not base64url and an unknown key fail as verifyCommit fails', async () => {
    const commits = page(8)
    const c = commits[5] as Commit
    commits[5] = { ...c, envelope: { ...c.envelope, signature: '!!!' } }
    expect(await verdict(verifyCommits(commits, lookup))).toBe(await verdict(verifyCommit(commits[5] as Commit, lookup)))
    const stranger = Ed25519KeyPair.generate()
    const odd = [...page(5), parseCommit(JSON.stringify(signCommit(header(stranger), utf8.encode('{}'), stranger).envelope))]
    expect(await verdict(verifyCommits(odd, lookup))).toBe(await verdict(verifyCommit(odd[5] as Commit, lookup)))
  })

  it('the pool refuses what the single verifier refuses: wrong lengths, a small-order key, a flipped bit', async () => {
    const data = utf8.encode('signed bytes')
    const good = { publicKey: owner.publicKey, data, signature: owner.sign(data) }
    const flipped = new Uint8Array(good.signature)
    flipped[10] = (flipped[10] as number) ^ 1
    const items = [
      good,
      { ...good, signature: flipped },
      { ...good, publicKey: good.publicKey.subarray(0, 31) },
      { ...good, signature: good.signature.subarray(0, 63) },
      { ...good, publicKey: new Uint8Array(32) }, // the all-zero key: of small order
      { ...good, publicKey: other.publicKey }
    ]
    // Below and above the inline threshold.
    expect(await verifyMany(items)).toEqual([true, false, false, false, false, false])
    expect(await verifyMany(items.slice(0, 2))).toEqual([true, false])
  })
})
