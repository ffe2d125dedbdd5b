/** `hub hosting doctor [--repair]`: `hub doctor` for every owner a hosting hub hosts (each over its own partition). */
import { flag, optional } from '../../params.js'
import { hubCommand } from '../../spec.js'
import { withOwners } from './shared.js'

interface OwnerReport { owner: string, clean: boolean, commits: number, objects: number, problems: number }

export const hostingDoctor = hubCommand({
  name: 'hosting doctor',
  group: 'Hub',
  summary: 'run the doctor on every hosted owner\'s partition (exits 1 unless all are clean)',
  description: 'For each hosted owner: verify every commit, signature and feed entry, rebuild its indexes and compare, as "hub doctor" does for a hub. ' +
    '--repair rewrites derived data. "hub doctor" on a hosting hub checks only the hub\'s own tenant.',
  options: [{ flags: '--repair', description: 'rewrite derived data that differs' }],
  params: { repair: optional(flag()) },
  input: cli => (cli.opts.repair === true ? { repair: true } : {}),
  async run ({ hub }, p) {
    const { doctor } = await import('../../../store/doctor.js')
    return await withOwners(hub, async owners => {
      const out: OwnerReport[] = []
      for (const o of owners.all()) {
        const r = await doctor(o.hub, { repair: p.repair === true })
        const t = r.tenants.find(x => x.tenant === o.record.owner)
        out.push({ owner: o.record.owner, clean: r.clean, commits: t?.commits ?? 0, objects: t?.objects ?? 0, problems: r.tenants.reduce((n, x) => n + (x.remaining ?? x.problems).length, 0) })
      }
      return { clean: out.every(o => o.clean), owners: out }
    })
  },
  after (r) {
    if (!r.clean) process.exitCode = 1
    return r
  },
  human: r => r.owners.map(o => `${o.owner}: ${o.commits} commit(s), ${o.objects} object(s), ${o.clean ? 'clean' : `${o.problems} problem(s)`}`).join('\n') + (r.owners.length > 0 ? '\n' : '') +
    (r.clean ? `clean (${r.owners.length} owner(s))\n` : 'NOT clean\n')
})
