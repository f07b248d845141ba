-- A failing event's handler is tried again later, each time after a longer wait (30 s, 1 min,
-- 2 min ... at most 15 min), and the row says how often it failed and why: an operator looking
-- at a stuck event reads it here instead of searching the logs, and a poison event no longer
-- costs a transaction and a warning every 30 s for ever.
alter table platform.outbox add column attempts integer not null default 0, add column last_error text;
