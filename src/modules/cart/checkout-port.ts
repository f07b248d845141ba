import { AppError, notFound } from '../../platform/http/errors.ts'
import { CART_ID, type CartStore, type Money } from './store.ts'

/** What checkout needs from a cart: its lines with the prices the shopper saw, re-pricing, emptying. */
export function cartCheckoutPort(store: CartStore) {
  async function checkAccess(cartId: string, customerId: string | null) {
    if (!CART_ID.test(cartId)) throw notFound('Cart')
    const meta = await store.meta(cartId)
    if (!meta) throw notFound('Cart')
    // Same rule as every cart call: a guest cart id is a capability, an account cart is its owner's.
    if (meta.owner !== null && meta.owner !== customerId) {
      throw customerId === null ? new AppError('unauthorized', 'Sign in to use this cart') : new AppError('forbidden', 'This cart belongs to another account')
    }
    return meta
  }

  return {
    async linesForCheckout(cartId: string, customerId: string | null) {
      await checkAccess(cartId, customerId)
      const [lines, snapshots] = await Promise.all([store.lines(cartId), store.snapshots(cartId)])
      return [...lines].map(([variantId, quantity]) => ({
        variantId,
        quantity,
        // A line without its snapshot has no price the shopper saw: re-pricing reports it as changed.
        unitPrice: snapshots.get(variantId)?.unitPrice ?? { amount: -1, currency: 'XXX' },
      }))
    },

    async updatePrices(cartId: string, prices: Map<string, Money>) {
      const snapshots = await store.snapshots(cartId)
      for (const [variantId, unitPrice] of prices) {
        const snapshot = snapshots.get(variantId)
        if (snapshot) await store.saveSnapshot(cartId, variantId, { ...snapshot, unitPrice })
      }
    },

    async clear(cartId: string) {
      const lines = await store.lines(cartId)
      for (const variantId of lines.keys()) await store.removeLine(cartId, variantId)
    },
  }
}
