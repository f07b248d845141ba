// Inventory owns stock per variant: available, reserved, sold, version. Every change is an
// optimistic conditional UPDATE and lands in the ledger. Other modules use only this file.
import type { Db, Sql } from '../../platform/db/index.ts'
import { move, reserve, type Line } from './reserve.ts'
import { inventoryRoutes } from './routes.ts'

export type { Line, ReserveResult, ShortLine } from './reserve.ts'

export function createInventoryModule(deps: { sql: Sql }) {
  return {
    routes: inventoryRoutes(deps),

    /** Holds units for an order inside the caller's transaction: all lines or none (the caller rolls back). */
    reserve: (tx: Db, orderId: string, lines: Line[], actor?: string) => reserve(tx, orderId, lines, actor),
    /** An unpaid order ends: its held units are for sale again. */
    release: (tx: Db, orderId: string, lines: Line[], actor?: string) => move(tx, 'release', orderId, lines, actor),
    /** An order is paid: its held units are sold. */
    sell: (tx: Db, orderId: string, lines: Line[], actor?: string) => move(tx, 'sell', orderId, lines, actor),
    /** A paid order is refunded before fulfilment: its units are for sale again. */
    returnSold: (tx: Db, orderId: string, lines: Line[], actor?: string) => move(tx, 'return_sold', orderId, lines, actor),

    /** Records a new variant's stock, inside the caller's transaction. */
    async setInitialStock(tx: Db, variantId: string, available: number): Promise<void> {
      await tx`
        insert into inventory.stock (variant_id, available) values (${variantId}, ${available})
        on conflict (variant_id) do update set available = excluded.available, version = inventory.stock.version + 1, updated_at = now()`
      await tx`
        insert into inventory.ledger (variant_id, actor, reason, delta_available)
        values (${variantId}, 'catalog', 'initial stock', ${available})`
    },

    /** Which of these variants can be bought now; unknown variants are not in stock. `db`: a caller's transaction. */
    async inStock(variantIds: string[], db: Db = deps.sql): Promise<Map<string, boolean>> {
      const result = new Map(variantIds.map((id) => [id, false]))
      if (variantIds.length === 0) return result
      const rows = await db<{ variant_id: string; available: number }[]>`
        select variant_id, available from inventory.stock where variant_id = any(${variantIds}::bigint[])`
      for (const row of rows) result.set(row.variant_id, row.available > 0)
      return result
    },

    /** Units that can be bought now per variant; unknown (or malformed) ids count 0. */
    async available(variantIds: string[]): Promise<Map<string, number>> {
      const result = new Map(variantIds.map((id) => [id, 0]))
      const ids = variantIds.filter((id) => /^[0-9]{1,18}$/.test(id))
      if (ids.length === 0) return result
      const rows = await deps.sql<{ variant_id: string; available: number }[]>`
        select variant_id, available from inventory.stock where variant_id = any(${ids}::bigint[])`
      for (const row of rows) result.set(row.variant_id, row.available)
      return result
    },
  }
}

export type InventoryModule = ReturnType<typeof createInventoryModule>
