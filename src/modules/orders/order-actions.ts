import type { Sql, Tx } from '../../platform/db/index.ts'
import { AppError, notFound } from '../../platform/http/errors.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import { readOrderView } from './order-view.ts'
import type { InventoryPort, PaymentPort } from './ports.ts'
import { findOrder, lockOrder, pendingPaymentsOlderThan } from './repo.ts'
import { applyChargeOutcome } from './payment-outcome.ts'
import { transition } from './state-machine.ts'

export interface ActionDeps {
  sql: Sql
  log: Logger
  inventory: InventoryPort
  payments: PaymentPort
}

async function lockedOrder(tx: Tx, orderId: string) {
  const order = await lockOrder(tx, orderId)
  if (!order) throw notFound('Order')
  return order
}

async function view(deps: ActionDeps, orderId: string) {
  const read = await readOrderView(deps.sql, orderId)
  if (!read) throw notFound('Order')
  return read.view
}

export async function fulfilOrder(deps: ActionDeps, orderId: string, actor: string) {
  await deps.sql.begin(async (tx) => {
    const order = await lockedOrder(tx, orderId)
    await transition(tx, orderId, order.status, 'fulfilled', actor)
  })
  return view(deps, orderId)
}

/** Cancels an unpaid order and releases its held stock. A paid order is refunded instead. */
export async function cancelOrder(deps: ActionDeps, orderId: string, actor: string) {
  await deps.sql.begin(async (tx) => {
    const order = await lockedOrder(tx, orderId)
    await transition(tx, orderId, order.status, 'cancelled', actor, 'cancelled by merchant')
    await deps.inventory.release(tx, orderId, order.lines, actor)
  })
  return view(deps, orderId)
}

/** Refunds through the gateway (keyed, so a retried refund pays back once); stock returns unless fulfilled. */
export async function refundOrder(deps: ActionDeps, orderId: string, actor: string) {
  const order = await findOrder(deps.sql, orderId)
  if (!order) throw notFound('Order')
  if (order.status !== 'paid' && order.status !== 'fulfilled') {
    throw new AppError('invalid_transition', `An order that is ${order.status} cannot be refunded`, {}, 409)
  }
  const refund = await deps.payments.refund(order.payment_id!, { amount: Number(order.total), currency: order.currency.trim() }, `refund:${orderId}`)
  if (!refund.ok) throw new AppError('unavailable', `The payment gateway did not confirm the refund (${refund.reason}); try again`, {}, 503)
  await deps.sql.begin(async (tx) => {
    const locked = await lockedOrder(tx, orderId)
    if (locked.status === 'refunded') return // a concurrent retry got here first
    await transition(tx, orderId, locked.status, 'refunded', actor, 'refunded')
    if (locked.status === 'paid') await deps.inventory.returnSold(tx, orderId, locked.lines, actor)
  })
  return view(deps, orderId)
}

/**
 * Settles orders whose charge outcome checkout never learned (gateway timeout): asks the
 * gateway what happened under the order's payment key. Never charges.
 */
export async function reconcilePendingPayments(deps: ActionDeps, options: { olderThanSeconds: number; holdSeconds: number }) {
  const pending = await pendingPaymentsOlderThan(deps.sql, options.olderThanSeconds, 100)
  let settled = 0
  for (const order of pending) {
    const found = await deps.payments.lookup(order.payment_key)
    if (found.status === 'captured' || found.status === 'declined') {
      await applyChargeOutcome(deps, order.id, found, 'reconciliation')
      settled++
    } else if (found.status === 'not_found' && order.created_at.getTime() < Date.now() - options.holdSeconds * 1000) {
      // The charge never reached the gateway and the hold ran out: the units go back on sale.
      await applyChargeOutcome(deps, order.id, { status: 'declined' }, 'reconciliation')
      settled++
    }
  }
  return settled
}
