// Signed webhook delivery, like a real processor: each event is POSTed to the configured
// URL with a fresh `Shop-Signature` per attempt, and retried with exponential backoff until
// the receiver answers 2xx or the attempts run out. Deliveries run in the background and
// in parallel, so a receiver may see events out of order (and, after a lost answer, twice).
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../../../platform/telemetry/log.ts'
import type { PaymentEventType } from '../gateway.ts'
import { signatureHeader, SIGNATURE_HEADER } from '../signature.ts'
import type { WireEvent, WirePayment } from '../wire.ts'
import { httpCall } from '../../../platform/http/client.ts'

export interface WebhookOptions {
  secret: string
  /** Where to POST; read at each delivery (the receiver may start listening after us). null: webhooks off. */
  target: () => string | null
  attempts?: number
  /** First retry delay; doubles each time. */
  baseDelayMs?: number
  timeoutMs?: number
  log?: Logger
}

export interface WebhookStats {
  sent: number
  delivered: number
  failed: number
  attempts: number
}

export class WebhookSender {
  readonly stats: WebhookStats = { sent: 0, delivered: 0, failed: 0, attempts: 0 }
  private readonly pending = new Set<Promise<void>>()
  private readonly closing = new AbortController()

  constructor(private readonly options: WebhookOptions) {}

  send(type: PaymentEventType, payment: WirePayment): void {
    if (this.options.target() === null) return
    const event: WireEvent = {
      id: `evt_${randomBytes(12).toString('hex')}`,
      object: 'event',
      type,
      created: Math.floor(Date.now() / 1000),
      data: { payment },
    }
    this.stats.sent++
    const delivery = this.deliver(event).finally(() => this.pending.delete(delivery))
    this.pending.add(delivery)
  }

  /** Resolves when every delivery started so far has succeeded or given up (tests). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }

  async close(): Promise<void> {
    this.closing.abort()
    await this.idle()
  }

  private async deliver(event: WireEvent): Promise<void> {
    const attempts = this.options.attempts ?? 6
    const body = JSON.stringify(event)
    let lastProblem = ''
    for (let attempt = 1; attempt <= attempts && !this.closing.signal.aborted; attempt++) {
      const url = this.options.target()
      if (url === null) return
      this.stats.attempts++
      try {
        const response = await httpCall(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signatureHeader(this.options.secret, body) },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs ?? 5000), this.closing.signal]),
        })
        if (response.status >= 200 && response.status < 300) {
          this.stats.delivered++
          return
        }
        lastProblem = `answered ${response.status}`
      } catch (error) {
        lastProblem = (error as Error).message
      }
      if (attempt < attempts) {
        const delay = (this.options.baseDelayMs ?? 500) * 2 ** (attempt - 1)
        await sleep(delay, undefined, { signal: this.closing.signal }).catch(() => {})
      }
    }
    this.stats.failed++
    this.options.log?.warn({ eventId: event.id, type: event.type, problem: lastProblem }, 'webhook not delivered; giving up')
  }
}
