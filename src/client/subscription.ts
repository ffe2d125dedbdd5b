/**
 * The app side of a live query (`Collections.subscribe`): one request id
 * that gets a response (the initial matches), then events, until either
 * side ends it. Events that race ahead of the response are held and
 * delivered after it, in order; a failing event handler ends its own
 * subscription, visibly.
 */
import { HubError, errorFromWire } from '../errors.js'
import type { RequestConnection } from './connection.js'
import { asRecord, asRemoteObject, unexpected } from './replies.js'
import type { RemoteObject, Subscription, SubscriptionEnd, SubscriptionEvent } from './types.js'

/** Send the signed subscribe request `jws` on `conn`; resolves once the hub answers with the initial matches. */
export async function openSubscription (
  conn: RequestConnection, jws: string, timeoutMs: number, onEvent: (e: SubscriptionEvent) => void | Promise<void>
): Promise<Subscription> {
  return await new Promise<Subscription>((resolve, reject) => {
    let started = false
    let finished = false
    let endWith!: (e: SubscriptionEnd) => void
    const ended = new Promise<SubscriptionEnd>(r => { endWith = r })
    const early: SubscriptionEvent[] = []
    const finish = (e: SubscriptionEnd): void => {
      if (finished) return
      finished = true
      endWith(e)
    }
    const deliver = (ev: SubscriptionEvent): void => {
      if (finished) return
      let out: void | Promise<void>
      try {
        out = onEvent(ev)
      } catch (err) {
        out = Promise.reject(err)
      }
      if (out instanceof Promise) {
        out.catch((err: unknown) => {
          finish({ code: 'internal', message: `the event handler failed: ${(err as Error)?.message ?? String(err)}` })
          void conn.sendCancel(id).catch(() => {})
        })
      }
    }
    const fail = (e: HubError): void => { clearTimeout(timer); reject(e) }
    const id = conn.register({
      response (result) {
        if (started || finished) return
        let initial: RemoteObject[]
        try {
          const r = asRecord(result, 'subscription result')
          if (!Array.isArray(r.objects)) throw unexpected('subscription result')
          initial = r.objects.map(asRemoteObject)
        } catch (err) {
          finished = true
          fail(err as HubError)
          conn.violation((err as Error).message)
          return
        }
        started = true
        clearTimeout(timer)
        resolve({
          initial,
          ended,
          async close () {
            if (finished) return
            finish({})
            await conn.sendCancel(id).catch(() => {})
          }
        })
        queueMicrotask(() => { for (const ev of early.splice(0)) deliver(ev) })
      },
      error (err) {
        if (!started) { finished = true; fail(err) } else finish({ code: err.code, message: err.message })
      },
      event (raw) {
        if (finished) return
        const kind = raw.kind
        let object: RemoteObject
        try {
          if (kind !== 'changed' && kind !== 'deleted') throw unexpected('event kind')
          object = asRemoteObject(raw.object)
        } catch (err) {
          conn.violation((err as Error).message)
          return
        }
        const ev: SubscriptionEvent = { kind, object }
        if (started) deliver(ev)
        else early.push(ev)
      },
      end (code, message) {
        if (!started) {
          finished = true
          fail(code !== undefined && code !== '' ? errorFromWire({ code, message: message ?? code }) : new HubError('unavailable', message ?? 'the subscription ended before it started'))
          return
        }
        finish({ ...(code !== undefined ? { code } : {}), ...(message !== undefined ? { message } : {}) })
      }
    })
    const timer = setTimeout(() => {
      if (started) return
      finished = true
      void conn.sendCancel(id).catch(() => {})
      reject(new HubError('unavailable', `Collections.subscribe got no reply within ${timeoutMs} ms`))
    }, timeoutMs)
    conn.sendRequest(id, jws).catch((err: unknown) => {
      clearTimeout(timer)
      conn.forget(id)
      finished = true
      reject(err)
    })
  })
}
