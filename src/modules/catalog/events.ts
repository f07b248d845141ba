import type { Db } from '../../platform/db/index.ts'
import { writeEvent } from '../../platform/bus/outbox.ts'

export type ProductChange = 'created' | 'updated' | 'deleted'

/** `product.updated`: ids only; a consumer reads the product through the catalog's entry. */
export function productUpdated(tx: Db, productId: string, change: ProductChange) {
  return writeEvent(tx, 'product.updated', { productId, change })
}
