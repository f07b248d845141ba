import type { Db } from '../../platform/db/index.ts'
import { together } from '../../platform/db/transaction.ts'
import { AppError } from '../../platform/http/errors.ts'
import { orderEvents, type OrderEventType } from './events.ts'

export type OrderStatus = 'pending_payment' | 'paid' | 'fulfilled' | 'cancelled' | 'refunded'

/** The order process as a table: which states each state may move to, and the event it raises. */
export const TRANSITIONS: Record<OrderStatus, Partial<Record<OrderStatus, OrderEventType>>> = {
  pending_payment: { paid: 'order.paid', cancelled: 'order.cancelled' },
  paid: { fulfilled: 'order.fulfilled', refunded: 'order.refunded' },
  fulfilled: { refunded: 'order.refunded' },
  cancelled: {},
  refunded: {},
}

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from][to] !== undefined
}

/**
 * Moves an order from `from` to `to` inside the caller's transaction: a conditional UPDATE
 * on the current status (so two concurrent moves cannot both win), the transition record
 * and its event, together.
 */
export async function transition(
  tx: Db,
  orderId: string,
  from: OrderStatus,
  to: OrderStatus,
  actor: string,
  reason: string | null = null,
): Promise<void> {
  const eventType = TRANSITIONS[from][to]
  if (!eventType) throw new AppError('invalid_transition', `An order that is ${from} cannot become ${to}`, {}, 409)
  // The three statements go together (one round trip). If the status moved meanwhile, the
  // update matches nothing and the throw rolls back the record and event with it.
  const [rows] = await together([
    tx`update orders.orders set status = ${to}, updated_at = now() where id = ${orderId} and status = ${from} returning id`,
    tx`
      insert into orders.transitions (order_id, from_status, to_status, actor, reason)
      values (${orderId}, ${from}, ${to}, ${actor}, ${reason})`,
    orderEvents.write(tx, eventType, { orderId, from, to }),
  ])
  if (rows.length === 0) throw new AppError('invalid_transition', `The order is no longer ${from}`, {}, 409)
}
