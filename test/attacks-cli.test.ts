/**
 * Hostile tests of this week's surfaces, driven from outside: the daemon's
 * typed control channel, `hub archive import`, `hub backup` / `hub init
 * --restore`, `hub config set`, `hub start --bootstrap`, CLI parsing, and
 * sync introductions / revocation notices between real libp2p nodes.
 *
 * Every test is an attack whose expected outcome is the documented, safe
 * behaviour (a typed error, nothing changed — read back). Tests whose
 * comment starts "Was a hole" reproduce holes this file found (each was an
 * `it.fails` until fixed): they guard against their return.
 */
import { spawn } from 'node:child_process'
import { cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as jose from 'jose'
import { BIN, hub, ok, fails, startDaemon, killAll, type Daemon } from './cli-helpers.js'
import { device, eventually, founder, startHub, stopAll, stopHub } from './net-helpers.js'
import { cleanup, playlist, tempDir } from './helpers.js'
import { createLogger } from '../src/log.js'

const PASS = 'correct horse battery staple'
const PL = (name: string): string => JSON.stringify(playlist(name))

let root: string
let A: string // a hub with a daemon (owner A)
let B: string // a hub of another owner, no daemon
let daemon: Daemon
let ownerA: string
let ownerB: string
let archiveA: string
let passFile: string

async function control (body: string, secret?: string, method = 'POST'): Promise<{ status: number, body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (secret !== undefined) headers.authorization = `Bearer ${secret}`
  const res = await fetch(`${daemon.info.control.url}/v1/command`, { method, headers, ...(method === 'POST' ? { body } : {}) })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

async function names (dir: string): Promise<string[]> {
  const r = await ok(['query', '--dir', dir, '--type', 'MusicPlaylist', '--limit', '1000'])
  return (r.items as Array<{ value: { name: string } }>).map(o => o.value.name).sort()
}

/** Spawn the CLI and give it `ms` to exit on its own; a process still running then is killed (and reported as a hang). */
async function runBounded (args: string[], ms: number): Promise<{ code: number | null, hung: boolean, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let hung = false
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const t = setTimeout(() => { hung = true; child.kill('SIGKILL') }, ms)
    child.on('close', code => { clearTimeout(t); resolve({ code, hung, stdout, stderr }) })
  })
}

beforeAll(async () => {
  root = await tempDir('attacks-cli-')
  A = join(root, 'a')
  B = join(root, 'b')
  passFile = join(root, 'pass.txt')
  await writeFile(passFile, PASS + '\n')
  const [ia, ib] = await Promise.all([ok(['init', '--dir', A]), ok(['init', '--dir', B])])
  ownerA = ia.did as string
  ownerB = ib.did as string
  for (const n of ['a1', 'a2', 'a3']) await ok(['write', '--dir', A], { stdin: PL(n) })
  await ok(['write', '--dir', B], { stdin: PL('b1') })
  archiveA = join(root, 'a.ndjson')
  await ok(['archive', 'export', '--dir', A, '--out', archiveA])
  daemon = await startDaemon(A)
}, 60_000)

afterAll(async () => {
  await killAll()
  await stopAll()
  await cleanup()
})

describe('the daemon control channel', () => {
  it('no, a wrong, an empty or a non-Bearer secret is authentication_failed, and nothing runs', async () => {
    const secret = (await readFile(join(A, 'control.secret'), 'utf8')).trim()
    const write = JSON.stringify({ command: 'write', params: { value: playlist('via forged secret') } })
    for (const s of [undefined, '', 'x' + secret, secret.slice(0, -1), secret.toUpperCase()]) {
      const r = await control(write, s)
      expect(r.status).toBe(401)
      expect(r.body).toMatchObject({ error: { code: 'authentication_failed' } })
    }
    const basic = await fetch(`${daemon.info.control.url}/v1/command`, { method: 'POST', headers: { authorization: `Basic ${secret}` }, body: write })
    expect(basic.status).toBe(401)
    expect(await names(A)).toEqual(['a1', 'a2', 'a3'])
  })

  it('argv bodies, wrong types, unknown and prototype keys, nested objects, unknown or daemon-less commands are bad_request; a huge body is too_large; nothing changes', async () => {
    const secret = (await readFile(join(A, 'control.secret'), 'utf8')).trim()
    const devicesBefore = await ok(['device', 'list', '--dir', A])
    const bodies: Array<[string, string, number]> = [
      ['not json', 'bad_request', 400],
      ['["write"]', 'bad_request', 400],
      ['{"argv":["write","--encrypt"]}', 'bad_request', 400],
      ['{"command":["write"],"params":{}}', 'bad_request', 400],
      ['{"command":"info","params":null}', 'bad_request', 400],
      ['{"command":"info","params":[]}', 'bad_request', 400],
      ['{"command":"info","params":"--json"}', 'bad_request', 400],
      ['{"command":"device invite","params":{"ttlSeconds":"600"}}', 'bad_request', 400],
      ['{"command":"device invite","params":{"ttlSeconds":{"valueOf":600}}}', 'bad_request', 400],
      ['{"command":"device invite","params":{"ttlSeconds":600,"evil":1}}', 'bad_request', 400],
      ['{"command":"device invite","params":{"__proto__":{"ttlSeconds":1}}}', 'bad_request', 400],
      ['{"command":"device invite","params":{"constructor":{"prototype":{"role":"blind"}}}}', 'bad_request', 400],
      ['{"command":"grant","params":{"grantee":["did:key:z6Mk"],"context":"https://schema.org","type":"MusicPlaylist","allow":"-R--"}}', 'bad_request', 400],
      ['{"command":"grant","params":{"grantee":{"toString":"x"},"context":"https://schema.org","type":"MusicPlaylist","allow":"-R--"}}', 'bad_request', 400],
      ['{"command":"read","params":{"objectId":{"toString":"x"}}}', 'bad_request', 400],
      ['{"command":"query","params":{"limit":1e308}}', 'bad_request', 400],
      ['{"command":"query","params":{"type":"MusicPlaylist","where":[{"a":1}]}}', 'bad_request', 400],
      ['{"command":"write","params":{"strategy":{"a":1},"value":{}}}', 'bad_request', 400],
      ['{"command":"write","params":{"stdin":"{}"}}', 'bad_request', 400],
      ['{"command":"init","params":{}}', 'bad_request', 400],
      ['{"command":"init","params":{"restore":"/etc/passwd"}}', 'bad_request', 400],
      ['{"command":"start","params":{}}', 'bad_request', 400],
      ['{"command":"stop","params":{}}', 'bad_request', 400],
      ['{"command":"config set","params":{"key":"network.relay","values":["true"]}}', 'bad_request', 400],
      ['{"command":"identity new","params":{}}', 'bad_request', 400],
      ['{"command":"client query","params":{}}', 'bad_request', 400],
      ['{"command":"__proto__","params":{}}', 'bad_request', 400],
      ['{"command":"constructor","params":{}}', 'bad_request', 400],
      ['{"command":"toString","params":{}}', 'bad_request', 400],
      ['{"command":"backup","params":{"passphrase":"short"}}', 'bad_request', 400],
      ['{"command":"backup","params":{"passphrase":"correct horse battery","out":"/tmp/x.jwe"}}', 'bad_request', 400],
      ['{"command":"backup","params":{"passphrase":"correct horse battery","dir":"/elsewhere"}}', 'bad_request', 400],
      [JSON.stringify({ command: 'info', params: {}, pad: 'x'.repeat(9 << 20) }), 'too_large', 413]
    ]
    for (const [body, code, status] of bodies) {
      const r = await control(body, secret)
      expect({ body: body.slice(0, 120), status: r.status, r: r.body }).toMatchObject({ status, r: { error: { code } } })
    }
    const get = await control('', secret, 'GET')
    expect(get.body).toMatchObject({ error: { code: 'bad_request' } })
    // Nothing changed, and the daemon is still the one we started.
    expect(await names(A)).toEqual(['a1', 'a2', 'a3'])
    expect(await ok(['device', 'list', '--dir', A])).toEqual(devicesBefore)
    expect(await ok(['status', '--dir', A])).toMatchObject({ running: true, pid: daemon.info.pid })
    expect((await ok(['config', 'get', '--dir', A]))).not.toHaveProperty('relay', true)
  })
})

describe('hub archive import', () => {
  it('an archive of another owner is wrong_owner, and one whose header lies stores nothing', async () => {
    await fails(['archive', 'import', '--dir', B, archiveA], 'wrong_owner')
    const lines = (await readFile(archiveA, 'utf8')).trimEnd().split('\n')
    const lie = join(root, 'lie.ndjson')
    await writeFile(lie, [lines[0]?.replace(ownerA, ownerB), ...lines.slice(1)].join('\n') + '\n')
    const r = await ok(['archive', 'import', '--dir', B, lie])
    expect(r).toMatchObject({ stored: 0, rejected: { wrong_owner: lines.length - 2 } })
    expect(await names(B)).toEqual(['b1'])
  })

  it('forged and tampered commits are rejected and not stored; malformed archives are bad_request; the daemon keeps working', async () => {
    const lines = (await readFile(archiveA, 'utf8')).trimEnd().split('\n')
    const header = lines[0] as string
    const end = lines.at(-1) as string
    const commits = lines.slice(1, -1)
    // A tampered commit: a changed payload byte under the owner's signature.
    const env = JSON.parse((JSON.parse(commits.at(-1) as string) as { commit: string }).commit) as { protected: string, payload: string, signature: string }
    const payload = Buffer.from(env.payload, 'base64url')
    payload[payload.length - 1] = (payload[payload.length - 1] as number) ^ 1
    const tampered = JSON.stringify({ commit: JSON.stringify({ ...env, payload: payload.toString('base64url') }) })
    // A forged commit: the owner's header, a stranger's signature.
    const forged = JSON.stringify({ commit: JSON.stringify({ ...env, signature: Buffer.alloc(64, 7).toString('base64url') }) })
    const dir = join(root, 'archives')
    await mkdir(dir)
    const file = async (name: string, text: string): Promise<string> => { const p = join(dir, name); await writeFile(p, text); return p }
    const bad = await file('bad.ndjson', [header, tampered, forged, '{"end":true,"commits":2}'].join('\n') + '\n')
    const r = await ok(['archive', 'import', '--dir', A, bad])
    expect(r).toMatchObject({ stored: 0, present: 0 })
    expect(Object.values(r.rejected as Record<string, number>).reduce((x, y) => x + y, 0)).toBe(2)

    const cases: Array<[string, string, string]> = [
      ['no header', commits.join('\n') + '\n' + end + '\n', 'bad_request'],
      ['empty', '', 'bad_request'],
      ['not an archive', 'root:x:0:0:root:/root:/bin/bash\n', 'bad_request'],
      ['version 2', [header.replace('"version":1', '"version":2'), ...commits, end].join('\n') + '\n', 'bad_request'],
      ['a line after the end', [header, ...commits, end, commits[0]].join('\n') + '\n', 'bad_request'],
      ['an end marker that lies', [header, ...commits, '{"end":true,"commits":99}'].join('\n') + '\n', 'bad_request'],
      ['a line holding no commit', [header, '{"commit":{"a":1}}', '{"end":true,"commits":1}'].join('\n') + '\n', 'bad_request'],
      ['a __proto__ line', [header, '{"__proto__":{"commit":"x"}}', '{"end":true,"commits":1}'].join('\n') + '\n', 'bad_request'],
      ['truncated (no end marker)', [header, ...commits.slice(0, 2)].join('\n') + '\n', 'bad_request'],
      ['cut mid-line', [header, ...commits].join('\n').slice(0, -20), 'bad_request'],
      ['a duplicated line', [header, commits[0], ...commits, end].join('\n') + '\n', 'bad_request']
    ]
    for (const [what, text, code] of cases) {
      const p = await file(`${what.replace(/\W+/g, '-')}.ndjson`, text)
      const r2 = await hub(['archive', 'import', '--dir', A, p, '--json'])
      expect({ what, code: r2.code, stdout: r2.stdout }).toEqual({ what, code: 1, stdout: '' })
      expect((JSON.parse(r2.stderr) as { error: { code: string } }).error.code, what).toMatch(new RegExp(`^${code}$`))
    }
    // A 3 MB line: counted as rejected too_large, nothing stored.
    const big = await file('big.ndjson', [header, JSON.stringify({ commit: 'x'.repeat(3 << 20) }), '{"end":true,"commits":1}'].join('\n') + '\n')
    expect(await ok(['archive', 'import', '--dir', A, big])).toMatchObject({ stored: 0, present: 0, rejected: { too_large: 1 } })
    await fails(['archive', 'import', '--dir', A, join(dir, 'nonexistent')], 'not_found')
    expect(await names(A)).toEqual(['a1', 'a2', 'a3'])
    expect(await ok(['status', '--dir', A])).toMatchObject({ running: true, pid: daemon.info.pid })
  })

  // Was a hole (found by this file, fixed since): `hub archive import DIR` (a directory) is `internal` (exit 70: "EISDIR: illegal operation on a
  // directory, read") instead of bad_request, like `init --restore DIR` already answers.
  it('a directory as FILE is bad_request, not internal', async () => {
    const r = await hub(['archive', 'import', '--dir', B, root, '--json'])
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'bad_request' } })
  })

  // Was a hole (found by this file, fixed since): `hub archive import /dev/zero` (any file holding a line beyond V8's string limit) crashes
  // the process with an uncaught "RangeError: Invalid string length" from readline — the CLI prints a
  // stack trace instead of {"error":…}, and when a daemon runs, the DAEMON dies (control channel gone,
  // a stale daemon.json left behind). Expected: bad_request/too_large at the 1 MiB commit limit, hub alive.
  it('/dev/zero as FILE is refused with a typed error, and the daemon running the import survives', async () => {
    const C = join(root, 'c')
    await ok(['init', '--dir', C])
    const d = await startDaemon(C)
    const r = await hub(['archive', 'import', '--dir', C, '/dev/zero', '--json'])
    const alive = d.child.exitCode === null && d.child.signalCode === null
    expect(alive).toBe(true)
    expect(r.code).toBe(1)
    expect((JSON.parse(r.stderr) as { error: { code: string } }).error.code).toMatch(/^(bad_request|too_large)$/)
  }, 30_000)
})

describe('hub backup and hub init --restore', () => {
  let backup: string
  beforeAll(async () => {
    backup = join(root, 'owner.jwe')
    await ok(['backup', '--dir', A, '--out', backup, '--passphrase-file', passFile])
  })

  it('the backup is 0600 and never overwritten; a short passphrase writes nothing', async () => {
    expect((await stat(backup)).mode & 0o777).toBe(0o600)
    const before = await readFile(backup, 'utf8')
    await fails(['backup', '--dir', A, '--out', backup, '--passphrase-file', passFile], 'already_exists')
    expect(await readFile(backup, 'utf8')).toBe(before)
    const short = join(root, 'short.txt')
    await writeFile(short, 'elevenchars\n')
    const out = join(root, 'short.jwe')
    await fails(['backup', '--dir', A, '--out', out, '--passphrase-file', short], 'bad_request')
    expect(existsSync(out)).toBe(false)
  })

  it('a wrong passphrase, a tampered JWE, an absurd p2c, a key that is not its DID\'s, garbage files: bad_request, no directory made', async () => {
    const wrong = join(root, 'wrong.txt')
    await writeFile(wrong, 'wrong horse battery staple\n')
    const parts = (await readFile(backup, 'utf8')).trim().split('.')
    const withHeader = (h: Record<string, unknown>): string => [Buffer.from(JSON.stringify(h)).toString('base64url'), ...parts.slice(1)].join('.')
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString()) as Record<string, unknown>
    const ct = Buffer.from(parts[3] as string, 'base64url')
    ct[0] = (ct[0] as number) ^ 1
    // Re-sealed with any JOSE library: a payload whose ownerDid is B's while its key is A's.
    const pass = new TextEncoder().encode(PASS)
    const opened = await jose.compactDecrypt(parts.join('.'), pass, { keyManagementAlgorithms: ['PBES2-HS512+A256KW'], maxPBES2Count: 1_000_000 })
    const secrets = JSON.parse(new TextDecoder().decode(opened.plaintext)) as Record<string, unknown>
    const reseal = async (p: Record<string, unknown>): Promise<string> => await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify(p))).setProtectedHeader(opened.protectedHeader).encrypt(pass)
    const files: Record<string, string> = {
      tampered: [...parts.slice(0, 3), ct.toString('base64url'), parts[4]].join('.'),
      p2cHuge: withHeader({ ...header, p2c: 2_147_483_647 }),
      p2cTenMillion: withHeader({ ...header, p2c: 10_000_000 }),
      p2cNegative: withHeader({ ...header, p2c: -1 }),
      algNone: withHeader({ ...header, alg: 'dir' }),
      mismatch: await reseal({ ...secrets, ownerDid: ownerB }),
      shortKey: await reseal({ ...secrets, ownerKey: 'AAAA' }),
      protoKey: await reseal({ ...secrets, ownerKey: { __proto__: { x: 1 } } }),
      notJwe: 'hello',
      fiveDots: 'a.b.c.d.e'
    }
    let i = 0
    for (const [what, text] of Object.entries(files)) {
      const f = join(root, `${what}.jwe`)
      await writeFile(f, text)
      const dir = join(root, `restore-${i++}`)
      const r = await hub(['init', '--dir', dir, '--restore', f, '--passphrase-file', passFile, '--json'])
      expect({ what, code: r.code, stdout: r.stdout }).toEqual({ what, code: 1, stdout: '' })
      expect(JSON.parse(r.stderr), what).toMatchObject({ error: { code: 'bad_request' } })
      expect(existsSync(dir), what).toBe(false)
    }
    for (const [file, pf] of [[backup, wrong], ['/dev/zero', passFile], [root, passFile], [backup, '/dev/zero'], [backup, root]] as Array<[string, string]>) {
      const dir = join(root, `restore-${i++}`)
      await fails(['init', '--dir', dir, '--restore', file, '--passphrase-file', pf], 'bad_request')
      expect(existsSync(dir)).toBe(false)
    }
  }, 30_000)

  it('restoring into an existing hub directory is already_exists and leaves it as it was', async () => {
    const before = await readFile(join(B, 'hub.json'), 'utf8')
    const keysBefore = await readdir(join(B, 'keys'))
    await fails(['init', '--dir', B, '--restore', backup, '--passphrase-file', passFile], 'already_exists')
    expect(await readFile(join(B, 'hub.json'), 'utf8')).toBe(before)
    expect(await readdir(join(B, 'keys'))).toEqual(keysBefore)
    expect((await ok(['info', '--dir', B])).did).toBe(ownerB)
    // and into the directory of a running daemon
    await fails(['init', '--dir', A, '--restore', backup, '--passphrase-file', passFile], 'already_exists')
    expect(await names(A)).toEqual(['a1', 'a2', 'a3'])
  })
})

describe('hub config set', () => {
  it('malformed values and unknown keys are bad_request and leave hub.json byte-for-byte unchanged', async () => {
    const file = join(B, 'hub.json')
    const before = await readFile(file, 'utf8')
    const attempts = [
      ['network.relay', '1'], ['network.relay', 'true', 'false'], ['network.relay', '{"a":1}'], ['network.mdns', 'maybe'],
      ['network.listen', 'notamultiaddr'], ['network.listen', '/ip4/1.2.3.4/tcp/99999'], ['network.listen', '/ip4/0.0.0.0/tcp/4001', 'garbage'],
      ['network.bootstrap', '/ip4/127.0.0.1/tcp/1'],
      ['network'], ['network', '{}'], ['__proto__.polluted', 'x'], ['constructor.prototype.x', '1'], ['network.__proto__', 'x'],
      ['network.listen.0', '/ip4/1.2.3.4/tcp/1'], ['foo', 'bar'], ['identity.seed', 'x']
    ]
    for (const a of attempts) {
      await fails(['config', 'set', '--dir', B, ...a], 'bad_request')
      expect(await readFile(file, 'utf8'), a.join(' ')).toBe(before)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  // Was a hole (found by this file, fixed since): `config set network.bootstrap /ip4/127.0.0.1/tcp/1/p2p/notapeer` is accepted (only the
  // "/p2p/" suffix is checked, not that a peer id follows), and every later `hub start` then dies:
  // it prints {"error":{"code":"internal",…"multibase decoder"…}} and crashes with an uncaught
  // InvalidParametersError from a reconnect timer (exit 1; with --detach, exit 70).
  it('a bootstrap address whose /p2p/ part is not a peer id is bad_request, hub.json unchanged', async () => {
    const D = join(root, 'cfg')
    await ok(['init', '--dir', D])
    const before = await readFile(join(D, 'hub.json'), 'utf8')
    await fails(['config', 'set', '--dir', D, 'network.bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/notapeer'], 'bad_request')
    expect(await readFile(join(D, 'hub.json'), 'utf8')).toBe(before)
  })

  // Was a hole (found by this file, fixed since): the help and the error message say network.relay / network.mdns take "true or false"
  // (and "1" is refused), yet "yes", "on", "no", "off", "True" are silently accepted and written.
  it('network.relay "yes" is malformed per the documented (true|false) and changes nothing', async () => {
    const file = join(B, 'hub.json')
    const before = await readFile(file, 'utf8')
    const r = await hub(['config', 'set', '--dir', B, 'network.relay', 'yes', '--json'])
    const after = await readFile(file, 'utf8')
    if (after !== before) await writeFile(file, before) // undo, for the other tests
    expect(r.code).toBe(1)
    expect(after).toBe(before)
  })
})

describe('hub start', () => {
  it('--detach: the log file and daemon files are 0600, also with --log-file', async () => {
    const E = join(root, 'e')
    await ok(['init', '--dir', E])
    const log = join(root, 'custom.log')
    await ok(['start', '--dir', E, '--detach', '--log-file', log])
    try {
      for (const f of [log, join(E, 'daemon.json'), join(E, 'control.secret')]) expect((await stat(f)).mode & 0o777, f).toBe(0o600)
    } finally {
      await ok(['stop', '--dir', E])
    }
    expect(existsSync(join(E, 'daemon.json'))).toBe(false)
  })

  // Was a hole (found by this file, fixed since): `hub start --bootstrap garbage` (or /…/p2p/notapeer) prints {"error":{"code":"internal",…}}
  // and then does not exit: the foreground process hangs (a malformed --listen is bad_request, as documented).
  it('a malformed --bootstrap is bad_request and the process exits', async () => {
    const F = join(root, 'f')
    await ok(['init', '--dir', F])
    const r = await runBounded(['start', '--dir', F, '--bootstrap', 'garbage', '--json'], 8_000)
    expect(r.hung).toBe(false)
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'bad_request' } })
  }, 20_000)
})

describe('collection encrypt refuses a collection with plaintext objects', () => {
  it('collection encrypt and write --encrypt are both conflict; nothing is encrypted, nothing written', async () => {
    await fails(['collection', 'encrypt', '--dir', A, '--context', 'https://schema.org', '--type', 'MusicPlaylist'], 'conflict')
    await fails(['write', '--dir', A, '--encrypt'], 'conflict', { stdin: PL('sneaky') })
    const list = await ok(['collection', 'list', '--dir', A])
    expect(list.items).toEqual([expect.objectContaining({ type: 'MusicPlaylist', encrypted: false, objects: 3 })])
    expect(await names(A)).toEqual(['a1', 'a2', 'a3'])
  })
})

describe('CLI parsing', () => {
  it('values that look like options, unknown options, odd --field paths: one JSON error on stderr, nothing on stdout', async () => {
    const grantsBefore = await ok(['grants', '--dir', A])
    await fails(['grant', '--dir', A, '--grantee', '--allow', '-R--', '--context', 'https://schema.org', '--type', 'MusicPlaylist'], 'bad_request')
    await fails(['grant', '--dir', A, '--grantee', 'did:key:z6Mkx', '--allow', '-R--', '--context', 'https://schema.org', '--type', 'MusicPlaylist', '--allow', 'CRUDX'], 'bad_request')
    await fails(['read', '--dir', A, '--bogus', 'x'], 'bad_request')
    await fails(['bogus'], 'bad_request')
    await fails(['read', '--dir', A, 'bafkreinope'], 'bad_request')
    await fails(['query', '--dir', A, '--limit', '0'], 'bad_request')
    await fails(['query', '--dir', A, '--limit', '--json'], 'bad_request')
    await fails(['write', '--dir', A], 'bad_request', { stdin: '{"a":' })
    await fails(['write', '--dir', A], 'bad_request', { stdin: '"just a string"' })
    expect(await ok(['grants', '--dir', A])).toEqual(grantsBefore)
    for (const f of ['__proto__', 'constructor', 'constructor.name', '__proto__.toString', 'did.length', 'toString', 'hasOwnProperty', '']) {
      const r = await hub(['info', '--dir', A, '--field', f])
      expect({ f, code: r.code, stdout: r.stdout }).toEqual({ f, code: 1, stdout: '' })
      const j = await hub(['info', '--dir', A, '--field', f, '--json'])
      expect({ f, code: j.code, stdout: j.stdout }).toEqual({ f, code: 1, stdout: '' })
      expect(JSON.parse(j.stderr), f).toMatchObject({ error: { code: 'not_found' } })
    }
    expect(await names(A)).toEqual(['a1', 'a2', 'a3'])
  }, 120_000)
})

describe('sync: introductions and revocation notices (in-process nodes)', () => {
  it('a stranger owner\'s hub bootstrapping to a victim with data gets none and plants none, both ways', async () => {
    const victim = await founder()
    await victim.hub.collections.create(playlist('victim secret'))
    const strangerDir = join(await tempDir('net-'), 's')
    // The stranger has data and names the victim as its bootstrap peer.
    const { Hub } = await import('../src/hub.js')
    await Hub.init(strangerDir)
    const lines: string[] = []
    const stranger = await startHub(strangerDir, { bootstrap: victim.node.multiaddrs(), logger: createLogger('hub', 'debug', l => { lines.push(l) }) })
    await stranger.hub.collections.create(playlist('planted'))
    await eventually(() => lines.some(l => l.includes('introduction refused')), 15_000, 'the victim to refuse the introduction')
    // A direct sync pass by the stranger too.
    await stranger.node.syncOnce(victim.node.multiaddrs()[0] as string).catch(() => undefined)
    expect(victim.hub.devices.list().map(d => d.device)).toEqual([victim.hub.hubDid])
    expect(stranger.hub.devices.list().map(d => d.device)).toEqual([stranger.hub.hubDid])
    const vNames = (await victim.hub.collections.query({ limit: 100 })).objects.map(o => o.value?.name)
    const sNames = (await stranger.hub.collections.query({ limit: 100 })).objects.map(o => o.value?.name)
    expect(vNames).toEqual(['victim secret'])
    expect(sNames).toEqual(['planted'])
  }, 30_000)

  it('a revoked device restarted from a copy made before it heard (re-presenting its old authorization) is refused: gets nothing new, plants nothing', async () => {
    const a = await founder()
    const b = await device(a)
    await a.hub.collections.create(playlist('before'))
    await eventually(async () => (await b.hub.collections.query({ limit: 10 })).objects.length === 1, 15_000, 'B to sync')
    await stopHub(b)
    const copy = join(await tempDir('net-'), 'b-copy')
    await cp(b.dir, copy, { recursive: true })
    await a.hub.devices.revoke(b.hub.hubDid)
    await a.hub.collections.create(playlist('after revocation'))
    // The copy wakes up not knowing, writes offline, and introduces itself to A again, across restarts.
    let bc = await startHub(copy)
    await bc.hub.collections.create(playlist('offline write by the revoked device'))
    await stopHub(bc)
    for (let round = 0; round < 2; round++) {
      bc = await startHub(copy, { bootstrap: a.node.multiaddrs() })
      const pass = await bc.node.syncOnce(a.node.multiaddrs()[0] as string).then(() => 'completed', (e: { code?: string }) => e.code ?? 'error')
      expect(pass).not.toBe('completed')
      await stopHub(bc)
    }
    bc = await startHub(copy)
    const bNames = (await bc.hub.collections.query({ limit: 100 })).objects.map(o => o.value?.name)
    expect(bNames).not.toContain('after revocation')
    const aNames = (await a.hub.collections.query({ limit: 100 })).objects.map(o => o.value?.name).sort()
    expect(aNames).toEqual(['after revocation', 'before'])
    expect(a.hub.devices.list().find(d => d.device === b.hub.hubDid)?.revokedAt).toBeTypeOf('number')
  }, 45_000)

  it('a live device that learned it is revoked receives nothing but the revocation, refuses its own writes after a restart, and re-introducing itself gets it nothing', async () => {
    const a = await founder()
    const b = await device(a)
    await a.hub.collections.create(playlist('before'))
    await eventually(async () => (await b.hub.collections.query({ limit: 10 })).objects.length === 1, 15_000, 'B to sync')
    await a.hub.devices.revoke(b.hub.hubDid)
    await a.hub.collections.create(playlist('after revocation'))
    await eventually(() => b.hub.devices.list().find(d => d.device === b.hub.hubDid)?.revokedAt !== undefined, 15_000, 'B to learn it is revoked')
    const dir = b.dir
    const hubDid = b.hub.hubDid
    await stopHub(b)
    const b2 = await startHub(dir, { bootstrap: a.node.multiaddrs() })
    expect(b2.hub.devices.list().find(d => d.device === hubDid)?.revokedAt).toBeTypeOf('number')
    await expect(b2.hub.collections.create(playlist('after it knows'))).rejects.toMatchObject({ code: 'permissions_required', message: expect.stringMatching(/revoked/) })
    const pass = await b2.node.syncOnce(a.node.multiaddrs()[0] as string).then(() => 'completed', (e: { code?: string }) => e.code ?? 'error')
    expect(pass).not.toBe('completed')
    const bNames = (await b2.hub.collections.query({ limit: 100 })).objects.map(o => o.value?.name)
    expect(bNames).toEqual(['before'])
    const aNames = (await a.hub.collections.query({ limit: 100 })).objects.map(o => o.value?.name).sort()
    expect(aNames).toEqual(['after revocation', 'before'])
  }, 45_000)
})
