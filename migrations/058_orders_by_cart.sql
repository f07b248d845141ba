-- A checkout that finds its cart claimed by a request whose process died takes the claim over
-- (without this the cart refuses every other checkout for the claim's minute). First it
-- fences that request's Idempotency-Key by its claim (the running keys' claims, indexed:
-- few rows), so a request only frozen cannot place its order afterwards, then looks up what
-- it placed from the cart (orders of a cart, newest last).
create index idempotency_keys_running_claim on orders.idempotency_keys (claim) where state = 'running';
create index orders_by_cart on orders.orders (cart_id, created_at);
