import type { Sql } from '../../platform/db/index.ts'
import { AppError, notFound } from '../../platform/http/errors.ts'
import { backoff, changeStock, MAX_ATTEMPTS } from './change-stock.ts'
import { applyIfUnchanged, readStock, setThreshold, type StockRow } from './stock-rows.ts'

export function stockView(row: StockRow) {
  return {
    variantId: row.variant_id,
    available: row.available,
    reserved: row.reserved,
    sold: row.sold,
    version: row.version,
    lowStockThreshold: row.low_stock_threshold,
  }
}

/** What a PUT sets: the count on the shelf, the low-stock threshold, or both. */
export interface StockSettings {
  available?: number
  lowStockThreshold?: number
}

/**
 * PUT: the merchant counted the shelf (available becomes exactly this) and/or moved the
 * low-stock threshold. What a variant already has changes nothing (no version, no ledger
 * line of 0): a PUT repeated is the same PUT.
 */
export async function setStock(sql: Sql, variantId: string, settings: StockSettings, actor: string) {
  return sql.begin(async (tx) => {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let current = await readStock(tx, variantId)
      if (!current) throw notFound('Variant')
      if (settings.lowStockThreshold !== undefined && settings.lowStockThreshold !== current.low_stock_threshold) {
        current = await setThreshold(tx, current, settings.lowStockThreshold, actor)
      }
      const { available } = settings
      if (available === undefined || current.available === available) return stockView(current)
      const row = await applyIfUnchanged(tx, { variantId, actor, reason: 'set', available: available - current.available }, current.version)
      if (row) return stockView(row)
      await backoff(attempt)
    }
    throw new AppError('conflict', 'Stock is changing too fast; try again')
  })
}

/** The most a variant may have available: what PUT accepts, far inside the column's int range. */
export const MAX_AVAILABLE = 1_000_000_000

/** POST adjust: received a delivery (+), found damage (-); never below zero, nor above MAX_AVAILABLE. */
export async function adjustAvailable(sql: Sql, variantId: string, delta: number, reason: string, actor: string) {
  return sql.begin(async (tx) => {
    const result = await changeStock(tx, { variantId, actor, reason, available: delta })
    if (result.ok && result.row.available > MAX_AVAILABLE) {
      // Thrown inside the transaction: the change and its ledger line roll back. Checked
      // here, after the fact, so that the next adjust cannot overflow the int column (a 500).
      throw new AppError('conflict', `Available would be ${result.row.available}, above ${MAX_AVAILABLE}`, {
        errors: [{ path: 'delta', message: `would take available above ${MAX_AVAILABLE} (available ${result.row.available - delta})` }],
      })
    }
    if (result.ok) return stockView(result.row)
    if (result.reason === 'unknown_variant') throw notFound('Variant')
    throw new AppError('conflict', `Only ${result.row.available} available; cannot take away ${-delta}`, {
      errors: [{ path: 'delta', message: `would take available below zero (available ${result.row.available})` }],
    })
  })
}

export async function readStockView(sql: Sql, variantId: string) {
  const row = await readStock(sql, variantId)
  if (!row) throw notFound('Variant')
  return stockView(row)
}
