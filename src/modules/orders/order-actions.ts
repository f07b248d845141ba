import type { Sql, Tx } from '../../platform/db/index.ts'
import { AppError, notFound } from '../../platform/http/errors.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import { readOrderView } from './order-view.ts'
import type { CartPort, InventoryPort, PaymentPort } from './ports.ts'
import { findOrder, forgetRefundRequest, lockOrder, markRefundRequested, pendingPaymentsOlderThan, refundsAskedNotRecorded, type LockedOrder, type PendingOrderRow } from './repo.ts'
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

/**
 * Cancels an unpaid order and releases its held stock. A paid order is refunded instead.
 * A charge may be on its way for a pending order (the slow card, a timeout): the gateway is
 * asked first, so a captured charge makes the order paid rather than cancelled with the
 * money kept, and one still processing refuses the cancel until it settles. A charge that
 * reaches the gateway only after the cancel is refunded by the worker.
 */
export async function cancelOrder(deps: ActionDeps, orderId: string, actor: string) {
  const order = await findOrder(deps.sql, orderId)
  if (!order) throw notFound('Order')
  if (order.status === 'pending_payment') {
    const charge = await deps.payments.lookup(order.payment_key)
    if (charge.status === 'captured' || charge.status === 'declined') {
      const status = await applyChargeOutcome(deps, orderId, charge, actor)
      // Captured, then refunded at the processor (its dashboard) before the order learned of
      // either: the order follows, refunded with its units back on sale, and nothing is left
      // to cancel. Left paid, it could be shipped with the money back with the customer.
      if (status === 'paid' && charge.status === 'captured' && charge.refunded) {
        await deps.sql.begin((tx) => applyRefundReport(tx, deps, { orderId, paymentId: charge.paymentId }, actor))
        return view(deps, orderId)
      }
      if (status === 'paid') {
        throw new AppError('invalid_transition', 'The payment went through: the order is paid now; refund it instead', {}, 409)
      }
      if (status === 'cancelled') return view(deps, orderId)
    } else if (charge.status === 'unknown') {
      throw new AppError('payment_in_progress', 'A charge for this order is still being processed; cancel it once it settles', {}, 409)
    }
  }
  await deps.sql.begin(async (tx) => {
    const order = await lockedOrder(tx, orderId)
    await transition(tx, orderId, order.status, 'cancelled', actor, 'cancelled by merchant')
    await deps.inventory.release(tx, orderId, order.lines, actor)
  })
  return view(deps, orderId)
}

/**
 * Refunds through the gateway (keyed, so a retried refund pays back once); stock returns
 * unless fulfilled. What the processor has paid back already (a part, or all of it, in its
 * dashboard) counts: the rest is refunded, or nothing if nothing is left.
 */
export async function refundOrder(deps: ActionDeps, orderId: string, actor: string) {
  const order = await findOrder(deps.sql, orderId)
  if (!order) throw notFound('Order')
  if (order.status !== 'paid' && order.status !== 'fulfilled') {
    throw new AppError('invalid_transition', `An order that is ${order.status} cannot be refunded`, {}, 409)
  }
  // Who asked, written first: the refund's webhook may record it before this request does.
  if (order.payment_id !== null) await markRefundRequested(deps.sql, order.id, actor)
  // A free order (total 0) was never charged: nothing to pay back.
  const refund = order.payment_id === null ? { ok: true as const } : await refundWhole(deps, order.id, order.payment_id)
  if (!refund.ok && refund.final) {
    // Refused for good: nothing was paid back, and nobody here asked for what a later report may bring.
    await forgetRefundRequest(deps.sql, order.id)
    throw new AppError('refund_refused', `The payment processor refused the refund (${refund.reason}); nothing was recorded`, {}, 409)
  }
  if (!refund.ok) throw new AppError('unavailable', `The payment gateway did not confirm the refund (${refund.reason}); try again`, {}, 503)
  await deps.sql.begin(async (tx) => {
    const locked = await lockedOrder(tx, orderId)
    if (locked.status === 'refunded') return // a concurrent retry (or the refund's webhook) got here first
    await recordRefund(tx, deps, orderId, locked, actor)
  })
  return view(deps, orderId)
}

/** The order refunded, its stock back on sale unless it was fulfilled (shipped goods are not stock). */
async function recordRefund(tx: Tx, deps: Pick<ActionDeps, 'inventory'>, orderId: string, locked: LockedOrder, actor: string) {
  await transition(tx, orderId, locked.status, 'refunded', actor, 'refunded')
  if (locked.status === 'paid') await deps.inventory.returnSold(tx, orderId, locked.lines, actor)
}

/**
 * The processor reports a payment fully refunded (payment.refunded): a refund whose answer
 * was lost (the merchant saw a 503), or one made in the processor's own dashboard. The
 * order it paid is refunded too, or it would stay paid, and could be fulfilled, with the
 * money back with the customer. Another payment's refund (a duplicate charge paid back)
 * changes nothing.
 */
export async function applyRefundReport(tx: Tx, deps: Pick<ActionDeps, 'inventory' | 'log'>, report: { orderId: string; paymentId: string }, actor: string) {
  const locked = await lockOrder(tx, report.orderId)
  if (locked?.status === 'pending_payment') {
    // Its capture has not reached the order yet (a webhook still to come, reconciliation):
    // the report is refused, and the processor delivers it again later.
    throw new Error(`payment ${report.paymentId} reported refunded before order ${report.orderId} learned of its capture; deliver it again`)
  }
  if (!locked || locked.paymentId !== report.paymentId) return
  if (locked.status !== 'paid' && locked.status !== 'fulfilled') return
  // A refund a merchant asked for here, reported before their request recorded it: theirs.
  if (locked.refundRequestedBy !== null) return recordRefund(tx, deps, report.orderId, locked, locked.refundRequestedBy)
  await recordRefund(tx, deps, report.orderId, locked, actor)
  deps.log.warn({ orderId: report.orderId, paymentId: report.paymentId }, 'the processor reported the payment refunded: the order is refunded')
}

/** The order's charge back (all of it that is left), keyed by the order: a retried refund (or a second report of one charge) pays once. */
function refundWhole(deps: ActionDeps, orderId: string, paymentId: string) {
  return deps.payments.refund(paymentId, `refund:${orderId}`)
}

/**
 * Worker: pays back a charge captured for an order already cancelled (payment-outcome.ts).
 * Throws while the gateway does not confirm, so the event is tried again.
 */
export async function refundChargeAfterCancel(deps: ActionDeps, payload: { orderId: string; paymentId: string }, tx: Tx) {
  // Through the event's transaction: on the embedded database it holds the only connection.
  const order = await findOrder(tx, payload.orderId)
  if (!order) return
  const refund = await refundWhole(deps, order.id, payload.paymentId)
  if (!refund.ok && refund.final) return refusedForGood(deps, order.id, payload.paymentId, 'a charge captured after the order was cancelled', refund.reason)
  if (!refund.ok) throw new Error(`refund of the charge after cancel of ${order.id} not confirmed: ${refund.reason}`)
  deps.log.warn({ orderId: order.id, paymentId: payload.paymentId }, 'a charge captured after the order was cancelled was refunded')
}

/**
 * Worker: pays back a second payment captured for an order another payment paid
 * (payment-outcome.ts), keyed by that payment, so its several reports refund it once.
 * Throws while the gateway does not confirm, so the event is tried again.
 */
export async function refundDuplicateCharge(deps: ActionDeps, payload: { orderId: string; paymentId: string }, tx: Tx) {
  const order = await findOrder(tx, payload.orderId)
  if (!order) return
  const refund = await deps.payments.refund(payload.paymentId, `refund:${payload.paymentId}`)
  if (!refund.ok && refund.final) return refusedForGood(deps, order.id, payload.paymentId, 'a duplicate charge', refund.reason)
  if (!refund.ok) throw new Error(`refund of the duplicate charge ${payload.paymentId} of ${order.id} not confirmed: ${refund.reason}`)
  deps.log.warn({ orderId: order.id, paymentId: payload.paymentId }, 'a duplicate charge was refunded')
}

/** Orders asked about per page, and at most per run (a run every 30 s: a backlog of more takes several). */
const RECONCILE_PAGE = 100
const RECONCILE_MAX = 2_000

/**
 * A refund the processor refuses for good (no such payment, one never captured) is not
 * asked again: retried, its event never finished, every 30 s for ever. It is logged as an
 * error for a person to look at (the payment is the processor's to check).
 */
function refusedForGood(deps: ActionDeps, orderId: string, paymentId: string, what: string, reason: string) {
  deps.log.error({ orderId, paymentId, reason }, `the processor refused to refund ${what}; not asked again: check the payment with the processor`)
}

/** What reconciliation needs of carts: renewing the hold of an order still waiting for its payment. */
type HoldRenewal = { cart?: Pick<CartPort, 'holdForOrder'> }

/**
 * Settles orders whose charge outcome checkout never learned (gateway timeout): asks the
 * gateway what happened under the order's payment key. Never charges. Every pending order
 * is asked about, page after page (up to RECONCILE_MAX a run): a run that looked at the
 * 100 oldest only was held up by orders the gateway had no word on yet (an outage's
 * charges that never went out, inside their hold), and an order captured behind them
 * kept its units reserved until their hold ran out.
 */
export async function reconcilePendingPayments(deps: ActionDeps & HoldRenewal, options: { olderThanSeconds: number; holdSeconds: number }) {
  let settled = 0
  let afterId: string | null = null
  for (let asked = 0; asked < RECONCILE_MAX; ) {
    const page = await pendingPaymentsOlderThan(deps.sql, options.olderThanSeconds, options.holdSeconds, RECONCILE_PAGE, afterId)
    settled += await reconcilePage(deps, page, options.holdSeconds)
    asked += page.length
    if (page.length < RECONCILE_PAGE) break
    afterId = page[page.length - 1].id
  }
  return settled
}

/**
 * Refunds a merchant asked for that are not recorded: the gateway's answer was lost (they
 * saw a 503) and so was its webhook. Reconciliation looked at pending orders only, and such
 * an order stayed paid (and could be fulfilled) with the money back with the customer. The
 * processor is asked: refunded, and the order follows, as the merchant's refund; not
 * refunded, and nobody is waiting for it any more (the merchant may ask again).
 */
export async function reconcileAskedRefunds(deps: ActionDeps, options: { olderThanSeconds: number }): Promise<number> {
  let recorded = 0
  for (const order of await refundsAskedNotRecorded(deps.sql, options.olderThanSeconds, RECONCILE_PAGE)) {
    const found = await deps.payments.lookup(order.payment_key)
    if (found.status !== 'captured' || found.paymentId !== order.payment_id) continue // unsure, or not this payment: asked again next run
    if (found.refunded) {
      await deps.sql.begin((tx) => applyRefundReport(tx, deps, { orderId: order.id, paymentId: found.paymentId }, 'reconciliation'))
      recorded++
    } else {
      await forgetRefundRequest(deps.sql, order.id, order.refund_requested_by!)
    }
  }
  return recorded
}

async function reconcilePage(deps: ActionDeps & HoldRenewal, pending: PendingOrderRow[], holdSeconds: number): Promise<number> {
  let settled = 0
  for (const order of pending) {
    const found = await deps.payments.lookup(order.payment_key)
    if (found.status === 'captured' || found.status === 'declined') {
      await applyChargeOutcome(deps, order.id, found, 'reconciliation')
      // Refunded at the processor since: the order follows (its refund report may have come and gone meanwhile).
      if (found.status === 'captured' && found.refunded) {
        await deps.sql.begin((tx) => applyRefundReport(tx, deps, { orderId: order.id, paymentId: found.paymentId }, 'reconciliation'))
      }
      settled++
    } else if (found.status === 'not_found' && order.hold_ran_out) {
      // The charge never reached the gateway and the hold ran out: the units go back on sale.
      // Said in the log: a processor that forgot a charge it took (an in-process simulator
      // stopped mid-payment) would otherwise leave no trace of why a shopper's order went.
      const now = await applyChargeOutcome(deps, order.id, { status: 'expired' }, 'reconciliation')
      if (now === 'cancelled') deps.log.warn({ orderId: order.id, holdSeconds }, 'order cancelled: the payment gateway has no charge for it and its hold ran out; stock released')
      settled++
    } else if (order.cart_id && deps.cart) {
      // Still processing (or the gateway could not say): the order keeps its cart for as long
      // as it waits. The hold's 20 minutes ran out under a payment that took longer, and a
      // sign-in then merged the lines being paid for into the account cart, to be bought again.
      await deps.cart.holdForOrder(order.cart_id, order.id).catch((error: unknown) => deps.log.warn({ err: error, orderId: order.id }, 'could not renew the cart hold of an order whose payment is processing'))
    }
  }
  return settled
}
