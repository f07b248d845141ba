import type { Db } from '../../platform/db/index.ts'
import { together } from '../../platform/db/transaction.ts'
import { changeStock } from './change-stock.ts'
import { applyIfUnchanged, readStocks } from './stock-rows.ts'

export interface Line {
  variantId: string
  quantity: number
}

export interface ShortLine {
  variantId: string
  requested: number
  available: number
}

export type ReserveResult = { ok: true } | { ok: false; short: ShortLine[] }

/** Same variant twice adds up; sorted by variant id so two checkouts lock rows in one order and never deadlock. */
export function normalizeLines(lines: Line[]): Line[] {
  const totals = new Map<string, number>()
  for (const line of lines) totals.set(line.variantId, (totals.get(line.variantId) ?? 0) + line.quantity)
  return [...totals]
    .map(([variantId, quantity]) => ({ variantId, quantity }))
    .sort((a, b) => (BigInt(a.variantId) < BigInt(b.variantId) ? -1 : BigInt(a.variantId) > BigInt(b.variantId) ? 1 : 0))
}

/**
 * Moves units from available to reserved for every line, inside the caller's transaction.
 * All or none: on any shortage it answers the short lines and the caller rolls back.
 */
export async function reserve(tx: Db, orderId: string, lines: Line[], actor = 'checkout'): Promise<ReserveResult> {
  const short: ShortLine[] = []
  const ordered = normalizeLines(lines)
  // One read for every line. The updates stay one at a time in variant order: a line that
  // must retry never waits while this transaction holds a row that comes after it.
  const rows = await readStocks(tx, ordered.map((l) => l.variantId))
  for (const line of ordered) {
    if (short.length > 0) {
      // The transaction rolls back anyway: the later lines are only checked against the rows
      // read, not reserved (no more row locks), so the shopper hears of every short line at
      // once, not one per try (each try a new Idempotency-Key: the refusal is the key's answer).
      const available = rows.get(line.variantId)?.available ?? 0
      if (available < line.quantity) short.push({ variantId: line.variantId, requested: line.quantity, available })
      continue
    }
    const result = await changeStock(tx, {
      variantId: line.variantId,
      actor,
      reason: 'reserve',
      orderId,
      available: -line.quantity,
      reserved: line.quantity,
    }, rows.get(line.variantId) ?? null)
    if (!result.ok) short.push({ variantId: line.variantId, requested: line.quantity, available: result.reason === 'insufficient' ? result.row.available : 0 })
  }
  return short.length === 0 ? { ok: true } : { ok: false, short }
}

type Movement = 'release' | 'sell' | 'return_sold'

const DELTAS: Record<Movement, (q: number) => { available?: number; reserved?: number; sold?: number }> = {
  // A reservation ends unpaid (declined, expired, cancelled): the units are for sale again.
  release: (q) => ({ reserved: -q, available: q }),
  // Paid: held units become sold.
  sell: (q) => ({ reserved: -q, sold: q }),
  // Refunded before fulfilment: sold units are for sale again.
  return_sold: (q) => ({ sold: -q, available: q }),
}

/**
 * Moves reserved or sold units for an order; these never fail for want of stock unless the
 * books are wrong. The units are the order's own, so no version read is needed: each UPDATE
 * checks only that no count goes below zero, and its row lock orders concurrent changes. The
 * lines go out together, in variant order (the order every transaction locks rows in).
 */
export async function move(tx: Db, movement: Movement, orderId: string, lines: Line[], actor = 'checkout'): Promise<void> {
  const ordered = normalizeLines(lines)
  const rows = await together(
    ordered.map((line) => applyIfUnchanged(tx, { variantId: line.variantId, actor, reason: movement, orderId, ...DELTAS[movement](line.quantity) }, null)),
  )
  const failed = ordered.find((_, i) => rows[i] === null)
  if (failed) throw new Error(`inventory ${movement} for order ${orderId} failed on variant ${failed.variantId}: the books do not allow it`)
}
