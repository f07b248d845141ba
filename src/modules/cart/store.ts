import { randomBytes } from 'node:crypto'
import type { HashIncrementResult, Kv } from '../../platform/kv/types.ts'

// The KV layout of carts. Every key of one cart carries the hash tag {id}, so they live in
// one Redis Cluster slot and one DEL (or a future script) can touch them together.
//   cart:{id}:meta    string  JSON { owner, createdAt }; its existence is the cart's
//   cart:{id}:lines   hash    variantId -> quantity (atomic increments)
//   cart:{id}:items   hash    variantId -> JSON snapshot for display (product, name, price)
//   cart:{id}:taken   set     orders whose lines were taken out (once each; the in-memory store keeps it as a hash)
//   customer:{cid}:cart string  the id of that customer's account cart

export const CART_TTL_MS = 30 * 24 * 3600_000
/**
 * A guest cart lives a day until its first line (which gives it the 30 days): carts are
 * created for nothing more than a request, and at 30 days each, one client creating them in
 * a loop filled Redis (about 200 bytes a cart, 4,000 a second) for a month.
 */
export const EMPTY_GUEST_CART_TTL_MS = 24 * 3600_000
export const MAX_LINES = 100
export const MAX_QUANTITY = 99
/** 128 random bits, base64url: unguessable, so a guest cart id can serve as its own key. */
export const CART_ID = /^[A-Za-z0-9_-]{22}$/

/** The checkout claim's holder while an order whose payment is processing keeps the cart (checkout-port, holdForOrder). */
export const ORDER_HOLDER = 'order:'
export const orderHolder = (orderId: string) => `${ORDER_HOLDER}${orderId}`

export interface Money {
  amount: number
  currency: string
}

export interface CartMeta {
  /** The customer whose account cart this is; null for a guest cart. */
  owner: string | null
  createdAt: string
}

export interface LineSnapshot {
  productId: string
  name: string
  title: string
  unitPrice: Money
  addedAt: string
}

/** A shopper's declined payments across carts (card testing with a fresh cart per try). */
const shopperDeclinesKey = (shopper: string) => `declines:shopper:{${shopper}}`

const keysOf = (id: string) => ({
  meta: `cart:{${id}}:meta`,
  lines: `cart:{${id}}:lines`,
  items: `cart:{${id}}:items`,
  checkout: `cart:{${id}}:checkout`,
  declines: `cart:{${id}}:declines`,
  taken: `cart:{${id}}:taken`,
  merging: `cart:{${id}}:merging`,
})
const accountCartKey = (customerId: string) => `customer:{${customerId}}:cart`

export function createCartStore(kv: Kv) {
  return {
    async create(owner: string | null): Promise<string> {
      const id = randomBytes(16).toString('base64url')
      const meta: CartMeta = { owner, createdAt: new Date().toISOString() }
      await kv.set(keysOf(id).meta, JSON.stringify(meta), { ttlMs: owner === null ? EMPTY_GUEST_CART_TTL_MS : CART_TTL_MS, ifAbsent: true })
      return id
    },

    async meta(id: string): Promise<CartMeta | null> {
      const stored = await kv.get(keysOf(id).meta)
      return stored === null ? null : (JSON.parse(stored) as CartMeta)
    },

    async lines(id: string): Promise<Map<string, number>> {
      const stored = await kv.hgetall(keysOf(id).lines)
      return new Map(Object.entries(stored).map(([variantId, quantity]) => [variantId, Number(quantity)]))
    },

    async snapshots(id: string): Promise<Map<string, LineSnapshot>> {
      const stored = await kv.hgetall(keysOf(id).items)
      return new Map(Object.entries(stored).map(([variantId, json]) => [variantId, JSON.parse(json) as LineSnapshot]))
    },

    async quantity(id: string, variantId: string): Promise<number> {
      return Number((await kv.hget(keysOf(id).lines, variantId)) ?? '0')
    },

    /**
     * Adds to a line (creating it) unless it would pass `max` or the cart is full. One atomic
     * step also writes the line's snapshot and renews the cart's 30 days, so a line is never
     * seen without its snapshot, and an add costs one KV call instead of five.
     */
    increment(id: string, variantId: string, by: number, max: number, snapshot: LineSnapshot): Promise<HashIncrementResult> {
      const keys = keysOf(id)
      return kv.hincrbyWithin(keys.lines, variantId, by, {
        min: 1,
        max,
        maxFields: MAX_LINES,
        ttlMs: CART_TTL_MS,
        renew: [keys.meta, keys.items],
        alsoSet: { key: keys.items, fields: { [variantId]: JSON.stringify(snapshot) } },
        // A cart removed meanwhile (merged at sign-in, expired) takes no line, and one whose
        // lines are being merged (read, then removed) takes none that would be lost.
        requires: keys.meta,
        unless: keys.merging,
      })
    },

    /**
     * Sets a line from `expected` to `target` only if nobody changed it meanwhile (a lost race
     * answers applied: false). Lowering it is refused ('held') while the cart's checkout claim
     * is held (removeLine says why), raising it while the cart is being merged (increment).
     */
    compareAndSet(id: string, variantId: string, expected: number, target: number): Promise<HashIncrementResult> {
      const keys = keysOf(id)
      return kv.hincrbyWithin(keys.lines, variantId, target - expected, {
        min: target,
        max: target,
        maxFields: MAX_LINES,
        ttlMs: CART_TTL_MS,
        renew: [keys.meta, keys.items],
        requires: keys.meta,
        unless: target < expected ? keys.checkout : keys.merging,
      })
    },

    /** Takes back units this request added (an add that must not stand): the line, and its snapshot, go at 0. */
    async giveBack(id: string, variantId: string, quantity: number): Promise<void> {
      const keys = keysOf(id)
      await kv.hsubtractOrDelete(keys.lines, { [variantId]: quantity }, { alsoDeleteFrom: keys.items })
    },

    async saveSnapshot(id: string, variantId: string, snapshot: LineSnapshot): Promise<void> {
      await kv.hset(keysOf(id).items, { [variantId]: JSON.stringify(snapshot) })
    },

    /**
     * Removes a line with its snapshot, unless the cart's checkout claim is held: answers
     * whether it did. While an order is placed and paid for (or its payment is processing),
     * its lines leave the cart only at its end, taken off whatever line is there then
     * (takeOut); a line removed and added again meanwhile would lose its new units to that.
     * Adding and raising stay open: what was bought comes off the top.
     */
    async removeLine(id: string, variantId: string): Promise<boolean> {
      const keys = keysOf(id)
      return (await kv.hsubtractOrDelete(keys.lines, { [variantId]: Number.MAX_SAFE_INTEGER }, { alsoDeleteFrom: keys.items, unless: keys.checkout })) !== 'held'
    },

    /**
     * Renews the owner's pointer to an account cart. It lives in another Cluster slot than the
     * cart, so the cart's own script cannot renew it.
     */
    async touchOwner(owner: string | null): Promise<void> {
      if (owner !== null) await kv.expire(accountCartKey(owner), CART_TTL_MS)
    },

    /**
     * Renews the 30 days of every key of the cart (and of its owner's pointer): called on each
     * write. A guest cart that never held a line keeps its day (a removal of a line it does
     * not have gave it the 30 days for one more request).
     */
    async touch(id: string, owner: string | null): Promise<void> {
      const keys = keysOf(id)
      const holdsLines = owner !== null || (await kv.ttl(keys.lines)) !== -2
      await Promise.all([
        holdsLines ? kv.expire(keys.meta, CART_TTL_MS) : null,
        kv.expire(keys.lines, CART_TTL_MS),
        kv.expire(keys.items, CART_TTL_MS),
        owner === null ? null : kv.expire(accountCartKey(owner), CART_TTL_MS),
      ])
    },

    async destroy(id: string): Promise<void> {
      const keys = keysOf(id)
      await kv.del(keys.meta, keys.lines, keys.items, keys.merging)
    },

    /**
     * The cart's lines are about to be read and moved into another cart (a sign-in merge),
     * then the cart removed: adds and raises are refused meanwhile ('held'), for `ttlMs` at
     * most, so none lands between the read and the removal and is lost with the cart.
     */
    async markMerging(id: string, ttlMs: number): Promise<void> {
      await kv.set(keysOf(id).merging, '1', { ttlMs })
    },

    async unmarkMerging(id: string): Promise<void> {
      await kv.del(keysOf(id).merging)
    },

    /**
     * One checkout of a cart at a time: answers whether `holder` got it (for `ttlMs` at most).
     * `replacing`: a holder known to be gone (the request a retry took the Idempotency-Key
     * over from, its process dead), whose claim is taken over at once.
     */
    claimCheckout(id: string, holder: string, ttlMs: number, replacing?: string): Promise<boolean> {
      return kv.claim(keysOf(id).checkout, holder, ttlMs, replacing)
    },

    /** Who holds the cart's checkout claim now, if anyone. */
    checkoutHolder(id: string): Promise<string | null> {
      return kv.get(keysOf(id).checkout)
    },

    /** Lets the claim go, if `holder` still has it (one that outlived its minute may be another's now). */
    async releaseCheckout(id: string, holder: string): Promise<void> {
      await kv.delIfEquals(keysOf(id).checkout, holder)
    },

    /**
     * Takes an order's bought quantities off the lines in one atomic step, once per order
     * (checkout and, after a crash, the worker may both try); a line left with none goes,
     * with its snapshot.
     */
    async takeOut(id: string, orderId: string, lines: { variantId: string; quantity: number }[]): Promise<void> {
      const keys = keysOf(id)
      const amounts: Record<string, number> = {}
      for (const line of lines) amounts[line.variantId] = (amounts[line.variantId] ?? 0) + line.quantity
      await kv.hsubtractOrDelete(keys.lines, amounts, { alsoDeleteFrom: keys.items, once: { key: keys.taken, id: orderId, ttlMs: CART_TTL_MS } })
    },

    /**
     * Takes the lines a sign-in merge moved into the account cart off this cart (the merge
     * holds its claim and mark, so no add or checkout changes them meanwhile).
     */
    async takeMoved(id: string, lines: { variantId: string; quantity: number }[]): Promise<void> {
      const keys = keysOf(id)
      await kv.hsubtractOrDelete(keys.lines, Object.fromEntries(lines.map((l) => [l.variantId, l.quantity])), { alsoDeleteFrom: keys.items })
    },

    /** Counts a declined payment of a shopper (`customer:<id>` or `address:<ip>`), whatever their cart. */
    countShopperDecline(shopper: string, windowMs: number): Promise<number> {
      return kv.incr(shopperDeclinesKey(shopper), 1, windowMs)
    },

    /** A shopper's declines counted within the window now. */
    async shopperDeclines(shopper: string): Promise<number> {
      return Number((await kv.get(shopperDeclinesKey(shopper))) ?? 0)
    },

    /** Ms until the shopper's decline count starts afresh. */
    async shopperDeclinesResetInMs(shopper: string): Promise<number> {
      return Math.max(0, await kv.ttl(shopperDeclinesKey(shopper)))
    },

    /** Counts a declined payment of this cart's checkout; answers the count within `windowMs`. */
    countDecline(id: string, windowMs: number): Promise<number> {
      return kv.incr(keysOf(id).declines, 1, windowMs)
    },

    /** Declines counted within the window now. */
    async declines(id: string): Promise<number> {
      return Number((await kv.get(keysOf(id).declines)) ?? 0)
    },

    /** Ms until the decline count starts afresh. */
    async declinesResetInMs(id: string): Promise<number> {
      return Math.max(0, await kv.ttl(keysOf(id).declines))
    },

    accountCartId(customerId: string): Promise<string | null> {
      return kv.get(accountCartKey(customerId))
    },

    /** Records the account cart unless one is recorded already (two first visits racing); answers whether it won. */
    claimAccountCart(customerId: string, cartId: string): Promise<boolean> {
      return kv.set(accountCartKey(customerId), cartId, { ttlMs: CART_TTL_MS, ifAbsent: true })
    },

    /**
     * Points the customer at `cartId` instead of `replacing` (a cart that expired), unless
     * another request replaced it first: answers whether this one did.
     */
    replaceAccountCart(customerId: string, cartId: string, replacing: string): Promise<boolean> {
      return kv.claim(accountCartKey(customerId), cartId, CART_TTL_MS, replacing)
    },
  }
}

export type CartStore = ReturnType<typeof createCartStore>
