-- A dispatcher claims a batch for a while instead of holding a transaction open while
-- handlers run (they need connections of their own; the embedded pool has exactly one).
alter table platform.outbox add column claimed_until timestamptz;
drop index platform.outbox_pending;
create index outbox_pending on platform.outbox (id) where dispatched_at is null;
