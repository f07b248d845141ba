-- Who asked for an order's refund, written before the gateway is asked: its webhook often
-- reports the refund before the request that asked for it records it, and the order's
-- transition then names the merchant who refunded it, not "webhook" (orders/order-actions.ts).
alter table orders.orders add column refund_requested_by text;
