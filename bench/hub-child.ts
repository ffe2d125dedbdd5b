/**
 * A hub in a child process for the multi-process benchmarks: requests go
 * over the IPC channel, each answered once by id. `execArgv` lets a suite
 * profile the child (--cpu-prof). The child always ends: `shutdown` asks it
 * to exit and kills it after a grace period.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Op, ReplyMessage, Replies, Requests, RequestMessage } from './hub-proc.js'
import { progress } from './util.js'

const HUB_PROC = fileURLToPath(new URL('./hub-proc.js', import.meta.url))

interface Pending {
  resolve: (v: Replies[Op]) => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
}

/** A hub in its own process, driven over IPC with request/reply messages (see hub-proc.ts). */
export class HubChild {
  readonly label: string
  readonly child: ChildProcess
  readonly #pending = new Map<number, Pending>()
  readonly #exited: Promise<void>
  #next = 1
  #exit: string | undefined

  constructor (dir: string, label: string, execArgv: string[] = []) {
    this.label = label
    // stdout of the child goes to our stderr: our stdout carries only the final JSON.
    this.child = fork(HUB_PROC, [dir, label], { stdio: ['ignore', 2, 'inherit', 'ipc'], execArgv, serialization: 'json' })
    this.#exited = new Promise<void>(resolve => {
      this.child.once('exit', (code, signal) => {
        this.#exit = signal !== null ? `signal ${signal}` : `code ${String(code)}`
        this.#failAll(new Error(`hub process ${label} exited (${this.#exit})`))
        resolve()
      })
    })
    this.child.on('error', err => { this.#failAll(new Error(`hub process ${label}: ${err.message}`)) })
    this.child.on('message', (m: unknown) => { this.#onMessage(m) })
  }

  #failAll (err: Error): void {
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer)
      this.#pending.delete(id)
      p.reject(err)
    }
  }

  #onMessage (m: unknown): void {
    if (typeof m !== 'object' || m === null || typeof (m as { id?: unknown }).id !== 'number') return
    const msg = m as ReplyMessage
    const p = this.#pending.get(msg.id)
    if (p === undefined) return
    this.#pending.delete(msg.id)
    clearTimeout(p.timer)
    if (msg.ok) p.resolve(msg.result)
    else p.reject(new Error(`${this.label}: ${msg.error}`))
  }

  async call<K extends Op> (op: K, args: Requests[K], timeoutMs = 60_000): Promise<Replies[K]> {
    if (this.#exit !== undefined || !this.child.connected) throw new Error(`hub process ${this.label} is gone (${this.#exit ?? 'disconnected'})`)
    const id = this.#next++
    const msg: RequestMessage<K> = { id, op, args }
    return await new Promise<Replies[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`${this.label}: ${op} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, { resolve: v => resolve(v as Replies[K]), reject, timer })
      this.child.send(msg, err => {
        if (err === null || err === undefined) return
        clearTimeout(timer)
        this.#pending.delete(id)
        reject(err)
      })
    })
  }

  /** Ask the child to stop and exit (so --cpu-prof writes its profile); kill it if it does not within the grace period. */
  async shutdown (graceMs = 15_000): Promise<void> {
    if (this.#exit === undefined && this.child.connected) {
      await this.call('exit', {}, graceMs).catch((err: unknown) => {
        progress(`${this.label} did not exit cleanly: ${(err as Error).message}`)
      })
    }
    const killer = setTimeout(() => { if (this.#exit === undefined) this.child.kill('SIGKILL') }, 5000)
    try {
      await this.#exited
    } finally {
      clearTimeout(killer)
    }
  }
}
