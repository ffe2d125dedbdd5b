/** `hub collection list`: the collections this hub holds, with counts and whether each is encrypted. */
import { page, pageTable } from '../format.js'
import { hubCommand } from '../spec.js'

interface CollectionRow { context: string | null, type: string | null, tag: string | null, objects: number, encrypted: boolean, plaintextObjects: number }

export const collectionList = hubCommand({
  name: 'collection list',
  group: 'Collections',
  summary: 'the collections this hub holds: objects in each, and whether it is encrypted',
  description: 'Every collection (@context and @type) with live objects or a content key. An encrypted collection this hub ' +
    'cannot read (a blind hub) shows its tag only. plaintextObjects counts objects created before the collection was ' +
    'encrypted, which stay plaintext (see "hub collection encrypt --help").',
  params: {},
  input: () => ({}),
  async run ({ hub }) {
    const keys = hub.store.keyring.all()
    const byTag = new Map(keys.map(k => [k.tag, k]))
    const rows = new Map<string, CollectionRow>()
    const row = (context: string | null, type: string | null, tag: string | null): CollectionRow => {
      const id = context !== null && type !== null ? `n ${context} ${type}` : `t ${String(tag)}`
      let r = rows.get(id)
      if (r === undefined) rows.set(id, r = { context, type, tag, objects: 0, encrypted: tag !== null, plaintextObjects: 0 })
      return r
    }
    for (const k of keys) {
      const r = row(k.context, k.type, k.tag)
      r.encrypted = true
      r.tag = k.tag
    }
    let cursor: string | null = null
    do {
      const p: { objects: Array<{ context: string | null, type: string | null, tag: string | null }>, cursor: string | null } =
        await hub.collections.query({ limit: 1000, ...(cursor !== null ? { cursor } : {}) })
      for (const o of p.objects) {
        const k = o.tag !== null ? byTag.get(o.tag) : undefined
        const r = k !== undefined ? row(k.context, k.type, k.tag) : row(o.context, o.type, o.tag)
        r.objects++
        if (o.tag === null && r.encrypted) r.plaintextObjects++
      }
      cursor = p.cursor
    } while (cursor !== null)
    // Plaintext objects of a collection encrypted later: counted under its names, above.
    return page([...rows.values()].sort((a, b) => `${a.context ?? '~'} ${a.type ?? a.tag ?? ''}`.localeCompare(`${b.context ?? '~'} ${b.type ?? b.tag ?? ''}`)))
  },
  human: r => pageTable(r, 'collection(s)', [
    ['CONTEXT', c => c.context ?? '(encrypted)'], ['TYPE', c => c.type ?? `tag ${String(c.tag)}`], ['OBJECTS', c => c.objects],
    ['ENCRYPTED', c => c.encrypted ? (c.plaintextObjects > 0 ? `yes (${c.plaintextObjects} older in plaintext)` : 'yes') : 'no']
  ])
})
