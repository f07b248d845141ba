import type { VariantSummary } from '../catalog/index.ts'
import type { CartStore } from './store.ts'

/** What carts need from the catalog: a variant's product, name and current price. */
export interface VariantPort {
  getVariant(variantId: string): Promise<VariantSummary | null>
}

/** What carts need from inventory: units that can be bought now (a soft check, nothing is held). */
export interface StockPort {
  available(variantIds: string[]): Promise<Map<string, number>>
}

export interface CartDeps {
  store: CartStore
  catalog: VariantPort
  /** Units of a variant that can be bought now, as far as the (soft) cart check needs to know. */
  availableUnits(variantId: string): Promise<number>
}
