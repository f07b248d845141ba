// What orders need from other modules, as narrow ports the composition root fills.
import type { Db } from '../../platform/db/index.ts'

export interface Money {
  amount: number
  currency: string
}

export interface CheckoutLine {
  variantId: string
  quantity: number
  /** The price the shopper saw when adding (the cart's snapshot). */
  unitPrice: Money
}

export interface CartPort {
  /**
   * Opens a cart for checkout in one step: access checked (guest cart: by id; account cart:
   * its owner only; throws not_found / unauthorized / forbidden), the decline limit, and the
   * one-checkout-at-a-time claim for `holder` (the request's claim on its Idempotency-Key),
   * which endCheckout must let go whatever the answer. `replacing`: the holder of a request
   * known to be dead, whose claim this one takes over.
   */
  beginCheckout(cartId: string, customerId: string | null, holder: string, opening?: { replacing?: string; shopper?: string }): Promise<
    | { kind: 'open'; lines: CheckoutLine[] }
    /** Too many declined payments, of this cart or of its shopper (`customer:<id>` or `address:<ip>`) across carts: seconds until it may check out again. */
    | { kind: 'refused'; by: 'cart' | 'shopper'; retryAfterSeconds: number }
    /**
     * Another checkout of this cart holds the claim (`heldBy`), or an order of it whose
     * payment is still processing (`pendingOrderId`): once that order has settled, the
     * caller may take the claim over (`replacing`: heldBy).
     */
    | { kind: 'busy'; heldBy: string | null; pendingOrderId: string | null }
  >
  /** Takes what the order bought (null: nothing) out of the cart, once per order, then lets `holder`'s claim go. */
  endCheckout(cartId: string, holder: string, bought: Bought | null): Promise<void>
  /** Counts a declined payment of this cart, and of its shopper when given (card testing). */
  countDecline(cartId: string, shopper?: string): Promise<void>
  /** The cart takes these prices (after a price change), so the next try goes through. */
  updatePrices(cartId: string, prices: Map<string, Money>): Promise<void>
  /**
   * Takes an order's lines out of the cart it came from once it is paid, once per order
   * (lines added meanwhile stay), and lets the order's hold on the cart go.
   */
  removeBought(cartId: string, bought: Bought): Promise<void>
  /**
   * The order's payment is still processing (202): the order holds the cart's claim, in
   * place of `replacing`, until it settles. Answers whether it does.
   */
  holdForOrder(cartId: string, orderId: string, replacing?: string): Promise<boolean>
  /** The order settled without buying: its hold on the cart goes. */
  releaseOrderHold(cartId: string, orderId: string): Promise<void>
}

/** What an order bought from a cart. */
export interface Bought {
  orderId: string
  lines: { variantId: string; quantity: number }[]
}

export interface CatalogPort {
  /** Current prices and names straight from the catalog (not a cache); missing ids are absent. */
  variantsForCheckout(variantIds: string[]): Promise<Map<string, { productId: string; name: string; price: Money }>>
}

export interface InventoryPort {
  reserve(tx: Db, orderId: string, lines: { variantId: string; quantity: number }[], actor?: string): Promise<
    { ok: true } | { ok: false; short: { variantId: string; requested: number; available: number }[] }
  >
  release(tx: Db, orderId: string, lines: { variantId: string; quantity: number }[], actor?: string): Promise<void>
  sell(tx: Db, orderId: string, lines: { variantId: string; quantity: number }[], actor?: string): Promise<void>
  returnSold(tx: Db, orderId: string, lines: { variantId: string; quantity: number }[], actor?: string): Promise<void>
}

export interface Card {
  number: string
  expMonth: number
  expYear: number
  cvc: string
}

/** The outcome of a charge: `unknown` means the gateway may or may not have charged; ask it later with the same key. */
export type ChargeOutcome =
  | { status: 'captured'; paymentId: string }
  /** Nothing to charge (a total of 0): paid without a payment. */
  | { status: 'free' }
  /** The charge was never sent (the gateway unreachable, its breaker open): nothing charged, certainly. */
  | { status: 'not_sent'; retryAfterMs: number }
  | { status: 'declined'; declineCode: string; message: string }
  | { status: 'unknown'; reason: string }

export interface PaymentPort {
  /** How long charges are paused (the gateway's circuit breaker open: a charge now would not even be sent); 0 while they go out. */
  chargesPausedForMs(): number
  charge(input: { orderId: string; amount: Money; card: Card }, idempotencyKey: string): Promise<ChargeOutcome>
  /** What happened to the charge made with this key (reconciliation). `not_found`: never reached the gateway. */
  lookup(idempotencyKey: string): Promise<{ status: 'captured'; paymentId: string; amount?: Money; refunded?: true } | { status: 'declined' } | { status: 'not_found' } | { status: 'unknown' }>
  /**
   * Pays back all that is left of a payment (a part may have been refunded at the processor
   * already). `ok` also when nothing is left: refunded in full already, by an earlier call
   * whose answer was lost or in the processor's dashboard. `final`: the processor refused
   * it for good (asking again will not help), as opposed to not answering.
   */
  refund(paymentId: string, idempotencyKey: string): Promise<{ ok: true } | { ok: false; reason: string; final: boolean }>
}
