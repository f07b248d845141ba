import { setTimeout as sleep } from 'node:timers/promises'
import type { Db } from '../../platform/db/index.ts'
import { AppError } from '../../platform/http/errors.ts'
import { applyIfUnchanged, readStock, type StockChange, type StockRow } from './stock-rows.ts'

export const MAX_ATTEMPTS = 12

/** Bounded, jittered backoff between optimistic attempts: 1, 2, 4 ... ms, capped at 50. */
export const backoff = (attempt: number) => sleep(Math.min(50, 2 ** attempt) * (0.5 + Math.random()))

export type ChangeResult =
  | { ok: true; row: StockRow }
  | { ok: false; reason: 'unknown_variant' }
  | { ok: false; reason: 'insufficient'; row: StockRow }

/**
 * Applies a stock change with optimistic locking: read the version, one conditional
 * UPDATE, retry on conflict. A change that would take a count below zero is refused as a
 * value (an expected business outcome), never thrown.
 */
export async function changeStock(db: Db, change: StockChange, lastRead?: StockRow | null): Promise<ChangeResult> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // The caller's read (of all an order's lines in one query) serves the first attempt.
    const current = attempt === 0 && lastRead !== undefined ? lastRead : await readStock(db, change.variantId)
    if (!current) return { ok: false, reason: 'unknown_variant' }
    const after = {
      available: current.available + (change.available ?? 0),
      reserved: current.reserved + (change.reserved ?? 0),
      sold: current.sold + (change.sold ?? 0),
    }
    if (after.available < 0 || after.reserved < 0 || after.sold < 0) return { ok: false, reason: 'insufficient', row: current }
    const row = await applyIfUnchanged(db, change, current.version)
    if (row) return { ok: true, row }
    await backoff(attempt)
    lastRead = undefined
  }
  throw new AppError('conflict', `Stock of variant ${change.variantId} is changing too fast; try again`, {}, 409)
}
