import { cartRef } from '../../platform/telemetry/log.ts'
import type { Sql } from '../../platform/db/index.ts'
import { together, transaction } from '../../platform/db/transaction.ts'
import { AppError, problemOf, retryAfterSeconds, validationFailed } from '../../platform/http/errors.ts'
import { normalizeEmail } from '../../platform/email-address.ts'
import { orderEvents } from './events.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import { attachOrder, claimKey, finishKey, keepPending, releaseKey, requestHash, supersededAnswer, type KeyClaimer, type StoredAnswer } from './idempotency.ts'
import { holdCartForOrder, openCart, paymentPending } from './checkout-cart.ts'
import { hashToken, newAccessToken, newOrderId, orderView, readOrderView, type OrderView } from './order-view.ts'
import type { Bought, Card, CartPort, CheckoutLine, CatalogPort, ChargeOutcome, InventoryPort, Money, PaymentPort } from './ports.ts'
import { insertOrder, type NewOrder } from './repo.ts'
import { applyChargeOutcome, applyChargeOutcomeIn } from './payment-outcome.ts'
import type { OrderStatus } from './state-machine.ts'

export interface CheckoutDeps {
  sql: Sql
  log: Logger
  cart: CartPort
  catalog: CatalogPort
  inventory: InventoryPort
  payments: PaymentPort
  /** This process, claiming Idempotency-Keys; and whether the process running another's request is alive. */
  claimer: KeyClaimer
}

export interface CheckoutInput {
  cartId: string
  customer: { id: string; region?: string } | null
  idempotencyKey: string
  email: string
  shippingAddress: { name: string; line1: string; city: string; postalCode: string; country: string }
  card: Card
  /** Who pays, for the card-testing limit across carts: `customer:<id>` signed in, else `address:<client ip>`. */
  shopper?: string
}

const sameMoney = (a: Money, b: Money) => a.amount === b.amount && a.currency === b.currency

/**
 * The checkout, as steps: claim the idempotency key -> read the cart -> re-price from the
 * catalog -> one transaction: order + reservation + order.placed + the key's order ->
 * charge -> one transaction: paid (or cancelled, stock released) + the answer under the
 * key -> empty the cart. A price changed or stock short is the key's answer too (what the
 * shopper must see before paying); other refusals release the key. Once the order exists
 * the key stays with it: a retry after a failure resumes that order and can never place (or
 * charge) a second one.
 */
export async function checkout(deps: CheckoutDeps, given: CheckoutInput): Promise<StoredAnswer> {
  const input = { ...given, idempotencyKey: shopperKey(given) }
  const hash = requestHash(requestIdentity(given))
  const claimed = await claimKey(deps.sql, deps.claimer, input.idempotencyKey, hash, () => legacyRequestHash(given))
  if (claimed.kind === 'stored') return claimed.answer
  if (claimed.kind === 'resume') return resume(deps, input, claimed.orderId, claimed.accessToken, claimed.replaced)
  const { claim } = claimed

  const progress: Progress = { placed: false, bought: null, pending: null }
  try {
    return await placeAndPay(deps, input, claim, await openCart(deps, input, claim, claimed.replaced), progress)
  } catch (error) {
    if (progress.placed) throw error
    if (error instanceof AppError && KEPT_REFUSALS.has(error.code)) {
      // The shopper must see this answer before anything is charged: a retry with the key
      // (the 409 lost on the way, a client that retries by itself) gets it again instead of
      // buying at the new price or with the stock short. A new try is a new key.
      const answer = { status: error.status, body: problemOf(error) }
      const kept = await finishKey(deps.sql, input.idempotencyKey, answer, claim).catch(() => null)
      if (kept === false) throw supersededAnswer()
      if (kept === null) await releaseKey(deps.sql, input.idempotencyKey, { claim }).catch(() => {})
      return answer
    }
    // Not released because another request holds the key now: this request's refusal is not its answer.
    if ((await releaseKey(deps.sql, input.idempotencyKey, { claim }).catch(() => null)) === false) throw supersededAnswer()
    throw error
  } finally {
    if (progress.pending !== null) await holdCartForOrder(deps, input.cartId, progress.pending, claim)
    else {
      // What was bought leaves the cart, and the claim goes, in one round trip.
      await deps.cart
        .endCheckout(input.cartId, claim, progress.bought)
        .catch((error) => deps.log.warn({ err: error, cart: cartRef(input.cartId) }, 'could not end the checkout in the cart (take the bought lines out, let the claim go)'))
    }
  }
}

/**
 * A shopper's Idempotency-Key is theirs alone: a signed-in customer's, or a guest's cart's
 * (a guest is nobody else). Shared by all, two shoppers whose apps count keys the same way
 * ("checkout-1") refused each other (422), the refusal told one that the other had used it,
 * and a key someone could guess was anyone's to take for a day. A '/' is in no key a client
 * may send (schemas.ts), so no scope can run into another, nor into a merchant's.
 */
function shopperKey(input: CheckoutInput): string {
  return `${input.customer ? `customer:${input.customer.id}` : `cart:${input.cartId}`}/${input.idempotencyKey}`
}

/**
 * What makes two checkouts the same request. The card only as far as a receipt shows it
 * (PCI DSS truncation: first six and last four digits) and its expiry, never its CVC: the
 * hash sits for a day next to the order's other fields, and a hash of the whole number and
 * CVC could be found again by trying every number of an issuer. Another card ending alike
 * is taken for the same request: the first answer stands, nothing is charged twice.
 */
function requestIdentity(input: CheckoutInput) {
  const { number, expMonth, expYear } = input.card
  return {
    cart: input.cartId,
    customer: input.customer?.id ?? null,
    email: normalizeEmail(input.email),
    address: input.shippingAddress,
    card: { first6: number.slice(0, 6), last4: number.slice(-4), digits: number.length, expMonth, expYear },
  }
}

/**
 * The identity keys stored before migration 062 were claimed under (the whole card, the
 * e-mail as typed): their retries are still the same request. Never stored; it can go once
 * no such key is alive (24 hours after the upgrade).
 */
function legacyRequestHash(input: CheckoutInput): string {
  return requestHash({ cart: input.cartId, customer: input.customer?.id ?? null, email: input.email, address: input.shippingAddress, card: input.card })
}

/**
 * Refusals that are the key's answer, like an order: what the shopper has to see (a new
 * price, stock short). The others let the key go, so the same key may try again: the cart
 * was empty, another checkout of the cart was running, too many declines, the payment
 * service down.
 */
const KEPT_REFUSALS = new Set(['price_changed', 'out_of_stock'])

interface Progress {
  /** The order exists: the key stays with it. */
  placed: boolean
  /** Paid: these lines leave the cart (a line added or raised while the checkout ran stays). */
  bought: Bought | null
  /** Answered 202: this order's payment is still processing; it holds the cart until it settles. */
  pending: string | null
}

/**
 * The key names an order whose final answer is not stored: the request that placed it died,
 * or its charge outcome was unknown. A charge the gateway never received is sent now; one it
 * has settled is applied now; one still processing is settled by the webhook or
 * reconciliation (202 until then). The answer is the order's state, stored
 * once it is final. A guest hears its access token again (the key keeps it).
 */
async function resume(deps: CheckoutDeps, input: CheckoutInput, orderId: string, accessToken?: string, replaced?: string): Promise<StoredAnswer> {
  let answer: StoredAnswer | null = null
  try {
    answer = await resumeOrder(deps, input, orderId, accessToken)
    return answer
  } finally {
    // An order still waiting for its payment holds the cart (the cart may be free by now: the
    // request that placed it died, or its claim outlived its minute). Taken over from a dead
    // request (`replaced`), that request's claim on the cart goes either way: it would keep
    // the cart from every other checkout until its minute ran out.
    if (answer === null || answer.status === 202) await holdCartForOrder(deps, input.cartId, orderId, replaced)
    else if (replaced !== undefined) {
      await deps.cart.endCheckout(input.cartId, replaced, null).catch((error) => deps.log.warn({ err: error, cart: cartRef(input.cartId) }, "could not let go of a dead request's claim on the cart"))
    }
  }
}

async function resumeOrder(deps: CheckoutDeps, input: CheckoutInput, orderId: string, accessToken?: string): Promise<StoredAnswer> {
  const key = input.idempotencyKey
  const read = await readOrderView(deps.sql, orderId, accessToken)
  if (!read) throw new Error(`idempotency key ${key} names order ${orderId}, which does not exist`)
  let { status, view } = read
  const lines = view.items.map((item) => ({ variantId: item.variantId, quantity: item.quantity }))
  if (status === 'pending_payment') {
    const found = await chargeLookup(deps, orderId)
    // The request that placed it may have died before its charge went out (the gateway has
    // none under the order's key): this retry, with the same card, sends it now. Should that
    // request still be alive and send it too, the gateway charges once.
    if (found.status === 'not_found') {
      const answer = await payFor(deps, input, { orderId, amount: view.total, lines, accessToken, viewAt: null }, null)
      if (answer.status === 201) await takeOutBought(deps, input.cartId, { orderId, lines })
      return answer
    }
    // Settled at the gateway, not here yet (its webhook is on the way, or lost): applied now,
    // as reconciliation would, so the shopper hears the outcome instead of another 202. A
    // payment refunded since is left to reconciliation, which refunds the order with it.
    const settled = found.status === 'declined' || (found.status === 'captured' && !found.refunded)
    const now = settled ? await applyChargeOutcome(deps, orderId, found, 'checkout') : null
    if (now === null || now === 'pending_payment') {
      await keepPending(deps.sql, key)
      return { status: 202, body: view }
    }
    // Read again: the view as the settled order shows it, by whoever settled it.
    ;({ status, view } = (await readOrderView(deps.sql, orderId, accessToken))!)
  }
  // The request that placed it may have died before taking the lines out (once per order,
  // whoever else tries: the worker, after a webhook settled it).
  if (status === 'paid') await takeOutBought(deps, input.cartId, { orderId, lines })
  if (status !== 'cancelled') {
    const answer = { status: 201, body: view }
    await finishKey(deps.sql, key, answer)
    return answer
  }
  // Cancelled: what the gateway has says why. Nothing there: reconciliation cancelled it
  // because its charge never went out (the request died first). Unknown now: answered, not
  // stored, so the next retry asks again.
  const charge = (await chargeLookup(deps, orderId)).status
  if (charge === 'unknown') return declined(orderId, 'The order was cancelled; nothing is owed on it')
  const answer =
    charge === 'not_found'
      ? declined(orderId, 'The order was cancelled before its payment went out; nothing was charged. Place it again with a new Idempotency-Key')
      : charge === 'captured'
        ? declined(orderId, CANCELLED_THEN_CAPTURED)
        : declined(orderId, 'The payment was declined')
  await finishKey(deps.sql, key, answer)
  return answer
}

/** A charge that arrived after its order was cancelled: the worker pays it back (order.charge_after_cancel). */
const CANCELLED_THEN_CAPTURED = 'The order was cancelled before its payment arrived; the charge is refunded'

async function placeAndPay(deps: CheckoutDeps, input: CheckoutInput, claim: string, cartLines: CheckoutLine[], progress: Progress): Promise<StoredAnswer> {
  if (cartLines.length === 0) throw validationFailed([{ path: 'cart', message: 'the cart is empty' }])

  // Invariant 5: the price charged is the catalog's now, not the cart's.
  const current = await deps.catalog.variantsForCheckout(cartLines.map((l) => l.variantId))
  // A cart holds one currency. A line the merchant now prices in another currency than the
  // rest of the cart is no longer sold in the cart's: taking its new price would make the
  // cart a sum of two currencies. (When every line moved to one new currency, the whole
  // cart moves with them, as a price change.)
  const repricedIn = new Set(cartLines.flatMap((l) => (current.has(l.variantId) ? [current.get(l.variantId)!.price.currency] : [])))
  const otherCurrency = (l: CheckoutLine) => repricedIn.size > 1 && current.get(l.variantId)!.price.currency !== l.unitPrice.currency
  const gone = cartLines.filter((l) => !current.has(l.variantId) || otherCurrency(l))
  if (gone.length > 0) {
    throw new AppError('out_of_stock', 'Some items are no longer sold (or no longer in the currency of the cart)', {
      lines: gone.map((l) => ({ variantId: l.variantId, requested: l.quantity, available: 0 })),
    })
  }
  const changed = cartLines.filter((l) => !sameMoney(l.unitPrice, current.get(l.variantId)!.price))
  if (changed.length > 0) {
    await deps.cart.updatePrices(input.cartId, new Map(changed.map((l) => [l.variantId, current.get(l.variantId)!.price])))
    throw new AppError('price_changed', 'Prices changed since the items were added; the cart now shows the new prices', {
      changes: changed.map((l) => ({ variantId: l.variantId, oldPrice: l.unitPrice, newPrice: current.get(l.variantId)!.price })),
    })
  }
  const currencies = new Set(cartLines.map((l) => l.unitPrice.currency))
  if (currencies.size > 1) throw validationFailed([{ path: 'cart', message: 'items in different currencies cannot be bought together' }])
  const currency = cartLines[0].unitPrice.currency

  const orderId = newOrderId()
  const accessToken = input.customer ? undefined : newAccessToken()
  const lines = cartLines.map((l) => ({ variantId: l.variantId, quantity: l.quantity, productId: current.get(l.variantId)!.productId, name: current.get(l.variantId)!.name, unitPrice: l.unitPrice.amount }))
  const subtotal = lines.reduce((sum, l) => sum + l.unitPrice * l.quantity, 0)
  const paymentKey = paymentKeyOf(orderId)
  // With the gateway's breaker open the charge would not be sent: say so before placing an
  // order that could only be cancelled again.
  const paused = deps.payments.chargesPausedForMs()
  if (subtotal > 0 && paused > 0) throw paymentsUnavailable(paused)

  const newOrder: NewOrder = {
    id: orderId,
    customerId: input.customer?.id ?? null,
    email: normalizeEmail(input.email),
    currency,
    subtotal,
    total: subtotal,
    shippingAddress: input.shippingAddress,
    accessTokenHash: accessToken ? hashToken(accessToken) : null,
    paymentKey,
    region: input.customer?.region ?? 'us',
    cartId: input.cartId,
    lines,
  }
  const placed = await transaction(deps.sql, async (tx) => {
    // Independent statements, sent together: the order's rows, the stock read, the event.
    const [written, reserved] = await together([
      insertOrder(tx, newOrder),
      deps.inventory.reserve(tx, orderId, lines),
      orderEvents.write(tx, 'order.placed', { orderId }),
      // Fails (and the order rolls back) when a retry took the key over, taking this request for dead.
      attachOrder(tx, input.idempotencyKey, claim, orderId, accessToken),
    ])
    if (!reserved.ok) {
      // Thrown inside the transaction: the order and every reservation roll back together.
      throw new AppError('out_of_stock', 'Not enough stock for some items', { lines: reserved.short })
    }
    return written
  }).catch((error: unknown) => {
    // Another order of this cart waits for its payment's outcome (the cart's claim on it was lost).
    if ((error as { constraint_name?: string }).constraint_name === ONE_PENDING_PER_CART) throw paymentPending()
    throw error
  })
  progress.placed = true

  const answer = await payFor(deps, input, {
    orderId,
    amount: { amount: subtotal, currency },
    lines,
    accessToken,
    viewAt: (status) => orderView({ ...placed.order, status }, placed.lines, accessToken),
  }, claim)
  if (answer.status === 201) progress.bought = { orderId, lines }
  if (answer.status === 202) progress.pending = orderId
  return answer
}

/** What the gateway has under the order's charge key; `unknown` when it cannot say now. */
const chargeLookup = (deps: CheckoutDeps, orderId: string): ReturnType<PaymentPort['lookup']> =>
  deps.payments.lookup(paymentKeyOf(orderId)).catch(() => ({ status: 'unknown' as const }))

const takeOutBought = (deps: CheckoutDeps, cartId: string, bought: Bought) =>
  deps.cart.removeBought(cartId, bought).catch((error) => deps.log.warn({ err: error, orderId: bought.orderId }, 'could not take the bought lines out of the cart'))

/** A placed order to charge: what it costs, what it bought, and how to show it. */
interface Payable {
  orderId: string
  amount: Money
  lines: { variantId: string; quantity: number }[]
  accessToken?: string
  /** The order's view at a status, built from what the caller holds; null: read it from the database. */
  viewAt: ((status: OrderStatus) => OrderView) | null
}

/**
 * Charges a placed order (with its own gateway key: sent twice, it is charged once), then
 * in one transaction applies the outcome and stores the answer under the key.
 * `claim`: the placing request's claim on the key; null for a resumed order.
 */
async function payFor(deps: CheckoutDeps, input: CheckoutInput, order: Payable, claim: string | null): Promise<StoredAnswer> {
  const { orderId, accessToken } = order
  // Free items: nothing to charge, and processors refuse an amount of 0.
  const outcome: ChargeOutcome =
    order.amount.amount === 0 ? { status: 'free' } : await deps.payments.charge({ orderId, amount: order.amount, card: input.card }, paymentKeyOf(orderId))
  if (outcome.status === 'not_sent') await chargeNotSent(deps, input.idempotencyKey, orderId, outcome, claim)
  // The outcome and the answer under the key commit together.
  const answer = await transaction(deps.sql, async (tx) => {
    let stored: StoredAnswer | null = null
    const storeAnswer = async (status: OrderStatus | null) => {
      // Built from what this request holds where it can; only an unknown outcome (rare) or
      // a resumed order reads the order again, since the webhook may have settled it meanwhile.
      const read = async () => (await readOrderView(tx, orderId, accessToken))!.view
      const view = status ? (order.viewAt ? order.viewAt(status) : { ...(await read()), status }) : await read()
      // An unknown outcome, but the webhook may have settled the order meanwhile.
      const settled = outcome.status === 'unknown' ? view.status : null
      stored =
        status === 'cancelled' && outcome.status === 'captured'
          ? // Cancelled meanwhile (reconciliation, an admin): the worker refunds the charge.
            declined(orderId, CANCELLED_THEN_CAPTURED)
          : outcome.status === 'captured' || outcome.status === 'free' || settled === 'paid'
          ? { status: 201, body: view }
          : outcome.status === 'declined'
            ? declined(orderId, outcome.message, outcome.declineCode)
            : settled === 'cancelled'
              ? declined(orderId, 'The payment was declined')
              : // We do not know whether the card was charged: the order stays pending_payment and
                // the reconciliation job asks the gateway with the same key. Never charge again from here.
                { status: 202, body: view }
      // A 202 is not final: a retry answers the order as it is by then, and whoever
      // settles it takes the bought lines out of the cart.
      if (stored.status === 202) await keepPending(tx, input.idempotencyKey, stored)
      else await finishKey(tx, input.idempotencyKey, stored)
    }
    // The answer is stored with the outcome's writes (one round trip), once the lock says
    // what the order's status is; an unknown outcome takes no lock, and stores it after.
    const status = await applyChargeOutcomeIn(tx, deps, orderId, outcome, 'checkout', storeAnswer)
    if (!stored) await storeAnswer(status)
    return stored!
  })
  // Card testing shows as cards declined; a charge the processor refuses as asked (an amount
  // above its limit: invalid_request) says nothing of the card, and counted, it used up the
  // shopper's limit on a product that can never be paid for.
  const declineCode = (answer.body as { declineCode?: string }).declineCode
  if (answer.status === 402 && declineCode !== 'invalid_request') await deps.cart.countDecline(input.cartId, input.shopper).catch(() => {})
  return answer
}

/** The gateway's idempotency key for an order's charge: one order, one charge, however often it is sent. */
const paymentKeyOf = (orderId: string) => `charge:${orderId}`

/**
 * This request's charge never left (the gateway's breaker is open): nothing was charged by
 * it. But another request may have sent the order's charge: a retry that took the key over
 * from this one (taken for dead while it was frozen) or another retry resuming the order.
 * Cancelling then would cancel an order whose charge is in flight, and letting the key go
 * would let the next retry place a second order. So:
 * - The request that placed the order, while it still holds the key (nobody else can have
 *   charged): the order is cancelled and its stock released at once, and the key is let go
 *   in the same transaction, so a retry with it places a fresh order once the gateway is
 *   back. Taken over meanwhile: nothing changes, the key's answer is the retry's.
 * - A resumed order: left pending_payment under its key. The next retry resumes it (and
 *   charges it once the gateway is back); reconciliation lets its units go after the hold.
 */
async function chargeNotSent(deps: CheckoutDeps, key: string, orderId: string, outcome: ChargeOutcome & { status: 'not_sent' }, claim: string | null): Promise<never> {
  if (claim === null) {
    await keepPending(deps.sql, key)
    throw new AppError('unavailable', 'The payment service is unavailable; nothing was charged and the order is kept. Try again shortly with the same Idempotency-Key', { retryAfter: retryAfterSeconds(outcome.retryAfterMs) }, 503)
  }
  const cancelled = await transaction(deps.sql, async (tx) => {
    if (!(await releaseKey(tx, key, { claim }))) return false
    await applyChargeOutcomeIn(tx, deps, orderId, outcome, 'checkout')
    return true
  })
  throw cancelled ? paymentsUnavailable(outcome.retryAfterMs) : supersededAnswer()
}

/** The unique index (migration 057) that keeps a cart to one order waiting for its payment. */
const ONE_PENDING_PER_CART = 'orders_one_pending_per_cart'

/** Retry-After: when the gateway's breaker lets a call try again (a retry before that is refused as this one was). */

const paymentsUnavailable = (retryAfterMs: number) =>
  new AppError('unavailable', 'The payment service is unavailable; nothing was charged. Try again shortly (the same Idempotency-Key is fine)', { retryAfter: retryAfterSeconds(retryAfterMs) }, 503)

function declined(orderId: string, detail: string, declineCode?: string): StoredAnswer {
  return {
    status: 402,
    body: {
      type: 'https://shop.dev/problems/payment-declined',
      title: 'Payment declined',
      status: 402,
      code: 'payment_declined',
      detail,
      ...(declineCode ? { declineCode } : {}),
      orderId,
    },
  }
}
