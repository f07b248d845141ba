-- At most one order per cart waits for its payment's outcome. The cart's checkout claim in
-- the KV keeps a second checkout of the cart (another tab, another Idempotency-Key) from
-- placing and charging a second order while the first one's payment is processing; this
-- keeps it when that claim is gone (the KV restarted or evicted it, the order outlived its
-- hold). Only pending orders are in the index: it stays small, and a cart may have any
-- number of settled orders.
create unique index orders_one_pending_per_cart on orders.orders (cart_id) where status = 'pending_payment';
