/** `hub doctor [--repair]`: verify everything, rebuild derived data and compare. */
import { flag, optional } from '../params.js'
import { hubCommand } from '../spec.js'

interface Problem { code: string, kind: string, objectId?: string, commitId?: string, detail: string }
interface TenantReport { tenant: string, commits: number, objects: number, problems: Problem[], remaining?: Problem[], repaired: number, notes: string[] }

export const doctor = hubCommand({
  name: 'doctor',
  group: 'Hub',
  summary: 'verify every commit, signature and feed entry; rebuild every index and compare',
  description: 'Verify every commit, signature and feed entry, rebuild every index and compare. --repair rewrites derived data ' +
    '(never signed data, never a value the hub cannot read). Exits 1 unless clean; the report is printed all the same. ' +
    'While a daemon runs it runs inside it and sees live writes.',
  options: [{ flags: '--repair', description: 'rewrite derived data that differs' }],
  params: { repair: optional(flag()) },
  input: cli => (cli.opts.repair === true ? { repair: true } : {}),
  async run ({ hub }, p) {
    const { doctor: check } = await import('../../store/doctor.js')
    const report = await check(hub, { repair: p.repair === true })
    // Organization records are checked, never repaired: each operation writes them in one batch, so damage means a bug.
    // Loaded here, not at the top: `hub start` loads every command module, and the organization half is ~25 modules it does not need.
    const { orgOf } = await import('../../org/hub-org.js')
    const org = await orgOf(hub).check()
    return { ...report, clean: report.clean && org.length === 0, org: { problems: org } }
  },
  after (r) {
    if (r.clean !== true) process.exitCode = 1
    return r
  },
  human (r) {
    let out = ''
    for (const t of r.tenants as unknown as TenantReport[]) {
      out += `tenant ${t.tenant}: ${t.commits} commit(s), ${t.objects} object(s), ` +
        `${t.problems.length === 0 ? 'no problems' : `${t.problems.length} problem(s)`}` +
        `${t.repaired > 0 ? `, ${t.repaired} derived key(s) repaired` : ''}` +
        `${t.remaining !== undefined ? `, ${t.remaining.length} remaining` : ''}\n`
      for (const p of t.remaining ?? t.problems) {
        out += `  ${p.code} (${p.kind})${p.objectId !== undefined ? ` object ${p.objectId}` : ''}${p.commitId !== undefined ? ` commit ${p.commitId}` : ''}: ${p.detail}\n`
      }
      for (const n of t.notes) out += `  note: ${n}\n`
    }
    out += `organization records: ${r.org.problems.length === 0 ? 'no problems' : `${r.org.problems.length} problem(s)`}\n`
    for (const p of r.org.problems) out += `  ${p}\n`
    out += r.clean ? 'clean\n' : r.repair ? 'NOT clean (signed data is never changed; see above)\n' : 'NOT clean (hub doctor --repair rewrites derived data)\n'
    return out
  }
})
