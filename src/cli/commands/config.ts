/** `hub config get|set`: read and edit DIR/hub.json (the network settings). */
import { CONFIG_KEYS, getConfigValue, readConfig, withConfigValue, writeConfig, type ConfigValue } from '../../hub-config.js'
import { findDaemon } from '../../daemon/discovery.js'
import { arg } from '../input.js'
import { fields } from '../format.js'
import { localCommand } from '../spec.js'

const KEYS_HELP = Object.entries(CONFIG_KEYS).map(([k, v]) => `  ${k}: ${v.describe}`).join('\n')

export const configGet = localCommand<{ key: string, value: ConfigValue } | { settings: Record<string, ConfigValue> }>({
  name: 'config get',
  group: 'Configuration',
  usesDir: true,
  summary: 'show a setting of hub.json (without KEY: every setting)',
  description: `Show a setting of DIR/hub.json. Keys:\n${KEYS_HELP}`,
  arguments: [{ name: 'KEY', description: 'e.g. network.listen', optional: true }],
  examples: ['hub config get', 'hub config get network.listen --json'],
  async run (cli) {
    const cfg = await readConfig(cli.dir)
    const key = cli.args[0]
    if (key !== undefined) return { key, value: getConfigValue(cfg, key) }
    return { settings: Object.fromEntries(Object.keys(CONFIG_KEYS).map(k => [k, getConfigValue(cfg, k)])) }
  },
  human: r => 'settings' in r ? fields(Object.entries(r.settings).map(([k, v]) => [k, Array.isArray(v) ? (v.length > 0 ? v.join(' ') : '(default)') : v])) : `${Array.isArray(r.value) ? r.value.join('\n') : String(r.value)}\n`
})

export const configSet = localCommand<{ key: string, value: ConfigValue, daemonRunning: boolean }>({
  name: 'config set',
  group: 'Configuration',
  usesDir: true,
  summary: 'change a setting of hub.json (no VALUE: back to the default); takes effect at the next start',
  description: `Change a setting of DIR/hub.json; several values for a list key are several words. No value unsets the key. ` +
    `A malformed value changes nothing. A running daemon keeps its settings until it is restarted. Keys:\n${KEYS_HELP}`,
  arguments: [{ name: 'KEY', description: 'e.g. network.listen' }, { name: 'VALUE...', description: 'the value(s)', optional: true }],
  examples: ['hub config set network.listen /ip4/0.0.0.0/tcp/4001 /ip4/0.0.0.0/tcp/4002/ws', 'hub config set network.relay true', 'hub config set network.bootstrap'],
  async run (cli) {
    const key = arg(cli, 0, 'KEY')
    const values = cli.args.slice(1).flatMap(v => v === undefined ? [] : Array.isArray(v) ? v as string[] : [v])
    const next = withConfigValue(await readConfig(cli.dir), key, values)
    await writeConfig(cli.dir, next)
    return { key, value: getConfigValue(next, key), daemonRunning: (await findDaemon(cli.dir)) !== undefined }
  },
  human: r => `${r.key} = ${Array.isArray(r.value) ? (r.value.length > 0 ? r.value.join(' ') : '(default)') : String(r.value)}\n` +
    (r.daemonRunning ? 'the running daemon keeps its current settings: restart it (hub stop; hub start) to apply\n' : '')
})
