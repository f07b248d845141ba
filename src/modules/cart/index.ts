// Cart: guest and account carts in the KV, merged at sign-in. The only file other modules import.
import type { Kv } from '../../platform/kv/types.ts'
import type { TakeAllowance } from '../../platform/rate-limit.ts'
import { mergeGuestCart } from './merge-carts.ts'
import type { StockPort, VariantPort } from './ports.ts'
import { cartRoutes } from './routes.ts'
import { cartCheckoutPort } from './checkout-port.ts'
import { cachedAvailability } from './stock-check.ts'
import { createCartStore } from './store.ts'

export type { CartItem, CartView } from './cart-view.ts'

export interface CartModuleDeps {
  kv: Kv
  catalog: VariantPort
  stock: StockPort
  /** How old a stock count the soft check may use (default 1 s; 0 asks inventory every time). */
  stockCheckTtlMs?: number
  /** Declined payments per hour from one shopper before checkouts are refused (default 20). */
  declinesPerShopper?: number
  /** Counts an action against a client's rate limit (platform/rate-limit.ts); absent, nothing is limited. */
  takeAllowance?: TakeAllowance
  /** Guest carts one address may create per minute (0: no limit). */
  cartsPerIpPerMinute?: number
  /** And per day (0: no limit): a cart with a line lives 30 days, so the minute's limit alone still let one address hold gigabytes. */
  cartsPerIpPerDay?: number
}

export function createCartModule(deps: CartModuleDeps) {
  const store = createCartStore(deps.kv)
  const availableUnits = cachedAvailability(deps.stock, deps.stockCheckTtlMs ?? 1000)
  const cartDeps = { store, catalog: deps.catalog, availableUnits }
  const perMinute = { name: 'guest carts', max: deps.cartsPerIpPerMinute ?? 0, windowMs: 60_000 }
  const perDay = { name: 'guest carts today', max: deps.cartsPerIpPerDay ?? 0, windowMs: 24 * 3600_000 }
  const limitCreation = async (ip: string) => {
    await deps.takeAllowance?.(perMinute, ip)
    await deps.takeAllowance?.(perDay, ip)
  }
  return {
    /** At sign-in: moves a guest cart into the account cart; idempotent. Answers the lines that did not fit. */
    mergeGuestCart: (customerId: string, guestCartId: string) => mergeGuestCart(store, customerId, guestCartId),
    routes: cartRoutes({ ...cartDeps, limitCreation }),
    /** Checkout's view of a cart: lines with their price snapshots, re-pricing, emptying. */
    checkout: cartCheckoutPort(store, { declinesPerShopper: deps.declinesPerShopper ?? 20 }),
  }
}

export type CartModule = ReturnType<typeof createCartModule>
