import { AppError, notFound, validationFailed } from '../../platform/http/errors.ts'
import type { HashIncrementResult } from '../../platform/kv/types.ts'
import type { CartDeps } from './ports.ts'
import { MAX_LINES, MAX_QUANTITY, type CartMeta } from './store.ts'

// Each change is one atomic KV operation on the line (checked increment or compare-and-set,
// which also renews the cart's life), so concurrent changes never lose an update and a refused
// change writes nothing.

const SET_ATTEMPTS = 5

function outOfStock(variantId: string, available: number, wanted: number): AppError {
  return new AppError('out_of_stock', `Only ${available} of this item can be bought now`, {
    errors: [{ path: 'quantity', message: `${available} available, the line would hold ${wanted}` }],
    variantId,
    available,
  })
}

const lineTooLarge = (wanted: number) =>
  new AppError('conflict', `A cart line holds at most ${MAX_QUANTITY}`, {
    errors: [{ path: 'quantity', message: `the line would hold ${wanted}; at most ${MAX_QUANTITY}` }],
  })

/** The cart's checkout claim is held: what it holds is being bought, and leaves the cart when that ends. */
const beingBought = () =>
  new AppError('checkout_in_progress', 'A checkout of this cart is placing or paying for its order: lines can be added now, and removed or lowered once it ends', { retryAfter: 5 }, 409)

/** The cart is being merged into an account cart (a sign-in): that cart is the one to change now. */
const beingMerged = () =>
  new AppError('conflict', 'This cart is being merged into the account cart of a sign-in: change that cart instead', { retryAfter: 1 }, 409)

const cartFull = () =>
  new AppError('conflict', `A cart holds at most ${MAX_LINES} lines`, {
    errors: [{ path: 'variantId', message: `the cart already holds ${MAX_LINES} lines` }],
  })

/**
 * Adds units to a line (a new line or on top of the one there), checking stock softly.
 * `opening` is the cart's access check, already under way: the reads here go out with it,
 * in the same round trip, and count for nothing unless it passes.
 */
export async function addItem(
  deps: CartDeps,
  cartId: string,
  opening: Promise<CartMeta>,
  input: { variantId: string; quantity: number },
): Promise<void> {
  const { variantId, quantity } = input
  const [meta, variant, available, snapshots] = await Promise.all([
    opening,
    deps.catalog.getVariant(variantId),
    deps.availableUnits(variantId),
    deps.store.snapshots(cartId),
  ])
  // Ids are opaque: one the catalog reads as another's ("0001567" for 1567) is not an id it
  // gave out, and a line under it would match no stock or price record at checkout.
  if (!variant || variant.variantId !== variantId) throw validationFailed([{ path: 'variantId', message: 'is not a product variant for sale' }])
  // One currency per cart, so the subtotal is one sum of money.
  const cartCurrency = [...snapshots.values()][0]?.unitPrice.currency
  if (cartCurrency && cartCurrency !== variant.price.currency) throw otherCurrency(cartCurrency, variant.price.currency)

  // The snapshot is written with the line, in one step; it keeps the time the line was first
  // added, so lines keep their order.
  const snapshot = {
    productId: variant.productId,
    name: variant.name,
    title: variant.title,
    unitPrice: variant.price,
    addedAt: snapshots.get(variantId)?.addedAt ?? new Date().toISOString(),
  }
  const result = await deps.store.increment(cartId, variantId, quantity, Math.min(MAX_QUANTITY, available), snapshot)
  if (!result.applied) throw refusal(result, variantId, available, quantity)
  if (cartCurrency === undefined) {
    // The cart was empty when read: another add may have raced this one into it in another
    // currency (both checked against nothing), and the cart summed dollars and euros. Whoever
    // sees the other's line after its own add takes its units back: one of the two stands
    // (or, both looking at once, neither: a retry settles it), never both.
    const after = await deps.store.snapshots(cartId)
    const other = [...after.values()].find((line) => line.unitPrice.currency !== variant.price.currency)
    if (other) {
      await deps.store.giveBack(cartId, variantId, quantity)
      throw otherCurrency(other.unitPrice.currency, variant.price.currency)
    }
  }
  await deps.store.touchOwner(meta.owner)
}

const otherCurrency = (cartCurrency: string, currency: string) =>
  new AppError('conflict', `This cart holds ${cartCurrency} items`, {
    errors: [{ path: 'variantId', message: `is priced in ${currency}` }],
  })

function refusal(result: Extract<HashIncrementResult, { applied: false }>, variantId: string, available: number, adding: number): AppError {
  if (result.refused === 'gone') return notFound('Cart')
  if (result.refused === 'held') return beingMerged()
  if (result.refused === 'fields') return cartFull()
  const wanted = result.value + adding
  return wanted > available && available < MAX_QUANTITY ? outOfStock(variantId, available, wanted) : lineTooLarge(wanted)
}

/** Sets a line's quantity; 0 removes it. Only a line the cart holds can be set. */
export async function setQuantity(deps: CartDeps, cartId: string, meta: CartMeta, variantId: string, quantity: number): Promise<void> {
  if (quantity === 0) return removeItem(deps, cartId, meta, variantId)
  const [stored, available, variant] = await Promise.all([
    deps.store.quantity(cartId, variantId),
    deps.availableUnits(variantId),
    deps.catalog.getVariant(variantId),
  ])
  let current = stored
  if (current === 0) throw notFound('Cart line')
  // A line of a product taken off sale may go down or away, not up (checkout refuses it anyway).
  if (!variant && quantity > current) throw outOfStock(variantId, 0, quantity)
  // Compare-and-set, so a set racing an add or a removal neither loses the add nor revives the line.
  for (let attempt = 0; attempt < SET_ATTEMPTS; attempt++) {
    // Only more units need the stock: a line above what is left now (the stock fell after
    // it was added) may still come down towards it.
    if (quantity > available && quantity > current) throw outOfStock(variantId, available, quantity)
    const result = await deps.store.compareAndSet(cartId, variantId, current, quantity)
    if (result.applied) return deps.store.touchOwner(meta.owner)
    if (result.refused === 'gone') throw notFound('Cart')
    if (result.refused === 'held') throw quantity < current ? beingBought() : beingMerged()
    current = result.value
    if (current === 0) throw notFound('Cart line')
  }
  throw new AppError('conflict', 'The line kept changing while it was being set; try again')
}

export async function removeItem(deps: CartDeps, cartId: string, meta: CartMeta, variantId: string): Promise<void> {
  if (!(await deps.store.removeLine(cartId, variantId))) throw beingBought()
  await deps.store.touch(cartId, meta.owner)
}
