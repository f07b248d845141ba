import { notFound } from '../../platform/http/errors.ts'
import { mayUse } from './open-cart.ts'
import { CART_ID, type CartStore, type Money } from './store.ts'

const DECLINES_PER_CART = 5
const DECLINE_WINDOW_MS = 3_600_000
const CLAIM_MS = 60_000

/** What checkout needs from a cart: its lines with the prices the shopper saw, re-pricing, taking out what was bought. */
export function cartCheckoutPort(store: CartStore) {
  return {
    /**
     * Opens the cart for a checkout, in one KV round trip: its lines with the prices the
     * shopper saw, access checked (the same rule as every cart call: a guest cart id is a
     * capability, an account cart is its owner's), the card-testing limit, and the claim.
     *
     * The claim: one checkout of a cart at a time (a double click, two tabs: each with its own
     * Idempotency-Key would otherwise place and charge an order each). Held by `holder` (the
     * request's claim on its Idempotency-Key) while the order is placed and charged, a minute
     * at most; a retry that took the key over from a dead request takes it over too
     * (`replacing`), at once.
     * It is taken in the same round trip as the reads, so a refused opening (no access, the
     * limit) still holds it: endCheckout lets it go in every case.
     *
     * Card testing (trying stolen numbers one checkout after another) shows as declines: a
     * cart with DECLINES_PER_CART of them within the hour is refused further checkouts until
     * the hour is over. Per cart, not per IP: behind a proxy many shoppers share one address.
     */
    async beginCheckout(cartId: string, customerId: string | null, holder: string, replacing?: string): Promise<CheckoutOpening> {
      if (!CART_ID.test(cartId)) throw notFound('Cart')
      // The claim goes first on the connection: the lines are read after it is taken, so a
      // checkout ending meanwhile (lines out, then claim let go) is seen whole or not at all.
      const [claimed, meta, lines, snapshots, declines] = await Promise.all([
        store.claimCheckout(cartId, holder, CLAIM_MS, replacing),
        store.meta(cartId),
        store.lines(cartId),
        store.snapshots(cartId),
        store.declines(cartId),
      ])
      await mayUse(meta, async () => customerId)
      if (declines >= DECLINES_PER_CART) return { kind: 'refused', retryAfterSeconds: Math.max(1, Math.ceil((await store.declinesResetInMs(cartId)) / 1000)) }
      if (!claimed) return { kind: 'busy' }
      return {
        kind: 'open',
        lines: [...lines].map(([variantId, quantity]) => ({
          variantId,
          quantity,
          // A line without its snapshot has no price the shopper saw: re-pricing reports it as changed.
          unitPrice: snapshots.get(variantId)?.unitPrice ?? { amount: -1, currency: 'XXX' },
        })),
      }
    },

    countDecline: (cartId: string) => store.countDecline(cartId, DECLINE_WINDOW_MS),

    /**
     * Ends a checkout in one KV round trip: takes what was bought (if anything) out of the
     * cart, then lets `holder`'s claim go. Lines added (or raised) while it ran stay. A
     * failure to take the lines out is answered, the claim goes anyway.
     */
    async endCheckout(cartId: string, holder: string, bought: Bought | null): Promise<void> {
      // Sent in this order in one pipeline, so the claim goes only after the lines did.
      const [taken, released] = await Promise.allSettled([bought ? store.takeOut(cartId, bought.orderId, bought.lines) : null, store.releaseCheckout(cartId, holder)])
      if (taken.status === 'rejected') throw taken.reason
      if (released.status === 'rejected') throw released.reason
    },

    async updatePrices(cartId: string, prices: Map<string, Money>) {
      const snapshots = await store.snapshots(cartId)
      for (const [variantId, unitPrice] of prices) {
        const snapshot = snapshots.get(variantId)
        if (snapshot) await store.saveSnapshot(cartId, variantId, { ...snapshot, unitPrice })
      }
    },

    /**
     * Takes an order's bought quantities out of a cart, once per order (an order paid after
     * its checkout answered, or whose checkout died, while the shopper may have changed the
     * cart meanwhile): lines added since stay. A cart gone (expired, merged at sign-in) has
     * nothing to take out.
     */
    removeBought: (cartId: string, bought: Bought) => store.takeOut(cartId, bought.orderId, bought.lines),
  }
}

/** What an order bought from a cart. */
export interface Bought {
  orderId: string
  lines: { variantId: string; quantity: number }[]
}

export type CheckoutOpening =
  | { kind: 'open'; lines: { variantId: string; quantity: number; unitPrice: Money }[] }
  /** Too many declines: try again in this many seconds. */
  | { kind: 'refused'; retryAfterSeconds: number }
  /** Another checkout of this cart is running. */
  | { kind: 'busy' }
