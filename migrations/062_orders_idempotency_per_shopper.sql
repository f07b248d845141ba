-- Checkout Idempotency-Keys are kept per shopper (orders/checkout.ts, shopperKey): a
-- signed-in customer's as 'customer:<id>/<key>', a guest's as 'cart:<cart id>/<key>'.
-- Keys with an order move to their order's shopper, so a retry of a checkout from before
-- the upgrade still finds its order. Merchant keys ('merchant/...') stay as they are.
update orders.idempotency_keys k
set key = case when o.customer_id is not null then 'customer:' || o.customer_id else 'cart:' || o.cart_id end || '/' || k.key
from orders.orders o
where o.id = k.order_id and k.key not like '%/%' and (o.customer_id is not null or o.cart_id is not null);
-- The rest placed no order: a refusal kept as the key's answer (a new price, stock short),
-- or a request running through the upgrade. Their retries run again, as a new request would.
delete from orders.idempotency_keys where key not like '%/%';
