// Inventory owns stock per variant: available, reserved, sold, version. Every change is an
// optimistic conditional UPDATE and lands in the ledger. Other modules use only this file.
import type { Db, Sql } from '../../platform/db/index.ts'
import { move, reserve, type Line } from './reserve.ts'
import { inventoryRoutes } from './routes.ts'
import { availableUnits } from './stock-rows.ts'

export type { Line, ReserveResult, ShortLine } from './reserve.ts'
export { inventoryEvents } from './events.ts'

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
      // A new variant: a second row for it would be a bug, so no upsert hides one.
      await tx`insert into inventory.stock (variant_id, available) values (${variantId}, ${available})`
      await tx`
        insert into inventory.ledger (variant_id, actor, reason, delta_available)
        values (${variantId}, 'catalog', 'initial stock', ${available})`
    },

    /** Which of these variants can be bought now; unknown variants are not in stock. `db`: a caller's transaction. */
    async inStock(variantIds: string[], db: Db = deps.sql): Promise<Map<string, boolean>> {
      const units = await availableUnits(db, variantIds)
      return new Map([...units].map(([id, available]) => [id, available > 0]))
    },

    /** Units that can be bought now per variant; unknown (or malformed) ids count 0. */
    available: (variantIds: string[]) => availableUnits(deps.sql, variantIds),
  }
}

export type InventoryModule = ReturnType<typeof createInventoryModule>
