import type { Db } from '../../platform/db/index.ts'
import { writeEvent } from '../../platform/bus/outbox.ts'

export interface StockRow {
  variant_id: string
  available: number
  reserved: number
  sold: number
  version: number
  low_stock_threshold: number
}

export interface StockChange {
  variantId: string
  actor: string
  reason: string
  orderId?: string | null
  available?: number
  reserved?: number
  sold?: number
}

/** Units available per variant; unknown (or malformed) ids count 0. */
export async function availableUnits(db: Db, variantIds: string[]): Promise<Map<string, number>> {
  const result = new Map(variantIds.map((id) => [id, 0]))
  const ids = variantIds.filter((id) => /^[0-9]{1,18}$/.test(id))
  if (ids.length === 0) return result
  const rows = await db<{ variant_id: string; available: number }[]>`
    select variant_id, available from inventory.stock where variant_id = any(${ids}::bigint[])`
  for (const row of rows) result.set(row.variant_id, row.available)
  return result
}

export async function readStock(db: Db, variantId: string): Promise<StockRow | null> {
  const [row] = await db<StockRow[]>`
    select variant_id, available, reserved, sold, version, low_stock_threshold
    from inventory.stock where variant_id = ${variantId}`
  return row ?? null
}

/**
 * One optimistic step: applies the deltas only if the row is still at `version` and no
 * count would go below zero. Answers the new row, or null when someone changed it first
 * (or the guard failed): the caller re-reads and decides.
 */
export async function applyIfUnchanged(db: Db, change: StockChange, version: number): Promise<StockRow | null> {
  const da = change.available ?? 0
  const dr = change.reserved ?? 0
  const ds = change.sold ?? 0
  const [row] = await db<StockRow[]>`
    update inventory.stock
    set available = available + ${da}, reserved = reserved + ${dr}, sold = sold + ${ds},
        version = version + 1, updated_at = now()
    where variant_id = ${change.variantId} and version = ${version}
      and available + ${da} >= 0 and reserved + ${dr} >= 0 and sold + ${ds} >= 0
    returning variant_id, available, reserved, sold, version, low_stock_threshold`
  if (!row) return null
  await db`
    insert into inventory.ledger (variant_id, actor, reason, delta_available, delta_reserved, delta_sold, order_id)
    values (${change.variantId}, ${change.actor}, ${change.reason}, ${da}, ${dr}, ${ds}, ${change.orderId ?? null})`
  const before = row.available - da
  if ((before > 0) !== (row.available > 0)) {
    // In stock <-> sold out: the catalog shows `inStock`, so it drops its cached copies.
    await writeEvent(db, 'inventory.availability_changed', { variantId: change.variantId, inStock: row.available > 0 })
  }
  if (row.available <= row.low_stock_threshold && row.available - da > row.low_stock_threshold) {
    // Crossing the threshold downwards, once: not on every sale below it.
    await writeEvent(db, 'inventory.low', { variantId: change.variantId, available: row.available, threshold: row.low_stock_threshold })
  }
  return row
}
