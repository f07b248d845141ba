import type { Sql, Tx } from '../../platform/db/index.ts'
import { together } from '../../platform/db/transaction.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import type { ChargeOutcome, InventoryPort, Money } from './ports.ts'
import { lockOrder, setPaymentId } from './repo.ts'
import { orderEvents } from './events.ts'
import { transition, type OrderStatus } from './state-machine.ts'

/** A webhook's report carries the payment's amount: a capture counts only for the order's total. */
/** `expired`: reconciliation's, for a charge that never reached the gateway before the hold ran out. */
type Known = { status: 'captured'; paymentId: string; amount?: Money } | { status: 'declined'; amount?: Money } | { status: 'expired' } | { status: 'unknown' } | ChargeOutcome

const CANCEL_REASONS: Record<string, string> = {
  not_sent: 'payment service unavailable; nothing charged',
  expired: 'the hold ran out before the payment reached the gateway; nothing charged',
  declined: 'payment declined',
}

/**
 * Records what the gateway said about an order's charge: captured -> paid (held units
 * sold); declined -> cancelled (held units released). Unknown changes nothing. Safe to
 * call twice (checkout and reconciliation may both learn the answer): only a
 * pending_payment order moves. Answers the order's status afterwards (null: no such order).
 */
export async function applyChargeOutcome(
  deps: { sql: Sql; log: Logger; inventory: InventoryPort },
  orderId: string,
  outcome: Known,
  actor: string,
): Promise<OrderStatus | null> {
  if (outcome.status === 'unknown') return null
  return deps.sql.begin((tx) => applyChargeOutcomeIn(tx, deps, orderId, outcome, actor))
}

/**
 * The same, inside the caller's transaction (a payment webhook is recorded in one).
 * `alongside`, when given, runs with the order's resulting status as soon as that is known
 * (right after the lock) and its statements go out together with the state change's writes:
 * checkout stores its answer that way, one round trip fewer.
 */
export async function applyChargeOutcomeIn(
  tx: Tx,
  deps: { inventory: InventoryPort; log?: Logger },
  orderId: string,
  outcome: Known,
  actor: string,
  alongside: (status: OrderStatus) => Promise<unknown> = async () => {},
): Promise<OrderStatus | null> {
  if (outcome.status === 'unknown') return null
  // Row lock: checkout, reconciliation and the webhook learning the answer together apply it once.
  const order = await lockOrder(tx, orderId)
  if (!order) return null
  const amount = 'amount' in outcome ? outcome.amount : undefined
  if (amount && (amount.amount !== order.total || amount.currency !== order.currency)) {
    // Not this order's charge (its amount differs): it settles nothing.
    deps.log?.warn({ orderId, reported: amount, total: order.total, currency: order.currency, actor }, 'a payment reported for an order does not match its total; ignored')
    await alongside(order.status)
    return order.status
  }
  if (order.status !== 'pending_payment') {
    if (order.status === 'cancelled' && outcome.status === 'captured') {
      // Money taken for an order cancelled meanwhile (its charge reached the gateway after
      // the cancel): the worker pays it back (refundChargeAfterCancel), keyed, so the
      // several reports of one capture (checkout, webhook, reconciliation) refund once.
      await together([
        setPaymentId(tx, orderId, outcome.paymentId),
        orderEvents.write(tx, 'order.charge_after_cancel', { orderId, paymentId: outcome.paymentId }),
        alongside(order.status),
      ])
      return order.status
    }
    if (outcome.status === 'captured' && order.paymentId !== null && order.paymentId !== outcome.paymentId) {
      // A second payment captured for an order another one paid: the customer was charged
      // twice (a processor's fault, or two processors that each knew only their own charges).
      // The worker pays it back (refundDuplicateCharge), keyed by the payment.
      deps.log?.error({ orderId, paidBy: order.paymentId, duplicate: outcome.paymentId, actor }, 'a second payment was captured for an order already paid; refunding it')
      await together([orderEvents.write(tx, 'order.duplicate_charge', { orderId, paymentId: outcome.paymentId }), alongside(order.status)])
      return order.status
    }
    await alongside(order.status)
    return order.status
  }
  const { lines } = order
  // Independent writes under the lock, sent together: the stock moves and the transition.
  if (outcome.status === 'captured' || outcome.status === 'free') {
    await together([
      outcome.status === 'captured' ? setPaymentId(tx, orderId, outcome.paymentId) : null,
      deps.inventory.sell(tx, orderId, lines, actor),
      transition(tx, orderId, 'pending_payment', 'paid', actor, outcome.status === 'free' ? 'nothing to pay' : 'payment captured'),
      alongside('paid'),
      // The worker takes the bought lines out of the cart, or the shopper would buy them
      // twice: whoever settled the order (the webhook, reconciliation, a cancel that found
      // the charge captured), and even checkout, which does it itself right after but may
      // die or lose Redis first. Once per order, however many try.
      order.cartId !== null
        ? orderEvents.write(tx, 'order.paid_after_checkout', { orderId, cartId: order.cartId, lines })
        : null,
    ])
    return 'paid'
  }
  await together([
    deps.inventory.release(tx, orderId, lines, actor),
    transition(tx, orderId, 'pending_payment', 'cancelled', actor, CANCEL_REASONS[outcome.status]),
    alongside('cancelled'),
  ])
  return 'cancelled'
}
