// Cart: guest and account carts in the KV, merged at sign-in. The only file other modules import.
import type { Kv } from '../../platform/kv/types.ts'
import { readCart, type CartView } from './cart-view.ts'
import { assertMergeable, mergeGuestCart } from './merge-carts.ts'
import type { StockPort, VariantPort } from './ports.ts'
import { cartRoutes } from './routes.ts'
import { CART_ID, createCartStore } from './store.ts'

export type { CartItem, CartView } from './cart-view.ts'

export function createCartModule(deps: { kv: Kv; catalog: VariantPort; stock: StockPort }) {
  const store = createCartStore(deps.kv)
  const cartDeps = { store, catalog: deps.catalog, stock: deps.stock }
  return {
    /** A cart as the store shows it, or null when there is none (no access check: the caller has done it). */
    async getCart(cartId: string): Promise<CartView | null> {
      if (!CART_ID.test(cartId) || !(await store.meta(cartId))) return null
      return readCart(cartDeps, cartId)
    },
    /** Throws `forbidden` when the cart is another customer's account cart (checked before an account is created). */
    assertMergeable: (cartId: string, customerId: string | null) => assertMergeable(store, cartId, customerId),
    /** At sign-in: moves a guest cart into the account cart; idempotent. */
    mergeGuestCart: (customerId: string, guestCartId: string) => mergeGuestCart(store, customerId, guestCartId),
    routes: cartRoutes(cartDeps),
  }
}

export type CartModule = ReturnType<typeof createCartModule>
