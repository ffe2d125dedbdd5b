/**
 * Reading a backup passphrase: from a file (--passphrase-file, for scripts),
 * else from the terminal with echo off. Never from an argument (it would
 * sit in the shell history and in `ps`).
 */
import { BadRequestError } from '../errors.js'
import { readOptionFile } from './input.js'

export async function readPassphrase (opts: { prompt: string, file?: string | undefined, confirm?: boolean }): Promise<string> {
  if (opts.file !== undefined) return (await readOptionFile('passphrase-file', opts.file)).replace(/\r?\n$/, '')
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) {
    throw new BadRequestError('no terminal to ask for the passphrase: pass --passphrase-file FILE')
  }
  const first = await ask(opts.prompt)
  if (opts.confirm === true && await ask('again: ') !== first) throw new BadRequestError('the two passphrases differ')
  return first
}

/** One line from the terminal without echo. */
async function ask (prompt: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(prompt)
  stdin.setRawMode(true)
  stdin.resume()
  stdin.setEncoding('utf8')
  let line = ''
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: string): void => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') { stdin.off('data', onData); resolve(line); return }
          if (ch === '\u0003') { stdin.off('data', onData); reject(new BadRequestError('cancelled')); return }
          if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1)
          else line += ch
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
    process.stderr.write('\n')
  }
}
