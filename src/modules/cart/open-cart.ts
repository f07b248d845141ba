import { AppError, notFound } from '../../platform/http/errors.ts'
import { CART_ID, type CartMeta, type CartStore } from './store.ts'

/**
 * Finds a cart and checks who may use it. A guest cart's id is a capability: whoever holds
 * it may use it. An account cart answers only to its owner's session. The signed-in
 * customer is asked for lazily, so guest-cart calls cost no session lookup.
 */
export async function openCart(store: CartStore, id: string, customerId: () => Promise<string | null>): Promise<CartMeta> {
  if (!CART_ID.test(id)) throw notFound('Cart')
  return mayUse(await store.meta(id), customerId)
}

/** The same rule for a cart's meta read along with other keys: throws unless the caller may use it. */
export async function mayUse(meta: CartMeta | null, customerId: () => Promise<string | null>): Promise<CartMeta> {
  if (!meta) throw notFound('Cart')
  if (meta.owner !== null) {
    const current = await customerId()
    if (current === null) throw new AppError('unauthorized', 'Sign in to use this cart')
    if (current !== meta.owner) throw new AppError('forbidden', 'This cart belongs to another account')
  }
  return meta
}
