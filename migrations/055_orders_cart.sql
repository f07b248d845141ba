-- The cart an order was checked out from: when its charge settles after the checkout's
-- answer (the webhook or reconciliation), the worker takes the bought lines out of it.
alter table orders.orders add column cart_id text;
