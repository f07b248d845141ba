import type { Db } from '../../platform/db/index.ts'
import { eventTypes } from '../../platform/bus/outbox.ts'

export type ProductChange = 'created' | 'updated' | 'deleted'

/** The events the catalog writes. */
export const catalogEvents = eventTypes(['product.updated'])

/** `product.updated`: ids only; a consumer reads the product through the catalog's entry. */
export function productUpdated(tx: Db, productId: string, change: ProductChange) {
  return catalogEvents.write(tx, 'product.updated', { productId, change })
}
