/**
 * A one-line progress bar on stderr, drawn only on a terminal (stdout stays
 * clean for --json, and logs/pipes get nothing).
 */
export class ProgressBar {
  readonly #enabled: boolean
  #last = 0

  constructor (enabled = process.stderr.isTTY === true) {
    this.#enabled = enabled
  }

  update (done: number, total: number, label: string): void {
    if (!this.#enabled) return
    const now = Date.now()
    if (now - this.#last < 80 && done < total) return
    this.#last = now
    const width = 30
    const frac = total > 0 ? Math.min(1, done / total) : 1
    const filled = Math.round(frac * width)
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`)
  }

  done (): void {
    if (this.#enabled) process.stderr.write('\n')
  }
}
