import { notFound, retryAfterSeconds } from '../../platform/http/errors.ts'
import { mayUse } from './open-cart.ts'
import { CART_ID, ORDER_HOLDER, orderHolder, type CartStore, type Money } from './store.ts'

const DECLINES_PER_CART = 5
const DECLINE_WINDOW_MS = 3_600_000
const CLAIM_MS = 60_000
/**
 * How long an order whose payment is still processing (a 202) keeps its cart: reconciliation
 * renews it every run (30 s) while the order waits, so it runs out only if no worker does.
 * It is let go as soon as the order settles (removeBought, releaseOrderHold).
 */
const ORDER_HOLD_MS = 20 * 60_000

/** What checkout needs from a cart: its lines with the prices the shopper saw, re-pricing, taking out what was bought. */
export function cartCheckoutPort(store: CartStore, limits: { declinesPerShopper: number }) {
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
     * the hour is over, and so is its shopper (`opening.shopper`: `customer:<id>` signed in,
     * else `address:<client ip>`) with limits.declinesPerShopper across all their carts: a
     * card tester starting a fresh cart for each try got past the cart's limit with one more
     * request. The shopper's limit is the higher: many shoppers may share an address behind
     * a proxy.
     */
    async beginCheckout(cartId: string, customerId: string | null, holder: string, opening: { replacing?: string; shopper?: string } = {}): Promise<CheckoutOpening> {
      if (!CART_ID.test(cartId)) throw notFound('Cart')
      const { replacing, shopper } = opening
      // The claim goes first on the connection: the lines are read after it is taken, so a
      // checkout ending meanwhile (lines out, then claim let go) is seen whole or not at all.
      const [claimed, meta, lines, snapshots, declines, shopperDeclines] = await Promise.all([
        store.claimCheckout(cartId, holder, CLAIM_MS, replacing),
        store.meta(cartId),
        store.lines(cartId),
        store.snapshots(cartId),
        store.declines(cartId),
        shopper ? store.shopperDeclines(shopper) : 0,
      ])
      await mayUse(meta, async () => customerId)
      if (declines >= DECLINES_PER_CART) return { kind: 'refused', by: 'cart', retryAfterSeconds: retryAfterSeconds(await store.declinesResetInMs(cartId)) }
      if (shopper && shopperDeclines >= limits.declinesPerShopper) {
        return { kind: 'refused', by: 'shopper', retryAfterSeconds: retryAfterSeconds(await store.shopperDeclinesResetInMs(shopper)) }
      }
      if (!claimed) {
        // Who holds it, read only now: a refused claim is rare, and the holder says what to do next.
        const heldBy = await store.checkoutHolder(cartId)
        return { kind: 'busy', heldBy, pendingOrderId: heldBy?.startsWith(ORDER_HOLDER) ? heldBy.slice(ORDER_HOLDER.length) : null }
      }
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

    /** Counts a declined payment against its cart and, given one, its shopper (beginCheckout says why). */
    async countDecline(cartId: string, shopper?: string): Promise<void> {
      await Promise.all([store.countDecline(cartId, DECLINE_WINDOW_MS), shopper ? store.countShopperDecline(shopper, DECLINE_WINDOW_MS) : null])
    },

    /**
     * The checkout answered 202 (its payment still processing): its order keeps the cart
     * claimed, in place of the request (`replacing`), until it settles. Another checkout of
     * the cart (a second click, another tab, each with its own key) would otherwise place and
     * charge a second order for the same lines, and a sign-in would merge lines being bought
     * into the account cart. Answers whether the order holds it.
     */
    holdForOrder: (cartId: string, orderId: string, replacing?: string) => store.claimCheckout(cartId, orderHolder(orderId), ORDER_HOLD_MS, replacing),

    /** The order settled without buying (cancelled): its hold on the cart goes. */
    releaseOrderHold: (cartId: string, orderId: string) => store.releaseCheckout(cartId, orderHolder(orderId)),

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
     * cart meanwhile): lines added since stay. A cart gone (expired) has nothing to take out.
     * The order's hold on the cart (a 202) goes with them.
     */
    async removeBought(cartId: string, bought: Bought): Promise<void> {
      await Promise.all([store.takeOut(cartId, bought.orderId, bought.lines), store.releaseCheckout(cartId, orderHolder(bought.orderId))])
    },
  }
}

/** What an order bought from a cart. */
export interface Bought {
  orderId: string
  lines: { variantId: string; quantity: number }[]
}

export type CheckoutOpening =
  | { kind: 'open'; lines: { variantId: string; quantity: number; unitPrice: Money }[] }
  /** Too many declines, of this cart or of its shopper across carts: try again in this many seconds. */
  | { kind: 'refused'; by: 'cart' | 'shopper'; retryAfterSeconds: number }
  /**
   * Another checkout of this cart is running (`heldBy`), or an order placed from it waits
   * for its payment's outcome (`pendingOrderId`; the caller knows whether it has settled).
   */
  | { kind: 'busy'; heldBy: string | null; pendingOrderId: string | null }
