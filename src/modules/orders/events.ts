import { eventTypes } from '../../platform/bus/outbox.ts'

/**
 * The events orders write: one per state change (state-machine.ts), `order.placed` at
 * checkout, and the work a payment outcome leaves for the worker (paying back a charge that
 * came after a cancel or twice; emptying the cart of an order a webhook settled).
 */
export const orderEvents = eventTypes([
  'order.placed',
  'order.paid',
  'order.cancelled',
  'order.fulfilled',
  'order.refunded',
  'order.charge_after_cancel',
  'order.duplicate_charge',
  'order.paid_after_checkout',
])

export type OrderEventType = (typeof orderEvents.types)[number]
