/**
 * `npm run example:dataspace`, as built (dist/, built by `npm test` before
 * vitest runs): it must run every step, exit 0, and leave nothing behind —
 * no daemon, no temp directory — also when interrupted with Ctrl-C.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { isPidAlive } from '../src/daemon/files.js'
import { STEPS } from '../examples/dataspace/steps.js'

const EXAMPLE = resolve('dist/examples/dataspace/main.js')

interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Run the example; `onStdout` may act on its output as it arrives (e.g. send a signal). */
async function runExample (onStdout?: (stdout: string, kill: (signal: NodeJS.Signals) => void) => void, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return await new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [EXAMPLE], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString()
      onStdout?.(stdout, signal => child.kill(signal))
    })
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    child.on('error', reject)
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }))
  })
}

/** The temp hub directory and daemon pid the example reports in step 1. */
function leftovers (stdout: string): { dir: string, pid: number } {
  const dir = /^ {3}hub dir +(\S+)$/m.exec(stdout)?.[1]
  const pid = /^ {3}daemon +pid (\d+),/m.exec(stdout)?.[1]
  if (dir === undefined || pid === undefined) throw new Error(`step 1 did not report the hub dir and daemon pid:\n${stdout}`)
  return { dir, pid: Number(pid) }
}

beforeAll(() => {
  if (!existsSync(EXAMPLE)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
})

describe('examples/dataspace', { timeout: 120_000 }, () => {
  it('runs every step, exits 0, and leaves no daemon and no temp directory behind', async () => {
    const r = await runExample()
    expect(r.stderr).toBe('')
    expect(r.code, r.stdout).toBe(0)
    STEPS.forEach((title, i) => {
      expect(r.stdout).toContain(`\n${i + 1}. ${title}\n`)
    })
    expect(r.stdout).not.toContain(`\n${STEPS.length + 1}. `)
    expect(r.stdout).not.toContain('✗')
    expect(r.stdout).toContain('✓ 403 scope_escalation')
    expect(r.stdout).toContain('✓ the earlier VP still verifies')
    expect(r.stdout).toContain('✓ the earlier VP is refused: unknown_key')
    expect(r.stdout.trimEnd().endsWith('Done.')).toBe(true)
    // Every step checks something.
    const sections = r.stdout.split(/\n(?=\d+\. )/).slice(1)
    expect(sections).toHaveLength(STEPS.length)
    for (const s of sections) expect(s, s).toContain('   ✓ ')

    const { dir, pid } = leftovers(r.stdout)
    expect(existsSync(resolve(dir, '..'))).toBe(false)
    expect(isPidAlive(pid)).toBe(false)
  })

  it('Ctrl-C stops the daemon and removes the temp directory', async () => {
    let sent = false
    const r = await runExample((stdout, kill) => {
      // Interrupt in the middle of the flow, with the daemon running.
      if (!sent && stdout.includes('\n3. ')) {
        sent = true
        kill('SIGINT')
      }
    })
    expect(sent).toBe(true)
    expect(r.code).toBe(130)
    expect(r.stdout).not.toContain('Done.')
    expect(r.stderr).toContain('SIGINT: stopping the daemon')
    expect(r.stderr).not.toContain('✗')
    const { dir, pid } = leftovers(r.stdout)
    expect(existsSync(resolve(dir, '..'))).toBe(false)
    expect(isPidAlive(pid)).toBe(false)
  })

  it('a failure exits non-zero with the reason', async () => {
    // No temporary directory can be made: the example fails before it starts anything.
    const r = await runExample(undefined, { TMPDIR: resolve('does-not-exist', String(process.pid)) })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/✗ .*ENOENT/)
    expect(r.stdout).not.toContain('Done.')
  })
})
