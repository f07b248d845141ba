import type { Sql } from '../../platform/db/index.ts'
import { AppError, validationFailed } from '../../platform/http/errors.ts'
import { writeEvent } from '../../platform/bus/outbox.ts'
import type { Logger } from '../../platform/telemetry/log.ts'
import { claimKey, finishKey, releaseKey, requestHash, type StoredAnswer } from './idempotency.ts'
import { hashToken, newAccessToken, newOrderId, orderView } from './order-view.ts'
import type { Card, CartPort, CatalogPort, InventoryPort, Money, PaymentPort } from './ports.ts'
import { findLines, findOrder, insertOrder, type NewOrder } from './repo.ts'
import type { OrderStatus } from './state-machine.ts'
import { applyChargeOutcome } from './payment-outcome.ts'

export interface CheckoutDeps {
  sql: Sql
  log: Logger
  cart: CartPort
  catalog: CatalogPort
  inventory: InventoryPort
  payments: PaymentPort
}

export interface CheckoutInput {
  cartId: string
  customer: { id: string; region?: string } | null
  idempotencyKey: string
  email: string
  shippingAddress: { name: string; line1: string; city: string; postalCode: string; country: string }
  card: Card
}

const sameMoney = (a: Money, b: Money) => a.amount === b.amount && a.currency === b.currency

/**
 * The checkout, as steps: claim the idempotency key -> read the cart -> re-price from the
 * catalog -> one transaction: order + reservation + order.placed -> charge -> paid (or
 * cancelled, stock released) -> empty the cart. The first final answer is stored under the
 * key; answers that changed nothing (price changed, out of stock) release it instead.
 */
export async function checkout(deps: CheckoutDeps, input: CheckoutInput): Promise<StoredAnswer> {
  // The card is part of the request identity but only as a hash: it is never stored.
  const hash = requestHash({ cart: input.cartId, customer: input.customer?.id ?? null, email: input.email, address: input.shippingAddress, card: input.card })
  const stored = await claimKey(deps.sql, input.idempotencyKey, hash)
  if (stored) return stored

  let answer: StoredAnswer
  try {
    answer = await placeAndPay(deps, input)
  } catch (error) {
    await releaseKey(deps.sql, input.idempotencyKey).catch(() => {})
    throw error
  }
  await finishKey(deps.sql, input.idempotencyKey, answer)
  return answer
}

async function placeAndPay(deps: CheckoutDeps, input: CheckoutInput): Promise<StoredAnswer> {
  const cartLines = await deps.cart.linesForCheckout(input.cartId, input.customer?.id ?? null)
  if (cartLines.length === 0) throw validationFailed([{ path: 'cart', message: 'the cart is empty' }])

  // Invariant 5: the price charged is the catalog's now, not the cart's.
  const current = await deps.catalog.variantsForCheckout(cartLines.map((l) => l.variantId))
  const gone = cartLines.filter((l) => !current.has(l.variantId))
  if (gone.length > 0) {
    throw new AppError('out_of_stock', 'Some items are no longer sold', { lines: gone.map((l) => ({ variantId: l.variantId, requested: l.quantity, available: 0 })) })
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
  const paymentKey = `charge:${orderId}`

  const newOrder: NewOrder = {
    id: orderId,
    customerId: input.customer?.id ?? null,
    email: input.email.trim().toLowerCase(),
    currency,
    subtotal,
    total: subtotal,
    shippingAddress: input.shippingAddress,
    accessTokenHash: accessToken ? hashToken(accessToken) : null,
    paymentKey,
    region: input.customer?.region ?? 'us',
    lines,
  }
  const placed = await deps.sql.begin(async (tx) => {
    // Independent statements, sent together: the order's rows, the stock read, the event.
    const [written, reserved] = await Promise.all([
      insertOrder(tx, newOrder),
      deps.inventory.reserve(tx, orderId, lines),
      writeEvent(tx, 'order.placed', { orderId }),
    ])
    if (!reserved.ok) {
      // Thrown inside the transaction: the order and every reservation roll back together.
      throw new AppError('out_of_stock', 'Not enough stock for some items', { lines: reserved.short })
    }
    return written
  })

  const outcome = await deps.payments.charge({ orderId, amount: { amount: subtotal, currency }, card: input.card }, paymentKey)
  const status = await applyChargeOutcome(deps, orderId, outcome, 'checkout')
  // The answer is built from what this request wrote; only an unknown outcome (rare) reads
  // the order again, since the webhook may have settled it meanwhile.
  const view = status
    ? placedView(newOrder, placed, status, accessToken)
    : orderView((await findOrder(deps.sql, orderId))!, await findLines(deps.sql, orderId), accessToken)

  if (outcome.status === 'captured') {
    await deps.cart.clear(input.cartId).catch((error) => deps.log.warn({ err: error, orderId }, 'could not empty the cart after checkout'))
    return { status: 201, body: view }
  }
  if (outcome.status === 'declined') {
    return {
      status: 402,
      body: {
        type: 'https://shop.dev/problems/payment-declined',
        title: 'Payment declined',
        status: 402,
        code: 'payment_declined',
        detail: outcome.message,
        declineCode: outcome.declineCode,
        orderId,
      },
    }
  }
  // We do not know whether the card was charged: the order stays pending_payment and the
  // reconciliation job asks the gateway with the same key. Never charge again from here.
  return { status: 202, body: view }
}

/** The order view of an order this request placed, without reading it back. */
function placedView(order: NewOrder, placed: { number: string; createdAt: Date }, status: OrderStatus, accessToken: string | undefined) {
  return orderView(
    {
      id: order.id,
      number: placed.number,
      status,
      customer_id: order.customerId,
      email: order.email,
      currency: order.currency,
      subtotal: String(order.subtotal),
      total: String(order.total),
      shipping_address: order.shippingAddress,
      access_token_hash: order.accessTokenHash,
      payment_key: order.paymentKey,
      payment_id: null,
      created_at: placed.createdAt,
      updated_at: placed.createdAt,
    },
    [...order.lines]
      .sort((a, b) => (BigInt(a.variantId) < BigInt(b.variantId) ? -1 : 1))
      .map((l) => ({ variant_id: l.variantId, product_id: l.productId, name: l.name, unit_price: String(l.unitPrice), quantity: l.quantity, line_total: String(l.unitPrice * l.quantity) })),
    accessToken,
  )
}
