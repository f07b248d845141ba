import type { Db } from '../../platform/db/index.ts'
import { together } from '../../platform/db/transaction.ts'
import type { OrderStatus } from './state-machine.ts'

export interface OrderRow {
  id: string
  number: string
  status: OrderStatus
  customer_id: string | null
  email: string
  currency: string
  subtotal: string
  total: string
  shipping_address: Record<string, string>
  access_token_hash: string | null
  payment_key: string
  payment_id: string | null
  /** Who asked for its refund here, before the gateway was asked; null: nobody (or it was refused). */
  refund_requested_by: string | null
  /** The cart it was bought from (null: none). */
  cart_id: string | null
  created_at: Date
  updated_at: Date
}

export interface OrderLineRow {
  variant_id: string
  product_id: string
  name: string
  unit_price: string
  quantity: number
  line_total: string
}

export interface NewOrder {
  id: string
  customerId: string | null
  email: string
  currency: string
  subtotal: number
  total: number
  shippingAddress: Record<string, string>
  accessTokenHash: string | null
  paymentKey: string
  region: string
  /** The cart it was bought from: whoever settles the payment takes the lines out of it. */
  cartId: string
  lines: { variantId: string; productId: string; name: string; unitPrice: number; quantity: number }[]
}

/**
 * Writes the order, its lines and its first transition. The three statements go to the
 * server together (pipelined on the transaction's connection, in this order): one round
 * trip. Answers the rows as written, lines in variant order (as findLines reads them).
 */
export async function insertOrder(tx: Db, order: NewOrder): Promise<{ order: OrderRow; lines: OrderLineRow[] }> {
  const [[row], lines] = await together([
    tx<OrderRow[]>`
      insert into orders.orders (id, status, customer_id, email, currency, subtotal, total, shipping_address, access_token_hash, payment_key, region, cart_id)
      values (${order.id}, 'pending_payment', ${order.customerId}, ${order.email}, ${order.currency}, ${order.subtotal},
              ${order.total}, ${tx.json(order.shippingAddress)}, ${order.accessTokenHash}, ${order.paymentKey}, ${order.region}, ${order.cartId})
      returning *`,
    tx<OrderLineRow[]>`
      insert into orders.order_lines ${tx(
        order.lines.map((l) => ({
          order_id: order.id,
          variant_id: l.variantId,
          product_id: l.productId,
          name: l.name,
          unit_price: l.unitPrice,
          quantity: l.quantity,
          line_total: l.unitPrice * l.quantity,
        })),
      )}
      returning variant_id, product_id, name, unit_price, quantity, line_total`,
    tx`
      insert into orders.transitions (order_id, from_status, to_status, actor, reason)
      values (${order.id}, null, 'pending_payment', 'checkout', 'placed')`,
  ])
  return { order: row, lines: [...lines].sort((a, b) => (BigInt(a.variant_id) < BigInt(b.variant_id) ? -1 : 1)) }
}

export async function findOrder(db: Db, id: string): Promise<OrderRow | null> {
  const [row] = await db<OrderRow[]>`select * from orders.orders where id = ${id}`
  return row ?? null
}

/** The orders placed from a cart within the last `seconds` (orders_by_cart), oldest first. */
export async function recentOrdersOfCart(db: Db, cartId: string, seconds: number): Promise<Pick<OrderRow, 'id' | 'status'>[]> {
  return db<Pick<OrderRow, 'id' | 'status'>[]>`
    select id, status from orders.orders
    where cart_id = ${cartId} and created_at > now() - ${seconds} * interval '1 second' order by created_at`
}

/** The lines of several orders (a page of a list) in one query, by order id. */
export async function findLinesOf(db: Db, orderIds: string[]): Promise<Map<string, OrderLineRow[]>> {
  const byOrder = new Map(orderIds.map((id) => [id, [] as OrderLineRow[]]))
  if (orderIds.length === 0) return byOrder
  const rows = await db<(OrderLineRow & { order_id: string })[]>`
    select order_id, variant_id, product_id, name, unit_price, quantity, line_total
    from orders.order_lines where order_id = any(${orderIds}::text[]) order by order_id, variant_id`
  for (const { order_id, ...line } of rows) byOrder.get(order_id)?.push(line)
  return byOrder
}

export async function findLines(db: Db, orderId: string): Promise<OrderLineRow[]> {
  return (await findLinesOf(db, [orderId])).get(orderId)!
}

export interface LockedOrder {
  status: OrderStatus
  cartId: string | null
  /** The captured payment that paid it; null before (and for a free order). */
  paymentId: string | null
  total: number
  currency: string
  lines: { variantId: string; quantity: number }[]
  /** Who asked for its refund here (a merchant), before the gateway was asked; null: nobody. */
  refundRequestedBy: string | null
}

/**
 * Locks an order for a state change (row lock until the transaction ends) and answers its
 * status and lines; null when there is no such order. Checkout, the webhook, reconciliation
 * and merchant actions all go through here, so two of them never apply a change twice.
 */
export async function lockOrder(
  tx: Db,
  orderId: string,
): Promise<LockedOrder | null> {
  // One round trip: the lines come along as JSON with the locked row.
  const [row] = await tx<LockedOrder[]>`
    select o.status, o.cart_id as "cartId", o.payment_id as "paymentId", o.total::bigint::float8 as total, trim(o.currency) as currency,
           o.refund_requested_by as "refundRequestedBy",
           (select coalesce(json_agg(json_build_object('variantId', l.variant_id::text, 'quantity', l.quantity) order by l.variant_id), '[]')
            from orders.order_lines l where l.order_id = o.id) as lines
    from orders.orders o where o.id = ${orderId} for update`
  return row ?? null
}

/** Records who asks for the order's refund, before the gateway is asked (see applyRefundReport). */
export async function markRefundRequested(db: Db, orderId: string, actor: string): Promise<void> {
  await db`update orders.orders set refund_requested_by = ${actor}, updated_at = now() where id = ${orderId}`
}

/** Nobody waits for the order's refund any more (refused for good, or never made): only if `by` still asked, when given. */
export async function forgetRefundRequest(db: Db, orderId: string, by?: string): Promise<void> {
  await db`update orders.orders set refund_requested_by = null where id = ${orderId} ${by === undefined ? db`` : db`and refund_requested_by = ${by}`}`
}

/** Paid orders whose refund was asked for at least `seconds` ago and is not recorded (orders_refund_asked). */
export async function refundsAskedNotRecorded(db: Db, seconds: number, limit: number): Promise<OrderRow[]> {
  return db<OrderRow[]>`
    select * from orders.orders
    where refund_requested_by is not null and status in ('paid', 'fulfilled') and updated_at < now() - ${seconds} * interval '1 second'
    order by id limit ${limit}`
}

export async function setPaymentId(db: Db, orderId: string, paymentId: string): Promise<void> {
  await db`update orders.orders set payment_id = ${paymentId}, updated_at = now() where id = ${orderId}`
}

export async function listOrders(
  db: Db,
  filter: { customerId?: string; status?: OrderStatus; before?: { createdAt: string; id: string }; limit: number },
): Promise<(OrderRow & { cursor_time: string })[]> {
  // The cursor keeps created_at to the microsecond, as stored: a JS Date keeps milliseconds,
  // and the orders after a page's last one in the same millisecond would be skipped. (It is
  // sent back as text: a timestamptz parameter goes through a Date in postgres.js.)
  return db<(OrderRow & { cursor_time: string })[]>`
    select *, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_time from orders.orders
    where true
      ${filter.customerId ? db`and customer_id = ${filter.customerId}` : db``}
      ${filter.status ? db`and status = ${filter.status}` : db``}
      ${filter.before ? db`and (created_at, id) < (${filter.before.createdAt}::text::timestamptz, ${filter.before.id})` : db``}
    order by created_at desc, id desc
    limit ${filter.limit}`
}

/** A pending order, and whether its hold ran out (by the database's clock, as its created_at is). */
export type PendingOrderRow = OrderRow & { hold_ran_out: boolean }

/** A page of the orders waiting for their payment's outcome for `seconds` or more, by id, after `afterId`. */
export async function pendingPaymentsOlderThan(db: Db, seconds: number, holdSeconds: number, limit: number, afterId: string | null = null): Promise<PendingOrderRow[]> {
  return db<PendingOrderRow[]>`
    select *, created_at < now() - ${holdSeconds} * interval '1 second' as hold_ran_out from orders.orders
    where status = 'pending_payment' and created_at < now() - ${seconds} * interval '1 second'
      ${afterId === null ? db`` : db`and id > ${afterId}`}
    order by id limit ${limit}`
}
