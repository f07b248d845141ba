// The card processor's JSON over HTTP (what the simulator answers and POSTs), and its
// translation into the port's types. Incoming JSON is checked before it is trusted: a
// malformed answer from the processor is an `unknown` outcome, not a crash.
import { unstorable } from '../../platform/storable-text.ts'
import type { Payment, PaymentEvent, PaymentEventType, PaymentStatus, Refund } from './gateway.ts'
import { PAYMENT_EVENT_TYPES } from './gateway.ts'

export interface WirePayment {
  id: string
  object: 'payment'
  status: PaymentStatus
  amount: number
  currency: string
  amountRefunded: number
  orderId: string
  declineCode: string | null
  last4: string
  created: string
}

export interface WireRefund {
  id: string
  object: 'refund'
  paymentId: string
  amount: number
  currency: string
  created: string
}

export interface WireEvent {
  id: string
  object: 'event'
  type: PaymentEventType
  /** Unix seconds. */
  created: number
  data: { payment: WirePayment }
}

export interface WireError {
  error: { type: 'invalid_request_error' | 'api_error' | 'idempotency_error'; code: string; message: string; param?: string }
}

const STATUSES: readonly PaymentStatus[] = ['processing', 'authorized', 'captured', 'refunded', 'declined']

type Json = Record<string, unknown>
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)
/** Longer than any id, code, currency or time the processor sends; an index entry holds at most about 8 KB. */
const MAX_TEXT = 255

/**
 * Text PostgreSQL can store (storable-text.ts), and index: ids are keys (a 12,000-character
 * event id failed the insert). A signed event carrying other text is still malformed: a
 * 400, never a 500 that the processor would retry for days.
 */
const isString = (value: unknown): value is string => typeof value === 'string' && value.length <= MAX_TEXT && unstorable(value) === null
const isText = (value: unknown): value is string => isString(value) && value.length > 0
/** Event times in Unix seconds that make a date: from 1970 to the end of year 9999. */
const isEpochSeconds = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 253_402_300_799
const isAmount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0

export function parseWirePayment(value: unknown): WirePayment | null {
  if (!isObject(value)) return null
  const ok =
    value.object === 'payment' &&
    isText(value.id) &&
    STATUSES.includes(value.status as PaymentStatus) &&
    isAmount(value.amount) &&
    isAmount(value.amountRefunded) &&
    isText(value.currency) &&
    isString(value.orderId) &&
    (value.declineCode === null || isString(value.declineCode)) &&
    isString(value.last4) &&
    isText(value.created)
  return ok ? (value as unknown as WirePayment) : null
}

export function parseWireRefund(value: unknown): WireRefund | null {
  if (!isObject(value)) return null
  const ok = value.object === 'refund' && isText(value.id) && isText(value.paymentId) && isAmount(value.amount) && isText(value.currency) && isText(value.created)
  return ok ? (value as unknown as WireRefund) : null
}

export function parseWireEvent(value: unknown): WireEvent | null {
  if (!isObject(value) || value.object !== 'event' || !isText(value.id) || !isEpochSeconds(value.created)) return null
  if (!PAYMENT_EVENT_TYPES.includes(value.type as PaymentEventType)) return null
  if (!isObject(value.data) || parseWirePayment(value.data.payment) === null) return null
  return value as unknown as WireEvent
}

/** The processor's error code and message, when the body is one of its errors. */
export function parseWireError(value: unknown): { code: string; message: string } | null {
  if (!isObject(value) || !isObject(value.error)) return null
  const { code, message } = value.error
  return isText(code) ? { code, message: typeof message === 'string' ? message : code } : null
}

export function toPayment(wire: WirePayment): Payment {
  return {
    id: wire.id,
    orderId: wire.orderId,
    status: wire.status,
    amount: { amount: wire.amount, currency: wire.currency },
    refunded: { amount: wire.amountRefunded, currency: wire.currency },
    ...(wire.declineCode ? { declineCode: wire.declineCode } : {}),
    cardLast4: wire.last4,
    createdAt: wire.created,
  }
}

export function toRefund(wire: WireRefund): Refund {
  return { id: wire.id, paymentId: wire.paymentId, amount: { amount: wire.amount, currency: wire.currency }, createdAt: wire.created }
}

export function toPaymentEvent(wire: WireEvent): PaymentEvent {
  return { id: wire.id, type: wire.type, createdAt: new Date(wire.created * 1000).toISOString(), payment: toPayment(wire.data.payment) }
}
