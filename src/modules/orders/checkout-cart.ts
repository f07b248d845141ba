// The cart's side of a checkout: its checkout claim taken (or refused) for a request, let go
// of when its holder is gone (an order that settled, a request whose process died), and
// handed to an order whose payment is still processing.
import { cartRef } from '../../platform/telemetry/log.ts'
import { AppError } from '../../platform/http/errors.ts'
import type { CheckoutDeps, CheckoutInput } from './checkout.ts'
import { processOf, revokeClaim } from './idempotency.ts'
import type { CheckoutLine } from './ports.ts'
import { findLines, findOrder, recentOrdersOfCart } from './repo.ts'
import type { OrderStatus } from './state-machine.ts'

export const paymentPending = () =>
  new AppError('checkout_in_progress', "A payment for this cart is still being processed: its checkout's Idempotency-Key answers once it settles", { retryAfter: 5 }, 409)

/**
 * Takes the cart's checkout claim for this request and answers its lines, or refuses. The
 * claim is held by this request's claim on the key, not by the key: should a retry take the
 * key over from it (taken for dead), it takes the cart's over too (`replaced`), and this
 * request, if it wakes up, cannot let go of the retry's. A claim held by an order that has
 * settled, or by a request whose process died, is let go first.
 */
export async function openCart(deps: CheckoutDeps, input: CheckoutInput, claim: string, replaced?: string): Promise<CheckoutLine[]> {
  const begin = (replacing?: string) => deps.cart.beginCheckout(input.cartId, input.customer?.id ?? null, claim, { replacing, shopper: input.shopper })
  let opened = await begin(replaced)
  if (opened.kind === 'busy' && opened.pendingOrderId !== null) {
    if (await letGoOfSettledOrder(deps, input.cartId, opened.pendingOrderId)) opened = await begin(replaced)
  } else if (opened.kind === 'busy' && opened.heldBy !== null) {
    const dead = await letGoOfDeadRequest(deps, input.cartId, opened.heldBy)
    if (dead === 'order_pending') throw paymentPending()
    if (dead === 'free') opened = await begin(opened.heldBy)
  }
  if (opened.kind === 'refused') {
    const whose = opened.by === 'cart' ? 'for this cart' : 'from this shopper'
    throw new AppError('too_many_requests', `Too many declined payments ${whose}; try again later`, { retryAfter: opened.retryAfterSeconds })
  }
  if (opened.kind === 'busy' && opened.pendingOrderId !== null) throw paymentPending()
  if (opened.kind === 'busy') throw new AppError('checkout_in_progress', 'This cart is being checked out by another request; wait for its answer', { retryAfter: 1 }, 409)
  return opened.lines
}

/**
 * The order holding the cart (its payment was processing) has settled, and the worker has
 * not caught up yet: what it bought leaves the cart first (once per order), or a checkout
 * now would buy it again; then its hold goes. Answers false while it is still pending.
 */
async function letGoOfSettledOrder(deps: CheckoutDeps, cartId: string, orderId: string): Promise<boolean> {
  const status = (await findOrder(deps.sql, orderId))?.status ?? null
  if (status === 'pending_payment') return false
  await clearSettledOrder(deps, cartId, orderId, status)
  return true
}

/** A settled order's lines leave the cart unless it bought nothing (cancelled, or gone), and its hold goes. */
async function clearSettledOrder(deps: CheckoutDeps, cartId: string, orderId: string, status: OrderStatus | null): Promise<void> {
  if (status === null || status === 'cancelled') return deps.cart.releaseOrderHold(cartId, orderId)
  const lines = (await findLines(deps.sql, orderId)).map((line) => ({ variantId: line.variant_id, quantity: line.quantity }))
  await deps.cart.removeBought(cartId, { orderId, lines })
}

/** How far back a dead request's order can be: the cart claim's life (cart CLAIM_MS), with a margin. */
const CART_CLAIM_SECONDS = 90

/**
 * The cart is claimed by a request whose process died (a crash, a kill) and that no retry
 * with its own key has taken over: without this, every other checkout of the cart waits out
 * the claim's minute. That request is fenced (revokeClaim: were it only frozen, it could
 * otherwise wake up and buy the same lines), then what it placed is looked up: a paid order's lines
 * leave the cart (once per order: the worker may not have got to them), and a pending one
 * keeps the cart (answered 409, as for any order whose payment is processing). Answers
 * `free` when the claim may be taken over.
 */
async function letGoOfDeadRequest(deps: CheckoutDeps, cartId: string, heldBy: string): Promise<'free' | 'order_pending' | 'held'> {
  const owner = processOf(heldBy)
  if (owner === null || (await deps.claimer.isAlive(owner))) return 'held'
  // Fenced first: an order it placed is committed by now (and found below), or never will be.
  await revokeClaim(deps.sql, heldBy)
  for (const order of await recentOrdersOfCart(deps.sql, cartId, CART_CLAIM_SECONDS)) {
    if (order.status === 'pending_payment') {
      await holdCartForOrder(deps, cartId, order.id, heldBy)
      return 'order_pending'
    }
    if (order.status !== 'cancelled') await clearSettledOrder(deps, cartId, order.id, order.status)
  }
  return 'free'
}

/**
 * An order whose payment is still processing (202) keeps its cart from other checkouts and
 * from a sign-in's merge until it settles (cart.holdForOrder). Should it have settled
 * already (the webhook came first, and its release with it), the hold goes again.
 */
export async function holdCartForOrder(deps: CheckoutDeps, cartId: string, orderId: string, replacing?: string): Promise<void> {
  try {
    // Not held: another checkout holds the cart (this request's claim outlived its minute).
    if (!(await deps.cart.holdForOrder(cartId, orderId, replacing))) return
    if ((await findOrder(deps.sql, orderId))?.status !== 'pending_payment') await deps.cart.releaseOrderHold(cartId, orderId)
  } catch (error) {
    deps.log.warn({ err: error, cart: cartRef(cartId), orderId }, 'could not hold the cart for an order whose payment is processing')
  }
}
