// The payment-gateway port: what checkout, orders and refunds may ask of a card processor.
// The bundled simulator speaks to it over HTTP (http-gateway.ts); a real processor would be
// another adapter behind the same interface.
//
// The contract, for every call:
// - Every outcome a caller must handle is a returned value (`ok: false` with a `code`);
//   only bugs throw. Money is integer minor units plus an ISO 4217 code.
// - Every mutation carries an idempotency key. The same key with the same input returns the
//   first answer and never moves money twice, so a retry with the same key is always safe.
//   Derive keys from what the call is for (`order:<id>:authorize`), never from the attempt.
// - `payment_declined`: the processor answered "no". Nothing was charged; the payment
//   record exists (with `declineCode`) and the same key keeps answering the same.
// - `unknown`: WE DO NOT KNOW WHETHER IT CHARGED. A request may have reached the
//   processor (timeout, dropped connection, 5xx, still processing). Never treat it as a
//   decline: retry later with the SAME key, or ask `status({ idempotencyKey })`, or wait
//   for the webhook.
// - `gateway_unavailable`: the circuit breaker is open and THIS call sent nothing. An
//   earlier call with the same key may still have charged: only `status()` can tell.
// - `not_found`, `invalid_request`, `invalid_state`, `idempotency_conflict`: the processor
//   answered and refused; nothing changed. These mean a bug or a race in the caller.

export interface Money {
  /** Integer minor units (cents). */
  amount: number
  /** ISO 4217, upper case. */
  currency: string
}

export interface Card {
  number: string
  expMonth: number
  expYear: number
  cvc: string
}

/**
 * processing: the processor has not decided yet (the slow test card);
 * authorized: funds held, not yet taken; captured: taken (partially refunded when `refunded` > 0);
 * refunded: fully refunded; declined: refused, nothing held.
 */
export type PaymentStatus = 'processing' | 'authorized' | 'captured' | 'refunded' | 'declined'

/** Decline codes the simulator gives; a real processor may give others. */
export const DECLINE_CODES = ['card_declined', 'insufficient_funds', 'expired_card', 'incorrect_number', 'incorrect_cvc'] as const
export type DeclineCode = (typeof DECLINE_CODES)[number] | (string & {})

export interface Payment {
  id: string
  orderId: string
  status: PaymentStatus
  amount: Money
  /** How much has been refunded so far (same currency). */
  refunded: Money
  declineCode?: DeclineCode
  cardLast4: string
  createdAt: string
}

export interface Refund {
  id: string
  paymentId: string
  amount: Money
  createdAt: string
}

export interface AuthorizeInput {
  orderId: string
  amount: Money
  card: Card
  /** Capture in the same call (authorize and take the money at once). Default false. */
  capture?: boolean
}

export type Declined = { ok: false; code: 'payment_declined'; declineCode: DeclineCode; payment: Payment }
export type Unknown = { ok: false; code: 'unknown'; detail: string }
export type Unavailable = { ok: false; code: 'gateway_unavailable'; detail: string; retryAfterMs: number }
export type Rejected = {
  ok: false
  code: 'not_found' | 'invalid_request' | 'invalid_state' | 'idempotency_conflict'
  detail: string
}
export type NotFound = { ok: false; code: 'not_found'; detail: string }

export type AuthorizeResult = { ok: true; payment: Payment } | Declined | Unknown | Unavailable | Rejected
export type CaptureResult = { ok: true; payment: Payment } | Unknown | Unavailable | Rejected
export type RefundResult = { ok: true; refund: Refund; payment: Payment } | Unknown | Unavailable | Rejected
/**
 * `not_found` for an idempotency key: the processor has no record of it. A request sent
 * moments ago could still arrive, so keep using the same key rather than a new one.
 */
export type StatusResult = { ok: true; payment: Payment } | NotFound | Unknown | Unavailable

export type PaymentLookup = { paymentId: string } | { idempotencyKey: string }

export interface PaymentGateway {
  /** Authorizes (and with `capture: true` also captures) a card payment for an order. */
  authorize(input: AuthorizeInput, idempotencyKey: string): Promise<AuthorizeResult>
  /** Takes the money of an authorized payment. */
  capture(paymentId: string, idempotencyKey: string): Promise<CaptureResult>
  /** Refunds a captured payment, all of what is left (`amount` omitted) or part of it. */
  refund(paymentId: string, amount: Money | undefined, idempotencyKey: string): Promise<RefundResult>
  /** Reconciliation: what happened to this payment, or to the call made with this key? */
  status(lookup: PaymentLookup): Promise<StatusResult>
}

export type PaymentEventType = 'payment.authorized' | 'payment.captured' | 'payment.refunded' | 'payment.declined'
export const PAYMENT_EVENT_TYPES: readonly PaymentEventType[] = ['payment.authorized', 'payment.captured', 'payment.refunded', 'payment.declined']

/**
 * A verified webhook from the processor. Delivered at least once and possibly out of order
 * (a `payment.captured` may come before its `payment.authorized`): `payment` is the state
 * when the event happened, so compare with what you hold rather than assume a sequence.
 */
export interface PaymentEvent {
  id: string
  type: PaymentEventType
  createdAt: string
  payment: Payment
}
