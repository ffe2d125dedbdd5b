#!/usr/bin/env node
/**
 * What the test suite needs from the machine, installed by `npm test`
 * itself so a fresh machine needs nothing by hand: `ip` and `nft` for the
 * network-namespace relay test (test/netns-relay.test.ts), Chromium for the
 * browser tests (test/browser/). Only as root and only with apt-get
 * (Debian's packages: `apt-get update` first when the package lists are
 * empty); elsewhere those tests skip themselves and say why.
 */
import { execFileSync } from 'node:child_process'

function has (tool, flag) {
  try { execFileSync(tool, [flag], { stdio: 'ignore' }); return true } catch { return false }
}

const NEEDS = [
  ['ip', '-V', 'iproute2', 'the netns relay test'],
  ['nft', '--version', 'nftables', 'the netns relay test'],
  ['/usr/bin/chromium', '--version', 'chromium', 'the browser tests']
]
const missing = NEEDS.filter(([t, f]) => !has(t, f))
if (missing.length > 0) {
  const pkgs = [...new Set(missing.map(([, , pkg]) => pkg))]
  const what = [...new Set(missing.map(([, , , why]) => why))].join(' and ')
  if (process.getuid?.() === 0 && has('apt-get', '--version')) {
    process.stderr.write(`test prerequisites: installing ${pkgs.join(', ')} (Debian packages) for ${what}…\n`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const install = () => execFileSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env })
    try {
      try {
        install()
      } catch {
        // A fresh machine may have empty package lists.
        execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env })
        install()
      }
    } catch {
      process.stderr.write(`test prerequisites: apt-get install failed; ${what} will be skipped\n`)
    }
  } else {
    process.stderr.write(`test prerequisites: ${pkgs.join(', ')} missing and not root; ${what} will be skipped\n`)
  }
}
