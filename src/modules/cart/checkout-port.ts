import { openCart } from './open-cart.ts'
import type { CartStore, Money } from './store.ts'

const DECLINES_PER_CART = 5
const DECLINE_WINDOW_MS = 3_600_000

/** What checkout needs from a cart: its lines with the prices the shopper saw, re-pricing, taking out what was bought. */
export function cartCheckoutPort(store: CartStore) {
  return {
    async linesForCheckout(cartId: string, customerId: string | null) {
      // The same rule as every cart call: a guest cart id is a capability, an account cart is its owner's.
      await openCart(store, cartId, async () => customerId)
      const [lines, snapshots] = await Promise.all([store.lines(cartId), store.snapshots(cartId)])
      return [...lines].map(([variantId, quantity]) => ({
        variantId,
        quantity,
        // A line without its snapshot has no price the shopper saw: re-pricing reports it as changed.
        unitPrice: snapshots.get(variantId)?.unitPrice ?? { amount: -1, currency: 'XXX' },
      }))
    },

    /**
     * One checkout of a cart at a time (a double click, two tabs: each with its own
     * Idempotency-Key would otherwise place and charge an order each). Held while the order
     * is placed and charged, at most a minute (a process that died holding it).
     */
    claimForCheckout: (cartId: string, holder: string) => store.claimCheckout(cartId, holder, 60_000),

    /**
     * Card testing (trying stolen numbers one checkout after another) shows as declines: a
     * cart with DECLINES_PER_CART of them within the hour is refused further checkouts until
     * the hour is over. Per cart, not per IP: behind a proxy many shoppers share one address.
     */
    countDecline: (cartId: string) => store.countDecline(cartId, DECLINE_WINDOW_MS),
    async checkoutsRefusedFor(cartId: string): Promise<number | null> {
      if ((await store.declines(cartId)) < DECLINES_PER_CART) return null
      return Math.max(1, Math.ceil((await store.declinesResetInMs(cartId)) / 1000))
    },
    releaseCheckout: (cartId: string, holder: string) => store.releaseCheckout(cartId, holder),

    async updatePrices(cartId: string, prices: Map<string, Money>) {
      const snapshots = await store.snapshots(cartId)
      for (const [variantId, unitPrice] of prices) {
        const snapshot = snapshots.get(variantId)
        if (snapshot) await store.saveSnapshot(cartId, variantId, { ...snapshot, unitPrice })
      }
    },

    /**
     * Takes bought quantities out of a cart (an order paid after its checkout answered, while
     * the shopper may have changed the cart meanwhile): lines added since stay. A cart gone
     * (expired, merged at sign-in) has nothing to take out.
     */
    async removeBought(cartId: string, lines: { variantId: string; quantity: number }[]) {
      if ((await store.meta(cartId)) === null) return
      for (const line of lines) {
        for (let attempt = 0; attempt < 5; attempt++) {
          const current = await store.quantity(cartId, line.variantId)
          if (current <= line.quantity) {
            await store.removeLine(cartId, line.variantId)
            break
          }
          if ((await store.compareAndSet(cartId, line.variantId, current, current - line.quantity)).applied) break
        }
      }
    },
  }
}
