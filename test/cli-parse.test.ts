/**
 * The command tree (src/cli/program.ts over src/cli/commands/): parsing
 * selects the right command with the right input, option values may start
 * with a dash, options are per command, typos get a suggestion, and every
 * command documents itself. No processes: the program is driven directly.
 */
import { CommanderError } from 'commander'
import { describe, expect, it } from 'vitest'
import { COMMANDS } from '../src/cli/commands/index.js'
import { buildProgram, type Selected } from '../src/cli/program.js'
import { schema, integer, optional, text, oneOf, texts } from '../src/cli/params.js'
import { pickField } from '../src/cli/format.js'

async function parse (argv: string[]): Promise<Selected> {
  let selected: Selected | undefined
  const program = buildProgram(COMMANDS, '9.9.9', s => { selected = s })
  program.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
  await program.parseAsync(argv, { from: 'user' })
  if (selected === undefined) throw new Error('no command selected')
  return selected
}

async function parseError (argv: string[]): Promise<CommanderError> {
  const err = await parse(argv).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(CommanderError)
  return err as CommanderError
}

describe('hub command line', () => {
  it('takes an option value that starts with a dash (--allow -R--)', async () => {
    const s = await parse(['grant', '--grantee', 'did:key:z6Mk', '--context', 'https://schema.org', '--type', 'MusicPlaylist', '--allow', '-R--'])
    expect(s.command.name).toBe('grant')
    expect(s.opts).toMatchObject({ allow: '-R--', grantee: 'did:key:z6Mk' })
  })

  it('selects nested commands and group commands that also run on their own', async () => {
    expect((await parse(['device', 'invite', '--ttl', '60'])).command.name).toBe('device invite')
    expect((await parse(['sync', 'status'])).command.name).toBe('sync status')
    expect((await parse(['sync', '--peer', '/ip4/127.0.0.1/tcp/1/p2p/x'])).command.name).toBe('sync')
    expect((await parse(['config', 'set', 'network.listen', '/ip4/0.0.0.0/tcp/1', '/ip4/0.0.0.0/tcp/2/ws'])).args).toEqual(['network.listen', ['/ip4/0.0.0.0/tcp/1', '/ip4/0.0.0.0/tcp/2/ws']])
  })

  it('collects repeatable options in order', async () => {
    const s = await parse(['query', '--where', 'a=1', '--where', 'b>2', '--type', 'T'])
    expect(s.opts.where).toEqual(['a=1', 'b>2'])
  })

  it('refuses an option another command has, a missing required option, extra arguments and a bad choice', async () => {
    expect((await parseError(['read', 'x', '--grantee', 'did:key:z'])).code).toBe('commander.unknownOption')
    expect((await parseError(['grant', '--grantee', 'did:key:z'])).code).toBe('commander.missingMandatoryOptionValue')
    expect((await parseError(['read', 'x', 'y'])).code).toBe('commander.excessArguments')
    expect((await parseError(['read'])).code).toBe('commander.missingArgument')
    expect((await parseError(['write', '--strategy', 'paxos'])).code).toBe('commander.invalidArgument')
  })

  it('suggests the command or option meant', async () => {
    expect((await parseError(['wrte'])).message).toMatch(/Did you mean write\?/)
    expect((await parseError(['query', '--tpye', 'x'])).message).toMatch(/Did you mean --type\?/)
  })

  it('prints the version', async () => {
    const err = await parseError(['--version'])
    expect(err.code).toBe('commander.version')
  })

  it('every command has a summary, a group, and unique flags; names are unique', () => {
    const names = COMMANDS.map(c => c.name)
    expect(new Set(names).size).toBe(names.length)
    for (const c of COMMANDS) {
      expect(c.summary.length, c.name).toBeGreaterThan(10)
      expect(c.group, c.name).not.toBe('')
      const flags = (c.options ?? []).map(o => o.flags.split(/[ ,<[]/)[0])
      expect(new Set(flags).size, c.name).toBe(flags.length)
    }
  })
})

describe('command params (what the daemon checks)', () => {
  const s = schema({ id: text(), limit: optional(integer({ min: 0, max: 10 })), sort: optional(oneOf('a', 'b')), tags: optional(texts()) })
  it('accepts a well-formed object and drops nothing', () => {
    expect(s.check({ id: 'x', limit: 3, sort: 'a', tags: ['t'] })).toEqual({ id: 'x', limit: 3, sort: 'a', tags: ['t'] })
    expect(s.check({ id: 'x' })).toEqual({ id: 'x' })
  })
  it('refuses unknown, missing and mistyped parameters with bad_request', () => {
    for (const bad of [null, [], 'x', {}, { id: '' }, { id: 1 }, { id: 'x', extra: 1 }, { id: 'x', limit: 11 }, { id: 'x', limit: 1.5 }, { id: 'x', sort: 'c' }, { id: 'x', tags: [1] }, { id: 'x', limit: '3' }]) {
      expect(() => s.check(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'bad_request' }))
    }
  })
})

describe('--field', () => {
  it('picks a value by dot path, lists by index; a missing one is not_found', () => {
    const r = { objectId: 'b1', items: [{ grantId: 'g1' }], n: 0 }
    expect(pickField(r, 'objectId')).toBe('b1')
    expect(pickField(r, 'items.0.grantId')).toBe('g1')
    expect(pickField(r, 'n')).toBe(0)
    for (const p of ['nope', 'items.1.grantId', 'objectId.length', '__proto__']) expect(() => pickField(r, p), p).toThrow(expect.objectContaining({ code: 'not_found' }))
  })
})
