#!/usr/bin/env node
/**
 * What the test suite needs from the machine, installed by `npm test`
 * itself so a fresh machine needs nothing by hand: `ip` and `nft` for the
 * network-namespace relay test (test/netns-relay.test.ts). Only as root and
 * only with apt-get; elsewhere the test skips itself and says why.
 */
import { execFileSync } from 'node:child_process'

function has (tool, flag) {
  try { execFileSync(tool, [flag], { stdio: 'ignore' }); return true } catch { return false }
}

const missing = [['ip', '-V', 'iproute2'], ['nft', '--version', 'nftables']].filter(([t, f]) => !has(t, f)).map(([, , pkg]) => pkg)
if (missing.length > 0) {
  if (process.getuid?.() === 0 && has('apt-get', '--version')) {
    process.stderr.write(`test prerequisites: installing ${missing.join(', ')} (Debian packages) for the netns relay test…\n`)
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    } catch {
      process.stderr.write('test prerequisites: apt-get install failed; the netns relay test will be skipped\n')
    }
  } else {
    process.stderr.write(`test prerequisites: ${missing.join(', ')} missing and not root; the netns relay test will be skipped\n`)
  }
}
