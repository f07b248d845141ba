import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Db } from '../../platform/db/index.ts'
import { findLines, findOrder, type OrderLineRow, type OrderRow } from './repo.ts'

export const newOrderId = () => `ord_${randomBytes(16).toString('base64url')}`
export const newAccessToken = () => randomBytes(24).toString('base64url')
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex')

export function tokenMatches(row: OrderRow, token: string | undefined): boolean {
  if (!token || !row.access_token_hash) return false
  const given = Buffer.from(hashToken(token))
  const stored = Buffer.from(row.access_token_hash)
  return given.length === stored.length && timingSafeEqual(given, stored)
}

export function orderView(row: OrderRow, lines: OrderLineRow[], accessToken?: string) {
  const currency = row.currency.trim()
  const money = (amount: string | number) => ({ amount: Number(amount), currency })
  return {
    id: row.id,
    number: Number(row.number),
    status: row.status,
    email: row.email,
    items: lines.map((l) => ({
      variantId: l.variant_id,
      productId: l.product_id,
      name: l.name,
      unitPrice: money(l.unit_price),
      quantity: l.quantity,
      lineTotal: money(l.line_total),
    })),
    subtotal: money(row.subtotal),
    total: money(row.total),
    shippingAddress: row.shipping_address,
    createdAt: row.created_at.toISOString(),
    ...(accessToken ? { accessToken } : {}),
  }
}

export type OrderView = ReturnType<typeof orderView>

/** Reads an order and its lines into its view; null when there is no such order. */
export async function readOrderView(db: Db, orderId: string, accessToken?: string): Promise<{ status: OrderRow['status']; view: OrderView } | null> {
  const order = await findOrder(db, orderId)
  if (!order) return null
  return { status: order.status, view: orderView(order, await findLines(db, orderId), accessToken) }
}
