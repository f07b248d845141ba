// What the simulated processor does to money: authorize (and capture), capture, refund.
// Each returns the HTTP answer to store under the idempotency key. The decision for a card
// is made after the payment exists (status `processing`), so a lookup by key during the
// slow card's delay finds it, and a retry with the same key attaches to it.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { WireError, WireRefund } from '../wire.ts'
import { decide, isSlowCard, last4, type CardDetails } from './cards.ts'
import { wireOf, type Ledger, type PaymentRecord, type StoredResponse } from './ledger.ts'
import type { WebhookSender } from './webhooks.ts'

export interface AuthorizeRequest {
  amount: number
  currency: string
  orderId: string
  capture: boolean
  card: CardDetails
}

export interface ProcessorDeps {
  ledger: Ledger
  webhooks: WebhookSender
  slowMs: () => number
  /** Aborted when the simulator closes: ends the slow card's wait. */
  signal: AbortSignal
}

export const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`

export function failure(status: number, code: string, message: string, type: WireError['error']['type'] = 'invalid_request_error'): StoredResponse {
  const body: WireError = { error: { type, code, message } }
  return { status, body }
}

export async function authorize(deps: ProcessorDeps, request: AuthorizeRequest, idempotencyKey: string): Promise<StoredResponse> {
  const payment: PaymentRecord = {
    id: newId('pay'),
    object: 'payment',
    status: 'processing',
    amount: request.amount,
    currency: request.currency,
    amountRefunded: 0,
    orderId: request.orderId,
    declineCode: null,
    last4: last4(request.card.number),
    created: new Date().toISOString(),
    idempotencyKey,
  }
  deps.ledger.addPayment(payment)
  deps.ledger.attach(idempotencyKey, payment.id)

  if (isSlowCard(request.card)) await sleep(deps.slowMs(), undefined, { signal: deps.signal })

  const decision = decide(request.card)
  if (!decision.approve) {
    payment.status = 'declined'
    payment.declineCode = decision.declineCode
    deps.webhooks.send('payment.declined', wireOf(payment))
  } else if (request.capture) {
    payment.status = 'captured'
    deps.webhooks.send('payment.captured', wireOf(payment))
  } else {
    payment.status = 'authorized'
    deps.webhooks.send('payment.authorized', wireOf(payment))
  }
  return { status: 201, body: wireOf(payment) }
}

export function capture(deps: ProcessorDeps, paymentId: string): StoredResponse {
  const payment = deps.ledger.payment(paymentId)
  if (!payment) return failure(404, 'not_found', `No payment ${paymentId}`)
  if (payment.status !== 'authorized') {
    return failure(409, 'invalid_state', `Payment ${paymentId} is ${payment.status}; only an authorized payment can be captured`)
  }
  payment.status = 'captured'
  deps.webhooks.send('payment.captured', wireOf(payment))
  return { status: 200, body: wireOf(payment) }
}

export function refund(deps: ProcessorDeps, paymentId: string, amount: number | undefined): StoredResponse {
  const payment = deps.ledger.payment(paymentId)
  if (!payment) return failure(404, 'not_found', `No payment ${paymentId}`)
  if (payment.status !== 'captured') {
    return failure(409, 'invalid_state', `Payment ${paymentId} is ${payment.status}; only a captured payment can be refunded`)
  }
  const refundable = payment.amount - payment.amountRefunded
  const value = amount ?? refundable
  if (value > refundable) return failure(400, 'amount_too_large', `At most ${refundable} can still be refunded`)

  payment.amountRefunded += value
  if (payment.amountRefunded === payment.amount) payment.status = 'refunded'
  const refundRecord: WireRefund = {
    id: newId('re'),
    object: 'refund',
    paymentId,
    amount: value,
    currency: payment.currency,
    created: new Date().toISOString(),
  }
  deps.webhooks.send('payment.refunded', wireOf(payment))
  return { status: 200, body: { refund: refundRecord, payment: wireOf(payment) } }
}
