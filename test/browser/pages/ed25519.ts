/**
 * Ed25519 page (test/browser/ed25519-web.test.ts): for each vector, the
 * browser's own WebCrypto verdict, @noble's `zip215: false` verdict and the
 * verdict the hub uses in a page (src/platform/ed25519-web.ts), all three
 * computed here in Chromium.
 */
import { ed25519VerifyWeb } from '../../../src/platform/ed25519-web.js'
import { ed25519VerifyNoble, nativeMayJudge } from '../../../src/platform/ed25519-rule.js'

interface Vector { name: string, publicKey: string, message: string, signature: string }
export interface Verdicts { name: string, web: boolean | string, noble: boolean, hub: boolean, webJudges: boolean }

const bytes = (hex: string): Uint8Array<ArrayBuffer> => Uint8Array.from(hex.match(/../g) ?? [], h => parseInt(h, 16))

/** WebCrypto alone: true/false, or the name of the error it threw (import or verify). */
async function webAlone (v: Vector): Promise<boolean | string> {
  try {
    const key = await crypto.subtle.importKey('raw', bytes(v.publicKey), { name: 'Ed25519' }, false, ['verify'])
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, bytes(v.signature), bytes(v.message))
  } catch (err) {
    return `threw ${(err as Error).name}`
  }
}

async function judge (vectors: Vector[]): Promise<Verdicts[]> {
  const out: Verdicts[] = []
  for (const v of vectors) {
    const [pk, msg, sig] = [bytes(v.publicKey), bytes(v.message), bytes(v.signature)]
    out.push({ name: v.name, web: await webAlone(v), noble: ed25519VerifyNoble(pk, msg, sig), hub: await ed25519VerifyWeb(pk, msg, sig), webJudges: nativeMayJudge(pk) })
  }
  return out
}

/** Many verifications at once (as a synced page is verified), each with its own verdict. */
async function judgeAll (vectors: Vector[]): Promise<boolean[]> {
  return await Promise.all(vectors.map(async v => await ed25519VerifyWeb(bytes(v.publicKey), bytes(v.message), bytes(v.signature))))
}

const w = window as unknown as Record<string, unknown>
w.__judge = judge
w.__judgeAll = judgeAll
w.__ready = true
