import type { VariantPort } from './ports.ts'
import type { CartStore, LineSnapshot, Money } from './store.ts'

export interface CartItem {
  variantId: string
  productId: string
  name: string
  title: string
  unitPrice: Money
  quantity: number
  lineTotal: Money
}

export interface CartView {
  id: string
  items: CartItem[]
  subtotal: Money
}

// An empty cart has no currency of its own; the catalog's default stands in.
const DEFAULT_CURRENCY = 'USD'

/** The cart as the store shows it: lines in the order they were first added, with the subtotal. */
export async function readCart(deps: { store: CartStore; catalog: VariantPort }, id: string): Promise<CartView> {
  const [lines, snapshots] = await Promise.all([deps.store.lines(id), deps.store.snapshots(id)])
  const items: (CartItem & { addedAt: string })[] = []
  for (const [variantId, quantity] of lines) {
    // A line written a moment before its snapshot (or after a crash between the two) is
    // shown from the catalog; a variant no longer for sale and never snapshotted is skipped.
    const snapshot = snapshots.get(variantId) ?? (await snapshotFromCatalog(deps.catalog, variantId))
    if (!snapshot) continue
    items.push({
      variantId,
      productId: snapshot.productId,
      name: snapshot.name,
      title: snapshot.title,
      unitPrice: snapshot.unitPrice,
      quantity,
      lineTotal: { amount: snapshot.unitPrice.amount * quantity, currency: snapshot.unitPrice.currency },
      addedAt: snapshot.addedAt,
    })
  }
  items.sort((a, b) => a.addedAt.localeCompare(b.addedAt) || a.variantId.localeCompare(b.variantId))
  const currency = items[0]?.unitPrice.currency ?? DEFAULT_CURRENCY
  return {
    id,
    items: items.map(({ addedAt: _addedAt, ...item }) => item),
    subtotal: { amount: items.reduce((sum, item) => sum + item.lineTotal.amount, 0), currency },
  }
}

/** A cart just made: nothing to read back. */
export function emptyCartView(id: string): CartView {
  return { id, items: [], subtotal: { amount: 0, currency: DEFAULT_CURRENCY } }
}

export async function snapshotFromCatalog(catalog: VariantPort, variantId: string): Promise<LineSnapshot | null> {
  const variant = await catalog.getVariant(variantId)
  if (!variant) return null
  return {
    productId: variant.productId,
    name: variant.name,
    title: variant.title,
    unitPrice: variant.price,
    addedAt: new Date().toISOString(),
  }
}
