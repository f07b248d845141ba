// Orders: checkout, the order state machine, order reads and merchant actions, and the
// reconciliation of charges whose outcome checkout never learned. The only file other modules import.
import { purgeExpiredKeys } from './idempotency.ts'
import { applyRefundReport, reconcileAskedRefunds, reconcilePendingPayments, refundChargeAfterCancel, refundDuplicateCharge } from './order-actions.ts'
import { orderRoutes, type OrderRouteDeps } from './routes.ts'
import { applyChargeOutcomeIn } from './payment-outcome.ts'
import { findOrder } from './repo.ts'
import type { Tx } from '../../platform/db/index.ts'

export type { CartPort, CatalogPort, CheckoutLine, ChargeOutcome, PaymentPort, Card, Money } from './ports.ts'
export { orderEvents } from './events.ts'
export { checkoutOutcomes } from './checkout-metrics.ts'
export { paymentPortFrom } from './payment-adapter.ts'

/** Checkout's ports, plus where a customer's home region comes from. */
export type OrdersDeps = OrderRouteDeps

export function createOrdersModule(deps: OrdersDeps) {
  let timer: NodeJS.Timeout | null = null
  return {
    routes: orderRoutes(deps),
    /** A verified payment webhook: settles a pending order the same way checkout would (idempotent). */
    async onPaymentEvent(event: { type: string; payment: { id: string; orderId: string; status: string; amount: { amount: number; currency: string } } }, tx: Tx): Promise<void> {
      const amount = event.payment.amount
      if (event.type === 'payment.captured') {
        await applyChargeOutcomeIn(tx, deps, event.payment.orderId, { status: 'captured', paymentId: event.payment.id, amount }, 'webhook')
      } else if (event.type === 'payment.declined') {
        await applyChargeOutcomeIn(tx, deps, event.payment.orderId, { status: 'declined', amount }, 'webhook')
      } else if (event.type === 'payment.refunded' && event.payment.status === 'refunded') {
        // Fully refunded (a part refunded leaves the order as it is: orders have no part-refunded state).
        await applyRefundReport(tx, deps, { orderId: event.payment.orderId, paymentId: event.payment.id }, 'webhook')
      }
    },
    /** Worker, on `order.paid_after_checkout`: the bought lines leave the cart they came from. */
    onPaidAfterCheckout: async (event: { payload: unknown }) => {
      const { orderId, cartId, lines } = event.payload as { orderId: string; cartId: string; lines: { variantId: string; quantity: number }[] }
      await deps.cart.removeBought(cartId, { orderId, lines })
    },
    /** Worker, on `order.cancelled`: an order cancelled before it was paid lets go of its hold on its cart (a 202 kept it). */
    onCancelled: async (event: { payload: unknown }, tx: Tx) => {
      const { orderId, from } = event.payload as { orderId: string; from: string }
      if (from !== 'pending_payment') return
      const order = await findOrder(tx, orderId)
      if (order?.cart_id) await deps.cart.releaseOrderHold(order.cart_id, orderId)
    },
    /** Worker, on `order.charge_after_cancel`: refunds a charge captured for an order cancelled before it arrived. */
    onChargeAfterCancel: (event: { payload: unknown }, tx: Tx) => refundChargeAfterCancel(deps, event.payload as { orderId: string; paymentId: string }, tx),
    /** Worker, on `order.duplicate_charge`: refunds a second payment captured for an order already paid. */
    onDuplicateCharge: (event: { payload: unknown }, tx: Tx) => refundDuplicateCharge(deps, event.payload as { orderId: string; paymentId: string }, tx),
    /** Asks the gateway about pending charges older than `olderThanSeconds`; answers how many settled. */
    reconcile: (options = { olderThanSeconds: 30, holdSeconds: 900 }) => reconcilePendingPayments(deps, options),
    /** Asks the gateway about refunds asked for more than `olderThanSeconds` ago and not recorded; answers how many it recorded. */
    reconcileRefunds: (options = { olderThanSeconds: 60 }) => reconcileAskedRefunds(deps, options),
    /** Housekeeping: deletes a batch of Idempotency-Keys past their 24 hours; answers how many. */
    purgeExpiredKeys: () => purgeExpiredKeys(deps.sql),
    /** Worker: reconcile every 30 s. */
    startReconciliation(intervalMs = 30_000) {
      // A run through a long backlog may outlast the interval: the next one waits for it.
      let running = false
      timer = setInterval(() => {
        if (running) return
        running = true
        reconcilePendingPayments(deps, { olderThanSeconds: 30, holdSeconds: 900 })
          .then(() => reconcileAskedRefunds(deps, { olderThanSeconds: 60 }))
          .catch((error) => deps.log.warn({ err: error }, 'payment reconciliation failed; will retry'))
          .finally(() => {
            running = false
          })
      }, intervalMs)
      timer.unref()
    },
    stopReconciliation() {
      if (timer) clearInterval(timer)
    },
  }
}

export type OrdersModule = ReturnType<typeof createOrdersModule>
