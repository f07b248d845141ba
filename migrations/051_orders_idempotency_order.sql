-- The order a checkout placed under its Idempotency-Key, written in the same transaction as
-- the order: a retry after a crash resumes that order instead of placing (and charging) a second.
alter table orders.idempotency_keys add column order_id text;
