/** Hash routes of the page: `#/collections`, `#/objects?context=…`, `#/object/ID`, `#/sharing`, `#/audit`, `#/devices`, `#/org`. */
export function navigate (hash: string): void {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'))
  else location.hash = hash
}

export function currentRoute (): { path: string, params: URLSearchParams } {
  const raw = location.hash.replace(/^#/, '') || '/collections'
  const [path, qs] = raw.split('?', 2) as [string, string | undefined]
  return { path, params: new URLSearchParams(qs ?? '') }
}
