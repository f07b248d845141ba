import type { ProductRow } from './repo.ts'
import type { ProductViewT } from './schemas.ts'

/** What the catalog needs from inventory: whether a variant can be bought now. */
export interface StockPort {
  inStock(variantIds: string[]): Promise<Map<string, boolean>>
}

export function toProductView(row: ProductRow, inStock: Map<string, boolean>): ProductViewT {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    brand: row.brand,
    category: row.category_path,
    images: row.images,
    variants: row.variants.map((v) => ({
      id: v.id,
      sku: v.sku,
      title: v.title,
      price: { amount: Number(v.amount), currency: v.currency.trim() },
      inStock: inStock.get(v.id) ?? false,
    })),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  }
}
