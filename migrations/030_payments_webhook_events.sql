create schema payments;
-- Every verified webhook from the card processor, recorded once: the event id is the key,
-- so a redelivered event is recognised and its effects are not applied twice.
create table payments.webhook_events (
  event_id text primary key,
  type text not null,
  payment_id text not null,
  order_id text not null,
  payload jsonb not null,
  received_at timestamptz not null default now()
);
create index webhook_events_payment on payments.webhook_events (payment_id);
