import type { Db } from '../../platform/db/index.ts'
import { inventoryEvents } from './events.ts'

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

// Ids go in as `in ($1, $2, ...)`, one prepared statement per count, so PostgreSQL reuses a
// generic plan; with `= any($1)` it planned these reads again on every call (see the
// catalog's loadVariants).

/** Units available per variant; unknown (or malformed) ids count 0. */
export async function availableUnits(db: Db, variantIds: string[]): Promise<Map<string, number>> {
  const result = new Map(variantIds.map((id) => [id, 0]))
  const ids = variantIds.filter((id) => /^[0-9]{1,18}$/.test(id))
  if (ids.length === 0) return result
  const rows = await db<{ variant_id: string; available: number }[]>`
    select variant_id, available from inventory.stock where variant_id in ${db(ids)}`
  for (const row of rows) result.set(row.variant_id, row.available)
  return result
}

export async function readStock(db: Db, variantId: string): Promise<StockRow | null> {
  return (await readStocks(db, [variantId])).get(variantId) ?? null
}

/** Several rows in one query (a checkout's lines): absent ids are absent from the map. */
export async function readStocks(db: Db, variantIds: string[]): Promise<Map<string, StockRow>> {
  if (variantIds.length === 0) return new Map()
  const rows = await db<StockRow[]>`
    select variant_id, available, reserved, sold, version, low_stock_threshold
    from inventory.stock where variant_id in ${db(variantIds)}`
  return new Map(rows.map((row) => [row.variant_id, row]))
}

/**
 * One optimistic step: applies the deltas only if the row is still at `version` and no
 * count would go below zero. Answers the new row, or null when someone changed it first
 * (or the guard failed): the caller re-reads and decides. `version` null: the guards alone
 * (for units an order already holds, where no one else's change can make the move wrong).
 */
export async function applyIfUnchanged(db: Db, change: StockChange, version: number | null): Promise<StockRow | null> {
  const da = change.available ?? 0
  const dr = change.reserved ?? 0
  const ds = change.sold ?? 0
  // The change and its ledger line in one statement: one round trip on the checkout path.
  const [row] = await db<StockRow[]>`
    with changed as (
      update inventory.stock
      set available = available + ${da}, reserved = reserved + ${dr}, sold = sold + ${ds},
          version = version + 1, updated_at = now()
      where variant_id = ${change.variantId} ${version === null ? db`` : db`and version = ${version}`}
        and available + ${da} >= 0 and reserved + ${dr} >= 0 and sold + ${ds} >= 0
      returning variant_id, available, reserved, sold, version, low_stock_threshold
    ),
    logged as (
      insert into inventory.ledger (variant_id, actor, reason, delta_available, delta_reserved, delta_sold, order_id)
      select variant_id, ${change.actor}, ${change.reason}, ${da}, ${dr}, ${ds}, ${change.orderId ?? null} from changed
    )
    select * from changed`
  if (!row) return null
  const before = row.available - da
  if ((before > 0) !== (row.available > 0)) {
    // In stock <-> sold out: the catalog shows `inStock`, so it drops its cached copies.
    await inventoryEvents.write(db, 'inventory.availability_changed', { variantId: change.variantId, inStock: row.available > 0 })
  }
  // Low stock is counted on hand (available and reserved: units not sold yet), crossing the
  // threshold downwards, once: not on every sale below it, and not on a reservation, which
  // may be released (a decline, an expired hold) and taken again, each time an alert.
  await raiseLowIfCrossed(db, row, { onHand: row.available + row.reserved - da - dr, threshold: row.low_stock_threshold })
  return row
}

/**
 * A new low-stock threshold, in the ledger (deltas 0: who moved it, when). A threshold
 * raised to or above the units on hand is a crossing too: inventory.low, as a sale past it
 * would raise.
 */
export async function setThreshold(db: Db, current: StockRow, threshold: number, actor: string): Promise<StockRow> {
  const [row] = await db<StockRow[]>`
    with changed as (
      update inventory.stock set low_stock_threshold = ${threshold}, updated_at = now() where variant_id = ${current.variant_id}
      returning variant_id, available, reserved, sold, version, low_stock_threshold
    ),
    logged as (
      insert into inventory.ledger (variant_id, actor, reason, delta_available, delta_reserved, delta_sold)
      select variant_id, ${actor}, ${`low-stock threshold ${current.low_stock_threshold} -> ${threshold}`}, 0, 0, 0 from changed
    )
    select * from changed`
  await raiseLowIfCrossed(db, row, { onHand: row.available + row.reserved, threshold: current.low_stock_threshold })
  return row
}

/** inventory.low when the units on hand are at or below the threshold now and were above the one before. */
async function raiseLowIfCrossed(db: Db, row: StockRow, before: { onHand: number; threshold: number }): Promise<void> {
  const onHand = row.available + row.reserved
  if (onHand <= row.low_stock_threshold && before.onHand > before.threshold) {
    await inventoryEvents.write(db, 'inventory.low', { variantId: row.variant_id, available: row.available, onHand, threshold: row.low_stock_threshold })
  }
}
