-- Who asked for an order's refund, written before the gateway is asked: its webhook often
-- reports the refund before the request that asked for it records it, and the order's
-- transition then names the merchant who refunded it, not "webhook" (orders/order-actions.ts).
alter table orders.orders add column refund_requested_by text;
-- Refunds asked for and not recorded (the gateway's answer lost, and its webhook): the few
-- orders reconciliation asks the processor about (orders/order-actions.ts, reconcileAskedRefunds).
create index orders_refund_asked on orders.orders (id) where refund_requested_by is not null and status in ('paid', 'fulfilled');
