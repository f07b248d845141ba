-- The transactional outbox: a module writes its event here in the same transaction as
-- the state change, and a dispatcher delivers it after commit (to in-process handlers,
-- or to NATS JetStream through the relay).
create table platform.outbox (
  id bigint generated always as identity primary key,
  event_id uuid not null unique,
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  dispatched_at timestamptz
);
create index outbox_pending on platform.outbox (id) where dispatched_at is null;
