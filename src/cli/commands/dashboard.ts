/**
 * `hub dashboard`: a one-time login link to the running daemon's dashboard
 * (issue 16, docs/dashboard.md). The daemon issues it (its HTTP server holds
 * the sessions, in memory), so it needs `hub start --http …`; `--open`
 * hands the link to xdg-open on this machine.
 */
import { spawn } from 'node:child_process'
import { HubError } from '../../errors.js'
import { hubCommand } from '../spec.js'

export const dashboard = hubCommand({
  name: 'dashboard',
  group: 'Hub',
  summary: 'a one-time login link to the owner\'s dashboard (needs "hub start --http")',
  description: 'Prints a one-time login link to the dashboard served by the running hub\'s HTTP server (valid 5 minutes, ' +
    'single use; the session it opens lasts at most 12 hours, 30 minutes idle, and ends when the hub stops). ' +
    'From another machine, tunnel the port: ssh -L 8080:127.0.0.1:8080 HOST, then open the link there.',
  options: [{ flags: '--open', description: 'also open the link with xdg-open' }],
  examples: ['hub start --dir ~/hub --http 127.0.0.1:8080 --detach && hub dashboard --dir ~/hub', 'hub dashboard --open'],
  params: {},
  input: () => ({}),
  async run ({ hub, net }) {
    // Loaded on use (`hub start` loads every command module); when the HTTP server runs, it has loaded it already.
    const { dashboardOf } = await import('../../http/dashboard/dashboard.js')
    const d = dashboardOf(hub)
    if (d === undefined) {
      throw new HubError('unavailable', net === undefined && !hub.closed
        ? 'the dashboard needs the running hub with its HTTP server: start it with "hub start --dir DIR --http 127.0.0.1:8080"'
        : 'the running hub serves no HTTP: restart it with --http 127.0.0.1:8080', { reason: 'no_http' })
    }
    return d.loginLink()
  },
  after (r, cli) {
    if (cli.opts.open === true) {
      // Best effort: a machine without a desktop still has the printed link.
      const child = spawn('xdg-open', [r.url], { stdio: 'ignore', detached: true })
      child.on('error', () => {})
      child.unref()
    }
    return r
  },
  human: r => `${r.url}\n(one-time login link, expires ${r.expiresAt}; from another machine: ssh -L PORT:127.0.0.1:PORT HOST first)\n`
})
