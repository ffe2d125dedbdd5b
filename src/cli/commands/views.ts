/** Terminal forms shared by several commands. */
import type { ObjectView } from '../../objects/view.js'
import { fields, pageTable, type Page } from '../format.js'

/** "created bafy…\n  commit bafy…" for a write, update or delete. */
export function writeSummary (verb: string, r: { objectId: string, commitId?: string }): string {
  return `${verb} ${r.objectId}\n` + (r.commitId !== undefined ? `  commit ${r.commitId}\n` : '')
}

/** One object: its metadata, then its value. */
export function objectView (o: ObjectView): string {
  return fields([
    ['object', o.objectId],
    ['collection', o.context !== null ? `${o.context} ${String(o.type)}` : `(encrypted, tag ${String(o.tag)})`],
    ['created', o.createdAt],
    ['updated', o.updatedAt],
    ...(o.deleted === true ? [['deleted', true] as const] : [])
  ]) + (o.value !== null ? JSON.stringify(o.value, null, 2) + '\n' : '(no readable value)\n')
}

/** Query results as a table: id, type, the value on one line. */
export function objectTable (p: Page<ObjectView>): string {
  return pageTable(p, 'object(s)', [['OBJECT', o => o.objectId], ['TYPE', o => o.type ?? '(encrypted)'], ['VALUE', o => JSON.stringify(o.value)]])
}
